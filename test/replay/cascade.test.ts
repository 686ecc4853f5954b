// rebuildCascade through the real durable-functions executor: hand-made histories in, scheduled actions out.
import { describe, expect, it } from 'vitest';
import { TRANSIENT_RETRY } from '../../src/orchestrations/calls.js';
import { rebuildCascade } from '../../src/orchestrations/rebuildCascade.js';
import type {
  BuildPlanInput,
  CancelRunInput,
  CascadeInput,
  CascadeProgress,
  CascadeResult,
  PreflightInput,
  PublishNotificationsInput,
  RebuildTaskInput,
  TaskResult,
} from '../../src/contracts/index.js';
import {
  BASE_REF,
  ReplayDriver,
  blockedVerdict,
  cascadeInput,
  digest,
  failed,
  planOf,
  push,
  ready,
  succeeded,
  taskId,
  type Scheduled,
} from '../support/histories.js';

const CASCADE_ID = 'cascade-mybaseregistry-0123456789abcdef';

function driver(input: CascadeInput, logs?: string[]): ReplayDriver {
  return new ReplayDriver(rebuildCascade as never, input, {
    instanceId: CASCADE_ID,
    name: 'rebuildCascade',
    ...(logs ? { logs } : {}),
  });
}

function only(list: Scheduled[], name: string): Scheduled {
  const hits = list.filter((s) => s.name === name);
  expect(hits.map((s) => s.name)).toEqual([name]);
  return hits[0] as Scheduled;
}

function children(d: ReplayDriver): Scheduled[] {
  return d.all.filter((s) => s.kind === 'subOrchestration');
}

/** Runs the cascade through settle + plan + wave-1 preflight and returns the driver at the first child window. */
async function toFirstWindow(d: ReplayDriver, plan = planOf([['app1']]), verdicts = ready('app1')) {
  const first = await d.run();
  const settle = first.scheduled.find((s) => s.kind === 'timer') as Scheduled;
  d.advance(30).fireTimer(settle.id);
  const asked = await d.run();
  d.complete(only(asked.scheduled, 'take').id, push(digest('a'), 'e1', '2024-01-01T00:00:00Z'));
  const planned = await d.run();
  d.complete(only(planned.scheduled, 'buildPlan').id, plan);
  const pre = await d.run();
  d.complete(only(pre.scheduled, 'preflightTasks').id, verdicts);
  return d.run();
}

/**
 * Fails the one pending call of activity `name` on every attempt of the transient policy (firing the orchestrator's
 * backoff timers in between) and returns the episode after the last failure.
 */
async function failPastRetries(d: ReplayDriver, name: string, message = 'RestError: 503 ServerBusy') {
  for (let attempt = 1; ; attempt++) {
    const call = d.pending(name).pop() as Scheduled;
    expect(call, `attempt ${attempt} of ${name}`).toBeDefined();
    const ep = await d.fail(call.id, message).run();
    if (attempt === TRANSIENT_RETRY.attempts) return ep;
    const backoff = ep.scheduled.filter((s) => s.kind === 'timer');
    expect(backoff).toHaveLength(1);
    const fired = await d
      .advance(60)
      .fireTimer((backoff[0] as Scheduled).id)
      .run();
    expect(fired.scheduled.map((s) => s.name)).toEqual([name]);
  }
}

/** Completes the report activities and the final drain timer; returns the last episode. */
async function finish(d: ReplayDriver) {
  let ep = await d.run();
  for (let i = 0; i < 8 && !ep.state.isDone; i++) {
    const open = d.pending();
    const record = open.find((s) => s.name === 'recordCascade');
    const publish = open.find((s) => s.name === 'publishNotifications');
    const drain = open.filter((s) => s.kind === 'timer' && !s.canceled).pop();
    const next = record ?? publish ?? drain;
    if (!next) break;
    if (next.kind === 'timer') d.fireTimer(next.id);
    else d.complete(next.id, next.name === 'recordCascade' ? { table: 'CascadeHistory' } : { published: 0 });
    ep = await d.run();
  }
  return ep;
}

