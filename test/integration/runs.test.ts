// Run activities against the emulator (seed scenario) and Azurite with the real SDK clients and the app identity:
// exactly-once claims, adoption of a run ARM accepted before a crash, throttling, cancel and own-push recognition.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import type { TestEmulator } from '../support/emulator.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import type { Deps } from '../../src/activities/deps.js';
import {
  BASE_DIGEST_VALUE,
  BASE_IMAGE_VALUE,
  DEDUPE_TABLE,
  DedupeStore,
  createRunActivities,
  keyOf,
  tokenOf,
  type RunActivities,
} from '../../src/activities/runs/index.js';
import type { PushedImage, ScheduleRunInput } from '../../src/contracts/index.js';

const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
let counter = 0;
/** A fresh base digest per test: every test gets its own exactly-once keys. */
const freshDigest = () => `sha256:${(++counter).toString(16).padStart(4, '0').repeat(16)}`;

let harness: AppHarness;
let t: TestEmulator;
let seed: SeedResult;
let deps: Deps;
let runs: RunActivities;
let acr: ContainerRegistryManagementClient;
let clock = 0;
const logs: string[] = [];
let helloId: string;
let dockerhubId: string;
const rg = SEED.resourceGroup;

function depsWith(shiftSeconds: number): Deps {
  return { ...deps, now: () => new Date(Date.now() + shiftSeconds * 1000) };
}

async function runsOf(taskName: string): Promise<{ runId: string; status: string; token?: string }[]> {
  const out: { runId: string; status: string; token?: string }[] = [];
  for await (const r of acr.runs.list(rg, SEED.appRegistry, { filter: `TaskName eq '${taskName}'` })) {
    out.push({ runId: r.runId!, status: r.status!, ...(r.updateTriggerToken ? { token: r.updateTriggerToken } : {}) });
  }
  return out;
}

async function waitTerminal(runId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const r = await acr.runs.get(rg, SEED.appRegistry, runId);
    if (TERMINAL.includes(r.status ?? '')) return r.status!;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`run ${runId} did not finish`);
}

function input(overrides: Partial<ScheduleRunInput> = {}): ScheduleRunInput {
  return {
    cascadeId: 'cascade-test',
    task: helloId,
    attempt: 1,
    base: { ref: seed.baseImageRef, digest: freshDigest() },
    ...overrides,
  };
}

async function stats(): Promise<Record<string, number>> {
  const res = await t.admin('GET', '/stats');
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}

