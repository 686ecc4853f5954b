// One way for every orchestrator to call an activity: typed by activity name, one failure policy.
//
// Policy: a transient failure (storage or ARM hiccup, timeout) is retried with exponential backoff on durable timers;
// a deterministic one (TypeError / RangeError: bad input or a bug, which fails again on every attempt) or one the
// worker flagged non-retriable is never retried. durable-functions' RetryOptions cannot tell them apart, so the retry
// loop lives here, in orchestrator code, with the documented public API only (callActivity, createTimer, the
// TaskFailedError it throws). Fan-out is bounded: windows of Task.all, each at most `limit` wide.
import { TaskFailedError, type OrchestrationContext, type Task } from 'durable-functions';
import type { ActivityContracts, ActivityName } from '../contracts/index.js';
import { replaySafeLogger, type LogDimensions } from '../telemetry/log.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  firstDelayMs: number;
  backoff: number;
  maxDelayMs: number;
}

/** Every activity call: storage and ARM outages shorter than ~2 minutes are ridden out. */
export const TRANSIENT_RETRY: RetryPolicy = { attempts: 5, firstDelayMs: 5_000, backoff: 2, maxDelayMs: 60_000 };

/** Writes whose lost answer cannot be told from a failure (a retry could repeat the change). */
export const ONE_ATTEMPT: RetryPolicy = { attempts: 1, firstDelayMs: 1, backoff: 1, maxDelayMs: 1 };

/** Fan-out windows: at most this many activities in flight per orchestrator step. */
export const MAX_FAN_OUT = 10;

const DETERMINISTIC = ['TypeError', 'RangeError'] as const;

/**
 * A failure that would fail again on retry. With FailureDetails (the extension's structured error) the error type
 * decides; otherwise the library's Error carries the reason and the stack, whose first line names the error type.
 */
export function isDeterministicFailure(err: unknown): boolean {
  if (err instanceof TaskFailedError) {
    const d = err.failureDetails;
    return d.isNonRetriable || DETERMINISTIC.some((t) => d.isCausedBy(t));
  }
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const text = err instanceof Error ? err.message : String(err);
  return /(^|\n|:)\s*(TypeError|RangeError)\b/.test(text);
}

/** Milliseconds before attempt `attempt + 1` (attempt counts from 1), or undefined when the policy is spent. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number | undefined {
  if (attempt >= policy.attempts) return undefined;
  const delay = policy.firstDelayMs * Math.pow(policy.backoff, attempt - 1);
  return Math.min(delay, policy.maxDelayMs);
}

/** A failure as one line for logs and reports (first line, bounded). */
export function failureMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').trim().slice(0, 500);
}

/** How a caller waits for a task (rebuildCascade keeps its event inboxes open while it waits). */
export type Waiter = (task: Task) => Generator<Task, unknown, unknown>;

const plainWait: Waiter = function* (task) {
  return yield task;
};

export interface CallOptions {
  policy?: RetryPolicy;
  wait?: Waiter;
  /**
   * Correlation ids the activity's log lines carry (and the retry lines here): sent as the input's `log` field,
   * which the activity hook reads (src/telemetry/dimensions.ts). Only for inputs whose contract names none.
   */
  dims?: LogDimensions;
}

/** The input as sent: with `log` attached when the caller names ids (and the input is an object). */
export function withLogDimensions<T>(input: T, dims: LogDimensions | undefined): T {
  if (!dims || Object.keys(dims).length === 0) return input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  return { ...input, log: dims };
}

/** Calls activity `name` under the failure policy; throws the last failure when it is deterministic or retries end. */
export function* callActivity<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  input: ActivityContracts[N]['input'],
  options: CallOptions = {},
): Generator<Task, ActivityContracts[N]['output'], unknown> {
  const policy = options.policy ?? TRANSIENT_RETRY;
  const wait = options.wait ?? plainWait;
  const sent = withLogDimensions(input, options.dims);
  for (let attempt = 1; ; attempt++) {
    try {
      return (yield* wait(context.df.callActivity(name, sent))) as ActivityContracts[N]['output'];
    } catch (err) {
      const delay = isDeterministicFailure(err) ? undefined : retryDelayMs(policy, attempt);
      if (delay === undefined) throw err;
      replaySafeLogger(context, options.dims).warn(
        'activity.retry',
        `${name} failed (attempt ${attempt}/${policy.attempts}), retrying in ${delay} ms: ${failureMessage(err)}`,
        { activity: name, attempt, delayMs: delay, instanceId: context.df.instanceId },
      );
      yield* wait(context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay)));
    }
  }
}

/** Like callActivity, but a failure is logged and answered with undefined (notifications are best effort). */
export function* tryCallActivity<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  input: ActivityContracts[N]['input'],
  options: CallOptions = {},
): Generator<Task, ActivityContracts[N]['output'] | undefined, unknown> {
  try {
    return yield* callActivity(context, name, input, options);
  } catch (err) {
    replaySafeLogger(context, options.dims).warn(
      'activity.skipped',
      `${name} failed, carrying on without it: ${failureMessage(err)}`,
      { activity: name, instanceId: context.df.instanceId },
    );
    return undefined;
  }
}

/**
 * Calls activity `name` once per input, at most `limit` at a time (windows of Task.all). A window that fails
 * transiently is retried whole under the policy, so use it only for idempotent activities (reads, or writes keyed
 * by their input).
 */
export function* callActivities<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  inputs: readonly ActivityContracts[N]['input'][],
  limit = MAX_FAN_OUT,
  policy: RetryPolicy = TRANSIENT_RETRY,
  dims?: LogDimensions,
): Generator<Task, ActivityContracts[N]['output'][], unknown> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`callActivities: limit must be >= 1 (got ${limit})`);
  const out: ActivityContracts[N]['output'][] = [];
  for (let i = 0; i < inputs.length; i += limit) {
    const window = inputs.slice(i, i + limit);
    for (let attempt = 1; ; attempt++) {
      try {
        const tasks = window.map((input) => context.df.callActivity(name, withLogDimensions(input, dims)));
        out.push(...((yield context.df.Task.all(tasks)) as ActivityContracts[N]['output'][]));
        break;
      } catch (err) {
        const delay = isDeterministicFailure(err) ? undefined : retryDelayMs(policy, attempt);
        if (delay === undefined) throw err;
        replaySafeLogger(context, dims).warn(
          'activity.retry',
          `${name} window failed (attempt ${attempt}/${policy.attempts}), retrying: ${failureMessage(err)}`,
          { activity: name, attempt, instanceId: context.df.instanceId },
        );
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delay));
      }
    }
  }
  return out;
}
