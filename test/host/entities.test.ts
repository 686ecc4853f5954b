// Durable entities through the real durable-functions entity API: the fixture's HTTP functions use the durable
// client (signalEntity / readEntityState), its orchestrations callEntity / signalEntity, and its entity function is
// df.app.entity — all running in the local host, which batches operations and journals entity state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { FIXTURES, pollUntil, requestJson, tempDir } from './helpers.js';

interface EntityStateResponse {
  entityExists: boolean;
  entityState?: unknown;
}

interface Status {
  runtimeStatus: string;
  output: unknown;
  historyEvents?: { EventType: string; Name?: string; InstanceId?: string }[];
}

let host: SpawnedHost;
let n = 0;
const uniqueKey = (label: string): string => `${label}-${++n}`;

beforeAll(async () => {
  host = await spawnHost({ appRoot: `${FIXTURES}/entities`, stateDir: await tempDir('entities-state') });
});

afterAll(async () => {
  await host?.stop();
});

const api = (p: string): string => `${host.baseUrl}/api/${p}`;
const webhook = (p: string, query = ''): string =>
  `${host.baseUrl}/runtime/webhooks/durabletask/${p}?code=${host.keys.durableTask}${query}`;

async function signal(key: string, op: string, input?: unknown): Promise<void> {
  const res = await requestJson(api(`signal/counter/${key}/${op}`), {
    method: 'POST',
    ...(input !== undefined ? { body: JSON.stringify(input) } : {}),
  });
  expect(res.status).toBe(202);
}

async function read(key: string): Promise<EntityStateResponse> {
  const res = await requestJson<EntityStateResponse>(api(`read/counter/${key}`));
  expect(res.status).toBe(200);
  return res.body;
}

const readUntil = (key: string, state: unknown): Promise<EntityStateResponse> =>
  pollUntil(
    () => read(key),
    (r) => r.entityExists && JSON.stringify(r.entityState) === JSON.stringify(state),
  );

async function runOrchestration(name: string, id: string, input: unknown): Promise<Status> {
  const res = await requestJson(api(`start/${name}/${id}`), { method: 'POST', body: JSON.stringify(input) });
  expect(res.status).toBe(202);
  return pollUntil(
    async () =>
      (await requestJson<Status>(webhook(`instances/${id}`, '&showHistory=true&showHistoryOutput=true'))).body,
    (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
  );
}

describe('durable entities: client signals and reads', () => {
  it('applies signalled operations in order and persists the state; an unknown entity does not exist', async () => {
    const key = uniqueKey('signals');
    expect(await read(key)).toEqual({ entityExists: false });
    await signal(key, 'add', 5);
    await signal(key, 'add', 4);
    await signal(key, 'add', -2);
    expect(await readUntil(key, 7)).toEqual({ entityExists: true, entityState: 7 });
  });

  it('lets an entity signal another entity', async () => {
    const from = uniqueKey('from');
    const to = uniqueKey('to');
    await signal(from, 'forward', { key: to, n: 7 });
    expect((await readUntil(to, 7)).entityState).toBe(7);
  });

  it('deletes an entity whose operation calls destructOnExit', async () => {
    const key = uniqueKey('deleted');
    await signal(key, 'add', 1);
    await readUntil(key, 1);
    await signal(key, 'delete');
    await pollUntil(
      () => read(key),
      (r) => !r.entityExists,
    );
  });

  it('keeps the state when a signalled operation throws', async () => {
    const key = uniqueKey('throws');
    await signal(key, 'add', 3);
    await signal(key, 'fail');
    await signal(key, 'add', 1);
    expect((await readUntil(key, 4)).entityState).toBe(4);
    await host.waitForLine(/entity @counter@throws-\d+ operation 'fail' \(a signal\) failed/);
  });
});

describe('durable entities: from orchestrations', () => {
  it('callEntity returns the operation result, a failing operation throws in the orchestrator, signals are delivered', async () => {
    const key = uniqueKey('orch');
    const status = await runOrchestration('useCounter', `use-${key}`, { key });
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: [2, 5, 'caught'] });
    const sent = status.historyEvents!.filter((e) => e.EventType === 'EventSent');
    expect(sent).toHaveLength(5); // add, add (signal), get, fail, add (signal)
    expect(new Set(sent.map((e) => e.InstanceId))).toEqual(new Set([`@counter@${key}`]));
    // 2 + 3, then the signal sent as the orchestration returned: + 10
    expect((await readUntil(key, 15)).entityState).toBe(15);
  });

  it('delivers signals sent before continueAsNew', async () => {
    const key = uniqueKey('loop');
    const status = await runOrchestration('signalLoop', `loop-${key}`, { key, left: 4 });
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect((await readUntil(key, 4)).entityState).toBe(4);
  });
});

describe('durable entities: HTTP API', () => {
  it('signals, reads and lists entities on the entities/ routes', async () => {
    const key = uniqueKey('http');
    const post = await requestJson(webhook(`entities/counter/${key}`, '&op=add'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '6',
    });
    expect(post.status).toBe(202);
    await readUntil(key, 6);
    const get = await requestJson(webhook(`entities/Counter/${key}`));
    expect(get).toMatchObject({ status: 200, body: 6 });
    const list = await requestJson<{ entityId: { name: string; key: string }; state?: unknown }[]>(
      webhook('entities/counter', '&fetchState=true'),
    );
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual(expect.objectContaining({ entityId: { name: 'counter', key }, state: 6 }));
    const withoutState = await requestJson<Record<string, unknown>[]>(webhook('entities/'));
    expect(withoutState.body.every((e) => !('state' in e))).toBe(true);
  });

  it('answers 404 for an entity that does not exist and 400 for a signal without an operation or with bad JSON', async () => {
    expect((await requestJson(webhook(`entities/counter/${uniqueKey('none')}`))).status).toBe(404);
    const noOp = await requestJson(webhook('entities/counter/x'), { method: 'POST', body: '1' });
    expect(noOp).toMatchObject({ status: 400, body: "The operation name (query parameter 'op') is required." });
    const badJson = await requestJson(webhook('entities/counter/x', '&op=add'), { method: 'POST', body: '{' });
    expect(badJson).toMatchObject({ status: 400, body: 'Invalid JSON content' });
  });
});
