import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedServiceIdentityClient, type Identity } from '@azure/arm-msi';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';
import { findUserAssignedIdentity } from '../../local/azure/arm/managedIdentity.js';

let t: TestEmulator;
let operatorClient: ManagedServiceIdentityClient;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;
const ARM_SCOPE = 'https://management.azure.com/.default';

function msiClient(cred: TestEmulator['operator']): ManagedServiceIdentityClient {
  return new ManagedServiceIdentityClient(cred, t.emu.subscriptionId, {
    endpoint: t.emu.armEndpoint,
    credentialScopes: [ARM_SCOPE],
  });
}

async function armFetch(method: string, path: string, body?: unknown) {
  const { token } = (await t.operator.getToken(ARM_SCOPE))!;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  type Body = { error?: { code: string }; properties: Record<string, unknown> };
  return { status: res.status, body: text ? (JSON.parse(text) as Body) : undefined };
}

async function createResourceGroup(name: string): Promise<void> {
  const r = await armFetch(
    'PUT',
    `/subscriptions/${t.emu.subscriptionId}/resourcegroups/${name}?api-version=2021-04-01`,
    {
      location: 'eastus',
    },
  );
  expect(r.status).toBe(201);
}

const rg = 'rg-msi';
beforeAll(async () => {
  t = await startTestEmulator();
  operatorClient = msiClient(t.operator);
  await createResourceGroup(rg);
});
afterAll(async () => {
  await t?.stop();
});

