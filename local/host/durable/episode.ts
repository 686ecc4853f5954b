// Pure replay bookkeeping: which messages an episode delivers, and what the orchestrator's answer means for history.
// The host's task-id counter must stay in step with the library's: every new action that takes a task id gets the
// next number, and a failed retry attempt (then its timer) takes one when the library processes it — so an event that
// makes the library allocate ids is delivered alone, before any new actions are numbered.
import { randomUUID } from 'node:crypto';
import { NonDeterminismError } from './errors.js';
import type { EntityRequest } from './messages.js';
import {
  ACTION_TYPE_NAMES,
  ActionType,
  EventType,
  type HistoryEvent,
  type OrchestratorState,
  type RetryOptionsWire,
  type WireAction,
  decodeProcessedInput,
  flattenActions,
  isTerminal,
  toJsonText,
} from './protocol.js';
import {
  type ActionRecord,
  type EpisodeRecord,
  type InstanceState,
  type Message,
  type RetryState,
  completedTaskId,
  isControlEvent,
} from './state.js';

/** Upper bound of messages delivered in one episode (keeps one invocation's payload reasonable). */
export const MAX_EPISODE_MESSAGES = 500;

export type Batch = { kind: 'control'; msg: Message } | { kind: 'orchestrator'; msgs: Message[] };

/** Does delivering this message make the library allocate task ids (retry timer / next attempt)? */
export function allocatesTaskIds(state: InstanceState, m: Message): boolean {
  const id = completedTaskId(m.ev);
  if (id === undefined || state.retries[String(id)] === undefined) return false;
  return (
    m.ev.EventType === EventType.TaskFailed ||
    m.ev.EventType === EventType.SubOrchestrationInstanceFailed ||
    m.ev.EventType === EventType.TimerFired
  );
}

/** The next unit of work for an instance, or undefined when it has nothing to do. */
export function pickBatch(state: InstanceState): Batch | undefined {
  if (isTerminal(state.status)) return undefined;
  if (state.status === 'Suspended') {
    const msg = state.inbox.find((m) => isControlEvent(m.ev));
    return msg ? { kind: 'control', msg } : undefined;
  }
  const head = state.inbox[0];
  if (!head) return undefined;
  if (isControlEvent(head.ev)) return { kind: 'control', msg: head };
  const msgs: Message[] = [];
  for (const m of state.inbox) {
    if (isControlEvent(m.ev)) break;
    if (allocatesTaskIds(state, m)) {
      if (msgs.length === 0) msgs.push(m);
      break;
    }
    msgs.push(m);
    if (msgs.length >= MAX_EPISODE_MESSAGES) break;
  }
  return { kind: 'orchestrator', msgs };
}

/** DurableTask's retry delay: first interval × coefficient^(attempt-1), capped by the max interval. */
export function retryDelayMs(options: RetryOptionsWire, attempt: number): number {
  const first = Math.max(0, options.firstRetryIntervalInMilliseconds);
  let delay = first * Math.pow(options.backoffCoefficient ?? 1, Math.max(0, attempt - 1));
  if (options.maxRetryIntervalInMilliseconds !== undefined && options.maxRetryIntervalInMilliseconds > 0) {
    delay = Math.min(delay, options.maxRetryIntervalInMilliseconds);
  }
  return Number.isFinite(delay) ? delay : 0;
}

/** Has a retried call run out of its retry timeout (so further attempts fail without running)? */
export function retryTimedOut(retry: RetryState, nowMs: number): boolean {
  const limit = retry.options.retryTimeoutInMilliseconds;
  return limit !== undefined && limit > 0 && nowMs - Date.parse(retry.firstAttemptAt) > limit;
}

export function describeWireAction(a: WireAction): ActionRecord {
  switch (a.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return { type: a.actionType, name: a.functionName ?? '' };
    case ActionType.WaitForExternalEvent:
      return { type: a.actionType, name: a.externalEventName ?? '' };
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return { type: a.actionType, name: `${a.instanceId ?? ''}:${a.operation ?? ''}` };
    default:
      return { type: a.actionType };
  }
}

export type EpisodeResult =
  | { orchestratorState: OrchestratorState; failure?: undefined }
  | { orchestratorState?: OrchestratorState | undefined; failure: string };

export interface EpisodePlan {
  /** To journal; for continue-as-new, the engine writes a fresh execution instead. */
  record: EpisodeRecord;
  /** Entity messages to send; for continue-as-new they go into the new execution's outbox. */
  continueAsNew?: { inputJson: string | undefined; send: EntityRequest[] };
  nonDeterminism?: NonDeterminismError;
}

