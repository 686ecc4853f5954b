// The pure steps rebuildCascade sequences (src/orchestrations/cascadeSteps.ts): plain data in, plain data out.
import { describe, expect, it } from 'vitest';
import * as steps from '../../src/orchestrations/cascadeSteps.js';
import type { CascadeResult, TaskResult } from '../../src/contracts/index.js';
import {
  BASE_REF,
  blockedVerdict,
  cascadeInput,
  digest,
  failed,
  planOf,
  push,
  ready,
  succeeded,
  taskId,
} from '../support/histories.js';

const byTask = (...list: TaskResult[]) => new Map(list.map((r) => [r.task.toLowerCase(), r]));

describe('triageWave', () => {
  it('blocks a task whose every producer failed as UpstreamFailed, naming the producers', () => {
    const plan = planOf([['base1'], ['app1']]);
    const out = steps.triageWave(plan, 1, byTask(failed('base1', 1, 'r1')), false);
    expect(out.candidates).toEqual([]);
    expect(out.settled).toMatchObject([
      { taskName: 'app1', outcome: 'blocked', reasons: [{ code: 'UpstreamFailed' }] },
    ]);
    expect(out.settled[0]?.reasons[0]?.message).toContain('base1');
  });

  it('runs a task while one producer succeeded, or when the push triggers it directly (domain isStillTriggered)', () => {
    const plan = planOf([['base1', 'base2'], ['app1']]);
    const one = steps.triageWave(plan, 1, byTask(failed('base1', 1, 'r1'), succeeded('base2', 1, 'r2')), false);
    expect(one.candidates.map((t) => t.taskName)).toEqual(['app1']);
    const app1 = plan.tasks[taskId('app1')]!;
    app1.triggers = [...(app1.triggers ?? []), { why: 'declared', image: BASE_REF }];
    const direct = steps.triageWave(plan, 1, byTask(failed('base1', 1, 'r1'), failed('base2', 1, 'r2')), false);
    expect(direct.candidates.map((t) => t.taskName)).toEqual(['app1']);
  });

  it('falls back to the producers when a plan carries no triggers (a plan from an older history)', () => {
    const plan = planOf([['base1'], ['app1']]);
    delete plan.tasks[taskId('app1')]!.triggers;
    const out = steps.triageWave(plan, 1, byTask(failed('base1', 1, 'r1')), false);
    expect(out.settled.map((r) => r.outcome)).toEqual(['blocked']);
  });

  it('reports every task of the wave canceled once the cascade is canceled', () => {
    const out = steps.triageWave(planOf([['a', 'b']]), 0, new Map(), true);
    expect(out.candidates).toEqual([]);
    expect(out.settled.map((r) => [r.taskName, r.outcome, r.reasons[0]?.code])).toEqual([
      ['a', 'canceled', 'CascadeCanceled'],
      ['b', 'canceled', 'CascadeCanceled'],
    ]);
  });
});

describe('applyVerdicts', () => {
  it('runs ready tasks, reports blocked ones, and runs a blocked one auto-remediation can fix when it is on', () => {
    const plan = planOf([['a', 'b']]);
    const candidates = Object.values(plan.tasks);
    const verdicts = { ...ready('a'), ...blockedVerdict('b', true) };
    const off = steps.applyVerdicts(candidates, verdicts, false);
    expect(off.ready.map(({ t }) => t.taskName)).toEqual(['a']);
    expect(off.blocked).toMatchObject([{ taskName: 'b', decision: 'blocked', outcome: 'blocked' }]);
    const on = steps.applyVerdicts(candidates, verdicts, true);
    expect(on.ready.map(({ t }) => t.taskName)).toEqual(['a', 'b']);
    expect(on.blocked).toEqual([]);
  });
});

describe('cascadeResult and cascadeNotifications', () => {
  const ending = (over: Partial<steps.CascadeEnding> = {}): steps.CascadeEnding => ({
    input: cascadeInput(),
    cascadeId: 'c1',
    generation: 2,
    image: push(digest('a'), 'e1', '2024-01-01T00:00:00Z'),
    plan: planOf([['a', 'b']]),
    planError: undefined,
    canceled: false,
    results: [failed('b', 1, 'r2'), succeeded('a', 1, 'r1')],
    startedAt: '2024-01-01T00:00:00.000Z',
    finishedAt: '2024-01-01T00:10:00.000Z',
    ...over,
  });

  it('sorts tasks, counts totals and ends Completed; a plan error ends Failed with a PlanFailed note', () => {
    const r = steps.cascadeResult(ending());
    expect(r.tasks.map((t) => t.taskName)).toEqual(['a', 'b']);
    expect(r).toMatchObject({ status: 'Completed', generation: 2, waves: 1 });
    expect(r.totals).toEqual({
      planned: 2,
      scheduled: 2,
      succeeded: 1,
      failed: 1,
      blocked: 0,
      skipped: 0,
      canceled: 0,
    });
    const f = steps.cascadeResult(ending({ plan: undefined, planError: 'index unavailable', results: [] }));
    expect(f).toMatchObject({ status: 'Failed', error: 'index unavailable', notes: [{ code: 'PlanFailed' }] });
  });

  it('notifies runFailed per failed task (with its run) and completed last', () => {
    const r: CascadeResult = steps.cascadeResult(ending());
    const notes = steps.cascadeNotifications(r, BASE_REF);
    expect(notes.map((n) => [n.type, n.subject])).toEqual([
      ['cascade.runFailed', taskId('b')],
      ['cascade.completed', BASE_REF],
    ]);
    expect(notes[0]?.data).toMatchObject({ cascadeId: 'c1', runId: 'r2', image: { digest: digest('a') } });
  });
});

describe('childInput and progressOf', () => {
  it('gives a child the base, the watch time (timeout + margin) and, for HTTP cascades, the request id', () => {
    const plan = planOf([['a']]);
    const t = plan.tasks[taskId('a')]!;
    const ids = { cascadeId: 'c1', startedAt: 's', base: { ref: BASE_REF, digest: digest('a') } };
    const v = ready('a')[taskId('a')]!;
    expect(steps.childInput(cascadeInput(), ids, t, v)).toMatchObject({
      base: ids.base,
      timeoutSeconds: steps.DEFAULT_TASK_TIMEOUT_SECONDS + steps.WATCH_MARGIN_SECONDS,
    });
    expect(steps.childInput(cascadeInput({ trigger: 'http' }), ids, t, v).requestId).toBe('c1');
    expect(steps.childInput(cascadeInput(), ids, t, v).requestId).toBeUndefined();
  });

  it('shows planned, running and per-outcome totals, the image, and canceling only when canceling', () => {
    const p = steps.progressOf({
      phase: 'running',
      cascadeId: 'c1',
      startedAt: 's',
      wave: 1,
      plan: planOf([['a', 'b']]),
      results: byTask(succeeded('a', 1, 'r1')),
      image: push(digest('a'), 'e1', 't'),
      running: 1,
      canceling: false,
    });
    expect(p).toEqual({
      phase: 'running',
      wave: 1,
      waves: 1,
      totals: { planned: 2, running: 1, scheduled: 1, succeeded: 1, failed: 0, blocked: 0, skipped: 0, canceled: 0 },
      cascadeId: 'c1',
      startedAt: 's',
      image: { ref: BASE_REF, digest: digest('a') },
    });
  });
});
