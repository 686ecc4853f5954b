// The HTTP API with Entra ID sign-in on the local stack (tokens from the emulator's Entra, RS256, verified by the app
// against the tenant's published keys): roles, refusals, who asked is recorded, no key in any answer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { LOCAL_API_AUDIENCE } from '../../local/azure/entra/index.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller, type CallResult } from '../support/functionsHttp.js';

let stack: RunningStack;
let stateDir: string;
const bodies: string[] = [];
const tokens: Record<string, string> = {};
const logs: string[] = [];

async function mint(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${stack.emu.armEndpoint}/_emulator/entra/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ audience: LOCAL_API_AUDIENCE, ...body }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'api-edge-e2e-'));
  stack = await startStack({
    stateDir,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 100,
    stackFile: null,
    appSettings: { CASCADE_API_AUTH: 'entra' },
    log: (line) => logs.push(line),
  });
  tokens.reader = await mint({ name: 'reader@contoso.example', roles: ['Cascade.Reader'] });
  tokens.operator = await mint({ name: 'operator@contoso.example', roles: ['Cascade.Operator'] });
  tokens.norole = await mint({ name: 'nobody@contoso.example' });
  tokens.otherAudience = await mint({ audience: 'api://someone-else', roles: ['Cascade.Operator'] });
  tokens.expired = await mint({ roles: ['Cascade.Operator'], lifetimeSeconds: -600 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const callApi = functionsCaller(() => stack.description.functions, bodies);

/** A call as a signed-in user makes it: the token (if any) as a bearer, no function key. */
const call = (method: string, path: string, token: string | undefined, body?: string): Promise<CallResult> =>
  callApi(method, path, {
    key: null,
    ...(token !== undefined ? { bearer: token } : {}),
    ...(body !== undefined ? { body } : {}),
  });

const hello = () => stack.seed!.taskIds[SEED.tasks.hello]!;

describe('Entra ID roles', () => {
  it('answers 401 without a token, with a token for another audience, and with an expired one', async () => {
    for (const t of [undefined, tokens.otherAudience, tokens.expired, 'not.a.jwt']) {
      const res = await call('GET', '/api/rebuilds', t);
      expect(res).toMatchObject({ status: 401, json: { error: { code: 'Unauthenticated' } } });
    }
    const forged = `${tokens.operator!.split('.').slice(0, 2).join('.')}.${'A'.repeat(342)}`;
    expect((await call('GET', '/api/rebuilds', forged)).status).toBe(401);
  });

  it('lets a Reader read but not start, cancel or change anything (403 naming the role)', async () => {
    expect((await call('GET', '/api/rebuilds', tokens.reader)).status).toBe(200);
    expect((await call('GET', `/api/plan?image=${stack.seed!.baseImageRef}`, tokens.reader)).status).toBe(200);
    const dry = await call('POST', '/api/rebuilds', tokens.reader, JSON.stringify({ tasks: [hello()], dryRun: true }));
    expect(dry).toMatchObject({ status: 200, json: { dryRun: true } });
    for (const [method, path, body] of [
      ['POST', '/api/rebuilds', JSON.stringify({ tasks: [hello()] })],
      ['POST', '/api/rebuilds/rebuild-x/cancel', undefined],
      ['POST', '/api/index/refresh', undefined],
      ['POST', '/api/credentials/check', '{}'],
    ] as const) {
      const res = await call(method, path, tokens.reader, body);
      expect(res).toMatchObject({ status: 403, json: { error: { code: 'MissingRole' } } });
      expect((res.json.error as { message: string }).message).toContain('Cascade.Operator');
    }
    const none = await call('GET', '/api/rebuilds', tokens.norole);
    expect(none).toMatchObject({ status: 403, json: { error: { code: 'MissingRole' } } });
    expect((none.json.error as { message: string }).message).toContain('Cascade.Reader');
  });

  it('lets an Operator start and cancel a cascade, records who asked, and points to its own status URL', async () => {
    const started = await call('POST', '/api/rebuilds', tokens.operator, JSON.stringify({ tasks: [hello()] }));
    expect(started.status).toBe(202);
    const id = started.json.id as string;
    expect(started.json).toMatchObject({
      id,
      statusUri: `${stack.description.functions.baseUrl}/api/rebuilds/${id}`,
      cancelUri: `${stack.description.functions.baseUrl}/api/rebuilds/${id}/cancel`,
    });
    const status = await call('GET', `/api/rebuilds/${id}`, tokens.reader);
    expect(status).toMatchObject({
      status: 200,
      json: { requestedBy: expect.stringContaining('operator@contoso.example') },
    });
    const cancel = await call('POST', `/api/rebuilds/${id}/cancel`, tokens.operator);
    expect([202, 409]).toContain(cancel.status); // 409 when the short cascade already ended
    // Activities log through their invocation context (the host tags such lines with the function), not console.log.
    for (let i = 0; i < 300 && !logs.some((l) => l.startsWith(`[recordCascade] recordCascade ${id}`)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(logs.some((l) => l.startsWith(`[recordCascade] recordCascade ${id}`))).toBe(true);
  });
});

describe('no keys in answers', () => {
  it('never shows a durable key or a function key in a response', () => {
    const f = stack.description.functions;
    for (const b of bodies) {
      expect(b).not.toContain(f.durableTaskKey);
      expect(b).not.toContain(f.masterKey);
      expect(b).not.toContain(f.functionKey);
    }
    expect(bodies.length).toBeGreaterThan(10);
  });
});