describe('rebuildCascade settle window', () => {
  it('waits for the settle timer (or a cancel) before asking the entity for the newest push', async () => {
    const d = driver(cascadeInput());
    const ep = await d.run();
    expect(ep.scheduled.map((s) => s.kind)).toEqual(['timer']);
    expect(ep.scheduled[0]?.fireAt).toBe('2024-01-01T00:00:30.000Z');
    expect(ep.waits).toEqual(['cancel']);
    expect((d.customStatus as CascadeProgress).phase).toBe('settling');
  });

  it('plans the newest push the tag entity holds after the settle window', async () => {
    const d = driver(cascadeInput());
    const first = await d.run();
    d.advance(30).fireTimer((first.scheduled[0] as Scheduled).id);
    const asked = await d.run();
    const take = only(asked.scheduled, 'take');
    expect(take).toMatchObject({ kind: 'entityCall', instanceId: `@cascadetag@${CASCADE_ID}` });
    d.complete(take.id, push(digest('c'), 'e3', '2024-01-01T00:00:04Z'));
    const planned = await d.run();
    expect(only(planned.scheduled, 'buildPlan').input as BuildPlanInput).toEqual({
      preflight: false,
      image: { ref: BASE_REF, digest: digest('c') },
    });
    expect((d.customStatus as CascadeProgress).image?.digest).toBe(digest('c'));
  });

  it('plans at once (no timer) for an HTTP rebuild of given tasks', async () => {
    const d = driver(cascadeInput({ trigger: 'http', settleSeconds: 0, tasks: [taskId('app1')], image: undefined }));
    const ep = await d.run();
    expect(ep.scheduled.map((s) => s.name)).toEqual(['buildPlan']);
    expect(ep.scheduled[0]?.input).toEqual({ preflight: false, tasks: [taskId('app1')] });
  });

  it('ends Canceled without planning when canceled while settling', async () => {
    const d = driver(cascadeInput());
    await d.run();
    d.advance(3).raise('cancel', { requestedAt: '2024-01-01T00:00:03Z' });
    const ep = await d.run();
    expect(ep.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    const done = await finish(d);
    expect(d.all.some((s) => s.name === 'buildPlan')).toBe(false);
    expect((done.state.output as CascadeResult).status).toBe('Canceled');
  });
});

describe('rebuildCascade waves', () => {
  it('preflights the wave and runs ready tasks as rebuildTask sub-orchestrations with the pushed base', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d);
    const pre = d.all.find((s) => s.name === 'preflightTasks') as Scheduled;
    expect(pre.input as PreflightInput).toEqual({
      taskIds: [taskId('app1')],
      image: { ref: BASE_REF, digest: digest('a') },
    });
    const child = only(ep.scheduled, 'rebuildTask');
    const input = child.input as RebuildTaskInput;
    expect(input.base).toEqual({ ref: BASE_REF, digest: digest('a') });
    expect(input.planned.task).toBe(taskId('app1'));
    expect(input.timeoutSeconds).toBe(3600 + 600);
    expect(child.instanceId).toMatch(
      /^cascade-mybaseregistry-0123456789abcdef:g0-20240101T000000000Z:app1-[0-9a-f]{8}$/,
    );
  });

  it('does not schedule a blocked task, reports it and notifies cascade.taskBlocked', async () => {
    const d = driver(cascadeInput());
    const plan = planOf([['app1', 'app2']]);
    const ep = await toFirstWindow(d, plan, { ...ready('app1'), ...blockedVerdict('app2') });
    expect(ep.scheduled.map((s) => (s.input as RebuildTaskInput).planned.taskName)).toEqual(['app1']);
    d.complete(only(ep.scheduled, 'rebuildTask').id, succeeded('app1', 1, 'ca1'));
    const rec = await d.run();
    const result = only(rec.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.tasks.map((t) => [t.taskName, t.outcome])).toEqual([
      ['app1', 'succeeded'],
      ['app2', 'blocked'],
    ]);
    expect(result.tasks[1]?.reasons[0]?.code).toBe('MissingPullPermission');
    expect(result.totals).toMatchObject({ planned: 2, scheduled: 1, succeeded: 1, blocked: 1 });
    d.complete(only(rec.scheduled, 'recordCascade').id, {});
    const pub = await d.run();
    const notes = (only(pub.scheduled, 'publishNotifications').input as PublishNotificationsInput).notifications;
    expect(notes.map((n) => [n.type, n.subject])).toEqual([
      ['cascade.taskBlocked', taskId('app2')],
      ['cascade.completed', BASE_REF],
    ]);
    expect(children(d)).toHaveLength(1);
  });

  it('skips up-to-date tasks without preflight or runs', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d, planOf([['app1']], { skip: ['old'] }));
    d.complete(only(ep.scheduled, 'rebuildTask').id, succeeded('app1', 1, 'ca1'));
    const rec = await d.run();
    const result = only(rec.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.tasks.find((t) => t.taskName === 'old')).toMatchObject({ outcome: 'skipped', decision: 'skip' });
    expect((d.all.find((s) => s.name === 'preflightTasks')?.input as PreflightInput).taskIds).toEqual([taskId('app1')]);
  });

  it('starts wave 2 only after wave 1 has finished, preflighting it then', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d, planOf([['base1'], ['app1', 'app2']]), ready('base1'));
    const first = only(ep.scheduled, 'rebuildTask');
    expect(d.all.filter((s) => s.name === 'preflightTasks')).toHaveLength(1);
    expect((d.customStatus as CascadeProgress).wave).toBe(1);
    d.advance(60).complete(first.id, succeeded('base1', 1, 'ca1'));
    const wave2 = await d.run();
    const pre = only(wave2.scheduled, 'preflightTasks');
    expect((pre.input as PreflightInput).taskIds).toEqual([taskId('app1'), taskId('app2')]);
    expect((d.customStatus as CascadeProgress).wave).toBe(2);
    d.complete(pre.id, ready('app1', 'app2'));
    const runs = await d.run();
    expect(runs.scheduled.map((s) => (s.input as RebuildTaskInput).planned.taskName)).toEqual(['app1', 'app2']);
  });

  it('reports UpstreamFailed for a task whose only producer failed, without preflight or a run', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d, planOf([['base1'], ['app1']]), ready('base1'));
    d.complete(only(ep.scheduled, 'rebuildTask').id, failed('base1', 1, 'ca1'));
    const next = await d.run();
    expect(next.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    const result = next.scheduled[0]?.input as CascadeResult;
    expect(result.tasks.find((t) => t.taskName === 'app1')).toMatchObject({
      outcome: 'blocked',
      reasons: [{ code: 'UpstreamFailed' }],
    });
    expect(result.totals).toMatchObject({ failed: 1, blocked: 1, scheduled: 1 });
    expect(d.all.filter((s) => s.name === 'preflightTasks')).toHaveLength(1);
  });

  it('keeps at most maxParallelRuns runs in flight, window after window, each child scheduled once', async () => {
    const names = ['t1', 't2', 't3', 't4', 't5'];
    const d = driver(cascadeInput({ maxParallelRuns: 2 }));
    let ep = await toFirstWindow(d, planOf([names]), ready(...names));
    const windows: string[][] = [];
    for (let i = 0; ep.scheduled.some((s) => s.name === 'rebuildTask'); i++) {
      const window = ep.scheduled.filter((s) => s.name === 'rebuildTask');
      windows.push(window.map((s) => (s.input as RebuildTaskInput).planned.taskName));
      expect(d.pending('rebuildTask')).toHaveLength(window.length);
      // Finish the newest first: nothing new starts until the whole window has finished.
      const [first, ...rest] = window.reverse() as [Scheduled, ...Scheduled[]];
      d.advance(10).complete(first.id, succeeded((first.input as RebuildTaskInput).planned.taskName, 1, `r${i}a`));
      const between = await d.run();
      expect(rest.length === 0 || between.scheduled.length === 0).toBe(true);
      ep = between;
      for (const c of rest) {
        d.advance(10).complete(c.id, succeeded((c.input as RebuildTaskInput).planned.taskName, 1, `r${i}b`));
        ep = await d.run();
      }
    }
    expect(windows).toEqual([['t1', 't2'], ['t3', 't4'], ['t5']]);
    expect(children(d)).toHaveLength(5);
    expect(new Set(children(d).map((c) => c.instanceId)).size).toBe(5);
    expect(ep.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    expect((ep.scheduled[0]?.input as CascadeResult).totals).toMatchObject({ succeeded: 5, scheduled: 5 });
  });

  it('reports a failed task orchestration as failed and goes on', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d, planOf([['app1', 'app2']]), ready('app1', 'app2'));
    const [a, b] = ep.scheduled as [Scheduled, Scheduled];
    d.fail(a.id, 'boom');
    await d.run();
    d.complete(b.id, succeeded('app2', 1, 'ca2'));
    const rec = await d.run();
    const result = only(rec.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.tasks.find((t) => t.taskName === 'app1')).toMatchObject({
      outcome: 'failed',
      reasons: [{ code: 'TaskOrchestrationFailed' }],
    });
  });
});

