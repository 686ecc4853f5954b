// rebuildTask through the real durable-functions executor: schedule (with throttling), watch, re-check, retry.
import { describe, expect, it } from 'vitest';
import { rebuildTask } from '../../src/orchestrations/rebuildTask.js';
import type {
  CancelRunInput,
  DisableNativeTriggerInput,
  FindNativeRunInput,
  FindNativeRunOutput,
  GetRunInput,
  PreflightInput,
  RebuildTaskInput,
  RemediateInput,
  RunInfo,
  ScheduleRunInput,
  ScheduleRunOutput,
  TaskResult,
} from '../../src/contracts/index.js';
import {
  APP_REGISTRY,
  BASE_REF,
  ReplayDriver,
  blockedVerdict,
  digest,
  planOf,
  ready,
  taskId,
  type Scheduled,
} from '../support/histories.js';

const plan = planOf([['app1']]);
const planned = plan.tasks[taskId('app1')]!;

function taskInput(overrides: Partial<RebuildTaskInput> = {}): RebuildTaskInput {
  return {
    cascadeId: 'cascade-x',
    cascadeStartedAt: '2024-01-01T00:00:00.000Z',
    planned,
    verdict: ready('app1')[taskId('app1')]!,
    base: { ref: BASE_REF, digest: digest('a') },
    transientRetries: 1,
    autoRemediate: false,
    pollInitialSeconds: 10,
    pollMaxSeconds: 60,
    timeoutSeconds: 4200,
    ...overrides,
  };
}

function driver(input: RebuildTaskInput): ReplayDriver {
  return new ReplayDriver(rebuildTask as never, input, { instanceId: 'cascade-x:g0:abc', name: 'rebuildTask' });
}

function one(list: Scheduled[], name: string): Scheduled {
  const hits = list.filter((s) => s.name === name);
  expect(hits.map((s) => s.name)).toEqual([name]);
  return hits[0] as Scheduled;
}

const scheduled = (runId: string, status: 'Queued' | 'Running' | 'Succeeded' = 'Queued'): ScheduleRunOutput => ({
  kind: 'scheduled',
  runId,
  registryId: APP_REGISTRY,
  status,
  deduplicated: false,
});

const run = (runId: string, status: RunInfo['status'], extra: Partial<RunInfo> = {}): RunInfo => ({
  runId,
  status,
  outputImages: [],
  ...extra,
});

/** Answers polls (timer → getRun) with the given statuses; returns the delays between polls in seconds. */
async function poll(d: ReplayDriver, statuses: RunInfo['status'][], runId = 'ca1'): Promise<number[]> {
  const delays: number[] = [];
  for (const status of statuses) {
    const timer = d.pending().find((s) => s.kind === 'timer') as Scheduled;
    const seconds = (Date.parse(timer.fireAt as string) - d.now.getTime()) / 1000;
    delays.push(seconds);
    d.advance(seconds).fireTimer(timer.id);
    const ep = await d.run();
    const get = one(ep.scheduled, 'getRun');
    d.complete(
      get.id,
      run(runId, status, status === 'Succeeded' ? { outputImages: ['myregistry.azurecr.io/app1:ca1'] } : {}),
    );
    await d.run();
  }
  return delays;
}

