// Structured logs: every line names what it is about (cascadeId, taskId, runId, eventId, checkId) so an on-call
// engineer can pull one cascade's story out of Application Insights with a single query.
//
// A record is written through the invocation context (never console.*), as one line:
//   <human text> {"event":"<name>","cascadeId":"…",…}
// The JSON tail is what queries read (`parse_json(extract(@' (\{"event":.*\})$', 1, message))`, see
// docs/operations.md); the text before it stays readable in a terminal. Values are ids only — callers must not pass
// secret values (the dimension names are a closed set for that reason), and each value is capped in length.
import type { InvocationContext } from '@azure/functions';

/** The correlation ids a record may carry; the only keys besides `event` and the typed extras below. */
export interface LogDimensions {
  cascadeId?: string;
  taskId?: string;
  runId?: string;
  eventId?: string;
  checkId?: string;
}

/** Small non-secret facts a record may add (counts, reasons, outcomes). */
export type LogExtras = Record<string, string | number | boolean | undefined>;

export type LogLevel = 'information' | 'warning' | 'error';

export interface LogRecord extends LogDimensions {
  event: string;
  [extra: string]: string | number | boolean | undefined;
}

export interface Logger {
  info(event: string, message: string, extras?: LogExtras): void;
  warn(event: string, message: string, extras?: LogExtras): void;
  error(event: string, message: string, extras?: LogExtras): void;
  /** A logger whose records also carry `more` (e.g. the runId once a run exists). */
  with(more: LogDimensions): Logger;
}

/** The part of the invocation context a logger writes to (an InvocationContext or an orchestration context). */
export type LogTarget = Pick<InvocationContext, 'info' | 'warn' | 'error'>;

const MAX_VALUE = 300;
/** The dimension names, in record order. */
export const DIMENSIONS: readonly (keyof LogDimensions)[] = ['cascadeId', 'taskId', 'runId', 'eventId', 'checkId'];
const TAIL = ' {"event":';

function cap(v: string | number | boolean): string | number | boolean {
  return typeof v === 'string' && v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v;
}

/** The dimensions `from` names (non-empty strings only; anything else is ignored, never an error). */
export function pickDimensions(from: Record<string, unknown>): LogDimensions {
  const dims: LogDimensions = {};
  for (const k of DIMENSIONS) {
    const v = from[k];
    if (typeof v === 'string' && v !== '') dims[k] = v;
  }
  return dims;
}

/** The JSON record of a line (exported for the formatter's tests and for readers of host logs). */
export function recordOf(event: string, dims: LogDimensions, extras: LogExtras = {}): LogRecord {
  const rec: LogRecord = { event };
  for (const k of DIMENSIONS) {
    const v = dims[k];
    if (typeof v === 'string' && v !== '') rec[k] = cap(v) as string;
  }
  for (const [k, v] of Object.entries(extras)) {
    if (v === undefined || k === 'event' || (DIMENSIONS as readonly string[]).includes(k)) continue;
    rec[k] = cap(v);
  }
  return rec;
}

/** One line: readable text, then the JSON record. */
export function formatLine(message: string, rec: LogRecord): string {
  return `${message} ${JSON.stringify(rec)}`; // JSON.stringify keeps `event` first: the line ends in TAIL…
}

/** The JSON record at the end of a log line, or undefined for a line this module did not write. */
export function parseLine(line: string): LogRecord | undefined {
  const at = line.lastIndexOf(TAIL);
  if (at < 0) return undefined;
  try {
    const rec = JSON.parse(line.slice(at + 1)) as unknown;
    return typeof rec === 'object' && rec !== null && typeof (rec as LogRecord).event === 'string'
      ? (rec as LogRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

function build(target: LogTarget, dims: LogDimensions, enabled: () => boolean): Logger {
  const write = (level: LogLevel, event: string, message: string, extras?: LogExtras): void => {
    if (!enabled()) return;
    const line = formatLine(message, recordOf(event, dims, extras));
    if (level === 'error') target.error(line);
    else if (level === 'warning') target.warn(line);
    else target.info(line);
  };
  return {
    info: (e, m, x) => write('information', e, m, x),
    warn: (e, m, x) => write('warning', e, m, x),
    error: (e, m, x) => write('error', e, m, x),
    with: (more) => build(target, { ...dims, ...more }, enabled),
  };
}

/** A logger for a trigger or activity invocation. */
export function logger(context: LogTarget, dims: LogDimensions = {}): Logger {
  return build(context, dims, () => true);
}

/** The part of an orchestration context the replay-safe logger needs. */
export interface ReplayAware extends LogTarget {
  df: { isReplaying: boolean };
}

/**
 * A logger for an orchestrator: records are written only on the episode that first executes the code
 * (`!context.df.isReplaying`), so a replayed line never appears twice. Deterministic: it reads no clock.
 */
export function replaySafeLogger(context: ReplayAware, dims: LogDimensions = {}): Logger {
  return build(context, dims, () => !context.df.isReplaying);
}
