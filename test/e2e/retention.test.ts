// Retention on the local stack: the daily purge removes ended cascades (durable instances and their history rows)
// older than CASCADE_HISTORY_RETENTION_DAYS and leaves a running cascade alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../local/azure/seed.js';
import { startCascadeStack, waitFor, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;

beforeAll(async () => {
  // 0 days: every ended instance is past retention, so one timer run shows the purge without waiting for days.
  s = await startCascadeStack('retention-e2e', { CASCADE_HISTORY_RETENTION_DAYS: '0' });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

const hello = () => s.stack.seed!.taskIds[SEED.tasks.hello]!;

describe('historyPurgeTimer', () => {
  it('purges an ended cascade and its history rows, and keeps a running one', async () => {
    const ended = (await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()] } })).json.id as string;
    await s.waitDone(ended);
    expect((await s.call('GET', `/api/rebuilds/${ended}`)).json).toMatchObject({ source: 'durable' });

    await s.admin('PUT', '/acr/runs/config', { durationMs: 120_000 });
    let running = '';
    try {
      running = (await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()] } })).json.id as string;
      await waitFor('the long cascade to run', async () =>
        (await s.status(running))?.runtimeStatus === 'Running' ? true : undefined,
      );
      const f = s.stack.description.functions;
      const fired = await fetch(`${f.baseUrl}/admin/functions/historyPurgeTimer`, {
        method: 'POST',
        headers: { 'x-functions-key': f.masterKey, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(fired.status).toBe(202);
      await waitFor('the purge', async () => {
        const res = await s.call('GET', `/api/rebuilds/${ended}`);
        return res.status === 404 ? true : undefined;
      });
      // The instance disappears before the timer has finished the history rows and logged its record.
      await waitFor('the purge record', async () =>
        s.logs.some((l) => l.includes('"event":"retention.purged"')) ? true : undefined,
      );
      expect((await s.status(running))?.runtimeStatus).toBe('Running');
    } finally {
      await s.admin('PUT', '/acr/runs/config', { durationMs: 200 });
      if (running) await s.call('POST', `/api/rebuilds/${running}/cancel`);
    }
  });
});
