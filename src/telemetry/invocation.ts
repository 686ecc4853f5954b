// The invocation an activity (or any code below a function) runs in, so that process-wide helpers such as the
// activities' `deps.log` write through that invocation's context (Application Insights correlates the line with the
// invocation and its operation) instead of console.log — and carry the invocation's correlation ids (the cascade,
// task, run, event or check the activity works for, read from its input by the hook in src/functions/hooks.ts).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvocationContext } from '@azure/functions';
import { formatLine, parseLine, pickDimensions, recordOf, type LogDimensions } from './log.js';

type Target = Pick<InvocationContext, 'info'> & Partial<Pick<InvocationContext, 'functionName'>>;

interface Current {
  context: Target;
  dims: LogDimensions;
}

const current = new AsyncLocalStorage<Current>();

/** Runs `fn` as part of the invocation `context` (what the hook wraps every handler in), with its ids. */
export function runInInvocation<T>(context: Target, fn: () => T, dims: LogDimensions = {}): T {
  return current.run({ context, dims }, fn);
}

/** The correlation ids of the current invocation ({} outside one). */
export function invocationDimensions(): LogDimensions {
  return { ...current.getStore()?.dims };
}

/**
 * The line as a structured record carrying the invocation's ids: a line that already ends in a record keeps its
 * event and its own ids (they win) and gains the missing ones; plain text becomes a record named `event`.
 */
export function withDimensions(message: string, dims: LogDimensions, event: string): string {
  const own = parseLine(message);
  if (!own) return formatLine(message, recordOf(event, dims));
  const text = message.slice(0, message.lastIndexOf(' {"event":'));
  // recordOf skips `event` and the dimension names among the extras, so `own` passes its other facts unchanged.
  return formatLine(text, recordOf(own.event, { ...dims, ...pickDimensions(own) }, own));
}

/**
 * Writes a line through the current invocation's context, as a record with the invocation's ids (event: the
 * function's name unless the line already is a record); outside an invocation (tests, tools) to stdout.
 */
export function invocationLog(message: string): void {
  const store = current.getStore();
  if (!store) {
    console.log(message);
    return;
  }
  store.context.info(withDimensions(message, store.dims, store.context.functionName || 'activity'));
}
