import { describe, expect, it } from 'vitest';
import { classifyRegistryEvent, classifyVaultEvent } from '../../../src/domain/index.js';
import { BASEREGISTRY_ID, NEW_DIGEST, VAULT_ID } from './seed.js';

let n = 0;
function pushed(over: Record<string, unknown> = {}, target: Record<string, unknown> = {}): Record<string, unknown> {
  n++;
  return {
    id: `event-${n}`,
    topic: BASEREGISTRY_ID,
    subject: 'baseimages/node:15-alpine',
    eventType: 'Microsoft.ContainerRegistry.ImagePushed',
    eventTime: '2024-01-01T00:00:00.123Z',
    dataVersion: '2.0',
    metadataVersion: '1',
    data: {
      id: 'x',
      action: 'push',
      target: {
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        size: 1153,
        digest: NEW_DIGEST,
        repository: 'baseimages/node',
        tag: '15-alpine',
        ...target,
      },
      request: { id: 'r', host: 'MyBaseRegistry.azurecr.io', method: 'PUT' },
    },
    ...over,
  };
}

describe('classifyRegistryEvent', () => {
  it('accepts an image push from a watched registry (id compared case-insensitively)', () => {
    const ev = pushed();
    expect(classifyRegistryEvent(ev, [BASEREGISTRY_ID.toLowerCase()])).toEqual({
      kind: 'accept',
      image: {
        ref: `mybaseregistry.azurecr.io/baseimages/node:15-alpine@${NEW_DIGEST}`,
        digest: NEW_DIGEST,
        registryId: BASEREGISTRY_ID.toLowerCase(),
        loginServer: 'mybaseregistry.azurecr.io',
        repository: 'baseimages/node',
        tag: '15-alpine',
      },
      eventId: ev.id,
      eventTime: '2024-01-01T00:00:00.123Z',
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    });
  });

  it('accepts the CloudEvents 1.0 form, OCI indexes and pushes by digest', () => {
    const eg = pushed({}, { mediaType: 'application/vnd.oci.image.index.v1+json', tag: undefined });
    const ce = {
      specversion: '1.0',
      id: eg.id,
      source: eg.topic,
      type: eg.eventType,
      time: eg.eventTime,
      data: eg.data,
    };
    const r = classifyRegistryEvent(ce, [BASEREGISTRY_ID]);
    expect(r).toMatchObject({
      kind: 'accept',
      image: { ref: `mybaseregistry.azurecr.io/baseimages/node@${NEW_DIGEST}` },
    });
    expect(r.kind === 'accept' && 'tag' in r.image).toBe(false);
  });

  it('takes the login server from the watched registry when configured', () => {
    const r = classifyRegistryEvent(
      pushed({
        data: {
          target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: NEW_DIGEST, repository: 'x' },
        },
      }),
      [{ id: BASEREGISTRY_ID, loginServer: '127.0.0.1:8443' }],
    );
    expect(r).toMatchObject({
      kind: 'accept',
      image: { loginServer: '127.0.0.1:8443', ref: `127.0.0.1:8443/x@${NEW_DIGEST}` },
    });
  });

  it('never trusts an unwatched topic, however well-formed', () => {
    const r = classifyRegistryEvent(pushed({ topic: BASEREGISTRY_ID.replace('mybaseregistry', 'evil') }), [
      BASEREGISTRY_ID,
    ]);
    expect(r).toEqual({
      kind: 'ignore',
      reason: `topic '${BASEREGISTRY_ID.replace('mybaseregistry', 'evil')}' is not a watched registry`,
    });
    expect(classifyRegistryEvent(pushed({ topic: 'not an id' }), [BASEREGISTRY_ID]).kind).toBe('ignore');
  });

  it('ignores deletes, charts, signatures, attestations, SBOMs and artifacts', () => {
    const ignored = [
      pushed({ eventType: 'Microsoft.ContainerRegistry.ImageDeleted' }),
      pushed({ eventType: 'Microsoft.ContainerRegistry.ChartPushed' }),
      pushed({}, { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }),
      pushed(
        {},
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.in-toto+json' },
        },
      ),
      pushed({}, { mediaType: 'application/vnd.oci.image.manifest.v1+json', configMediaType: 'application/spdx+json' }),
      pushed({}, { mediaType: 'application/vnd.cncf.notary.signature' }),
      pushed({}, { tag: `sha256-${'ab'.repeat(32)}.sig` }),
      pushed({}, { mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }),
    ];
    const reasons = ignored.map((ev) => classifyRegistryEvent(ev, [BASEREGISTRY_ID]));
    expect(reasons.map((r) => r.kind)).toEqual(Array(8).fill('ignore'));
    expect(reasons[0]).toEqual({ kind: 'ignore', reason: 'image deleted (logged only)' });
    expect(reasons[3]).toEqual({
      kind: 'ignore',
      reason: "signature, attestation or SBOM ('application/vnd.in-toto+json'), not an image",
    });
  });

  it('rejects malformed events, naming the field', () => {
    const cases: [unknown, string][] = [
      [null, 'event is not a JSON object'],
      [[pushed()], 'event is not a JSON object'],
      [pushed({ id: 7 }), "field 'id' is missing or not a string"],
      [pushed({ topic: undefined }), "field 'topic' is missing or not a string"],
      [pushed({ eventType: '' }), "field 'eventType' is missing or not a string"],
      [pushed({ data: 'x' }), "field 'data' is missing or not an object"],
      [pushed({ data: {} }), "field 'data.target' is missing or not an object"],
      [pushed({}, { digest: 'sha256:short' }), "field 'data.target.digest' is missing or not sha256:<64 hex>"],
      [pushed({}, { repository: 5 }), "field 'data.target.repository' is missing or not a string"],
      [pushed({}, { tag: 5 }), "field 'data.target.tag' is not a string"],
      [pushed({}, { mediaType: undefined }), "field 'data.target.mediaType' is missing or not a string"],
      [pushed({}, { repository: 'Upper/Case' }), "field 'data.target': invalid image reference"],
    ];
    for (const [ev, reason] of cases) {
      const r = classifyRegistryEvent(ev, [BASEREGISTRY_ID]);
      expect(r.kind).toBe('reject');
      expect(r.kind !== 'accept' && r.reason).toContain(reason);
    }
    const noHost = pushed();
    delete (noHost.data as Record<string, unknown>).request;
    expect(classifyRegistryEvent(noHost, [BASEREGISTRY_ID])).toEqual({
      kind: 'reject',
      reason: "field 'data.request.host' is missing (needed for the login server)",
    });
  });
});

