// Conversions between the worker's wire shapes and history: events the host writes for results and failures, the
// orchestrator state in a response, and history as the status API shows it.
import type { RpcTypedData } from '../functions-core.js';
import type { InvokeResult } from '../invoker.js';
import type { EpisodeResult } from './episode.js';
import {
  EVENT_TYPE_NAMES,
  EventType,
  type HistoryEvent,
  OUT_OF_PROC_DATA,
  type OrchestratorState,
  parseJsonText,
} from './protocol.js';

export const iso = (ms: number = Date.now()): string => new Date(ms).toISOString();
/** Status times as the extension formats them (`DateTime.ToString("s") + "Z"`). */
export const statusTime = (text: string): string => (text ? text.replace(/\.\d+Z$/, 'Z') : text);

export function resultJson(td: RpcTypedData | null | undefined): string {
  if (!td) return 'null';
  if (td.json !== undefined && td.json !== null) return td.json;
  if (td.string !== undefined && td.string !== null) return JSON.stringify(td.string);
  if (td.int !== undefined && td.int !== null) return JSON.stringify(Number(td.int));
  if (td.double !== undefined && td.double !== null) return JSON.stringify(td.double);
  if (td.bytes !== undefined && td.bytes !== null) return JSON.stringify(Buffer.from(td.bytes).toString('base64'));
  return 'null';
}

/** TaskFailed for an activity error; keeps FailureDetails the library serialised into the message, if any. */
export function activityFailed(taskId: number, name: string, err: Error): HistoryEvent {
  let details:
    | {
        errorType: string;
        errorMessage: string;
        stackTrace?: string;
        isNonRetriable?: boolean;
        properties?: Record<string, unknown>;
      }
    | undefined;
  try {
    const parsed = JSON.parse(err.message) as typeof details;
    if (typeof parsed?.errorType === 'string' && typeof parsed.errorMessage === 'string') details = parsed;
  } catch {
    // a plain message
  }
  const ev: HistoryEvent = {
    EventType: EventType.TaskFailed,
    EventId: -1,
    Timestamp: iso(),
    TaskScheduledId: taskId,
    Reason: `Activity function '${name}' failed: ${details?.errorMessage ?? err.message}`,
    Details: details?.stackTrace ?? err.stack ?? '',
  };
  if (details) {
    ev.FailureDetails = {
      ErrorType: details.errorType,
      ErrorMessage: details.errorMessage,
      ...(details.stackTrace !== undefined ? { StackTrace: details.stackTrace } : {}),
      IsNonRetriable: details.isNonRetriable === true,
      ...(details.properties !== undefined ? { Properties: details.properties } : {}),
    };
  }
  return ev;
}

export function taskFailed(taskId: number, reason: string): HistoryEvent {
  return {
    EventType: EventType.TaskFailed,
    EventId: -1,
    Timestamp: iso(),
    TaskScheduledId: taskId,
    Reason: reason,
    Details: '',
  };
}

export function subOrchestrationFailed(taskId: number, reason: string): HistoryEvent {
  return {
    EventType: EventType.SubOrchestrationInstanceFailed,
    EventId: -1,
    Timestamp: iso(),
    TaskScheduledId: taskId,
    Reason: reason,
    Details: '',
  };
}

export function parseOrchestratorResult(res: InvokeResult): EpisodeResult {
  if (res.error) {
    const [message = '', data] = res.error.message.split(OUT_OF_PROC_DATA);
    if (data !== undefined) {
      try {
        const state = JSON.parse(data) as OrchestratorState;
        return { orchestratorState: state, failure: state.error ?? message };
      } catch {
        // fall through: report the message
      }
    }
    return { failure: res.error.message };
  }
  const json = res.response?.returnValue?.json;
  if (typeof json !== 'string') return { failure: 'the orchestration handler returned no orchestrator state' };
  return { orchestratorState: JSON.parse(json) as OrchestratorState };
}

/** History as the extension's status API shows it: scheduling folded into completions, no episode markers. */
export function formatHistory(history: HistoryEvent[], showOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    if (e.EventType === EventType.OrchestratorStarted || e.EventType === EventType.OrchestratorCompleted) continue;
    if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated) {
      scheduled.set(e.EventId, e);
      continue;
    }
    const row: Record<string, unknown> = {
      EventType: EVENT_TYPE_NAMES[e.EventType] ?? String(e.EventType),
      Timestamp: e.Timestamp,
    };
    const origin = e.TaskScheduledId !== undefined ? scheduled.get(e.TaskScheduledId) : undefined;
    if (origin) {
      row.FunctionName = origin.Name;
      row.ScheduledTime = origin.Timestamp;
      if (origin.InstanceId !== undefined) row.InstanceId = origin.InstanceId;
    }
    switch (e.EventType) {
      case EventType.ExecutionStarted:
        row.FunctionName = e.Name;
        if (showOutput) row.Input = parseJsonText(e.Input);
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        if (showOutput) row.Result = parseJsonText(e.Result);
        break;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        row.Reason = e.Reason;
        row.Details = e.Details;
        break;
      case EventType.TimerCreated:
      case EventType.TimerFired:
        row.FireAt = e.FireAt;
        if (e.EventType === EventType.TimerCreated) row.EventId = e.EventId;
        break;
      case EventType.EventSent:
        row.Name = e.Name;
        row.InstanceId = e.InstanceId;
        if (showOutput) row.Input = parseJsonText(e.Input);
        break;
      case EventType.EventRaised:
        row.Name = e.Name;
        if (showOutput) row.Input = parseJsonText(e.Input);
        break;
      case EventType.ExecutionCompleted:
        row.OrchestrationStatus = e.OrchestrationStatus;
        if (showOutput) row.Result = parseJsonText(e.Result);
        break;
      case EventType.ExecutionTerminated:
        row.Input = parseJsonText(e.Input);
        break;
      case EventType.ExecutionSuspended:
      case EventType.ExecutionResumed:
        row.Reason = e.Reason;
        break;
    }
    out.push(row);
  }
  return out;
}