describe('Microsoft.ManagedIdentity/userAssignedIdentities', () => {
  it('creates an identity with a new principal, echoing the id with lower-case resourcegroups', async () => {
    const name = unique('id');
    let status = 0;
    const created = await operatorClient.userAssignedIdentities.createOrUpdate(
      rg,
      name,
      { location: 'eastus', tags: { team: 'platform' } },
      { onResponse: (r) => (status = r.status) },
    );
    expect(status).toBe(201);
    expect(created).toMatchObject({
      id: `/subscriptions/${t.emu.subscriptionId}/resourcegroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
      name,
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      location: 'eastus',
      tags: { team: 'platform' },
      tenantId: t.emu.tenantId,
      isolationScope: 'None',
    });
    const principal = t.emu.identities.get(created.principalId!);
    expect(principal).toMatchObject({
      kind: 'userAssigned',
      clientId: created.clientId,
      resourceId: created.id,
      tokenEndpoint: false,
    });
  });

  it('keeps the same principal when the identity is put again, answering 200', async () => {
    const name = unique('id');
    const first = await operatorClient.userAssignedIdentities.createOrUpdate(rg, name, { location: 'eastus' });
    let status = 0;
    const second = await operatorClient.userAssignedIdentities.createOrUpdate(
      rg,
      name,
      { location: 'eastus', tags: { v: '2' } },
      { onResponse: (r) => (status = r.status) },
    );
    expect(status).toBe(200);
    expect(second).toMatchObject({ principalId: first.principalId, clientId: first.clientId, tags: { v: '2' } });
  });

  it('does not let the token endpoint mint tokens for a new identity until a seed allows it', async () => {
    const created = await operatorClient.userAssignedIdentities.createOrUpdate(rg, unique('id'), {
      location: 'eastus',
    });
    const url = new URL(t.emu.identityEndpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', 'https://management.azure.com/');
    url.searchParams.set('client_id', created.clientId!);
    const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': t.emu.identityHeader } });
    expect(res.status).toBe(400);
  });

  it('gets, updates tags and lists identities by resource group and by subscription', async () => {
    const name = unique('id');
    const created = await operatorClient.userAssignedIdentities.createOrUpdate(rg, name, { location: 'eastus' });
    const got = await operatorClient.userAssignedIdentities.get(rg, name.toUpperCase());
    expect(got).toMatchObject({ id: created.id, principalId: created.principalId, clientId: created.clientId });
    const patched = await operatorClient.userAssignedIdentities.update(rg, name, { tags: { env: 'test' } });
    expect(patched.tags).toEqual({ env: 'test' });

    const otherRg = unique('rg-other');
    await createResourceGroup(otherRg);
    const other = await operatorClient.userAssignedIdentities.createOrUpdate(otherRg, unique('id'), {
      location: 'eastus',
    });
    const byRg: Identity[] = [];
    for await (const i of operatorClient.userAssignedIdentities.listByResourceGroup(rg)) byRg.push(i);
    expect(byRg.map((i) => i.id)).toContain(created.id);
    expect(byRg.map((i) => i.id)).not.toContain(other.id);
    const bySub: Identity[] = [];
    for await (const i of operatorClient.userAssignedIdentities.listBySubscription()) bySub.push(i);
    expect(bySub.map((i) => i.id)).toEqual(expect.arrayContaining([created.id, other.id]));
  });

  it('deletes an identity and its principal; a second delete succeeds with nothing to do', async () => {
    const name = unique('id');
    const created = await operatorClient.userAssignedIdentities.createOrUpdate(rg, name, { location: 'eastus' });
    const statuses: number[] = [];
    await operatorClient.userAssignedIdentities.delete(rg, name, { onResponse: (r) => statuses.push(r.status) });
    await operatorClient.userAssignedIdentities.delete(rg, name, { onResponse: (r) => statuses.push(r.status) });
    expect(statuses).toEqual([200, 204]);
    expect(t.emu.identities.get(created.principalId!)).toBeUndefined();
    await expect(operatorClient.userAssignedIdentities.get(rg, name)).rejects.toMatchObject({
      code: 'ResourceNotFound',
      statusCode: 404,
    });
  });

  it('reports a missing resource group as ResourceGroupNotFound before looking for the identity', async () => {
    await expect(operatorClient.userAssignedIdentities.get('rg-missing', 'whatever')).rejects.toMatchObject({
      code: 'ResourceGroupNotFound',
      statusCode: 404,
    });
    await expect(
      operatorClient.userAssignedIdentities.createOrUpdate('rg-missing', 'whatever', { location: 'eastus' }),
    ).rejects.toMatchObject({ code: 'ResourceGroupNotFound', statusCode: 404 });
  });

  it('rejects an invalid name and a missing location with 400', async () => {
    await expect(
      operatorClient.userAssignedIdentities.createOrUpdate(rg, 'a!', { location: 'eastus' }),
    ).rejects.toMatchObject({ code: 'InvalidResourceName', statusCode: 400 });
    const r = await armFetch(
      'PUT',
      `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${unique('id')}?api-version=2023-01-31`,
      {},
    );
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'LocationRequired' } } });
  });

  it('serves api-version 2023-01-31 without isolationScope and refuses unknown versions', async () => {
    const name = unique('id');
    await operatorClient.userAssignedIdentities.createOrUpdate(rg, name, { location: 'eastus' });
    const path = `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
    const old = await armFetch('GET', `${path}?api-version=2023-01-31`);
    expect(old.status).toBe(200);
    expect(Object.keys(old.body!.properties).sort()).toEqual(['clientId', 'principalId', 'tenantId']);
    const bad = await armFetch('GET', `${path}?api-version=2018-11-30`);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'InvalidApiVersionParameter' } } });
  });

  it('answers 403 AuthorizationFailed to an identity without a role', async () => {
    await expect(
      msiClient(t.app).userAssignedIdentities.createOrUpdate(rg, unique('id'), { location: 'eastus' }),
    ).rejects.toMatchObject({ code: 'AuthorizationFailed', statusCode: 403 });
  });

  it('lets other modules resolve an identity id, in any casing, to its principal and client ids', async () => {
    const name = unique('id');
    const created = await operatorClient.userAssignedIdentities.createOrUpdate(rg, name, { location: 'eastus' });
    const mixedCase = created.id!.replace('/resourcegroups/', '/resourceGroups/').toUpperCase();
    expect(findUserAssignedIdentity(t.emu, mixedCase)).toEqual({
      principalId: created.principalId,
      clientId: created.clientId,
    });
    await operatorClient.userAssignedIdentities.delete(rg, name);
    expect(findUserAssignedIdentity(t.emu, created.id!)).toBeUndefined();
  });
});
