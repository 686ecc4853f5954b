// The invocation an activity (or any code below a function) runs in, so that process-wide helpers such as the
// activities' `deps.log` write through that invocation's context (Application Insights correlates the line with the
// invocation and its operation) instead of console.log. Filled by the preInvocation hook in src/functions/hooks.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvocationContext } from '@azure/functions';

const current = new AsyncLocalStorage<Pick<InvocationContext, 'info'>>();

/** Runs `fn` as part of the invocation `context` (what the hook wraps every handler in). */
export function runInInvocation<T>(context: Pick<InvocationContext, 'info'>, fn: () => T): T {
  return current.run(context, fn);
}

/** Writes a line through the current invocation's context; outside an invocation (tests, tools) to stdout. */
export function invocationLog(message: string): void {
  const ctx = current.getStore();
  if (ctx) ctx.info(message);
  else console.log(message);
}