describe('rebuildCascade cancel', () => {
  it('cancels the runs in flight, schedules nothing more and ends Canceled', async () => {
    const names = ['t1', 't2', 't3'];
    const d = driver(cascadeInput({ maxParallelRuns: 2 }));
    await toFirstWindow(d, planOf([names, ['app']]), ready(...names));
    d.advance(5).raise('cancel', { requestedAt: 'now' });
    const ep = await d.run();
    const cancel = only(ep.scheduled, 'cancelRun');
    const input = cancel.input as CancelRunInput;
    expect(input.cascadeId).toBe(CASCADE_ID);
    expect(input.cascadeStartedAt).toBe('2024-01-01T00:00:00.000Z');
    expect(input.tasks?.map((t) => t.task)).toEqual([taskId('t1'), taskId('t2')]);
    expect(input.tasks?.[0]).toMatchObject({ attempts: 2, base: { digest: digest('a') } });
    expect((d.customStatus as CascadeProgress).canceling).toBe(true);
    d.complete(cancel.id, { canceled: ['r1', 'r2'], finished: [] });
    const after = await d.run();
    expect(after.scheduled).toEqual([]);
    const canceledResult = (name: string): TaskResult => ({
      ...succeeded(name, 1, `r-${name}`),
      outcome: 'canceled',
      reasons: [{ code: 'RunCanceled', severity: 'info', message: 'canceled' }],
    });
    for (const c of d.pending('rebuildTask')) {
      d.complete(c.id, canceledResult((c.input as RebuildTaskInput).planned.taskName));
      await d.run();
    }
    const last = d.last!;
    const result = only(last.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.status).toBe('Canceled');
    expect(children(d)).toHaveLength(2);
    expect(result.tasks.map((t) => [t.taskName, t.outcome])).toEqual([
      ['t1', 'canceled'],
      ['t2', 'canceled'],
      ['t3', 'canceled'],
      ['app', 'canceled'],
    ]);
    expect(d.all.filter((s) => s.name === 'preflightTasks')).toHaveLength(1);
  });
});

