import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedIdentityCredential } from '@azure/identity';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';

let t: TestEmulator;
beforeAll(async () => {
  t = await startTestEmulator();
});
afterAll(async () => {
  await t?.stop();
});

const API = 'api-version=2021-04-01';
async function armFetch(path: string, init: RequestInit & { token?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, { ...init, headers });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text
      ? (JSON.parse(text) as { error: { code: string; message: string } } & Record<string, unknown>)
      : undefined,
  };
}

describe('emulator core: identity, ARM pipeline, admin', () => {
  it('issues managed-identity tokens to @azure/identity through the App Service protocol', async () => {
    process.env.IDENTITY_ENDPOINT = t.emu.identityEndpoint;
    process.env.IDENTITY_HEADER = t.emu.identityHeader;
    const token = await new ManagedIdentityCredential().getToken('https://management.azure.com/.default');
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({
      aud: 'https://management.azure.com/',
      tid: t.emu.tenantId,
      oid: t.stack().identity.appPrincipalId,
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it('refuses the token endpoint without the identity header', async () => {
    const res = await fetch(`${t.emu.identityEndpoint}?api-version=2019-08-01&resource=https://vault.azure.net`);
    expect(res.status).toBe(401);
  });

  it('rejects ARM calls without a bearer token with 401 AuthenticationFailed', async () => {
    const r = await armFetch(`/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg1?${API}`);
    expect(r.status).toBe(401);
    expect(r.body?.error.code).toBe('AuthenticationFailed');
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('creates and reads a resource group as the operator, and reports missing groups as ResourceGroupNotFound', async () => {
    const { token } = (await t.operator.getToken('https://management.azure.com/.default'))!;
    const put = await armFetch(`//subscriptions/${t.emu.subscriptionId}/resourcegroups/Rg-One?${API}`, {
      method: 'PUT',
      token,
      body: JSON.stringify({ location: 'eastus' }),
    });
    expect(put.status).toBe(201);
    const get = await armFetch(`/subscriptions/${t.emu.subscriptionId}/RESOURCEGROUPS/rg-one?${API}`, { token });
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({ name: 'Rg-One', location: 'eastus' });
    expect(Number(get.headers.get('x-ms-ratelimit-remaining-subscription-reads'))).toBeGreaterThan(0);
    const missing = await armFetch(`/subscriptions/${t.emu.subscriptionId}/resourcegroups/nope?${API}`, { token });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'ResourceGroupNotFound' } } });
  });

  it('fails loudly on a missing or unknown api-version and on unimplemented operations', async () => {
    const { token } = (await t.operator.getToken('https://management.azure.com/.default'))!;
    const base = `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-one`;
    expect((await armFetch(base, { token })).body?.error.code).toBe('MissingApiVersionParameter');
    const bad = await armFetch(`${base}?api-version=1999-01-01`, { token });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'InvalidApiVersionParameter' } } });
    const ni = await armFetch(`${base}/providers/Microsoft.Sql/servers/x?${API}`, { token });
    expect(ni).toMatchObject({ status: 501, body: { error: { code: 'NotImplemented' } } });
  });

  it('answers 403 AuthorizationFailed for an identity without a role', async () => {
    const { token } = (await t.app.getToken('https://management.azure.com/.default'))!;
    const r = await armFetch(`/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-one?${API}`, { token });
    expect(r.status).toBe(403);
    expect(r.body?.error.code).toBe('AuthorizationFailed');
    expect(r.body?.error.message).toContain("action 'Microsoft.Resources/subscriptions/resourceGroups/read'");
  });

  it('throttles with 429 and Retry-After once the read bucket is empty, and counts requests per operation', async () => {
    await t.admin('DELETE', '/stats');
    await t.admin('PUT', '/throttle', { read: { burst: 2, perSecond: 0.5 } });
    const { token } = (await t.operator.getToken('https://management.azure.com/.default'))!;
    const path = `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-one?${API}`;
    const statuses = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await armFetch(path, { token });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.body?.error.code).toBe('TooManyRequests');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const stats = (await (await t.admin('GET', '/stats')).json()) as { requests: Record<string, number> };
    expect(stats.requests['resourceGroups.get']).toBe(3);
    await t.admin('PUT', '/throttle', {});
  });

  it('injects 5xx faults on a deterministic fraction of matching operations', async () => {
    await t.admin('PUT', '/faults', { rate5xx: 0.5, match: 'resourceGroups' });
    const { token } = (await t.operator.getToken('https://management.azure.com/.default'))!;
    const path = `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-one?${API}`;
    const statuses = [(await armFetch(path, { token })).status, (await armFetch(path, { token })).status];
    expect(statuses.filter((s) => s >= 500)).toHaveLength(1);
    await t.admin('PUT', '/faults', {});
    const bad = await t.admin('PUT', '/faults', { rate429: 2 });
    expect(bad.status).toBe(400);
  });
  it('makes an SDK client wait out Retry-After on 429 and then succeed', async () => {
    await t.admin('DELETE', '/stats');
    await t.admin('PUT', '/throttle', { read: { burst: 1, perSecond: 1 } });
    const authz = new AuthorizationManagementClient(t.operator, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const scope = `/subscriptions/${t.emu.subscriptionId}`;
    const acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
    await authz.roleDefinitions.get(scope, acrPull);
    // The bucket is empty now: ARM answers 429 + Retry-After, the SDK's throttling policy waits and retries.
    await expect(authz.roleDefinitions.get(scope, acrPull)).resolves.toMatchObject({ roleName: 'AcrPull' });
    const stats = (await (await t.admin('GET', '/stats')).json()) as { requests: Record<string, number> };
    expect(stats.requests['roleDefinitions.get']).toBe(3);
    await t.admin('PUT', '/throttle', {});
  });
});
