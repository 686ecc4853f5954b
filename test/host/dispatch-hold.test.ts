// The test-only dispatch hold (`/admin/test/durable-dispatch`): while held, no orchestrator episode or entity batch
// runs, client operations are still accepted, and the hold answers only once the work under way has ended. The
// fixture's entity records every operation it runs in RUNS_FILE.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { FIXTURES, pollUntil, requestJson, tempDir } from './helpers.js';

interface DispatchState {
  held: boolean;
  running: number;
  waiting: number;
}

let host: SpawnedHost;
let runsFile: string;
let n = 0;
const uniqueKey = (label: string): string => `${label}-${++n}`;
const SLOW_MS = 1500;

beforeAll(async () => {
  const state = await tempDir('dispatch-hold');
  runsFile = path.join(state, 'runs.txt');
  await writeFile(runsFile, '');
  host = await spawnHost({
    appRoot: `${FIXTURES}/entities`,
    stateDir: state,
    env: { RUNS_FILE: runsFile, SLOW_MS: String(SLOW_MS) },
  });
});

afterAll(async () => {
  await host?.stop();
});

const api = (p: string): string => `${host.baseUrl}/api/${p}`;
const dispatch = (init: RequestInit = {}, key: string | null = host.keys.master) =>
  requestJson<DispatchState>(`${host.baseUrl}/admin/test/durable-dispatch`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(key ? { 'x-functions-key': key } : {}) },
  });
const setHold = (hold: boolean) => dispatch({ method: 'PUT', body: JSON.stringify({ hold }) });
const runs = async (key: string): Promise<string[]> =>
  (await readFile(runsFile, 'utf8')).split('\n').filter((l) => l.startsWith(`${key}:`));
const read = async (key: string) => (await requestJson(api(`read/counter/${key}`))).body;

describe('the dispatch hold', () => {
  it('answers once the running entity batch has ended, then runs no batch or episode until released', async () => {
    const key = uniqueKey('held');
    expect((await requestJson(api(`signal/counter/${key}/slowAdd`), { method: 'POST', body: '1' })).status).toBe(202);
    await pollUntil(
      () => runs(key),
      (r) => r.length === 1,
    );
    // The slow operation (SLOW_MS) started before the hold: the hold answers after it has committed.
    const held = await setHold(true);
    try {
      expect(held).toMatchObject({ status: 200, body: { held: true, running: 0 } });
      expect(await read(key)).toEqual({ entityExists: true, entityState: 1 });

      // Client operations are accepted while held; the work they create waits at the gate.
      expect((await requestJson(api(`signal/counter/${key}/add`), { method: 'POST', body: '5' })).status).toBe(202);
      const orch = `use-${key}`;
      const started = await requestJson(api(`start/useCounter/${orch}`), {
        method: 'POST',
        body: JSON.stringify({ key: `${key}-orch` }),
      });
      expect(started.status).toBe(202);
      const waiting = await pollUntil(
        async () => (await dispatch()).body,
        (s) => s.waiting >= 2,
      );
      expect(waiting).toMatchObject({ held: true, running: 0 });
      expect(await runs(key)).toEqual([`${key}:slowAdd`]);
      expect(await runs(`${key}-orch`)).toEqual([]);
      expect(await read(key)).toEqual({ entityExists: true, entityState: 1 });
      const status = await requestJson<{ runtimeStatus: string }>(
        `${host.baseUrl}/runtime/webhooks/durabletask/instances/${orch}?code=${host.keys.durableTask}`,
      );
      expect(status.body.runtimeStatus).toBe('Pending');
    } finally {
      expect(await setHold(false)).toMatchObject({ status: 200, body: { held: false } });
    }
    // Released: the held signal and the orchestration run.
    await pollUntil(
      () => read(key),
      (r) => JSON.stringify(r) === JSON.stringify({ entityExists: true, entityState: 6 }),
    );
    await pollUntil(
      () => read(`${key}-orch`),
      (r) => JSON.stringify(r) === JSON.stringify({ entityExists: true, entityState: 15 }),
    );
    expect(await runs(key)).toEqual([`${key}:slowAdd`, `${key}:add`]);
    expect(host.lines.some((l) => l.includes('dispatch held (test control)'))).toBe(true);
  });

  it('needs the master key and a { hold: boolean } body', async () => {
    expect((await dispatch({}, null)).status).toBe(401);
    expect((await dispatch({}, host.keys.function)).status).toBe(401);
    expect(await dispatch()).toMatchObject({ status: 200, body: { held: false } });
    const bad = await dispatch({ method: 'PUT', body: JSON.stringify({ hold: 'yes' }) });
    expect(bad).toMatchObject({ status: 400, body: 'The body must be a JSON object like { "hold": true }.' });
    expect((await dispatch({ method: 'POST', body: '{}' })).status).toBe(405);
  });
});