function vaultEvent(
  type: string,
  data: Record<string, unknown>,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  n++;
  return {
    id: `kv-${n}`,
    topic: VAULT_ID,
    subject: 'Password',
    eventType: `Microsoft.KeyVault.${type}`,
    eventTime: '2024-01-01T00:00:00Z',
    data,
    dataVersion: '1',
    metadataVersion: '1',
    ...over,
  };
}

const KV_DATA = {
  Id: 'https://mykeyvault.vault.azure.net/secrets/Password/0123456789abcdef0123456789abcdef',
  VaultName: 'mykeyvault',
  ObjectType: 'Secret',
  ObjectName: 'Password',
  Version: '0123456789abcdef0123456789abcdef',
  NBF: 1700753990,
  EXP: 1701185990,
};

describe('classifyVaultEvent', () => {
  it('accepts secret events from a watched vault with numeric NBF/EXP', () => {
    const ev = vaultEvent('SecretNearExpiry', KV_DATA);
    expect(classifyVaultEvent(ev, [VAULT_ID])).toEqual({
      kind: 'accept',
      secret: {
        type: 'SecretNearExpiry',
        vaultId: VAULT_ID,
        vaultName: 'mykeyvault',
        vaultUrl: 'https://mykeyvault.vault.azure.net',
        name: 'Password',
        version: '0123456789abcdef0123456789abcdef',
        uri: KV_DATA.Id,
        notBefore: 1700753990,
        expiresOn: 1701185990,
      },
      eventId: ev.id,
      eventTime: '2024-01-01T00:00:00Z',
    });
  });

  it('reads NBF/EXP given as strings or null, and doc-typo keys with stray spaces', () => {
    const r = classifyVaultEvent(
      vaultEvent('SecretNewVersionCreated', { ...KV_DATA, NBF: null, EXP: '1701185990', 'ObjectName ': 'Password' }),
      [VAULT_ID],
    );
    expect(r).toMatchObject({ kind: 'accept', secret: { expiresOn: 1701185990 } });
    expect(r.kind === 'accept' && 'notBefore' in r.secret).toBe(false);
    const camel = classifyVaultEvent(vaultEvent('SecretExpired', { id: KV_DATA.Id, exp: 5 }), [VAULT_ID]);
    expect(camel).toMatchObject({ kind: 'accept', secret: { type: 'SecretExpired', expiresOn: 5 } });
  });

  it('ignores unwatched vaults and key, certificate or policy events', () => {
    expect(classifyVaultEvent(vaultEvent('SecretExpired', KV_DATA, { topic: `${VAULT_ID}x` }), [VAULT_ID]).kind).toBe(
      'ignore',
    );
    expect(classifyVaultEvent(vaultEvent('KeyNearExpiry', KV_DATA), [VAULT_ID])).toEqual({
      kind: 'ignore',
      reason: "event type 'Microsoft.KeyVault.KeyNearExpiry' is not handled",
    });
    expect(classifyVaultEvent(vaultEvent('VaultAccessPolicyChanged', {}), [VAULT_ID]).kind).toBe('ignore');
  });

  it('rejects malformed secret events, naming the field', () => {
    expect(classifyVaultEvent(vaultEvent('SecretExpired', { ...KV_DATA, Id: 5 }), [VAULT_ID])).toEqual({
      kind: 'reject',
      reason: "field 'data.Id' is missing or not a string",
    });
    expect(
      classifyVaultEvent(vaultEvent('SecretExpired', { ...KV_DATA, Id: 'https://x/keys/a' }), [VAULT_ID]),
    ).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining("field 'data.Id': invalid Key Vault secret URI"),
    });
    expect(classifyVaultEvent(vaultEvent('SecretExpired', { ...KV_DATA, EXP: 'soon' }), [VAULT_ID])).toEqual({
      kind: 'reject',
      reason: "field 'data.EXP' is not a number, numeric string or null",
    });
    expect(classifyVaultEvent(vaultEvent('SecretExpired', KV_DATA, { id: '' }), [VAULT_ID]).kind).toBe('reject');
  });
});