describe('rebuildCascade events while busy', () => {
  it('honours a cancel that arrives during preflight: the wave is reported canceled, nothing runs', async () => {
    const d = driver(cascadeInput({ settleSeconds: 0 }));
    d.complete(only((await d.run()).scheduled, 'take').id, null);
    const planned = await d.run();
    d.complete(only(planned.scheduled, 'buildPlan').id, planOf([['app1', 'app2']]));
    const pre = await d.run();
    d.raise('cancel', {});
    await d.run();
    d.complete(only(pre.scheduled, 'preflightTasks').id, ready('app1', 'app2'));
    const ep = await d.run();
    expect(ep.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    const result = ep.scheduled[0]?.input as CascadeResult;
    expect(result.status).toBe('Canceled');
    expect(result.tasks.map((t) => t.outcome)).toEqual(['canceled', 'canceled']);
    expect(children(d)).toHaveLength(0);
  });
});

describe('rebuildCascade report', () => {
  it('returns a CascadeResult with per-task runs and totals and shows progress as custom status', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d, planOf([['app1', 'app2']]), ready('app1', 'app2'));
    const status = d.customStatus as CascadeProgress;
    expect(status).toMatchObject({ phase: 'running', wave: 1, waves: 1, totals: { planned: 2, running: 2 } });
    const [a, b] = ep.scheduled as [Scheduled, Scheduled];
    d.complete(a.id, succeeded('app1', 1, 'ca1'));
    await d.run();
    d.complete(b.id, failed('app2', 1, 'ca2'));
    const done = await finish(d);
    const result = done.state.output as CascadeResult;
    expect(result).toMatchObject({
      cascadeId: CASCADE_ID,
      trigger: 'event',
      status: 'Completed',
      waves: 1,
      totals: { planned: 2, scheduled: 2, succeeded: 1, failed: 1, blocked: 0, skipped: 0, canceled: 0 },
      startedAt: '2024-01-01T00:00:00.000Z',
    });
    expect(result.tasks.map((t) => t.run?.runId)).toEqual(['ca1', 'ca2']);
    const notes = (d.all.find((s) => s.name === 'publishNotifications')?.input as PublishNotificationsInput)
      .notifications;
    expect(notes.map((n) => n.type)).toEqual(['cascade.runFailed', 'cascade.completed']);
    expect((d.customStatus as CascadeProgress).phase).toBe('done');
  });

  it('ends Failed with a PlanFailed note when the plan activity keeps failing', async () => {
    const d = driver(cascadeInput({ settleSeconds: 0 }));
    d.complete(only((await d.run()).scheduled, 'take').id, null);
    await d.run();
    const ep = await failPastRetries(d, 'buildPlan');
    expect(d.all.filter((s) => s.name === 'buildPlan')).toHaveLength(TRANSIENT_RETRY.attempts);
    const result = only(ep.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.status).toBe('Failed');
    expect(result.notes?.map((n) => n.code)).toEqual(['PlanFailed']);
    const done = await finish(d);
    expect(done.state.isDone).toBe(true);
  });
});