describe('rebuildTask scheduling', () => {
  it('schedules once for (task, base digest, attempt 1) with the base as override and the outputs to record', async () => {
    const d = driver(taskInput());
    const ep = await d.run();
    const s = one(ep.scheduled, 'scheduleRun');
    expect(s.input as ScheduleRunInput).toEqual({
      cascadeId: 'cascade-x',
      cascadeStartedAt: '2024-01-01T00:00:00.000Z',
      task: taskId('app1'),
      attempt: 1,
      base: { ref: BASE_REF, digest: digest('a') },
      outputImages: ['myregistry.azurecr.io/app1:latest'],
    });
  });

  it('a 429 on scheduling delays the run by Retry-After but does not drop it', async () => {
    const d = driver(taskInput());
    const first = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(first.id, { kind: 'throttled', retryAfterSeconds: 17 });
    const wait = await d.run();
    const timer = one(wait.scheduled, 'timer');
    expect(timer.fireAt).toBe('2024-01-01T00:00:17.000Z');
    expect(d.customStatus).toMatchObject({ phase: 'throttled', retryAt: '2024-01-01T00:00:17.000Z' });
    d.advance(17).fireTimer(timer.id);
    const again = one((await d.run()).scheduled, 'scheduleRun');
    expect(again.input).toEqual(first.input); // same key and attempt: still exactly once
    d.complete(again.id, scheduled('ca1'));
    await d.run();
    await poll(d, ['Succeeded']);
    const out = d.last?.state.output as TaskResult;
    expect(out).toMatchObject({ outcome: 'succeeded', run: { runId: 'ca1', attempts: 1, registryId: APP_REGISTRY } });
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toHaveLength(2);
  });

  it('reports a rejected schedule as blocked with ScheduleRejected and does not watch', async () => {
    const d = driver(taskInput());
    const s = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(s.id, { kind: 'rejected', code: 'TaskNotFound', message: 'gone' });
    const ep = await d.run();
    expect(ep.state.isDone).toBe(true);
    expect(ep.state.output).toMatchObject({
      outcome: 'blocked',
      decision: 'blocked',
      reasons: [{ code: 'ScheduleRejected' }],
    });
  });

  it('ends canceled without a run when its cascade was canceled before scheduling', async () => {
    const d = driver(taskInput());
    const s = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(s.id, { kind: 'rejected', code: 'CascadeCanceled', message: 'cascade cascade-x was canceled' });
    const ep = await d.run();
    expect(ep.state.output).toMatchObject({ outcome: 'canceled', reasons: [{ code: 'CascadeCanceled' }] });
    expect((ep.state.output as TaskResult).run).toBeUndefined();
  });
});

describe('rebuildTask watching', () => {
  it('polls with durable timers from pollInitialSeconds doubling up to pollMaxSeconds, on the shared 30 s grid', async () => {
    const d = driver(taskInput());
    const s = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(s.id, scheduled('ca1'));
    await d.run();
    const delays = await poll(d, ['Queued', 'Running', 'Running', 'Running', 'Running', 'Succeeded']);
    // Backoff 10, 20, 40, 60…, each wait rounded up to the grid (pollMaxSeconds / 2 = 30 s since the epoch).
    expect(delays).toEqual([30, 30, 60, 60, 60, 60]);
    const get = d.all.find((x) => x.name === 'getRun')?.input as GetRunInput;
    expect(get).toEqual({
      registryId: APP_REGISTRY,
      runId: 'ca1',
      cascadeId: 'cascade-x',
      cascadeStartedAt: '2024-01-01T00:00:00.000Z',
      // The slot every task polling at 00:00:30 shares: one runs.list of runs in flight or finished in the last 3 min.
      watch: { at: '2024-01-01T00:00:30.000Z', finishedSince: '2023-12-31T23:57:30.000Z' },
    });
    expect(d.last?.state.output).toMatchObject({
      outcome: 'succeeded',
      run: { status: 'Succeeded', outputImages: ['myregistry.azurecr.io/app1:ca1'] },
    });
  });

  it('adopts an already finished run without waiting (deduplicated)', async () => {
    const d = driver(taskInput());
    const s = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(s.id, { ...scheduled('ca1', 'Succeeded'), deduplicated: true });
    const ep = await d.run();
    const get = one(ep.scheduled, 'getRun');
    expect(ep.scheduled.some((x) => x.kind === 'timer')).toBe(false);
    d.complete(get.id, run('ca1', 'Succeeded'));
    const done = await d.run();
    expect(done.state.output).toMatchObject({ outcome: 'succeeded', run: { runId: 'ca1', deduplicated: true } });
  });

  it('cancels the run and reports WatchTimedOut when it outlives the task timeout plus margin', async () => {
    const d = driver(taskInput({ timeoutSeconds: 100, pollInitialSeconds: 30, pollMaxSeconds: 60 }));
    const s = one((await d.run()).scheduled, 'scheduleRun');
    d.complete(s.id, scheduled('ca1'));
    await d.run();
    const delays = await poll(d, ['Running', 'Running', 'Running']);
    expect(delays).toEqual([30, 60, 10]); // the last wait is cut at the deadline
    const cancel = one(d.last!.scheduled, 'cancelRun');
    // Only this run is canceled: no cascadeStartedAt, so the cascade is not marked canceled (its siblings go on).
    expect(cancel.input as CancelRunInput).toEqual({
      cascadeId: 'cascade-x',
      cascadeStartedAt: '',
      runs: [{ registryId: APP_REGISTRY, runId: 'ca1' }],
    });
    d.complete(cancel.id, { canceled: ['ca1'], finished: [] });
    const done = await d.run();
    expect(done.state.output).toMatchObject({ outcome: 'failed', reasons: [{ code: 'WatchTimedOut' }] });
  });
});

