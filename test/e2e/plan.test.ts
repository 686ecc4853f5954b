// Plans, graph and index over HTTP on the local stack (emulator + Azurite + the Functions host running the compiled
// app). Needs `npm run build` (or `npx tsc -p tsconfig.build.json`) first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretClient } from '@azure/keyvault-secrets';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller } from '../support/functionsHttp.js';

let stack: RunningStack;
let stateDir: string;
let password: string;
const bodies: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'plan-e2e-'));
  stack = await startStack({
    stateDir,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 100,
    stackFile: null,
    log: (line) => logs.push(line),
  });
  const secrets = new SecretClient(stack.seed!.vaultUri.replace(/\/+$/, ''), stack.operator, {
    disableChallengeResourceVerification: true,
  });
  password = (await secrets.getSecret('Password')).value!;
});

afterAll(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const call = functionsCaller(() => stack.description.functions, bodies);

interface HttpPlannedTask {
  task: string;
  taskName: string;
  wave: number;
  decision: string;
  reasons: { code: string; message: string; fix?: string }[];
  identity: Record<string, { kind: string; principalId: string }>;
  baseImages: { ref: string; why: string }[];
}

const hello = () => stack.seed!.taskIds[SEED.tasks.hello]!;

describe('GET/POST /api/plan', () => {
  it('refuses a request without the function key', async () => {
    const res = await call('GET', '/api/plan', { key: null, query: { image: stack.seed!.baseImageRef } });
    expect(res.status).toBe(401);
  });

  it('plans the seed scenario: helloworldtask and dockerhubtask rebuild in wave 1 with their identities, their native runs adopted', async () => {
    const res = await call('GET', '/api/plan', { query: { image: stack.seed!.baseImageRef } });
    expect(res.status).toBe(200);
    const tasks = res.json.tasks as HttpPlannedTask[];
    expect(tasks.map((t) => t.taskName).sort()).toEqual([SEED.tasks.dockerhub, SEED.tasks.hello]);
    const h = tasks.find((t) => t.taskName === SEED.tasks.hello)!;
    expect(h).toMatchObject({ wave: 1, decision: 'rebuild' });
    // The seed creates its tasks as `az acr task create` does, so ACR's own base-image trigger is on: the default
    // policy (adopt) says it will adopt ACR's run, with the command that switches the trigger off.
    expect(h.reasons).toEqual([
      expect.objectContaining({
        code: 'NativeTriggerEnabled',
        severity: 'info',
        message: expect.stringContaining('adopts'),
        fix: `az acr task update --name ${SEED.tasks.hello} --registry ${SEED.appRegistry} --base-image-trigger-enabled false`,
      }),
    ]);
    expect(h.identity['mybaseregistry.azurecr.io']).toMatchObject({
      kind: 'user',
      principalId: stack.seed!.identity.principalId,
    });
    expect(h.baseImages).toContainEqual(expect.objectContaining({ ref: stack.seed!.baseImageRef }));
    expect(res.json.waves).toEqual([expect.arrayContaining([hello()])]);
  });

  it('answers 400 naming the field for a malformed image reference or digest', async () => {
    const bad = await call('GET', '/api/plan', { query: { image: 'MyBaseRegistry.azurecr.io/Base Images:1' } });
    expect(bad).toMatchObject({ status: 400, json: { error: { field: 'image' } } });
    const missing = await call('GET', '/api/plan');
    expect(missing).toMatchObject({ status: 400, json: { error: { field: 'image' } } });
    const digest = await call('GET', '/api/plan', {
      query: { image: stack.seed!.baseImageRef, digest: 'sha256:nope' },
    });
    expect(digest).toMatchObject({ status: 400, json: { error: { field: 'digest' } } });
  });

  it('plans requested tasks, and rejects bad task lists (400) and tasks outside the managed scopes (403)', async () => {
    const ok = await call('POST', '/api/plan', { body: JSON.stringify({ tasks: [hello()] }) });
    expect(ok.status).toBe(200);
    expect((ok.json.tasks as HttpPlannedTask[])[0]).toMatchObject({ taskName: SEED.tasks.hello, decision: 'rebuild' });

    expect(await call('POST', '/api/plan', { body: '{not json' })).toMatchObject({
      status: 400,
      json: { error: { field: 'body' } },
    });
    expect(await call('POST', '/api/plan', { body: JSON.stringify({ tasks: 'helloworldtask' }) })).toMatchObject({
      status: 400,
      json: { error: { field: 'tasks' } },
    });
    expect(await call('POST', '/api/plan', { body: JSON.stringify({ tasks: [hello(), 42] }) })).toMatchObject({
      status: 400,
      json: { error: { field: 'tasks[1]' } },
    });
    const foreign =
      '/subscriptions/99999999-2222-4333-8444-555555555555/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries/theirs/tasks/x';
    expect(await call('POST', '/api/plan', { body: JSON.stringify({ tasks: [foreign] }) })).toMatchObject({
      status: 403,
      json: { error: { code: 'OutsideManagedScopes', field: 'tasks[0]' } },
    });
    expect(
      await call('POST', '/api/plan', { body: JSON.stringify({ image: stack.seed!.baseImageRef, tasks: [hello()] }) }),
    ).toMatchObject({ status: 400, json: { error: { field: 'body' } } });
  });
});

describe('GET /api/graph', () => {
  it('returns the subgraph below the base image with why each edge exists', async () => {
    const res = await call('GET', '/api/graph', { query: { image: stack.seed!.baseImageRef } });
    expect(res.status).toBe(200);
    const edges = res.json.edges as { from: string; to: string; why: string }[];
    const toHello = edges.find((e) => e.to.toLowerCase() === hello().toLowerCase());
    expect(toHello).toMatchObject({ from: 'mybaseregistry.azurecr.io/baseimages/node:15-alpine' });
    expect(['recorded', 'declared']).toContain(toHello!.why);
    expect(edges).toContainEqual(
      expect.objectContaining({ to: 'myregistry.azurecr.io/hello-world:latest', why: 'output' }),
    );
  });
});

describe('index refresh and summary', () => {
  it('runs the refresh orchestration on POST /api/index/refresh and reports the index on GET /api/index', async () => {
    const started = await call('POST', '/api/index/refresh');
    expect(started.status).toBe(202);
    expect(started.json.statusUri).toMatch(/\/api\/index\/refresh$/);
    expect(started.text).not.toContain('code=');
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) {
      status = (await call('GET', '/api/index/refresh')).json;
      if (['Completed', 'Failed', 'Terminated'].includes(status.status as string)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({
      status: 'Completed',
      result: { rounds: 1, result: { tasks: 2, pending: 0 } },
    });

    const summary = await call('GET', '/api/index');
    expect(summary).toMatchObject({ status: 200, json: { built: true, tasks: 2, registries: 2, pending: 0 } });
    expect(summary.json.scopes).toEqual([`/subscriptions/${stack.emu.subscriptionId}`]);
  });

  it('runs a refresh from the indexRefreshTimer function', async () => {
    const f = stack.description.functions;
    const res = await fetch(`${f.baseUrl}/admin/functions/indexRefreshTimer`, {
      method: 'POST',
      headers: { 'x-functions-key': f.masterKey, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBeLessThan(300);
    let refreshedAt: unknown;
    const before = (await call('GET', '/api/index')).json.refreshedAt;
    for (let i = 0; i < 200; i++) {
      refreshedAt = (await call('GET', '/api/index')).json.refreshedAt;
      if (refreshedAt !== before) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(refreshedAt).not.toBe(before);
  });
});

describe('secret hygiene', () => {
  it('never puts the seed Password value in a response, the refresh history or a host log line', async () => {
    await call('POST', '/api/index/refresh');
    const f = stack.description.functions;
    const history = await fetch(
      `${f.baseUrl}/runtime/webhooks/durabletask/instances/acr-cascade-index-refresh?showHistory=true&showHistoryOutput=true&code=${f.durableTaskKey}`,
    );
    bodies.push(await history.text());
    expect(bodies.length).toBeGreaterThan(5);
    expect(logs.length).toBeGreaterThan(0);
    for (const b of bodies) expect(b).not.toContain(password);
    for (const l of logs) expect(l).not.toContain(password);
  });
});