function schedulingEvent(instanceId: string, retry: RetryState, taskId: number, timestamp: string): HistoryEvent {
  if (retry.kind === 'activity') {
    return {
      EventType: EventType.TaskScheduled,
      EventId: taskId,
      Name: retry.name,
      Input: retry.inputJson,
      Timestamp: timestamp,
    };
  }
  return {
    EventType: EventType.SubOrchestrationInstanceCreated,
    EventId: taskId,
    Name: retry.name,
    InstanceId: retry.instanceId || `${instanceId}:${taskId}`,
    Input: retry.inputJson,
    Timestamp: timestamp,
  };
}

function retryOptionsOf(a: WireAction): RetryOptionsWire {
  const o = a.retryOptions;
  const attempts = Math.max(1, Math.floor(Number(o?.maxNumberOfAttempts ?? 1)));
  return {
    ...o,
    firstRetryIntervalInMilliseconds: Number(o?.firstRetryIntervalInMilliseconds ?? 0),
    maxNumberOfAttempts: attempts,
  };
}

/**
 * Turns one episode's answer into a journal record: numbers the new actions, checks the replayed ones against what
 * history recorded, and decides the runtime status.
 */
export function planEpisode(s: InstanceState, msgs: Message[], startedMs: number, result: EpisodeResult): EpisodePlan {
  const started = new Date(startedMs).toISOString();
  const add: HistoryEvent[] = [];
  const acts: ActionRecord[] = [];
  const retrySet: Record<string, RetryState> = {};
  const retryDel: number[] = [];
  const cancel: number[] = [];
  const send: EntityRequest[] = [];
  let nextSeq = s.nextSeq;
  const os = result.orchestratorState;
  // The real extension only updates custom status when the orchestrator reports one.
  const cs =
    os?.customStatus !== undefined && os.customStatus !== null ? JSON.stringify(os.customStatus) : s.customStatusJson;
  const base = {
    t: 'ep' as const,
    take: msgs.map((m) => m.seq),
    started,
    up: started,
    ...(cs !== undefined ? { cs } : {}),
  };
  const finished = (status: 'Completed' | 'Failed', out: string): EpisodeRecord => ({
    ...base,
    add: [
      {
        EventType: EventType.ExecutionCompleted,
        EventId: -1,
        OrchestrationStatus: status,
        Result: out,
        Timestamp: started,
      },
    ],
    st: status,
    out,
  });

  // 1. The library numbered a retried call's follow-up (timer after a failure, next attempt after the timer).
  for (const m of msgs) {
    const id = completedTaskId(m.ev);
    const retry = id !== undefined ? s.retries[String(id)] : undefined;
    if (id === undefined || !retry) continue;
    retryDel.push(id);
    if (m.ev.EventType === EventType.TaskFailed || m.ev.EventType === EventType.SubOrchestrationInstanceFailed) {
      const timerId = nextSeq++;
      const fireAt = new Date(startedMs + retryDelayMs(retry.options, retry.attempt)).toISOString();
      add.push({ EventType: EventType.TimerCreated, EventId: timerId, FireAt: fireAt, Timestamp: started });
      retrySet[timerId] = retry;
    } else if (m.ev.EventType === EventType.TimerFired && retry.attempt < retry.options.maxNumberOfAttempts) {
      const taskId = nextSeq++;
      const next: RetryState = { ...retry, attempt: retry.attempt + 1 };
      add.push(schedulingEvent(s.instanceId, next, taskId, started));
      retrySet[taskId] = next;
    }
  }

  // 2. Replayed actions must be the ones history recorded, in the same order.
  const flat = os ? flattenActions(os.actions ?? []) : [];
  for (let i = 0; i < Math.min(flat.length, s.actions.length); i++) {
    const recorded = s.actions[i]!;
    const now = describeWireAction(flat[i]!);
    if (recorded.type !== now.type || recorded.name !== now.name) {
      const err = new NonDeterminismError(s.name, s.instanceId, i, recorded, now);
      return { record: finished('Failed', JSON.stringify(err.message)), nonDeterminism: err };
    }
    if (flat[i]!.isCanceled === true && recorded.taskId !== undefined && s.pending.has(recorded.taskId)) {
      cancel.push(recorded.taskId);
    }
  }
  if (result.failure !== undefined) {
    return {
      record: finished('Failed', JSON.stringify(`Orchestrator function '${s.name}' failed: ${result.failure}`)),
    };
  }
  if (flat.length < s.actions.length) {
    const err = new NonDeterminismError(s.name, s.instanceId, flat.length, s.actions[flat.length]!);
    return { record: finished('Failed', JSON.stringify(err.message)), nonDeterminism: err };
  }
  const done = os!;

  // 3. New actions get the next task ids, in the order the library numbered them.
  let continueAsNew: WireAction | undefined;
  for (const a of flat.slice(s.actions.length)) {
    const described = describeWireAction(a);
    switch (a.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const taskId = nextSeq++;
        const inputJson = toJsonText(decodeProcessedInput(a.input));
        add.push({
          EventType: EventType.TaskScheduled,
          EventId: taskId,
          Name: described.name,
          Input: inputJson,
          Timestamp: started,
        });
        acts.push({ ...described, taskId });
        if (a.actionType === ActionType.CallActivityWithRetry) {
          retrySet[taskId] = {
            kind: 'activity',
            name: described.name ?? '',
            ...(inputJson !== undefined ? { inputJson } : {}),
            options: retryOptionsOf(a),
            attempt: 1,
            firstAttemptAt: started,
          };
        }
        break;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const taskId = nextSeq++;
        const inputJson = toJsonText(a.input); // sub-orchestration inputs are not JSON-encoded twice
        const retry: RetryState = {
          kind: 'subOrchestration',
          name: described.name ?? '',
          ...(inputJson !== undefined ? { inputJson } : {}),
          ...(a.instanceId ? { instanceId: a.instanceId } : {}),
          options: retryOptionsOf(a),
          attempt: 1,
          firstAttemptAt: started,
        };
        add.push(schedulingEvent(s.instanceId, retry, taskId, started));
        acts.push({ ...described, taskId });
        if (a.actionType === ActionType.CallSubOrchestratorWithRetry) retrySet[taskId] = retry;
        break;
      }
      case ActionType.CreateTimer: {
        const taskId = nextSeq++;
        const fireAt = new Date(a.fireAt ?? startedMs).toISOString();
        add.push({ EventType: EventType.TimerCreated, EventId: taskId, FireAt: fireAt, Timestamp: started });
        acts.push({ ...described, taskId });
        if (a.isCanceled === true) cancel.push(taskId);
        break;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity: {
        // Both take a task id (a signal is a fire-and-forget action that still advances the library's counter).
        // EventSent records the request; for a call the library re-keys the task to the request id, which the
        // entity's response (EventRaised named after it) then completes.
        const taskId = nextSeq++;
        const request: EntityRequest = {
          kind: 'request',
          id: randomUUID(),
          target: a.instanceId ?? '',
          op: a.operation ?? '',
          signal: a.actionType === ActionType.SignalEntity,
          ...(a.input !== undefined ? { input: JSON.stringify(a.input) } : {}),
          parent: { instanceId: s.instanceId, executionId: s.executionId },
        };
        add.push({
          EventType: EventType.EventSent,
          EventId: taskId,
          InstanceId: request.target,
          Name: 'op',
          Input: JSON.stringify({
            op: request.op,
            signal: request.signal,
            ...(request.input !== undefined ? { input: request.input } : {}),
            id: request.id,
            parent: s.instanceId,
            parentExecution: s.executionId,
          }),
          Timestamp: started,
        });
        acts.push({ ...described, taskId });
        send.push(request);
        break;
      }
      case ActionType.WaitForExternalEvent:
        acts.push(described);
        break;
      case ActionType.ContinueAsNew:
        acts.push(described);
        continueAsNew = a;
        break;
      default: {
        const what = ACTION_TYPE_NAMES[a.actionType] ?? `action type ${a.actionType}`;
        return {
          record: finished(
            'Failed',
            JSON.stringify(`Orchestrator function '${s.name}' failed: ${what} is not supported by the local host`),
          ),
        };
      }
    }
  }

  if (done.isDone && continueAsNew) {
    return {
      record: { ...base, st: 'ContinuedAsNew' },
      continueAsNew: { inputJson: toJsonText(decodeProcessedInput(continueAsNew.input)), send },
    };
  }
  if (done.isDone) {
    // Signals sent on the way out are still delivered.
    const record = finished('Completed', toJsonText(done.output) ?? 'null');
    if (send.length > 0) {
      record.add = [...add.filter((e) => e.EventType === EventType.EventSent), ...(record.add ?? [])];
      record.send = send;
    }
    return { record };
  }
  return {
    record: {
      ...base,
      add,
      acts,
      nextSeq,
      ...(Object.keys(retrySet).length > 0 ? { retrySet } : {}),
      ...(retryDel.length > 0 ? { retryDel } : {}),
      ...(cancel.length > 0 ? { cancel } : {}),
      ...(send.length > 0 ? { send } : {}),
      st: 'Running',
    },
  };
}