describe('rebuildTask failures', () => {
  async function failOnce(d: ReplayDriver, runId: string, attempt: number) {
    const s = d.pending('scheduleRun').pop() as Scheduled;
    expect((s.input as ScheduleRunInput).attempt).toBe(attempt);
    d.complete(s.id, scheduled(runId));
    await d.run();
    await poll(d, ['Failed'], runId);
  }

  it('re-checks a failed run with preflight and reports the preflight reasons when it is now blocked', async () => {
    const d = driver(taskInput());
    await d.run();
    await failOnce(d, 'ca1', 1);
    const pre = one(d.last!.scheduled, 'preflightTasks');
    expect(pre.input as PreflightInput).toEqual({
      taskIds: [taskId('app1')],
      image: { ref: BASE_REF, digest: digest('a') },
    });
    d.complete(pre.id, blockedVerdict('app1'));
    const done = await d.run();
    expect(done.state.output).toMatchObject({
      outcome: 'blocked',
      reasons: [{ code: 'MissingPullPermission' }, { code: 'RunFailed' }],
      run: { runId: 'ca1', status: 'Failed' },
    });
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toHaveLength(1);
  });

  it('retries a transient failure once as attempt 2 and reports failed after the second failure', async () => {
    const d = driver(taskInput({ transientRetries: 1 }));
    await d.run();
    await failOnce(d, 'ca1', 1);
    d.complete(one(d.last!.scheduled, 'preflightTasks').id, ready('app1'));
    await d.run();
    await failOnce(d, 'ca2', 2);
    d.complete(one(d.last!.scheduled, 'preflightTasks').id, ready('app1'));
    const done = await d.run();
    expect(done.state.output).toMatchObject({
      outcome: 'failed',
      reasons: [{ code: 'RunFailed' }],
      run: { runId: 'ca2', attempts: 2 },
    });
    expect(d.all.filter((s) => s.name === 'scheduleRun').map((s) => (s.input as ScheduleRunInput).attempt)).toEqual([
      1, 2,
    ]);
  });

  it('does not retry when transientRetries is 0', async () => {
    const d = driver(taskInput({ transientRetries: 0 }));
    await d.run();
    await failOnce(d, 'ca1', 1);
    d.complete(one(d.last!.scheduled, 'preflightTasks').id, ready('app1'));
    const done = await d.run();
    expect(done.state.output).toMatchObject({ outcome: 'failed', run: { attempts: 1 } });
  });
});

