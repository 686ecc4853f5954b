// Key Vault conformance: ARM vaults through KeyVaultManagementClient, the data plane through SecretClient (challenge
// handshake, versions, errors, both permission models, paging, soft delete), and services.keyVault.resolveSecret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';
import type { Principal } from '../../local/azure/core/identity.js';

let t: TestEmulator;
let kvm: KeyVaultManagementClient;
let sub: string;
const RG = 'rg-kv';
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

const SECRETS_USER = '4633458b-17de-408a-b874-0445c86b69e6';
const SECRETS_OFFICER = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7';

async function token(cred: TokenCredential, scope: string): Promise<string> {
  return (await cred.getToken(scope))!.token;
}

async function raw(url: string, init: RequestInit & { bearer?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    // Wire JSON of arbitrary shape; assertions check it.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    body: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

const armUrl = (path: string, apiVersion: string) => `${t.emu.armEndpoint}${path}?api-version=${apiVersion}`;
const vaultPath = (name: string, rg = RG) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}`;

/** Role assignment written straight into emulator state (the seeding path; the Authorization API is tested elsewhere). */
function grant(principalId: string, roleGuid: string, scope: string): void {
  const name = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
  t.emu.store.putResource({
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId,
      principalType: 'ServicePrincipal',
      scope,
    },
  });
}

interface VaultOpts {
  rbac?: boolean;
  policies?: { objectId: string; secrets: string[] }[];
  purgeProtection?: boolean;
}

async function createVault(name: string, opts: VaultOpts = {}) {
  return kvm.vaults.createOrUpdate(RG, name, {
    location: 'eastus',
    properties: {
      tenantId: t.emu.tenantId,
      sku: { family: 'A', name: 'standard' },
      ...(opts.rbac !== undefined ? { enableRbacAuthorization: opts.rbac } : {}),
      ...(opts.purgeProtection ? { enablePurgeProtection: true } : {}),
      accessPolicies: (opts.policies ?? []).map((p) => ({
        tenantId: t.emu.tenantId,
        objectId: p.objectId,
        permissions: { secrets: p.secrets },
      })),
    },
  });
}

const operatorId = () => operatorPrincipal().objectId;
const operatorPrincipal = () => t.emu.identities.find((p) => p.kind === 'operator')!;
const secretClient = (vaultUri: string, cred: TokenCredential) =>
  new SecretClient(vaultUri, cred, { disableChallengeResourceVerification: true });

function newIdentity(label: string): { p: Principal; cred: TokenCredential } {
  const p = t.emu.newPrincipal('userAssigned', unique(label), undefined, true);
  return { p, cred: t.credentialFor(p) };
}

/** An access-policy vault where the operator may do everything with secrets. */
async function policyVault(extra: VaultOpts['policies'] = []) {
  const name = unique('kvpol');
  const v = await createVault(name, {
    rbac: false,
    policies: [{ objectId: operatorId(), secrets: ['all'] }, ...extra],
  });
  return { name, vault: v, client: secretClient(v.properties.vaultUri!, t.operator) };
}

beforeAll(async () => {
  t = await startTestEmulator();
  sub = t.emu.subscriptionId;
  kvm = new KeyVaultManagementClient(t.operator, sub, {
    endpoint: t.emu.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });
  const armToken = await token(t.operator, 'https://management.azure.com/.default');
  for (const rg of [RG, 'rg-kv-other']) {
    const r = await raw(armUrl(`/subscriptions/${sub}/resourcegroups/${rg}`, '2021-04-01'), {
      method: 'PUT',
      bearer: armToken,
      body: JSON.stringify({ location: 'eastus' }),
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await t?.stop();
});

describe('Key Vault ARM: Microsoft.KeyVault/vaults', () => {
  it('creates a vault whose vaultUri is its own HTTPS data-plane listener, and gets and lists it', async () => {
    const name = unique('kvarm');
    const created = await createVault(name);
    expect(created).toMatchObject({
      id: vaultPath(name),
      name,
      type: 'Microsoft.KeyVault/vaults',
      location: 'eastus',
      properties: { tenantId: t.emu.tenantId, provisioningState: 'Succeeded', enableSoftDelete: true },
    });
    expect(created.properties.vaultUri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    // Nothing listens there for other vaults: the port belongs to this vault.
    const challenge = await fetch(`${created.properties.vaultUri}secrets?api-version=7.5`);
    expect(challenge.status).toBe(401);

    const got = await kvm.vaults.get(RG, name.toUpperCase());
    expect(got.properties.vaultUri).toBe(created.properties.vaultUri);
    const inRg = [];
    for await (const v of kvm.vaults.listByResourceGroup(RG)) inRg.push(v.name);
    expect(inRg).toContain(name);
    const inSub = [];
    for await (const v of kvm.vaults.listBySubscription()) inSub.push(v.name);
    expect(inSub).toContain(name);
    expect(t.stack().vaults[name]).toEqual({ id: vaultPath(name), vaultUri: created.properties.vaultUri });
  });

  it('defaults enableRbacAuthorization to true from api-version 2026-02-01 and to false before it', async () => {
    const viaSdk = await createVault(unique('kvdef'));
    expect(viaSdk.properties.enableRbacAuthorization).toBe(true);
    const armToken = await token(t.operator, 'https://management.azure.com/.default');
    for (const [apiVersion, expected] of [
      ['2023-07-01', false],
      ['2024-11-01', false],
      ['2026-02-01', true],
    ] as const) {
      const name = unique('kvver');
      const r = await raw(armUrl(vaultPath(name), apiVersion), {
        method: 'PUT',
        bearer: armToken,
        body: JSON.stringify({
          location: 'eastus',
          properties: { tenantId: t.emu.tenantId, sku: { family: 'A', name: 'standard' } },
        }),
      });
      expect(r.status).toBe(201);
      expect(r.body?.properties.enableRbacAuthorization).toBe(expected);
      // An existing vault keeps its model when a later PUT omits the property.
      const again = await raw(armUrl(vaultPath(name), '2026-02-01'), {
        method: 'PUT',
        bearer: armToken,
        body: JSON.stringify({
          location: 'eastus',
          properties: { tenantId: t.emu.tenantId, sku: { family: 'A', name: 'premium' } },
        }),
      });
      expect(again.status).toBe(200);
      expect(again.body?.properties).toMatchObject({ enableRbacAuthorization: expected, sku: { name: 'premium' } });
    }
  });

  it('patches tags and properties, and deletes a vault, closing its data-plane listener', async () => {
    const name = unique('kvdel');
    const v = await createVault(name, { rbac: false });
    const patched = await kvm.vaults.update(RG, name, {
      tags: { team: 'platform' },
      properties: { enableRbacAuthorization: true },
    });
    expect(patched.tags).toEqual({ team: 'platform' });
    expect(patched.properties.enableRbacAuthorization).toBe(true);
    expect(patched.properties.vaultUri).toBe(v.properties.vaultUri);

    await kvm.vaults.delete(RG, name);
    await expect(kvm.vaults.get(RG, name)).rejects.toMatchObject({ code: 'ResourceNotFound', statusCode: 404 });
    await expect(fetch(`${v.properties.vaultUri}secrets?api-version=7.5`)).rejects.toThrow();
    expect(t.stack().vaults[name]).toBeUndefined();
    // Deleting again is a no-op success, as ARM deletes are.
    await expect(kvm.vaults.delete(RG, name)).resolves.toBeUndefined();
  });

  it('reports a missing resource group as ResourceGroupNotFound and a taken name as VaultAlreadyExists', async () => {
    await expect(kvm.vaults.get('no-such-rg', 'whatever')).rejects.toMatchObject({
      code: 'ResourceGroupNotFound',
      statusCode: 404,
    });
    const name = unique('kvdup');
    await createVault(name);
    await expect(
      kvm.vaults.createOrUpdate('rg-kv-other', name, {
        location: 'eastus',
        properties: { tenantId: t.emu.tenantId, sku: { family: 'A', name: 'standard' } },
      }),
    ).rejects.toMatchObject({ code: 'VaultAlreadyExists', statusCode: 409 });
    const availability = await kvm.vaults.checkNameAvailability({ name, type: 'Microsoft.KeyVault/vaults' });
    expect(availability).toMatchObject({ nameAvailable: false, reason: 'AlreadyExists' });
    await expect(createVault('1-bad--name')).rejects.toMatchObject({ code: 'VaultNameNotValid', statusCode: 400 });
  });

  it('refuses vault reads to an identity without an ARM role (403 AuthorizationFailed)', async () => {
    const name = unique('kvnoarm');
    await createVault(name);
    const stranger = new KeyVaultManagementClient(t.app, sub, {
      endpoint: t.emu.armEndpoint,
      credentials: { scopes: ['https://management.azure.com/.default'] },
    });
    await expect(stranger.vaults.get(RG, name)).rejects.toMatchObject({
      code: 'AuthorizationFailed',
      statusCode: 403,
    });
  });

  it('adds, replaces and removes access policies through accessPolicies/{kind}', async () => {
    const name = unique('kvap');
    await createVault(name, { rbac: false });
    const { p } = newIdentity('ap');
    const entry = (secrets: string[]) => ({
      properties: { accessPolicies: [{ tenantId: t.emu.tenantId, objectId: p.objectId, permissions: { secrets } }] },
    });
    const added = await kvm.vaults.updateAccessPolicy(RG, name, 'add', entry(['get']));
    expect(added.properties.accessPolicies[0]).toMatchObject({
      objectId: p.objectId,
      permissions: { secrets: ['get'] },
    });
    await kvm.vaults.updateAccessPolicy(RG, name, 'add', entry(['List']));
    const policyOf = async () =>
      (await kvm.vaults.get(RG, name)).properties.accessPolicies?.find((a) => a.objectId === p.objectId);
    expect((await policyOf())?.permissions.secrets).toEqual(['get', 'List']);
    await kvm.vaults.updateAccessPolicy(RG, name, 'replace', entry(['set']));
    expect((await policyOf())?.permissions.secrets).toEqual(['set']);
    await kvm.vaults.updateAccessPolicy(RG, name, 'remove', entry(['set']));
    expect(await policyOf()).toBeUndefined();
    await expect(kvm.vaults.updateAccessPolicy(RG, name, 'add', entry(['fly']))).rejects.toMatchObject({
      statusCode: 400,
    });
  });
});

describe('Key Vault data plane: secrets through SecretClient', () => {
  it('answers the first unauthenticated, body-less request with 401 and the Bearer challenge, then the SDK succeeds', async () => {
    const { vault, client } = await policyVault();
    const uri = vault.properties.vaultUri!;
    const first = await raw(`${uri}secrets/first?api-version=2025-07-01`, { method: 'PUT' });
    expect(first.status).toBe(401);
    expect(first.headers.get('www-authenticate')).toBe(
      `Bearer authorization="https://login.microsoftonline.com/${t.emu.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(first.body).toEqual({
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
    const set = await client.setSecret('first', 'v1');
    expect(set).toMatchObject({ name: 'first', value: 'v1' });
    expect((await client.getSecret('first')).value).toBe('v1');
    // A token for another audience is refused with the challenge again.
    const armToken = await token(t.operator, 'https://management.azure.com/.default');
    const wrong = await raw(`${uri}secrets/first?api-version=7.5`, { bearer: armToken });
    expect(wrong.status).toBe(401);
    expect(wrong.body?.error.message).toMatch(/^AKV10022: Invalid audience/);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer authorization=/);
  });

  it('fails loudly on a missing or unknown data-plane api-version', async () => {
    const { vault } = await policyVault();
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    const missing = await raw(`${vault.properties.vaultUri}secrets`, { bearer: kvToken });
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'BadParameter' } } });
    const unknown = await raw(`${vault.properties.vaultUri}secrets?api-version=1.0`, { bearer: kvToken });
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'BadParameter' } } });
    for (const v of ['7.4', '7.5', '7.6', '2025-07-01']) {
      expect((await raw(`${vault.properties.vaultUri}secrets?api-version=${v}`, { bearer: kvToken })).status).toBe(200);
    }
  });

  it('creates a new 32-hex version on every set and reads latest or a given version', async () => {
    const { vault, client } = await policyVault();
    const versions: string[] = [];
    for (const value of ['one', 'two', 'three'])
      versions.push((await client.setSecret('multi', value)).properties.version!);
    expect(new Set(versions).size).toBe(3);
    for (const v of versions) expect(v).toMatch(/^[0-9a-f]{32}$/);
    expect((await client.getSecret('multi')).value).toBe('three');
    expect((await client.getSecret('multi', { version: versions[0] })).value).toBe('one');
    const listed = [];
    for await (const p of client.listPropertiesOfSecretVersions('multi')) listed.push(p.version);
    expect(listed.sort()).toEqual([...versions].sort());
    // `/secrets/{name}/` (empty version) and `/secrets/{name}` both mean the latest version.
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    for (const path of ['secrets/multi/', 'secrets/MULTI']) {
      const r = await raw(`${vault.properties.vaultUri}${path}?api-version=7.5`, { bearer: kvToken });
      expect(r.body).toMatchObject({ value: 'three', id: `${vault.properties.vaultUri}secrets/multi/${versions[2]}` });
    }
  });

  it('keeps contentType, tags and nbf/exp as Unix seconds through set, get and update', async () => {
    const { vault, client } = await policyVault();
    const notBefore = new Date(Math.floor(Date.now() / 1000 - 3600) * 1000);
    const expiresOn = new Date(Math.floor(Date.now() / 1000 + 86400 * 90) * 1000);
    const set = await client.setSecret('timed', 's', {
      notBefore,
      expiresOn,
      contentType: 'text/plain',
      tags: { owner: 'ops' },
    });
    expect(set.properties).toMatchObject({ notBefore, expiresOn, contentType: 'text/plain', tags: { owner: 'ops' } });
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    const r = await raw(`${vault.properties.vaultUri}secrets/timed?api-version=7.5`, { bearer: kvToken });
    expect(r.body?.attributes).toMatchObject({
      enabled: true,
      nbf: notBefore.getTime() / 1000,
      exp: expiresOn.getTime() / 1000,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    });
    expect(Number.isInteger(r.body?.attributes.created)).toBe(true);
    expect(r.body?.attributes.updated).toBe(r.body?.attributes.created);
    const later = new Date(expiresOn.getTime() + 86400_000);
    const updated = await client.updateSecretProperties('timed', set.properties.version!, {
      expiresOn: later,
      tags: { owner: 'sec' },
    });
    expect(updated).toMatchObject({ expiresOn: later, tags: { owner: 'sec' }, contentType: 'text/plain' });
    expect((await client.getSecret('timed')).value).toBe('s');
  });

  it('refuses to get a disabled secret with 403 Forbidden / SecretDisabled but still lists it', async () => {
    const { vault, client } = await policyVault();
    const set = await client.setSecret('off', 'hidden');
    await client.updateSecretProperties('off', set.properties.version!, { enabled: false });
    await expect(client.getSecret('off')).rejects.toMatchObject({
      code: 'Forbidden',
      statusCode: 403,
      details: { error: { innerError: { code: 'SecretDisabled' } } },
    });
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    const r = await raw(`${vault.properties.vaultUri}secrets/off?api-version=7.5`, { bearer: kvToken });
    expect(r.headers.get('x-ms-error-code')).toBe('SecretDisabled');
    expect(r.body).toEqual({
      error: {
        code: 'Forbidden',
        message: 'Operation get is not allowed on a disabled secret.',
        innererror: { code: 'SecretDisabled' },
      },
    });
    const listed = [];
    for await (const p of client.listPropertiesOfSecrets()) listed.push(p);
    expect(listed).toEqual([expect.objectContaining({ name: 'off', enabled: false })]);
  });

  it('answers 404 SecretNotFound for a missing secret or version', async () => {
    const { client } = await policyVault();
    await expect(client.getSecret('missing')).rejects.toMatchObject({ code: 'SecretNotFound', statusCode: 404 });
    await client.setSecret('present', 'x');
    await expect(client.getSecret('present', { version: 'f'.repeat(32) })).rejects.toMatchObject({
      code: 'SecretNotFound',
      statusCode: 404,
    });
    const none = [];
    for await (const p of client.listPropertiesOfSecretVersions('missing')) none.push(p);
    expect(none).toEqual([]);
  });

  it('rejects invalid names and a missing value with 400 BadParameter', async () => {
    const { vault } = await policyVault();
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    const base = vault.properties.vaultUri!;
    const badName = await raw(`${base}secrets/bad_name?api-version=7.5`, {
      method: 'PUT',
      bearer: kvToken,
      body: JSON.stringify({ value: 'x' }),
    });
    expect(badName).toMatchObject({ status: 400, body: { error: { code: 'BadParameter' } } });
    const noValue = await raw(`${base}secrets/novalue?api-version=7.5`, {
      method: 'PUT',
      bearer: kvToken,
      body: JSON.stringify({ contentType: 'text/plain' }),
    });
    expect(noValue).toMatchObject({ status: 400, body: { error: { code: 'BadParameter' } } });
    const tooMany = await raw(`${base}secrets?api-version=7.5&maxresults=26`, { bearer: kvToken });
    expect(tooMany).toMatchObject({ status: 400, body: { error: { code: 'BadParameter' } } });
  });

  it('pages 30 secrets with maxresults and absolute nextLinks carrying $skiptoken', async () => {
    const { vault, client } = await policyVault();
    for (let i = 0; i < 30; i++) await client.setSecret(`page-${String(i).padStart(2, '0')}`, `v${i}`);
    const pages: number[] = [];
    for await (const pg of client.listPropertiesOfSecrets().byPage({ maxPageSize: 10 })) pages.push(pg.length);
    expect(pages).toEqual([10, 10, 10]);
    const all = [];
    for await (const p of client.listPropertiesOfSecrets()) all.push(p.name);
    expect(all).toHaveLength(30);
    expect(new Set(all).size).toBe(30);
    const kvToken = await token(t.operator, 'https://vault.azure.net/.default');
    const first = await raw(`${vault.properties.vaultUri}secrets?api-version=7.5`, { bearer: kvToken });
    expect(first.body?.value).toHaveLength(25);
    expect(first.body?.value[0]).not.toHaveProperty('value');
    expect(first.body?.value[0].id).toBe(`${vault.properties.vaultUri}secrets/page-00`);
    expect(first.body?.nextLink).toMatch(
      new RegExp(`^${vault.properties.vaultUri!.replace(/[.]/g, '\\.')}secrets\\?api-version=7\\.5&\\$skiptoken=`),
    );
    const second = await raw(first.body!.nextLink, { bearer: kvToken });
    expect(second.body?.value).toHaveLength(5);
    expect(second.body?.nextLink).toBeNull();
  });

  it('soft-deletes a secret, conflicts on reuse of its name, recovers it, and purges it', async () => {
    const { client } = await policyVault();
    await client.setSecret('gone', 'before');
    const poller = await client.beginDeleteSecret('gone');
    const deleted = await poller.pollUntilDone();
    expect(deleted).toMatchObject({
      name: 'gone',
      properties: { recoveryId: expect.stringContaining('/deletedsecrets/gone') },
    });
    expect(deleted.deletedOn).toBeInstanceOf(Date);
    expect(deleted.scheduledPurgeDate!.getTime() - deleted.deletedOn!.getTime()).toBe(90 * 86400_000);
    await expect(client.getSecret('gone')).rejects.toMatchObject({ code: 'SecretNotFound', statusCode: 404 });
    await expect(client.setSecret('gone', 'again')).rejects.toMatchObject({
      code: 'Conflict',
      statusCode: 409,
      details: { error: { innerError: { code: 'ObjectIsDeletedButRecoverable' } } },
    });
    const listedDeleted = [];
    for await (const d of client.listDeletedSecrets()) listedDeleted.push(d.name);
    expect(listedDeleted).toEqual(['gone']);
    const recovered = await (await client.beginRecoverDeletedSecret('gone')).pollUntilDone();
    expect(recovered.name).toBe('gone');
    expect((await client.getSecret('gone')).value).toBe('before');

    await (await client.beginDeleteSecret('gone')).pollUntilDone();
    await client.purgeDeletedSecret('gone');
    await expect(client.getDeletedSecret('gone')).rejects.toMatchObject({ code: 'SecretNotFound', statusCode: 404 });
    expect((await client.setSecret('gone', 'fresh')).value).toBe('fresh');
  });

  it('refuses to purge in a purge-protected vault', async () => {
    const name = unique('kvpp');
    const v = await createVault(name, {
      rbac: false,
      purgeProtection: true,
      policies: [{ objectId: operatorId(), secrets: ['all'] }],
    });
    const client = secretClient(v.properties.vaultUri!, t.operator);
    await client.setSecret('kept', 'x');
    await (await client.beginDeleteSecret('kept')).pollUntilDone();
    await expect(client.purgeDeletedSecret('kept')).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
  });

  it('denies an identity without an access policy (403 AccessDenied) until a policy grants get', async () => {
    const { name, client } = await policyVault();
    await client.setSecret('db-password', 'pw');
    const { p, cred } = newIdentity('appap');
    const asApp = secretClient(client.vaultUrl, cred);
    const denied = asApp.getSecret('db-password');
    await expect(denied).rejects.toMatchObject({
      code: 'Forbidden',
      statusCode: 403,
      details: { error: { innerError: { code: 'AccessDenied' } } },
    });
    await expect(denied).rejects.toThrow(
      new RegExp(
        `'appid=${p.clientId};oid=${p.objectId};iss=https://sts.windows.net/${t.emu.tenantId}/' does not have secrets get permission on key vault '${name};location=eastus'`,
      ),
    );
    // RBAC roles are ignored on an access-policy vault.
    grant(p.objectId, SECRETS_OFFICER, `/subscriptions/${sub}`);
    await expect(asApp.getSecret('db-password')).rejects.toMatchObject({ statusCode: 403 });

    await kvm.vaults.updateAccessPolicy(RG, name, 'add', {
      properties: {
        accessPolicies: [{ tenantId: t.emu.tenantId, objectId: p.objectId, permissions: { secrets: ['Get'] } }],
      },
    });
    expect((await asApp.getSecret('db-password')).value).toBe('pw');
    await expect(asApp.setSecret('db-password', 'nope')).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
    const list = asApp.listPropertiesOfSecrets();
    await expect(list.next()).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
  });

  it('denies on an RBAC vault (403 ForbiddenByRbac, even to an ARM Owner) until a data role is granted at the secret', async () => {
    const name = unique('kvrbac');
    const v = await createVault(name, { rbac: true, policies: [{ objectId: operatorId(), secrets: ['all'] }] });
    const uri = v.properties.vaultUri!;
    const asOperator = secretClient(uri, t.operator);
    // Owner has no dataActions and the vault's access policies are ignored in RBAC mode.
    await expect(asOperator.setSecret('s1', 'x')).rejects.toMatchObject({
      code: 'Forbidden',
      statusCode: 403,
      details: { error: { innerError: { code: 'ForbiddenByRbac' } } },
    });
    grant(operatorPrincipal().objectId, SECRETS_OFFICER, v.id!);
    await asOperator.setSecret('s1', 'one');
    await asOperator.setSecret('s2', 'two');

    const { p, cred } = newIdentity('apprbac');
    const asApp = secretClient(uri, cred);
    const denied = asApp.getSecret('s1');
    await expect(denied).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
    await expect(denied).rejects.toThrow(/Action: 'Microsoft\.KeyVault\/vaults\/secrets\/getSecret\/action'/);
    await expect(denied).rejects.toThrow(`Resource: '${v.id!.toLowerCase()}/secrets/s1'`);

    grant(p.objectId, SECRETS_USER, `${v.id}/secrets/s1`);
    expect((await asApp.getSecret('s1')).value).toBe('one');
    await expect(asApp.getSecret('s2')).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
    await expect(asApp.setSecret('s1', 'x')).rejects.toMatchObject({ code: 'Forbidden', statusCode: 403 });
    // A grant at the vault (an ancestor scope) covers every secret.
    grant(p.objectId, SECRETS_USER, v.id!);
    expect((await asApp.getSecret('s2')).value).toBe('two');
  });

  it('counts data-plane operations by name', async () => {
    const { client } = await policyVault();
    const before = t.emu.throttle.counts.get('secrets.set') ?? 0;
    await client.setSecret('counted', 'x');
    // The challenge round trip plus the authenticated retry.
    expect(t.emu.throttle.counts.get('secrets.set')! - before).toBe(2);
  });
});