beforeAll(async () => {
  harness = await startAppHarness({
    runDurationMs: 400,
    // No vault is watched: runs never read one.
    settings: () => ({ watchedVaults: [] }),
    now: () => new Date(Date.now() + clock * 1000),
    log: (m) => logs.push(m),
  });
  ({ t, seed, deps } = harness);
  helloId = seed.taskIds[SEED.tasks.hello]!;
  dockerhubId = seed.taskIds[SEED.tasks.dockerhub]!;
  runs = createRunActivities(deps);
  acr = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, {
    endpoint: t.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
}, 120_000);

afterAll(async () => {
  await harness?.stop();
});

beforeEach(async () => {
  clock = 0;
  await t.admin('PUT', '/faults', { rate429: 0, rate5xx: 0, latencyMs: 0, match: '' });
  await t.admin('PUT', '/throttle', {});
});

describe('scheduleRun exactly once', () => {
  it('schedules one run and answers a repeated call for the same (task, digest, attempt) with it', async () => {
    const req = input();
    const before = (await runsOf(SEED.tasks.hello)).length;
    const first = await runs.scheduleRun(req);
    expect(first).toMatchObject({
      kind: 'scheduled',
      deduplicated: false,
      registryId: seed.registries[SEED.appRegistry],
    });
    const again = await runs.scheduleRun({ ...req, cascadeId: 'another-cascade' });
    expect(again).toMatchObject({ kind: 'scheduled', deduplicated: true });
    expect(again.kind === 'scheduled' && first.kind === 'scheduled' && again.runId === first.runId).toBe(true);
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before + 1);
    const claim = await runs.claimOf(req);
    expect(claim).toMatchObject({ runId: first.kind === 'scheduled' ? first.runId : '', cascadeId: 'cascade-test' });
  });

  it('gives attempt 2 its own run', async () => {
    const req = input();
    const a1 = await runs.scheduleRun(req);
    const a2 = await runs.scheduleRun({ ...req, attempt: 2 });
    expect(a1.kind === 'scheduled' && a2.kind === 'scheduled' && a1.runId !== a2.runId).toBe(true);
  });

  it('passes the base reference and digest to the run as override values and arguments, and a correlation token', async () => {
    const req = input();
    const out = await runs.scheduleRun(req);
    if (out.kind !== 'scheduled') throw new Error(`not scheduled: ${JSON.stringify(out)}`);
    const run = await acr.runs.get(rg, SEED.appRegistry, out.runId);
    expect(run.updateTriggerToken).toBe(tokenOf(keyOf(req), 1));
    // The emulator keeps what the run executes next to the run (ARM does not echo override values back).
    const state = [
      ...t.emu.store
        .bucket<{ runId: string; overrides: { values?: unknown[]; arguments?: unknown[] } }>('acr.runState')
        .values(),
    ].find((s) => s.runId === out.runId);
    const expected = [
      { name: BASE_IMAGE_VALUE, value: seed.baseImageRef, isSecret: false },
      { name: BASE_DIGEST_VALUE, value: req.base!.digest, isSecret: false },
    ];
    expect(state?.overrides.values).toEqual(expected);
    expect(state?.overrides.arguments).toEqual(expected);
  });

  it('adopts the run ARM accepted when the claimant crashed before recording it', async () => {
    const req = input();
    const key = keyOf(req);
    const token = tokenOf(key, 1);
    // The crashed claimant: claimed, scheduled (ARM accepted, token on the run), never recorded the run id.
    const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
    await store.claim({
      partitionKey: `claim|${key}`,
      rowKey: 'attempt-1',
      cascadeId: 'crashed',
      task: helloId,
      registryId: seed.registries[SEED.appRegistry]!,
      claimedAt: new Date().toISOString(),
      token,
      attempt: 1,
    });
    const accepted = await acr.registries.beginScheduleRunAndWait(rg, SEED.appRegistry, {
      type: 'TaskRunRequest',
      taskId: helloId,
      overrideTaskStepProperties: { updateTriggerToken: token },
    });
    const before = (await runsOf(SEED.tasks.hello)).length;
    const out = await runs.scheduleRun(req);
    expect(out).toEqual({
      kind: 'scheduled',
      runId: accepted.runId,
      registryId: seed.registries[SEED.appRegistry],
      status: expect.any(String),
      deduplicated: true,
    });
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before);
    expect((await runs.claimOf(req))?.runId).toBe(accepted.runId);
  });

  it('waits on a young claim without a run instead of risking a second run', async () => {
    const req = input();
    const key = keyOf(req);
    const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
    await store.claim({
      partitionKey: `claim|${key}`,
      rowKey: 'attempt-1',
      cascadeId: 'in-flight',
      task: helloId,
      registryId: seed.registries[SEED.appRegistry]!,
      claimedAt: new Date().toISOString(),
      token: tokenOf(key, 1),
      attempt: 1,
    });
    const before = (await runsOf(SEED.tasks.hello)).length;
    const out = await runs.scheduleRun(req);
    expect(out.kind).toBe('throttled');
    expect(out.kind === 'throttled' && out.retryAfterSeconds).toBeGreaterThanOrEqual(5);
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before);
  });

  it('takes over a stale claim that never got a run and schedules exactly one', async () => {
    const req = input();
    const key = keyOf(req);
    const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
    await store.claim({
      partitionKey: `claim|${key}`,
      rowKey: 'attempt-1',
      cascadeId: 'died-before-arm',
      task: helloId,
      registryId: seed.registries[SEED.appRegistry]!,
      claimedAt: new Date().toISOString(),
      token: tokenOf(key, 1),
      attempt: 1,
    });
    // CASCADE_CLAIM_TIMEOUT_SECONDS decides when a claim is presumed abandoned.
    const young = createRunActivities({ ...depsWith(25), settings: { ...deps.settings, claimTimeoutSeconds: 30 } });
    expect(await young.scheduleRun(req)).toMatchObject({ kind: 'throttled', retryAfterSeconds: 5 });
    const later = createRunActivities({ ...depsWith(31), settings: { ...deps.settings, claimTimeoutSeconds: 30 } });
    const before = (await runsOf(SEED.tasks.hello)).length;
    const out = await later.scheduleRun(req);
    expect(out).toMatchObject({ kind: 'scheduled', deduplicated: false });
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before + 1);
    expect((await later.scheduleRun(req)).kind === 'scheduled').toBe(true);
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before + 1);
  });
});