describe('rebuildTask auto-remediation', () => {
  it('creates the missing assignment, waits for propagation, re-checks and then schedules', async () => {
    const d = driver(
      taskInput({
        autoRemediate: true,
        verdict: blockedVerdict('app1', true)[taskId('app1')]!,
        remediationWaitSeconds: 45,
      }),
    );
    const rem = one((await d.run()).scheduled, 'remediatePull');
    expect((rem.input as RemediateInput).reasons.map((r) => r.code)).toEqual(['MissingPullPermission']);
    const created = [{ scope: APP_REGISTRY, principalId: '1111', roleName: 'AcrPull', assignmentId: 'ra1' }];
    d.complete(rem.id, { created, failed: [] });
    const wait = one((await d.run()).scheduled, 'timer');
    expect(wait.fireAt).toBe('2024-01-01T00:00:45.000Z');
    d.advance(45).fireTimer(wait.id);
    const pre = one((await d.run()).scheduled, 'preflightTasks');
    d.complete(pre.id, ready('app1'));
    const ep = await d.run();
    one(ep.scheduled, 'scheduleRun');
    d.complete(ep.scheduled[0]!.id, scheduled('ca1'));
    await d.run();
    await poll(d, ['Succeeded']);
    expect(d.last?.state.output).toMatchObject({ outcome: 'succeeded', remediated: created });
  });

  it('reports blocked without remediating when auto-remediation is off', async () => {
    const d = driver(taskInput({ autoRemediate: false, verdict: blockedVerdict('app1', true)[taskId('app1')]! }));
    const ep = await d.run();
    expect(ep.scheduled).toEqual([]);
    expect(ep.state.output).toMatchObject({ outcome: 'blocked', reasons: [{ code: 'MissingPullPermission' }] });
  });
});