// Every failure path ends the cascade with a result (never a thrown orchestration), so its intake reports the end to
// the tag's entity, which runs the queued newer push next (test/replay/cascadeIntake.test.ts shows that part).
describe('rebuildCascade failure paths: the cascade still ends, so the queued push gets its cascade', () => {
  const ends = (done: Awaited<ReturnType<ReplayDriver['run']>>) => {
    expect(done.state.isDone).toBe(true);
    expect(done.continuedAsNew).toBeUndefined();
    return done.state.output as CascadeResult;
  };

  it('recording fails past its retries: notifications still go out and the cascade ends Completed', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d);
    const rec = await d.complete(only(ep.scheduled, 'rebuildTask').id, succeeded('app1', 1, 'ca1')).run();
    expect(rec.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    const last = await failPastRetries(d, 'recordCascade');
    expect(last.scheduled.map((s) => s.name)).toEqual(['publishNotifications']);
    expect(ends(await finish(d)).status).toBe('Completed');
    expect(d.all.filter((s) => s.name === 'recordCascade')).toHaveLength(TRANSIENT_RETRY.attempts);
  });

  it('notifications fail past their retries: the cascade still ends Completed', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d);
    d.complete(only(ep.scheduled, 'rebuildTask').id, succeeded('app1', 1, 'ca1'));
    const rec = await d.run();
    d.complete(only(rec.scheduled, 'recordCascade').id, { table: 'CascadeHistory' });
    await d.run();
    const last = await failPastRetries(d, 'publishNotifications');
    expect(ends(last).status).toBe('Completed');
    expect(d.all.filter((s) => s.name === 'publishNotifications')).toHaveLength(TRANSIENT_RETRY.attempts);
  });

  it('preflight fails past its retries: the wave is reported failed (not run) and the cascade ends', async () => {
    const d = driver(cascadeInput({ settleSeconds: 0 }));
    d.complete(only((await d.run()).scheduled, 'take').id, null);
    const planned = await d.run();
    d.complete(only(planned.scheduled, 'buildPlan').id, planOf([['app1'], ['app2']]));
    await d.run();
    const last = await failPastRetries(d, 'preflightTasks');
    expect(last.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
    const result = only(last.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.tasks.map((t) => [t.taskName, t.outcome, t.reasons.map((r) => r.code)])).toEqual([
      ['app1', 'failed', ['PreflightFailed']],
      ['app2', 'blocked', ['UpstreamFailed']],
    ]);
    expect(children(d)).toEqual([]);
    expect(ends(await finish(d)).tasks).toHaveLength(2);
  });

  it('a child orchestration fails: reported TaskOrchestrationFailed, and the cascade ends', async () => {
    const d = driver(cascadeInput());
    const ep = await toFirstWindow(d);
    const rec = await d.fail(only(ep.scheduled, 'rebuildTask').id, 'Error: boom').run();
    const result = only(rec.scheduled, 'recordCascade').input as CascadeResult;
    expect(result.tasks[0]).toMatchObject({ outcome: 'failed', reasons: [{ code: 'TaskOrchestrationFailed' }] });
    expect(ends(await finish(d)).status).toBe('Completed');
  });

  it('a deterministic preflight failure (TypeError) is not retried', async () => {
    const d = driver(cascadeInput({ settleSeconds: 0 }));
    d.complete(only((await d.run()).scheduled, 'take').id, null);
    const planned = await d.run();
    d.complete(only(planned.scheduled, 'buildPlan').id, planOf([['app1']]));
    const pre = await d.run();
    const rec = await d.fail(only(pre.scheduled, 'preflightTasks').id, 'TypeError: taskIds must be an array').run();
    expect(d.all.filter((s) => s.name === 'preflightTasks')).toHaveLength(1);
    expect(rec.scheduled.map((s) => s.name)).toEqual(['recordCascade']);
  });
});