describe('scheduleRun throttling', () => {
  it('rides out the write bucket (Retry-After honoured by the client) and schedules each run once', async () => {
    await t.admin('PUT', '/throttle', { enabled: true, write: { burst: 1, perSecond: 2 } });
    await t.admin('DELETE', '/stats');
    const reqs = [input(), input(), input()];
    const outs = await Promise.all(reqs.map((r) => runs.scheduleRun(r)));
    expect(outs.map((o) => o.kind)).toEqual(['scheduled', 'scheduled', 'scheduled']);
    expect(new Set(outs.map((o) => (o.kind === 'scheduled' ? o.runId : ''))).size).toBe(3);
    const s = await stats();
    // More scheduleRun requests than runs: some were answered 429 and retried after Retry-After.
    expect(s['registries.scheduleRun']).toBeGreaterThan(3);
  });

  it('returns throttled with Retry-After when ARM keeps answering 429, releases the claim, and schedules later', async () => {
    await t.admin('PUT', '/faults', { rate429: 1, match: 'registries\\.scheduleRun' });
    const req = input();
    const before = (await runsOf(SEED.tasks.hello)).length;
    const out = await runs.scheduleRun(req);
    expect(out).toEqual({ kind: 'throttled', retryAfterSeconds: 1 });
    expect(await runs.claimOf(req)).toBeUndefined();
    await t.admin('PUT', '/faults', { rate429: 0 });
    const later = await runs.scheduleRun(req);
    expect(later).toMatchObject({ kind: 'scheduled', deduplicated: false });
    expect((await runsOf(SEED.tasks.hello)).length).toBe(before + 1);
  }, 60_000);

  it('rejects a run of a disabled task and releases the claim', async () => {
    await acr.tasks.beginUpdateAndWait(rg, SEED.appRegistry, SEED.tasks.dockerhub, { status: 'Disabled' });
    try {
      const req = input({ task: dockerhubId });
      const out = await runs.scheduleRun(req);
      expect(out).toMatchObject({ kind: 'rejected', code: expect.any(String) });
      expect(out.kind === 'rejected' && out.message).toMatch(/disabled/);
      expect(await runs.claimOf(req)).toBeUndefined();
    } finally {
      await acr.tasks.beginUpdateAndWait(rg, SEED.appRegistry, SEED.tasks.dockerhub, { status: 'Enabled' });
    }
  });
});

