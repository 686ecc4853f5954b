// Replay bookkeeping with hand-made histories: what the host records for an orchestrator's answer.
import { describe, expect, it } from 'vitest';
import { pickBatch, planEpisode, retryDelayMs } from '../../local/host/durable/episode.js';
import { NonDeterminismError } from '../../local/host/durable/errors.js';
import {
  ActionType as A,
  EventType as E,
  type HistoryEvent,
  type WireAction,
} from '../../local/host/durable/protocol.js';
import { InstanceState } from '../../local/host/durable/state.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
let instanceCounter = 0;

function newInstance(name = 'orch'): InstanceState {
  const id = `instance-${++instanceCounter}`;
  const s = new InstanceState();
  const started: HistoryEvent = {
    EventType: E.ExecutionStarted,
    EventId: -1,
    Timestamp: new Date(T0).toISOString(),
    Name: name,
    OrchestrationInstance: { InstanceId: id, ExecutionId: 'exec-1' },
  };
  s.apply({
    t: 'init',
    s: {
      instanceId: id,
      name,
      executionId: 'exec-1',
      status: 'Pending',
      createdTime: new Date(T0).toISOString(),
      lastUpdatedTime: new Date(T0).toISOString(),
      history: [],
      inbox: [{ seq: 0, ev: started }],
      msgSeq: 1,
      nextSeq: 0,
      actions: [],
      retries: {},
      canceledTimers: [],
    },
  });
  return s;
}

function deliver(s: InstanceState, ev: Partial<HistoryEvent> & { EventType: number }): void {
  s.apply({
    t: 'msg',
    m: { seq: s.msgSeq, ev: { EventId: -1, Timestamp: new Date(T0).toISOString(), ...ev }, exec: s.executionId },
  });
}

/** Runs one episode: the next batch, answered with these actions. */
function episode(
  s: InstanceState,
  actions: WireAction[],
  at = T0,
  extra: { isDone?: boolean; output?: unknown; customStatus?: unknown } = {},
) {
  const batch = pickBatch(s);
  if (batch?.kind !== 'orchestrator') throw new Error(`expected an orchestrator batch, got ${JSON.stringify(batch)}`);
  const plan = planEpisode(s, batch.msgs, at, { orchestratorState: { isDone: false, actions: [actions], ...extra } });
  if (!plan.continueAsNew) s.apply(plan.record);
  return { plan, delivered: batch.msgs.map((m) => m.ev.EventType) };
}

const activity = (name: string, input?: unknown): WireAction => ({
  actionType: A.CallActivity,
  functionName: name,
  input,
});
const retrying = (name: string, attempts: number): WireAction => ({
  actionType: A.CallActivityWithRetry,
  functionName: name,
  retryOptions: { firstRetryIntervalInMilliseconds: 100, maxNumberOfAttempts: attempts, backoffCoefficient: 2 },
});
const scheduled = (s: InstanceState) =>
  s.history
    .filter((e) => [E.TaskScheduled, E.TimerCreated, E.SubOrchestrationInstanceCreated].includes(e.EventType as 4))
    .map((e) => ({ type: e.EventType, id: e.EventId, name: e.Name }));

