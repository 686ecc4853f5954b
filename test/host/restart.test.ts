// Durable state survives the host process: killed mid-orchestration (an activity in flight, a timer pending), a new
// host on the same state folder finishes the instance; no activity whose completion was recorded runs again.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { FIXTURES, pollUntil, requestJson, tempDir } from './helpers.js';

const APP = path.join(FIXTURES, 'restart');

interface Status {
  runtimeStatus: string;
  output: unknown;
  historyEvents?: { EventType: string; FunctionName?: string }[];
}

async function prepare(label: string): Promise<{ stateDir: string; runsFile: string; env: Record<string, string> }> {
  const stateDir = await tempDir(`${label}-state`);
  const runsFile = path.join(await tempDir(`${label}-runs`), 'runs.txt');
  await writeFile(runsFile, '');
  return { stateDir, runsFile, env: { RUNS_FILE: runsFile, SLOW_MS: '1000' } };
}

const runs = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).split('\n').filter(Boolean);

async function startInstance(host: SpawnedHost): Promise<string> {
  const res = await requestJson<{ id: string }>(`${host.baseUrl}/api/start?code=${host.keys.function}`, {
    method: 'POST',
    body: JSON.stringify({ timerMs: 1500 }),
  });
  expect(res.status).toBe(202);
  return res.body.id;
}

function statusOf(host: SpawnedHost, id: string): Promise<Status> {
  const url = `${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}?showHistory=true&code=${host.keys.durableTask}`;
  return requestJson<Status>(url).then((r) => r.body);
}

const completed = (host: SpawnedHost, id: string): Promise<Status> =>
  pollUntil(
    () => statusOf(host, id),
    (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
  );

describe('host restart', () => {
  it('finishes an instance after SIGKILL: re-runs the in-flight activity, fires the pending timer, never re-runs a completed one', async () => {
    const { stateDir, runsFile, env } = await prepare('sigkill');
    const first = await spawnHost({ appRoot: APP, stateDir, env });
    let second: SpawnedHost | undefined;
    try {
      const id = await startInstance(first);
      await pollUntil(
        () => runs(runsFile),
        (r) => r.includes('slow:b'),
      );
      const before = await statusOf(first, id);
      expect(before.runtimeStatus).toBe('Running');
      expect(before.historyEvents?.some((e) => e.EventType === 'TimerCreated')).toBe(true);
      expect(before.historyEvents?.some((e) => e.EventType === 'TimerFired')).toBe(false);

      expect(await first.kill('SIGKILL')).toBe('SIGKILL');
      second = await spawnHost({ appRoot: APP, stateDir, env });
      expect(second.keys).toEqual(first.keys);
      await second.waitForLine(/^\[host\] durable: task hub 'RestartHub' .*: 1 instance\(s\), 1 resumed$/);

      const after = await completed(second, id);
      expect(after).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
      expect(after.historyEvents!.filter((e) => e.EventType === 'TimerFired')).toHaveLength(1);
      // slow:b was in flight when the host died, so it ran again (at-least-once); quick:a had completed: once only.
      expect(await runs(runsFile)).toEqual(['quick:a', 'slow:b', 'slow:b', 'quick:c']);
    } finally {
      await first.kill('SIGKILL');
      await second?.stop();
    }
  });

  it('lets an in-flight activity finish and records it on SIGTERM, so it does not run again after restart', async () => {
    const { stateDir, runsFile, env } = await prepare('sigterm');
    const first = await spawnHost({ appRoot: APP, stateDir, env });
    let second: SpawnedHost | undefined;
    try {
      const id = await startInstance(first);
      await pollUntil(
        () => runs(runsFile),
        (r) => r.includes('slow:b'),
      );
      expect(await first.kill('SIGTERM')).toBe(0);
      second = await spawnHost({ appRoot: APP, stateDir, env });
      expect(await completed(second, id)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c'] });
      expect(await runs(runsFile)).toEqual(['quick:a', 'slow:b', 'quick:c']);
    } finally {
      await first.kill('SIGKILL');
      await second?.stop();
    }
  });
});
