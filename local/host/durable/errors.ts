import { ACTION_TYPE_NAMES } from './protocol.js';
import type { ActionRecord } from './state.js';

export function describeAction(a: ActionRecord): string {
  const type = ACTION_TYPE_NAMES[a.type] ?? `action type ${a.type}`;
  return a.name !== undefined ? `${type} '${a.name}'` : type;
}

/**
 * The orchestrator's replay disagrees with its history: it schedules something other than what the history says was
 * scheduled at that position. Orchestrator code (or its inputs) changed, or it is not deterministic.
 */
export class NonDeterminismError extends Error {
  readonly instanceId: string;
  readonly taskId: number | undefined;
  readonly expected: ActionRecord;
  readonly actual: ActionRecord | undefined;

  constructor(
    orchestrator: string,
    instanceId: string,
    position: number,
    expected: ActionRecord,
    actual?: ActionRecord,
  ) {
    const where = expected.taskId !== undefined ? `task ${expected.taskId}` : `action #${position}`;
    const now = actual
      ? `the orchestrator now schedules ${describeAction(actual)}`
      : 'the orchestrator no longer schedules it';
    super(
      `NonDeterminismError: orchestrator '${orchestrator}' (instance '${instanceId}') is not deterministic: ` +
        `${where} was scheduled in history as ${describeAction(expected)}, but ${now}. ` +
        `Orchestrator code must replay the same actions in the same order.`,
    );
    this.name = 'NonDeterminismError';
    this.instanceId = instanceId;
    this.taskId = expected.taskId;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Client operation errors, mapped to HTTP status codes by the durable HTTP API. */
export class DurableApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'DurableApiError';
  }
}