describe('rebuildTask and ACR native base-image triggers', () => {
  const withTrigger = { ...planned, nativeTrigger: true };
  const nativeInput = (overrides: Partial<RebuildTaskInput> = {}): RebuildTaskInput =>
    taskInput({ planned: withTrigger, ...overrides });
  const native = (extra: Partial<FindNativeRunOutput>): FindNativeRunOutput => ({
    policy: 'adopt',
    triggerEnabled: true,
    willFire: true,
    adoptWindowSeconds: 30,
    ...extra,
  });

  it('adopts the run ACR started for the pushed digest instead of scheduling, and reports it adopted', async () => {
    const d = driver(nativeInput());
    const probe = one((await d.run()).scheduled, 'findNativeRun');
    expect(probe.input as FindNativeRunInput).toEqual({
      task: taskId('app1'),
      cascadeId: 'cascade-x',
      outputImages: ['myregistry.azurecr.io/app1:latest'],
      digest: digest('a'),
      bases: [BASE_REF],
    });
    d.complete(probe.id, native({ run: { runId: 'ca7', registryId: APP_REGISTRY, status: 'Running' } }));
    await d.run();
    await poll(d, ['Succeeded'], 'ca7');
    const out = d.last?.state.output as TaskResult;
    expect(out).toMatchObject({
      outcome: 'succeeded',
      run: { runId: 'ca7', adopted: true, attempts: 1 },
      reasons: [{ code: 'NativeRunAdopted', severity: 'info' }],
    });
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toEqual([]);
  });

  it('waits within the adopt window with durable timers, then adopts the run once it appears', async () => {
    const d = driver(nativeInput());
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({}));
    const timer = one((await d.run()).scheduled, 'timer');
    expect(timer.fireAt).toBe('2024-01-01T00:00:05.000Z');
    d.advance(5).fireTimer(timer.id);
    const again = one((await d.run()).scheduled, 'findNativeRun');
    d.complete(again.id, native({ run: { runId: 'ca8', registryId: APP_REGISTRY, status: 'Queued' } }));
    await d.run();
    await poll(d, ['Succeeded'], 'ca8');
    expect(d.last?.state.output).toMatchObject({ outcome: 'succeeded', run: { runId: 'ca8', adopted: true } });
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toEqual([]);
  });

  it('schedules exactly once (same claim key) when no native run appears within the window', async () => {
    const d = driver(nativeInput());
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ adoptWindowSeconds: 12 }));
    const fires: string[] = [];
    for (;;) {
      const ep = await d.run();
      const next = ep.scheduled.find((s) => s.name === 'scheduleRun');
      if (next) {
        expect(next.input).toMatchObject({ task: taskId('app1'), attempt: 1, base: { digest: digest('a') } });
        d.complete(next.id, scheduled('ca9'));
        break;
      }
      const timer = one(ep.scheduled, 'timer');
      fires.push(timer.fireAt as string);
      d.advance((Date.parse(timer.fireAt as string) - d.now.getTime()) / 1000).fireTimer(timer.id);
      d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ adoptWindowSeconds: 12 }));
    }
    expect(fires).toEqual(['2024-01-01T00:00:05.000Z', '2024-01-01T00:00:10.000Z', '2024-01-01T00:00:12.000Z']);
    await d.run();
    await poll(d, ['Succeeded'], 'ca9');
    // Once its run ended, one more look for a native run ACR started late: none.
    d.complete(one(d.pending(), 'findNativeRun').id, native({}));
    await d.run();
    const out = d.last?.state.output as TaskResult;
    expect(out).toMatchObject({ outcome: 'succeeded', reasons: [{ code: 'NativeRunNotFound' }] });
    expect(out.run?.adopted).toBeUndefined();
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toHaveLength(1);
  });

  /** Drives the adopt window to its end (no native run), schedules `runId` and watches it to Succeeded. */
  async function outwaitWindow(d: ReplayDriver, runId: string): Promise<void> {
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ adoptWindowSeconds: 5 }));
    const timer = one((await d.run()).scheduled, 'timer');
    d.advance(5).fireTimer(timer.id);
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ adoptWindowSeconds: 5 }));
    d.complete(one((await d.run()).scheduled, 'scheduleRun').id, scheduled(runId));
    await d.run();
    await poll(d, ['Succeeded'], runId);
  }

  it('cancels a run ACR started after the adopt window, once its own run has ended, and reports it', async () => {
    const d = driver(nativeInput());
    await outwaitWindow(d, 'cb1');
    const late = one(d.pending(), 'findNativeRun');
    expect(late.input).toMatchObject({ task: taskId('app1'), digest: digest('a') });
    d.complete(late.id, native({ run: { runId: 'cb2', registryId: APP_REGISTRY, status: 'Running' } }));
    const cancel = one((await d.run()).scheduled, 'cancelRun');
    // One run canceled; no cascadeStartedAt, so the cascade is not marked canceled.
    expect(cancel.input as CancelRunInput).toEqual({
      cascadeId: 'cascade-x',
      cascadeStartedAt: '',
      runs: [{ registryId: APP_REGISTRY, runId: 'cb2' }],
    });
    d.complete(cancel.id, { canceled: ['cb2'], finished: [] });
    await d.run();
    const out = d.last?.state.output as TaskResult;
    expect(out).toMatchObject({
      outcome: 'succeeded',
      run: { runId: 'cb1' },
      reasons: [{ code: 'NativeRunNotFound' }, { code: 'NativeRunCanceled', severity: 'warning' }],
    });
    expect(out.reasons[1]!.message).toContain('cb2');
    expect(d.all.filter((s) => s.name === 'scheduleRun')).toHaveLength(1);
  });

  it('reports a second build when the run ACR started after the window had already finished', async () => {
    const d = driver(nativeInput());
    await outwaitWindow(d, 'cb3');
    d.complete(
      one(d.pending(), 'findNativeRun').id,
      native({ run: { runId: 'cb4', registryId: APP_REGISTRY, status: 'Succeeded' } }),
    );
    await d.run();
    expect(d.all.filter((s) => s.name === 'cancelRun')).toEqual([]);
    expect(d.last?.state.output).toMatchObject({
      outcome: 'succeeded',
      run: { runId: 'cb3' },
      reasons: [{ code: 'NativeRunNotFound' }, { code: 'NativeRunLate' }],
    });
  });

  it('looks for no late native run when it adopted one or scheduled without waiting', async () => {
    const d = driver(nativeInput());
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ willFire: false }));
    d.complete(one((await d.run()).scheduled, 'scheduleRun').id, scheduled('cb5'));
    await d.run();
    await poll(d, ['Succeeded'], 'cb5');
    expect(d.last?.state.output).toMatchObject({ outcome: 'succeeded', run: { runId: 'cb5' } });
    expect(d.all.filter((s) => s.name === 'findNativeRun')).toHaveLength(1);
  });

  it('schedules at once when the trigger will not fire for this base (e.g. a build-stage base under Runtime)', async () => {
    const d = driver(nativeInput());
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({ willFire: false }));
    expect(one((await d.run()).scheduled, 'scheduleRun').input).toMatchObject({ attempt: 1 });
  });

  it('under disable, turns the trigger off, reports it, and adopts the run the trigger had already started', async () => {
    const d = driver(nativeInput());
    d.complete(
      one((await d.run()).scheduled, 'findNativeRun').id,
      native({ policy: 'disable', run: { runId: 'caa', registryId: APP_REGISTRY, status: 'Running' } }),
    );
    const off = one((await d.run()).scheduled, 'disableNativeTrigger');
    expect(off.input as DisableNativeTriggerInput).toEqual({ task: taskId('app1') });
    d.complete(off.id, { changed: true, triggerName: 'defaultBaseimageTriggerName' });
    await d.run();
    await poll(d, ['Succeeded'], 'caa');
    expect(d.last?.state.output).toMatchObject({
      outcome: 'succeeded',
      run: { runId: 'caa', adopted: true },
      reasons: [{ code: 'NativeTriggerDisabled' }, { code: 'NativeRunAdopted' }],
    });
  });

  it('in a later wave, looks for a run triggered since the cascade started by the upstream outputs', async () => {
    const later = { ...planOf([['app1'], ['app2']]).tasks[taskId('app2')]!, nativeTrigger: true };
    const d = driver(nativeInput({ planned: later, verdict: ready('app2')[taskId('app2')]! }));
    expect(one((await d.run()).scheduled, 'findNativeRun').input).toEqual({
      task: taskId('app2'),
      cascadeId: 'cascade-x',
      outputImages: ['myregistry.azurecr.io/app2:latest'],
      since: '2024-01-01T00:00:00.000Z',
      bases: ['myregistry.azurecr.io/app1:latest'],
    });
  });

  it('adopts the finished native run of a task the plan found already built from the pushed digest', async () => {
    // ACR's run finished (and recorded the digest) before the cascade planned: planned anyway, so it is adopted.
    const d = driver(nativeInput({ planned: { ...withTrigger, upToDate: true } }));
    d.complete(
      one((await d.run()).scheduled, 'findNativeRun').id,
      native({ run: { runId: 'cab', registryId: APP_REGISTRY, status: 'Succeeded' } }),
    );
    const get = one((await d.run()).scheduled, 'getRun');
    expect(get.input as GetRunInput).toMatchObject({ runId: 'cab', registryId: APP_REGISTRY });
    d.complete(get.id, run('cab', 'Succeeded', { outputImages: ['myregistry.azurecr.io/app1:cab'] }));
    await d.run();
    expect(d.last?.state.output).toMatchObject({
      outcome: 'succeeded',
      run: { runId: 'cab', adopted: true, outputImages: ['myregistry.azurecr.io/app1:cab'] },
      reasons: [{ code: 'NativeRunAdopted' }],
    });
    expect(d.all.filter((s) => s.name === 'scheduleRun' || s.kind === 'timer')).toEqual([]);
  });

  it('skips, without waiting or scheduling, a task already built from the pushed digest by a run ACR did not start', async () => {
    const d = driver(nativeInput({ planned: { ...withTrigger, upToDate: true } }));
    d.complete(one((await d.run()).scheduled, 'findNativeRun').id, native({}));
    await d.run();
    const out = d.last?.state.output as TaskResult;
    expect(out).toMatchObject({ outcome: 'skipped', decision: 'skip', reasons: [{ code: 'UpToDate' }] });
    expect(out.reasons[0]!.message).toContain(`${BASE_REF}@${digest('a')}`);
    expect(out.run).toBeUndefined();
    expect(d.all.map((s) => s.name ?? s.kind)).toEqual(['findNativeRun']);
  });

  it('does not look for a native run when the index saw no trigger on the task', async () => {
    const d = driver(taskInput());
    expect((await d.run()).scheduled.map((s) => s.name)).toEqual(['scheduleRun']);
  });

  it('does not look for a native run in the first wave of an on-demand rebuild (nothing was pushed)', async () => {
    const { base: _none, ...input } = nativeInput({ requestId: 'req-1' });
    const d = driver(input);
    const ep = await d.run();
    expect(ep.scheduled.map((s) => s.name)).toEqual(['scheduleRun']);
  });
});
