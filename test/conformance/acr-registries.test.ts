// Registries, tokens/scope maps and the registry data plane, driven with @azure/arm-containerregistry@11, fetch and
// skopeo, and `npm run push`.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';
import { writeStackFile } from '../../local/azure/index.js';
import type { EmittedEvent } from '../../local/azure/core/emulator.js';
import { sha256, syntheticImage } from '../../local/azure/acr/synthetic.js';
import { systemTool } from '../support/systemTools.js';

const skopeo = systemTool('skopeo');

const run = promisify(execFile);
const ARM = { credentialScopes: ['https://management.azure.com/.default'] };

let t: TestEmulator;
let client: ContainerRegistryManagementClient;
const events: EmittedEvent[] = [];
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid}`;

beforeAll(async () => {
  t = await startTestEmulator();
  t.emu.onEvent((e) => events.push(e));
  client = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, {
    endpoint: t.emu.armEndpoint,
    ...ARM,
  });
  await armFetch('PUT', `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-acr?api-version=2021-04-01`, {
    location: 'eastus',
  });
});
afterAll(async () => {
  await t?.stop();
});

/** An ARM answer as sent on the wire (error envelope or resource). */
type WireBody = { error: { code: string; message: string } } & Record<string, unknown>;

async function armFetch(method: string, path: string, body?: unknown, cred = t.operator) {
  const { token } = (await cred.getToken('https://management.azure.com/.default'))!;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as WireBody) : undefined };
}

async function createRegistry(name: string, extra: Record<string, unknown> = {}) {
  await client.registries.beginCreateAndWait('rg-acr', name, {
    location: 'eastus',
    sku: { name: 'Standard' },
    ...extra,
  });
  return t.stack().registries[name]!;
}

function basic(user: string, pass: string) {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** Pushes a synthetic image over the OCI API with fetch; returns the final response. */
async function ociPush(
  endpoint: string,
  repo: string,
  tag: string,
  label: string,
  headers: Record<string, string> = {},
) {
  const img = syntheticImage(label);
  for (const blob of [img.config, img.layer]) {
    const res = await fetch(`${endpoint}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers,
      body: blob,
    });
    if (res.status !== 201) return res;
  }
  return fetch(`${endpoint}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': img.mediaType },
    body: img.manifest,
  });
}

describe('registries (ARM 2025-11-01)', () => {
  it('creates a registry with a lower-case login server, Legacy permissions and its own data endpoint', async () => {
    const created = await client.registries.beginCreateAndWait('rg-acr', 'MixedCase01', {
      location: 'eastus',
      sku: { name: 'Standard' },
    });
    expect(created).toMatchObject({
      name: 'MixedCase01',
      loginServer: 'mixedcase01.azurecr.io',
      roleAssignmentMode: 'LegacyRegistryPermissions',
      anonymousPullEnabled: false,
      adminUserEnabled: false,
      provisioningState: 'Succeeded',
      sku: { name: 'Standard', tier: 'Standard' },
    });
    const got = await client.registries.get('RG-ACR', 'mixedcase01');
    expect(got.id).toBe(created.id);
    const endpoint = t.stack().registries.MixedCase01!.dataEndpoint!;
    expect(endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const v2 = await fetch(`${endpoint}/v2/`);
    expect(v2.status).toBe(200);
  });

  it('updates roleAssignmentMode, anonymous pull and tags with PATCH and lists registries', async () => {
    const name = unique('patchreg');
    await createRegistry(name);
    const updated = await client.registries.beginUpdateAndWait('rg-acr', name, {
      roleAssignmentMode: 'AbacRepositoryPermissions',
      anonymousPullEnabled: true,
      tags: { team: 'platform' },
    });
    expect(updated).toMatchObject({
      roleAssignmentMode: 'AbacRepositoryPermissions',
      anonymousPullEnabled: true,
      tags: { team: 'platform' },
    });
    const inGroup = [];
    for await (const r of client.registries.listByResourceGroup('rg-acr')) inGroup.push(r.name);
    const inSub = [];
    for await (const r of client.registries.list()) inSub.push(r.name);
    expect(inGroup).toContain(name);
    expect(inSub).toContain(name);
  });

  it('creates a system-assigned identity for a registry and removes it when the identity is dropped', async () => {
    const name = unique('identreg');
    const created = await client.registries.beginCreateAndWait('rg-acr', name, {
      location: 'eastus',
      sku: { name: 'Basic' },
      identity: { type: 'SystemAssigned' },
    });
    expect(created.identity).toMatchObject({ type: 'SystemAssigned', tenantId: t.emu.tenantId });
    const principalId = created.identity!.principalId!;
    expect(t.emu.identities.get(principalId)?.kind).toBe('system');
    await client.registries.beginUpdateAndWait('rg-acr', name, { identity: { type: 'None' } });
    expect(t.emu.identities.get(principalId)).toBeUndefined();
  });

  it('rejects invalid names, names already in use and a missing sku', async () => {
    const base = `/subscriptions/${t.emu.subscriptionId}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries`;
    const api = 'api-version=2025-11-01';
    const bad = await armFetch('PUT', `${base}/bad-name?${api}`, { location: 'eastus', sku: { name: 'Basic' } });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'InvalidResourceName' } } });
    const noSku = await armFetch('PUT', `${base}/nosku12345?${api}`, { location: 'eastus' });
    expect(noSku).toMatchObject({ status: 400, body: { error: { code: 'InvalidParameter' } } });
    await armFetch('PUT', `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-other?api-version=2021-04-01`, {
      location: 'eastus',
    });
    await expect(
      client.registries.beginCreateAndWait('rg-other', 'MIXEDCASE01', { location: 'eastus', sku: { name: 'Basic' } }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'AlreadyInUse' });
  });

  it('answers ResourceGroupNotFound before ResourceNotFound, and 403 to a caller without registries/read', async () => {
    await expect(client.registries.get('no-such-rg', 'mixedcase01')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
    await expect(client.registries.get('rg-acr', 'nosuchregistry')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    const asApp = new ContainerRegistryManagementClient(t.app, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    await expect(asApp.registries.get('rg-acr', 'mixedcase01')).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
    });
  });

  it('deletes a registry with its data and closes its data endpoint', async () => {
    const name = unique('delreg');
    const { dataEndpoint, loginServer } = await createRegistry(name);
    expect((await ociPush(dataEndpoint!, 'app', 'v1', 'to be deleted')).status).toBe(201);
    await client.registries.beginDeleteAndWait('rg-acr', name);
    await expect(client.registries.get('rg-acr', name)).rejects.toMatchObject({ statusCode: 404 });
    expect(t.emu.services.registryData!.resolveImage(loginServer, 'app', 'v1')).toBeUndefined();
    await expect(fetch(`${dataEndpoint}/v2/`)).rejects.toThrow();
  });
});

describe('tokens and scope maps', () => {
  let registry: string;
  let endpoint: string;
  let tokenId: string;
  beforeAll(async () => {
    registry = unique('tokenreg');
    endpoint = (await createRegistry(registry)).dataEndpoint!;
    const scopeMap = await client.scopeMaps.beginCreateAndWait('rg-acr', registry, 'pushapps', {
      actions: ['repositories/apps/content/read', 'repositories/apps/content/write'],
      description: 'push to apps',
    });
    const token = await client.tokens.beginCreateAndWait('rg-acr', registry, 'cibot', {
      scopeMapId: scopeMap.id,
      status: 'enabled',
    });
    tokenId = token.id!;
  });

  it('lists system-defined scope maps next to user-defined ones', async () => {
    const maps = [];
    for await (const m of client.scopeMaps.list('rg-acr', registry)) maps.push(m);
    expect(maps.find((m) => m.name === '_repositories_pull')).toMatchObject({
      typePropertiesType: 'SystemDefined',
      actions: ['repositories/*/content/read'],
    });
    expect(maps.find((m) => m.name === 'pushapps')).toMatchObject({ typePropertiesType: 'UserDefined' });
  });

  it('generates passwords shown once and lists them without values', async () => {
    const creds = await client.registries.beginGenerateCredentialsAndWait('rg-acr', registry, {
      tokenId,
      name: 'password2',
    });
    expect(creds.username).toBe('cibot');
    expect(creds.passwords).toHaveLength(1);
    expect(creds.passwords![0]).toMatchObject({ name: 'password2' });
    expect(creds.passwords![0]!.value!.length).toBeGreaterThan(20);
    const token = await client.tokens.get('rg-acr', registry, 'cibot');
    expect(token.credentials?.passwords).toEqual([expect.objectContaining({ name: 'password2' })]);
    expect(token.credentials?.passwords?.[0]?.value).toBeUndefined();
  });

  it('authenticates a token password on the data plane only for repositories in its scope map', async () => {
    const creds = await client.registries.beginGenerateCredentialsAndWait('rg-acr', registry, {
      tokenId,
      name: 'password1',
    });
    const auth = { authorization: basic('cibot', creds.passwords![0]!.value!) };
    expect((await fetch(`${endpoint}/v2/`, { headers: auth })).status).toBe(200);
    expect((await ociPush(endpoint, 'apps', 'v1', 'token push', auth)).status).toBe(201);
    const denied = await ociPush(endpoint, 'other', 'v1', 'token push', auth);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ errors: [{ code: 'DENIED' }] });
    const wrong = await fetch(`${endpoint}/v2/`, { headers: { authorization: basic('cibot', 'not-the-password') } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('revokes the old password1 when it is regenerated, and refuses expired passwords', async () => {
    const first = await client.registries.beginGenerateCredentialsAndWait('rg-acr', registry, {
      tokenId,
      name: 'password1',
    });
    const old = first.passwords![0]!.value!;
    const second = await client.registries.beginGenerateCredentialsAndWait('rg-acr', registry, {
      tokenId,
      name: 'password1',
      expiry: new Date(t.emu.nowMs() + 60_000),
    });
    const fresh = second.passwords![0]!.value!;
    expect((await fetch(`${endpoint}/v2/`, { headers: { authorization: basic('cibot', old) } })).status).toBe(401);
    expect((await fetch(`${endpoint}/v2/`, { headers: { authorization: basic('cibot', fresh) } })).status).toBe(200);
    await t.admin('POST', '/clock/advance', { seconds: 120 });
    expect((await fetch(`${endpoint}/v2/`, { headers: { authorization: basic('cibot', fresh) } })).status).toBe(401);
  });

  it('stops authenticating a disabled token', async () => {
    const creds = await client.registries.beginGenerateCredentialsAndWait('rg-acr', registry, {
      tokenId,
      name: 'password2',
    });
    const auth = { authorization: basic('cibot', creds.passwords![0]!.value!) };
    expect((await fetch(`${endpoint}/v2/`, { headers: auth })).status).toBe(200);
    await client.tokens.beginUpdateAndWait('rg-acr', registry, 'cibot', { status: 'disabled' });
    expect((await fetch(`${endpoint}/v2/`, { headers: auth })).status).toBe(401);
    await client.tokens.beginUpdateAndWait('rg-acr', registry, 'cibot', { status: 'enabled' });
  });

  it('refuses to delete a scope map a token uses, and deletes the token', async () => {
    await expect(client.scopeMaps.beginDeleteAndWait('rg-acr', registry, 'pushapps')).rejects.toMatchObject({
      statusCode: 409,
      code: 'ScopeMapInUse',
    });
    await client.tokens.beginDeleteAndWait('rg-acr', registry, 'cibot');
    await expect(client.tokens.get('rg-acr', registry, 'cibot')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('registry data plane (OCI distribution)', () => {
  let endpoint: string;
  let loginServer: string;
  let registryId: string;
  beforeAll(async () => {
    const name = unique('ocireg');
    const r = await createRegistry(name);
    endpoint = r.dataEndpoint!;
    loginServer = r.loginServer;
    registryId = r.id;
  });

  it('accepts a chunked blob upload, verifies the digest, serves the blob with HEAD and GET and mounts it elsewhere', async () => {
    const data = Buffer.from('a'.repeat(1000) + 'b'.repeat(500));
    const start = await fetch(`${endpoint}/v2/chunks/blob/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    let location = new URL(start.headers.get('location')!, endpoint);
    const first = await fetch(location, {
      method: 'PATCH',
      headers: { 'content-range': '0-999' },
      body: data.subarray(0, 1000),
    });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-999');
    location = new URL(first.headers.get('location')!, endpoint);
    const outOfOrder = await fetch(location, {
      method: 'PATCH',
      headers: { 'content-range': '0-499' },
      body: data.subarray(1000),
    });
    expect(outOfOrder.status).toBe(416);
    await fetch(location, { method: 'PATCH', headers: { 'content-range': '1000-1499' }, body: data.subarray(1000) });
    const wrong = new URL(location);
    wrong.searchParams.set('digest', sha256('something else'));
    // A wrong digest is refused; the session survives so the client can retry with the right one.
    expect((await fetch(wrong, { method: 'PUT' })).status).toBe(400);
    const done = new URL(location);
    done.searchParams.set('digest', sha256(data));
    const put = await fetch(done, { method: 'PUT' });
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(sha256(data));
    const head = await fetch(`${endpoint}/v2/chunks/blob/blobs/${sha256(data)}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1500');
    expect(head.headers.get('docker-content-digest')).toBe(sha256(data));
    const got = Buffer.from(await (await fetch(`${endpoint}/v2/chunks/blob/blobs/${sha256(data)}`)).arrayBuffer());
    expect(got.equals(data)).toBe(true);
    const mounted = await fetch(`${endpoint}/v2/other/repo/blobs/uploads/?mount=${sha256(data)}&from=chunks/blob`, {
      method: 'POST',
    });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get('location')).toBe(`/v2/other/repo/blobs/${sha256(data)}`);
    const unknown = await fetch(`${endpoint}/v2/other/repo/blobs/uploads/?mount=${sha256('absent')}&from=chunks/blob`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(202); // nothing to mount: an ordinary upload session starts instead
  });

  it('stores manifests by tag and digest, rejects unknown blobs and mismatched digests, and lists tags', async () => {
    const res = await ociPush(endpoint, 'samples/app', 'v1', 'manifest test');
    expect(res.status).toBe(201);
    const digest = res.headers.get('docker-content-digest')!;
    expect(res.headers.get('location')).toBe(`/v2/samples/app/manifests/${digest}`);
    const byTag = await fetch(`${endpoint}/v2/samples/app/manifests/v1`);
    expect(byTag.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(sha256(Buffer.from(await byTag.arrayBuffer()))).toBe(digest);
    expect((await fetch(`${endpoint}/v2/samples/app/manifests/${digest}`, { method: 'HEAD' })).status).toBe(200);
    const orphan = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('nope'), size: 4 },
        layers: [],
      }),
    );
    const unknownBlob = await fetch(`${endpoint}/v2/samples/app/manifests/v2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: orphan,
    });
    expect(unknownBlob.status).toBe(400);
    expect(await unknownBlob.json()).toMatchObject({ errors: [{ code: 'MANIFEST_BLOB_UNKNOWN' }] });
    const wrongDigest = await fetch(`${endpoint}/v2/samples/app/manifests/${sha256('x')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: await (await fetch(`${endpoint}/v2/samples/app/manifests/v1`)).arrayBuffer(),
    });
    expect(await wrongDigest.json()).toMatchObject({ errors: [{ code: 'DIGEST_INVALID' }] });
    await ociPush(endpoint, 'samples/app', 'v2', 'manifest test 2');
    expect(await (await fetch(`${endpoint}/v2/samples/app/tags/list`)).json()).toEqual({
      name: 'samples/app',
      tags: ['v1', 'v2'],
    });
    const missing = await fetch(`${endpoint}/v2/samples/app/manifests/v9`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  });

  it('emits ImagePushed for every manifest PUT, including signatures and referrers, and ImageDeleted without a tag', async () => {
    events.length = 0;
    const res = await ociPush(endpoint, 'signed/app', '1.0', 'signed app', { 'user-agent': 'test-client/1.0' });
    const digest = res.headers.get('docker-content-digest')!;
    const image = await (await fetch(`${endpoint}/v2/signed/app/manifests/1.0`)).arrayBuffer();
    // A cosign-style signature tag and an OCI 1.1 referrer with artifactType and subject.
    const sig = syntheticImage('signature');
    await fetch(`${endpoint}/v2/signed/app/blobs/uploads/?digest=${sha256(sig.config)}`, {
      method: 'POST',
      body: sig.config,
    });
    await fetch(`${endpoint}/v2/signed/app/blobs/uploads/?digest=${sha256(sig.layer)}`, {
      method: 'POST',
      body: sig.layer,
    });
    await fetch(`${endpoint}/v2/signed/app/manifests/${digest.replace(':', '-')}.sig`, {
      method: 'PUT',
      headers: { 'content-type': sig.mediaType },
      body: sig.manifest,
    });
    const referrer = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.dev.sbom+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(sig.config), size: sig.config.length },
        layers: [{ mediaType: 'application/octet-stream', digest: sha256(sig.layer), size: sig.layer.length }],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: image.byteLength },
      }),
    );
    const refRes = await fetch(`${endpoint}/v2/signed/app/manifests/${sha256(referrer)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: referrer,
    });
    expect(refRes.headers.get('oci-subject')).toBe(digest);
    const referrers = await (await fetch(`${endpoint}/v2/signed/app/referrers/${digest}`)).json();
    expect(referrers).toMatchObject({
      manifests: [{ digest: sha256(referrer), artifactType: 'application/vnd.dev.sbom+json' }],
    });

    const pushed = events.filter((e) => e.eventType === 'Microsoft.ContainerRegistry.ImagePushed');
    expect(pushed.map((e) => e.subject)).toEqual([
      'signed/app:1.0',
      `signed/app:${digest.replace(':', '-')}.sig`,
      'signed/app',
    ]);
    expect(pushed[0]).toMatchObject({
      source: registryId,
      data: {
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          repository: 'signed/app',
          tag: '1.0',
        },
        request: { host: loginServer, method: 'PUT', useragent: 'test-client/1.0' },
      },
    });
    expect(pushed[2]!.data).toMatchObject({
      target: { digest: sha256(referrer), artifactType: 'application/vnd.dev.sbom+json' },
    });
    expect((pushed[2]!.data.target as Record<string, unknown>).tag).toBeUndefined();

    expect((await fetch(`${endpoint}/v2/signed/app/manifests/${digest}`, { method: 'DELETE' })).status).toBe(202);
    const deleted = events.find((e) => e.eventType === 'Microsoft.ContainerRegistry.ImageDeleted')!;
    expect(deleted).toMatchObject({
      subject: 'signed/app',
      data: { action: 'delete', target: { digest, repository: 'signed/app' } },
    });
    expect((await fetch(`${endpoint}/v2/signed/app/manifests/1.0`)).status).toBe(404);
  });

  it.skipIf(!skopeo)('accepts a push from skopeo and emits ImagePushed for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-skopeo-'));
    try {
      const img = syntheticImage('pushed by skopeo');
      mkdirSync(join(dir, 'layout', 'blobs', 'sha256'), { recursive: true });
      for (const blob of [img.config, img.layer, img.manifest])
        writeFileSync(join(dir, 'layout', 'blobs', 'sha256', sha256(blob).slice(7)), blob);
      writeFileSync(join(dir, 'layout', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      writeFileSync(
        join(dir, 'layout', 'index.json'),
        JSON.stringify({
          schemaVersion: 2,
          manifests: [{ mediaType: img.mediaType, digest: img.digest, size: img.manifest.length }],
        }),
      );
      mkdirSync(join(dir, 'certs'));
      writeFileSync(join(dir, 'certs', 'ca.crt'), readFileSync(t.stack().tls.caCertPath));
      events.length = 0;
      const host = endpoint.replace(/^https:\/\//, '');
      await run(skopeo!, [
        'copy',
        '--dest-cert-dir',
        join(dir, 'certs'),
        '--dest-no-creds',
        `oci:${join(dir, 'layout')}`,
        `docker://${host}/skopeo/hello:1.0`,
      ]);
      const found = t.emu.services.registryData!.resolveImage(loginServer, 'skopeo/hello', '1.0');
      expect(found).toBeDefined();
      expect(events.find((e) => e.eventType === 'Microsoft.ContainerRegistry.ImagePushed')).toMatchObject({
        subject: 'skopeo/hello:1.0',
        data: {
          target: { repository: 'skopeo/hello', tag: '1.0', digest: found!.digest },
          request: { host: loginServer },
        },
      });
      expect(events.find((e) => e.eventType === 'Microsoft.ContainerRegistry.ImagePushed')!.data.request).toMatchObject(
        { useragent: expect.stringMatching(/skopeo|containers/i) },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run push', () => {
  const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
  let dir: string;
  let stackFile: string;
  let registry: string;
  beforeAll(async () => {
    registry = unique('pushreg');
    await createRegistry(registry);
    dir = mkdtempSync(join(tmpdir(), 'acr-push-'));
    stackFile = join(dir, 'stack.json');
    writeStackFile(stackFile, t.stack());
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, ACR_CASCADE_STACK_FILE: stackFile };
    delete e.NODE_EXTRA_CA_CERTS; // the script must trust the emulator's CA by itself
    return e;
  };

  it('pushes a synthetic image, prints its digest, and gives repeated pushes new digests', async () => {
    events.length = 0;
    const first = await run(tsx, ['local/azure/push.ts', registry, 'baseimages/node:15-alpine'], { env: env() });
    const digest = first.stdout.trim();
    expect(first.stderr).toContain(`pushed ${t.stack().registries[registry]!.loginServer}/baseimages/node:15-alpine`);
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const { loginServer } = t.stack().registries[registry]!;
    expect(t.emu.services.registryData!.resolveImage(loginServer, 'baseimages/node', '15-alpine')).toEqual({ digest });
    expect(events.find((e) => e.eventType === 'Microsoft.ContainerRegistry.ImagePushed')).toMatchObject({
      subject: 'baseimages/node:15-alpine',
      data: { target: { digest } },
    });
    const second = await run(tsx, ['local/azure/push.ts', '--', registry, 'baseimages/node:15-alpine'], { env: env() });
    expect(second.stdout.trim()).not.toBe(digest);
  });

  it('names what is wrong in usage errors', async () => {
    await expect(run(tsx, ['local/azure/push.ts', registry], { env: env() })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: npm run push -- <registry> <repository>:<tag>'),
    });
    await expect(run(tsx, ['local/azure/push.ts', 'nosuchregistry', 'a:b'], { env: env() })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        `registry 'nosuchregistry' does not exist in the emulated subscription; registries there:`,
      ),
    });
    await expect(run(tsx, ['local/azure/push.ts', registry, 'Bad/Repo'], { env: env() })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("'Bad/Repo' is not <repository>:<tag>"),
    });
    await expect(
      run(tsx, ['local/azure/push.ts', registry, 'a:b'], {
        env: { ...env(), ACR_CASCADE_STACK_FILE: join(dir, 'none.json') },
      }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('does not exist: start the emulator first') });
    const stale = join(dir, 'stale.json');
    writeFileSync(
      stale,
      JSON.stringify({
        ...t.stack(),
        arm: { ...t.stack().arm, endpoint: 'https://127.0.0.1:1' },
      }),
    );
    await expect(
      run(tsx, ['local/azure/push.ts', registry, 'a:b'], {
        env: { ...env(), ACR_CASCADE_STACK_FILE: stale, NODE_EXTRA_CA_CERTS: t.stack().tls.caCertPath },
      }),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Is the emulator running?') });
  });
});
