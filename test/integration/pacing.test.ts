// Pacing across instances: two instances of the app (two AzureClients = two WritePacers, as two worker processes
// have) schedule at once against ONE emulator write bucket (same principal and subscription, ARM's default 200 burst,
// 10/s) and one read bucket (250, 25/s). They share both through Table rows of src/azure/writeBudget.ts (Azurite), so
// together they stay within ARM's buckets: a handful of 429s at most, and every run scheduled exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED } from '../../local/azure/seed.js';
import { createAzureClients } from '../../src/azure/clients.js';
import { sharedBurstOf, TableWriteBudget } from '../../src/azure/writeBudget.js';
import { WritePacer } from '../../src/azure/writePacer.js';
import { createRunActivities, type RunActivities } from '../../src/activities/runs/index.js';
import type { ScheduleRunInput } from '../../src/contracts/index.js';

let harness: AppHarness;
let counter = 0;
const freshDigest = () => `sha256:${(++counter).toString(16).padStart(8, '0').repeat(8)}`;

beforeAll(async () => {
  harness = await startAppHarness({ runDurationMs: 200, settings: () => ({ watchedVaults: [] }) });
}, 120_000);

afterAll(async () => {
  await harness?.stop();
});

/** The emulator's counters: requests per operation and kind, and those a bucket answered 429. */
async function stats(): Promise<{ requests: Record<string, number>; throttled: Record<string, number> }> {
  const res = await harness.t.admin('GET', '/stats');
  return (await res.json()) as { requests: Record<string, number>; throttled: Record<string, number> };
}

describe('the shared ARM write budget', () => {
  it('grants two instances no more than the bucket holds plus its refill, and makes the late one wait', async () => {
    // A small bucket in a table of its own: ARM's 30 at once and 20 per second, of which the row holds 10 (ARM's burst
    // less one second of refill, the margin for requests still on their way to ARM).
    const table = TableClient.fromConnectionString(harness.azurite.connectionString, 'PacingProbe', {
      allowInsecureConnection: true,
    });
    expect(sharedBurstOf(30, 20)).toBe(10);
    const a = new TableWriteBudget(table, { burst: 30, perSecond: 20 });
    const b = new TableWriteBudget(table, { burst: 30, perSecond: 20 });
    const sub = 'probe-subscription';
    const first = await Promise.all([a.take(sub, 8), b.take(sub, 8)]);
    const granted = first.reduce((n, t) => n + t.granted, 0);
    // The first grant wins 8; the other gets what is left (2) or, when it lost the race, the rest a moment later.
    expect(granted).toBeGreaterThanOrEqual(8);
    expect(granted).toBeLessThanOrEqual(11);
    const empty = await a.take(sub, 5);
    expect(empty.granted).toBeLessThanOrEqual(2);
    await b.block(sub, Date.now() + 2_000);
    const blocked = await a.take(sub, 1);
    expect(blocked.granted).toBe(0);
    expect(blocked.waitMs).toBeGreaterThan(1_000);
    await expect(a.take(sub, 0)).rejects.toBeInstanceOf(RangeError);
  });

  it('two instances scheduling 150 runs each at once earn a handful of 429s at most, and each run once', async () => {
    const { t, seed, settings, deps } = harness;
    await t.admin('PUT', '/throttle', {}); // ARM's default buckets: writes 200 at once, then 10 per second
    // ACR answers 202 + Azure-AsyncOperation (the emulator's default, as Azure): each run is one write and two reads
    // (the operation poll, the run), so the reads bucket (250, 25/s) is drawn twice as fast as the writes bucket.
    const second = { ...deps, clients: createAzureClients(settings, t.app) };
    const instances: RunActivities[] = [createRunActivities(deps), createRunActivities(second)];
    const task = seed.taskIds[SEED.tasks.hello]!;
    const inputs = instances.map((_, i) =>
      Array.from({ length: 150 }, (): ScheduleRunInput => ({
        cascadeId: `pacing-${i}`,
        task,
        attempt: 1,
        base: { ref: seed.baseImageRef, digest: freshDigest() },
      })),
    );
    await t.admin('DELETE', '/stats');
    const started = Date.now();
    // A `throttled` answer is what the orchestration turns into a durable timer: do the same, with a real wait.
    const scheduleUntilDone = async (runs: RunActivities, input: ScheduleRunInput) => {
      for (;;) {
        const out = await runs.scheduleRun(input);
        if (out.kind === 'scheduled') return out;
        if (out.kind === 'rejected') throw new Error(`rejected: ${out.code} ${out.message}`);
        await new Promise((r) => setTimeout(r, out.retryAfterSeconds * 1000));
      }
    };
    const outs = await Promise.all(
      instances.flatMap((runs, i) => inputs[i]!.map((input) => scheduleUntilDone(runs, input))),
    );
    const elapsed = Date.now() - started;
    const runIds = outs.map((o) => o.runId);
    expect(new Set(runIds).size).toBe(300);
    expect(outs.every((o) => !o.deduplicated)).toBe(true);
    const { requests, throttled } = await stats();
    // ARM accepted exactly 300 scheduleRuns: none lost, none sent again after a poll failed (which made a second run).
    expect((requests['registries.scheduleRun'] ?? 0) - (throttled['registries.scheduleRun'] ?? 0)).toBe(300);
    // A handful of 429s at most, reads and writes together: the rows hold a second of refill less than ARM's buckets,
    // which absorbs requests still on their way; 3 leaves room for a request stalled longer than that by the load.
    expect((throttled['*write'] ?? 0) + (throttled['*read'] ?? 0)).toBeLessThanOrEqual(3);
    // The bucket's floor: 100 writes beyond the burst at 10 per second.
    expect(elapsed).toBeGreaterThanOrEqual(9_000);
    for (const [i, runs] of instances.entries()) {
      for (const input of inputs[i]!.slice(0, 5)) {
        expect((await runs.claimOf(input))?.runId).toBeDefined();
      }
    }
  }, 180_000);

  it('without the shared budget the same two instances overrun the bucket (what the shared row prevents)', async () => {
    const { t, seed, settings, deps } = harness;
    await t.admin('PUT', '/throttle', {});
    // Let the emulator's bucket refill after the previous test.
    await new Promise((r) => setTimeout(r, 20_000));
    const alone = () => ({ ...deps, clients: createAzureClients(settings, t.app, new WritePacer()) });
    const instances = [createRunActivities(alone()), createRunActivities(alone())];
    const task = seed.taskIds[SEED.tasks.hello]!;
    await t.admin('DELETE', '/stats');
    const outs = await Promise.all(
      instances.flatMap((runs, i) =>
        Array.from({ length: 150 }, () =>
          runs.scheduleRun({
            cascadeId: `alone-${i}`,
            task,
            attempt: 1,
            base: { ref: seed.baseImageRef, digest: freshDigest() },
          }),
        ),
      ),
    );
    const scheduled = outs.filter((o) => o.kind === 'scheduled').length;
    const { requests, throttled } = await stats();
    // Each pacer spends the whole 200-write bucket: ARM answers the overflow 429.
    expect((requests['registries.scheduleRun'] ?? 0) - scheduled).toBeGreaterThan(50);
    expect(throttled['registries.scheduleRun']).toBeGreaterThan(50);
  }, 180_000);
});