describe('getRun and cancelRun', () => {
  it('reads a run until it is terminal, with outputs', async () => {
    const out = await runs.scheduleRun(input());
    if (out.kind !== 'scheduled') throw new Error('not scheduled');
    await waitTerminal(out.runId);
    const info = await runs.getRun({ registryId: out.registryId, runId: out.runId });
    expect(info).toMatchObject({ runId: out.runId, status: 'Succeeded' });
    expect(info.outputImages.some((o) => o.includes('hello-world'))).toBe(true);
  });

  it('answers every poll of one watch slot from one runs.list of the registry, and a run it misses with runs.get', async () => {
    const scheduledRuns = [];
    for (let i = 0; i < 5; i++) {
      const out = await runs.scheduleRun(input());
      if (out.kind !== 'scheduled') throw new Error(`not scheduled: ${JSON.stringify(out)}`);
      scheduledRuns.push(out);
    }
    await t.admin('PUT', '/acr/runs/config', { durationMs: 60_000 });
    const slow = await runs.scheduleRun(input());
    await t.admin('PUT', '/acr/runs/config', { durationMs: 400 });
    if (slow.kind !== 'scheduled') throw new Error('not scheduled');
    for (const r of scheduledRuns) await waitTerminal(r.runId);
    const at = new Date(Date.now()).toISOString();
    const slot = { at, finishedSince: new Date(Date.now() - 60_000).toISOString() };
    await t.admin('DELETE', '/stats');
    const infos = await Promise.all(
      [...scheduledRuns, slow].map((r) => runs.getRun({ registryId: r.registryId, runId: r.runId, watch: slot })),
    );
    expect(infos.map((i) => i.status)).toEqual([
      'Succeeded',
      'Succeeded',
      'Succeeded',
      'Succeeded',
      'Succeeded',
      'Queued',
    ]);
    expect(infos[0]!.outputImages.some((o) => o.includes('hello-world'))).toBe(true);
    let s = await stats();
    expect([s['runs.list'], s['runs.get'] ?? 0]).toEqual([1, 0]);
    // A later caller of the same slot is answered from the same listing.
    await runs.getRun({ registryId: slow.registryId, runId: slow.runId, watch: slot });
    expect((await stats())['runs.list']).toBe(1);
    // A look-back that ends after the runs finished: the listing holds only the slow run; the others are read alone.
    await t.admin('DELETE', '/stats');
    const late = { at: `${at}-late`, finishedSince: new Date(Date.now() + 60_000).toISOString() };
    const again = await Promise.all(
      [...scheduledRuns, slow].map((r) => runs.getRun({ registryId: r.registryId, runId: r.runId, watch: late })),
    );
    expect(again.map((i) => i.status)).toEqual(infos.map((i) => i.status));
    s = await stats();
    expect([s['runs.list'], s['runs.get']]).toEqual([1, 5]);
    await expect(
      runs.getRun({ registryId: slow.registryId, runId: slow.runId, watch: { at, finishedSince: 'yesterday' } }),
    ).rejects.toBeInstanceOf(RangeError);
    await acr.runs.beginCancelAndWait(rg, SEED.appRegistry, slow.runId);
  });

  it('cancels the in-flight runs of a canceled cascade found through its claims', async () => {
    const req = input({ cascadeId: 'cascade-cancel', cascadeStartedAt: '2024-01-01T00:00:00.000Z' });
    await t.admin('PUT', '/acr/runs/config', { durationMs: 60_000 });
    try {
      const out = await runs.scheduleRun(req);
      if (out.kind !== 'scheduled') throw new Error('not scheduled');
      const result = await runs.cancelRun({
        cascadeId: 'cascade-cancel',
        cascadeStartedAt: '2024-01-01T00:00:00.000Z',
        tasks: [{ task: helloId, base: req.base!, attempts: 2 }],
      });
      expect(result).toEqual({ canceled: [out.runId], finished: [] });
      expect((await acr.runs.get(rg, SEED.appRegistry, out.runId)).status).toBe('Canceled');
      // A late schedule of the canceled execution is refused; a new execution of the same cascade is not.
      const late = await runs.scheduleRun({ ...req, attempt: 2 });
      expect(late).toMatchObject({ kind: 'rejected', code: 'CascadeCanceled' });
      const next = await runs.scheduleRun({ ...req, attempt: 2, cascadeStartedAt: '2024-01-01T01:00:00.000Z' });
      expect(next.kind).toBe('scheduled');
      if (next.kind === 'scheduled') {
        // ...and a run of the canceled execution that slipped through is canceled when it is read.
        const info = await runs.getRun({
          registryId: next.registryId,
          runId: next.runId,
          cascadeId: 'cascade-cancel',
          cascadeStartedAt: '2024-01-01T00:00:00.000Z',
        });
        expect(info.status).toBe('Canceled');
      }
    } finally {
      await t.admin('PUT', '/acr/runs/config', { durationMs: 400 });
    }
  });
});

describe('own pushes and redeliveries', () => {
  it('recognises the push a run of ours made, and not a push by someone else', async () => {
    const req = input({ outputImages: [`${SEED.appRegistry}.azurecr.io/hello-world:{{.Run.ID}}`] });
    const out = await runs.scheduleRun(req);
    if (out.kind !== 'scheduled') throw new Error('not scheduled');
    const image = (digest: string): PushedImage => ({
      ref: `${SEED.appRegistry}.azurecr.io/hello-world:${out.runId}`,
      digest,
      registryId: seed.registries[SEED.appRegistry]!,
    });
    // While the run is going, a push to its output repository is ours.
    expect(await runs.isOwnPush({ image: image(freshDigest()) })).toMatchObject({ own: true, runId: out.runId });
    await waitTerminal(out.runId);
    const run = await acr.runs.get(rg, SEED.appRegistry, out.runId);
    const pushed = run.outputImages![0]!.digest!;
    expect(await runs.isOwnPush({ image: image(pushed) })).toMatchObject({ own: true, runId: out.runId });
    // After it finished, another digest of that repository is someone else's push.
    expect(await runs.isOwnPush({ image: image(freshDigest()) })).toMatchObject({ own: false });
    expect(
      await runs.isOwnPush({
        image: { ref: seed.baseImageRef, digest: freshDigest(), registryId: seed.registries[SEED.baseRegistry]! },
      }),
    ).toEqual({ own: false, reason: expect.stringMatching(/^no run of ours pushes to/) });
  });
});