describe('episode planning', () => {
  it('numbers new actions in the order the library does; waitForExternalEvent takes no task id', () => {
    const s = newInstance();
    const timer: WireAction = { actionType: A.CreateTimer, fireAt: new Date(T0 + 1000).toISOString() };
    episode(s, [
      { actionType: A.WhenAll, compoundActions: [activity('a', '"x"'), timer] },
      { actionType: A.WaitForExternalEvent, externalEventName: 'Go' },
      activity('b', { n: 1 }),
    ]);
    expect(scheduled(s)).toEqual([
      { type: E.TaskScheduled, id: 0, name: 'a' },
      { type: E.TimerCreated, id: 1, name: undefined },
      { type: E.TaskScheduled, id: 2, name: 'b' },
    ]);
    expect(s.nextSeq).toBe(3);
    // String inputs arrive JSON-encoded once more; history stores the value's JSON.
    expect(s.history.find((e) => e.Name === 'a')?.Input).toBe('"x"');
    expect([...s.pending.keys()]).toEqual([0, 1, 2]);
    expect(s.status).toBe('Running');
  });

  it('gives a failed retry attempt its timer id, then the next attempt the id after, before any new action', () => {
    const s = newInstance();
    const actions = [retrying('flaky', 2)];
    episode(s, actions);
    deliver(s, { EventType: E.TaskFailed, TaskScheduledId: 0, Reason: 'boom', Details: '' });
    deliver(s, { EventType: E.EventRaised, Name: 'later' });

    const first = episode(s, actions, T0 + 10);
    expect(first.delivered).toEqual([E.TaskFailed]); // delivered alone: the library allocates an id for it
    const timer = s.history.find((e) => e.EventType === E.TimerCreated)!;
    expect(timer.EventId).toBe(1);
    expect(timer.FireAt).toBe(new Date(T0 + 10 + 100).toISOString());

    episode(s, actions, T0 + 20); // the raised event
    deliver(s, { EventType: E.TimerFired, TimerId: 1, FireAt: timer.FireAt });
    episode(s, actions, T0 + 200);
    expect(scheduled(s).at(-1)).toEqual({ type: E.TaskScheduled, id: 2, name: 'flaky' });

    deliver(s, { EventType: E.TaskFailed, TaskScheduledId: 2, Reason: 'boom again', Details: '' });
    episode(s, actions, T0 + 300);
    const secondTimer = s.history.filter((e) => e.EventType === E.TimerCreated).at(-1)!;
    expect(secondTimer.EventId).toBe(3);
    expect(Date.parse(secondTimer.FireAt!) - (T0 + 300)).toBe(retryDelayMs(retrying('flaky', 2).retryOptions!, 2));

    deliver(s, { EventType: E.TimerFired, TimerId: 3, FireAt: secondTimer.FireAt });
    episode(s, actions, T0 + 600);
    // Last attempt used up: no third attempt is scheduled; the library fails the task itself.
    expect(scheduled(s).filter((e) => e.type === E.TaskScheduled)).toHaveLength(2);
    expect(s.nextSeq).toBe(4);
    expect(s.retries).toEqual({});
  });

  it('fails a replay that schedules a different activity, naming the task id and both actions', () => {
    const s = newInstance('approve');
    episode(s, [activity('hello')]);
    deliver(s, { EventType: E.TaskCompleted, TaskScheduledId: 0, Result: '"hi"' });
    const { plan } = episode(s, [activity('double')]);
    expect(plan.nonDeterminism).toBeInstanceOf(NonDeterminismError);
    expect(plan.nonDeterminism).toMatchObject({
      taskId: 0,
      expected: { type: A.CallActivity, name: 'hello' },
      actual: { type: A.CallActivity, name: 'double' },
    });
    expect(plan.nonDeterminism?.message).toContain(
      "task 0 was scheduled in history as CallActivity 'hello', but the orchestrator now schedules CallActivity 'double'",
    );
    expect(s.status).toBe('Failed');
    expect(JSON.parse(s.outputJson!)).toBe(plan.nonDeterminism?.message);
  });

  it('fails a replay that no longer schedules an action history recorded', () => {
    const s = newInstance();
    episode(s, [activity('a'), { actionType: A.CreateTimer, fireAt: new Date(T0 + 5).toISOString() }]);
    deliver(s, { EventType: E.TaskCompleted, TaskScheduledId: 0, Result: 'null' });
    const { plan } = episode(s, [activity('a')], T0, { isDone: true, output: 1 });
    expect(plan.nonDeterminism?.message).toContain(
      'task 1 was scheduled in history as CreateTimer, but the orchestrator no longer schedules it',
    );
  });

  it('drops a timer the orchestrator cancelled', () => {
    const s = newInstance();
    const timer: WireAction = { actionType: A.CreateTimer, fireAt: new Date(T0 + 60_000).toISOString() };
    const wait: WireAction = { actionType: A.WaitForExternalEvent, externalEventName: 'Approve' };
    episode(s, [{ actionType: A.WhenAny, compoundActions: [wait, timer] }]);
    expect(s.pending.has(0)).toBe(true);
    deliver(s, { EventType: E.EventRaised, Name: 'Approve', Input: 'true' });
    episode(s, [{ actionType: A.WhenAny, compoundActions: [wait, { ...timer, isCanceled: true }] }]);
    expect(s.pending.has(0)).toBe(false);
    expect(s.canceledTimers).toEqual([0]);
  });

  it('keeps the last reported custom status when the orchestrator reports none', () => {
    const s = newInstance();
    episode(s, [activity('a')], T0, { customStatus: { stage: 1 } });
    deliver(s, { EventType: E.TaskCompleted, TaskScheduledId: 0, Result: 'null' });
    episode(s, [activity('a'), activity('b')]);
    expect(JSON.parse(s.customStatusJson!)).toEqual({ stage: 1 });
  });

  it('asks for a new execution on continue-as-new, with the input decoded once', () => {
    const s = newInstance();
    const { plan } = episode(s, [{ actionType: A.ContinueAsNew, input: '"next"' }], T0, { isDone: true });
    expect(plan.continueAsNew).toEqual({ inputJson: '"next"', send: [] });
  });

  it('numbers entity calls and signals like other tasks, records EventSent and tracks the open call', () => {
    const s = newInstance();
    const { plan } = episode(s, [
      { actionType: A.SignalEntity, instanceId: '@counter@k', operation: 'add', input: 3 },
      { actionType: A.CallEntity, instanceId: '@counter@k', operation: 'get' },
      activity('a'),
    ]);
    const sent = plan.record.add!.filter((e) => e.EventType === E.EventSent);
    expect(sent.map((e) => [e.EventId, e.InstanceId])).toEqual([
      [0, '@counter@k'],
      [1, '@counter@k'],
    ]);
    expect(plan.record.add!.find((e) => e.EventType === E.TaskScheduled)?.EventId).toBe(2);
    expect(plan.record.send).toEqual([
      expect.objectContaining({ kind: 'request', target: '@counter@k', op: 'add', signal: true, input: '3' }),
      expect.objectContaining({
        kind: 'request',
        op: 'get',
        signal: false,
        parent: { instanceId: s.instanceId, executionId: 'exec-1' },
      }),
    ]);
    const callId = plan.record.send![1]!.id;
    expect(JSON.parse(sent[1]!.Input!)).toMatchObject({ id: callId, op: 'get', signal: false });
    expect([...s.openCalls]).toEqual([callId]);
    expect(s.outbox).toHaveLength(2);
    s.apply({ t: 'sent', ids: plan.record.send!.map((m) => m.id) });
    expect(s.outbox).toEqual([]);
    deliver(s, { EventType: E.EventRaised, Name: callId, Input: JSON.stringify({ result: '5' }) });
    expect(s.openCalls.size).toBe(0);
  });

  it('fails replay when the orchestrator calls a different entity operation than history recorded', () => {
    const s = newInstance();
    episode(s, [{ actionType: A.CallEntity, instanceId: '@counter@k', operation: 'get' }]);
    deliver(s, { EventType: E.TimerFired, TimerId: 99 });
    const { plan } = episode(s, [{ actionType: A.CallEntity, instanceId: '@counter@k', operation: 'add' }]);
    expect(plan.nonDeterminism).toBeInstanceOf(NonDeterminismError);
  });

  it('records an orchestrator failure with its message and an ExecutionCompleted event', () => {
    const s = newInstance('exploding');
    const batch = pickBatch(s);
    if (batch?.kind !== 'orchestrator') throw new Error('no batch');
    const plan = planEpisode(s, batch.msgs, T0, { failure: 'child exploded' });
    s.apply(plan.record);
    expect(s.status).toBe('Failed');
    expect(JSON.parse(s.outputJson!)).toBe("Orchestrator function 'exploding' failed: child exploded");
    expect(s.history.at(-1)).toMatchObject({ EventType: E.ExecutionCompleted, OrchestrationStatus: 'Failed' });
  });

  it('processes terminate and suspend messages before anything else, and only control messages while suspended', () => {
    const s = newInstance();
    episode(s, [{ actionType: A.WaitForExternalEvent, externalEventName: 'Go' }]);
    deliver(s, { EventType: E.ExecutionSuspended, Reason: 'pause' });
    deliver(s, { EventType: E.EventRaised, Name: 'Go', Input: '1' });
    expect(pickBatch(s)).toMatchObject({ kind: 'control', msg: { ev: { EventType: E.ExecutionSuspended } } });
    s.apply({ t: 'ep', take: [s.inbox[0]!.seq], st: 'Suspended', up: new Date(T0).toISOString() });
    expect(pickBatch(s)).toBeUndefined();
    deliver(s, { EventType: E.ExecutionResumed, Reason: 'go on' });
    expect(pickBatch(s)).toMatchObject({ kind: 'control', msg: { ev: { EventType: E.ExecutionResumed } } });
  });
});