describe('services.keyVault.resolveSecret (what an ACR run does)', () => {
  it('resolves versioned and versionless URIs, including the Azure host form, and reports each failure', async () => {
    const resolve = t.emu.services.keyVault!.resolveSecret;
    const { p: reader } = newIdentity('resolver');
    const { p: stranger } = newIdentity('stranger');
    const { name, client } = await policyVault([{ objectId: reader.objectId, secrets: ['get'] }]);
    const uri = client.vaultUrl.replace(/\/?$/, '/');
    const v1 = (await client.setSecret('cred', 'old')).properties.version!;
    await client.setSecret('cred', 'new');
    const now = Math.floor(Date.now() / 1000);
    await client.setSecret('later', 'x', { notBefore: new Date((now + 86400) * 1000) });
    await client.setSecret('stale', 'x', { expiresOn: new Date((now - 60) * 1000) });
    const off = await client.setSecret('off', 'x');
    await client.updateSecretProperties('off', off.properties.version!, { enabled: false });

    expect(resolve(`${uri}secrets/cred`, reader.objectId)).toEqual({ ok: true, value: 'new' });
    expect(resolve(`${uri}secrets/cred/${v1}`, reader.objectId)).toEqual({ ok: true, value: 'old' });
    expect(resolve(`https://${name}.vault.azure.net/secrets/cred`, reader.objectId)).toEqual({
      ok: true,
      value: 'new',
    });

    expect(resolve(`${uri}secrets/cred`, stranger.objectId)).toMatchObject({
      ok: false,
      code: 'AccessDenied',
      message: expect.stringContaining('does not have secrets get permission'),
    });
    expect(resolve(`${uri}secrets/nope`, reader.objectId)).toMatchObject({ ok: false, code: 'SecretNotFound' });
    expect(resolve(`${uri}secrets/cred/${'0'.repeat(32)}`, reader.objectId)).toMatchObject({
      ok: false,
      code: 'SecretNotFound',
    });
    expect(resolve(`${uri}secrets/off`, reader.objectId)).toMatchObject({ ok: false, code: 'SecretDisabled' });
    expect(resolve(`${uri}secrets/later`, reader.objectId)).toMatchObject({ ok: false, code: 'SecretNotYetValid' });
    expect(resolve(`${uri}secrets/stale`, reader.objectId)).toMatchObject({ ok: false, code: 'SecretExpired' });
    expect(resolve('https://nosuchvault.vault.azure.net/secrets/x', reader.objectId)).toMatchObject({
      ok: false,
      code: 'VaultNotFound',
    });
    expect(resolve('not a uri', reader.objectId)).toMatchObject({ ok: false, code: 'BadParameter' });
    // Failures never carry the value.
    expect(JSON.stringify(resolve(`${uri}secrets/stale`, reader.objectId))).not.toContain('"value"');
  });

  it('uses the RBAC model on an RBAC vault', async () => {
    const resolve = t.emu.services.keyVault!.resolveSecret;
    const name = unique('kvres');
    const v = await createVault(name, { rbac: true });
    grant(operatorPrincipal().objectId, SECRETS_OFFICER, v.id!);
    await secretClient(v.properties.vaultUri!, t.operator).setSecret('token', 'tok');
    const { p } = newIdentity('rbacres');
    expect(resolve(`${v.properties.vaultUri}secrets/token`, p.objectId)).toMatchObject({
      ok: false,
      code: 'ForbiddenByRbac',
    });
    grant(p.objectId, SECRETS_USER, `${v.id}/secrets/token`);
    expect(resolve(`${v.properties.vaultUri}secrets/token`, p.objectId)).toEqual({ ok: true, value: 'tok' });
  });
});
