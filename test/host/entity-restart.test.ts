// Entity state and queued operations survive the host process: killed while an entity batch is running (called from
// an orchestration) with a client signal queued behind it, a new host on the same state folder runs the interrupted
// batch again, answers the orchestration, and applies every operation to the state exactly once.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { FIXTURES, pollUntil, requestJson, tempDir } from './helpers.js';

const APP = path.join(FIXTURES, 'entities');

const runs = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).split('\n').filter(Boolean);

describe('entities across a host restart', () => {
  it('after SIGKILL mid-batch, processes the interrupted call and the queued signal exactly once', async () => {
    const stateDir = await tempDir('entity-restart-state');
    const runsFile = path.join(await tempDir('entity-restart-runs'), 'runs.txt');
    await writeFile(runsFile, '');
    const env = { RUNS_FILE: runsFile, SLOW_MS: '1500' };
    const first = await spawnHost({ appRoot: APP, stateDir, env });
    let second: SpawnedHost | undefined;
    try {
      const start = await requestJson(`${first.baseUrl}/api/start/callSlow/slow-1`, {
        method: 'POST',
        body: JSON.stringify({ key: 'k', n: 5 }),
      });
      expect(start.status).toBe(202);
      await pollUntil(
        () => runs(runsFile),
        (r) => r.includes('k:slowAdd'),
      );
      // The batch with slowAdd is running; this signal is journaled (202) and waits for the next batch.
      const queued = await requestJson(`${first.baseUrl}/api/signal/counter/k/add`, { method: 'POST', body: '1' });
      expect(queued.status).toBe(202);
      expect(await first.kill('SIGKILL')).toBe('SIGKILL');
      expect(await runs(runsFile)).toEqual(['k:slowAdd']);

      second = await spawnHost({ appRoot: APP, stateDir, env });
      await second.waitForLine(/^\[host\] durable: 1 entity$/);
      const status = await pollUntil(
        async () =>
          (
            await requestJson<{ runtimeStatus: string; output: unknown }>(
              `${second!.baseUrl}/runtime/webhooks/durabletask/instances/slow-1?code=${second!.keys.durableTask}`,
            )
          ).body,
        (s) => s.runtimeStatus !== 'Running' && s.runtimeStatus !== 'Pending',
      );
      expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 5 });
      const state = await pollUntil(
        async () =>
          (await requestJson<{ entityExists: boolean; entityState?: number }>(`${second!.baseUrl}/api/read/counter/k`))
            .body,
        (r) => r.entityState === 6,
      );
      expect(state).toEqual({ entityExists: true, entityState: 6 });
      // The interrupted batch ran again (its effects were never journaled); the queued add ran once.
      expect(await runs(runsFile)).toEqual(['k:slowAdd', 'k:slowAdd', 'k:add']);
    } finally {
      await first.kill('SIGKILL');
      await second?.stop();
    }
  });
});
