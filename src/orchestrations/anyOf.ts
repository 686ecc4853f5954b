// Task.any for windows that re-wait on tasks already scheduled by an earlier Task.any.
//
// durable-functions 3.x sends a compound task's action with the actions of ALL its children, so a task that was
// scheduled by an earlier Task.any is scheduled a second time when it is passed to a new one (the extension cannot
// tell them apart: Azure/azure-functions-durable-js#574). A bounded fan-out window must re-wait on the runs still in
// flight, so this helper keeps only the actions of children that were never scheduled. It relies on the library's
// `alreadyScheduled` flag (added for exactly this class of bug, durable-js#517); replay tests in
// test/replay/cascade*.test.ts pin the action sequence it produces.
import type { OrchestrationContext, Task } from 'durable-functions';

interface ScheduledFlag {
  alreadyScheduled?: boolean;
  actionObj?: unknown;
}

interface CompoundAction {
  compoundActions: unknown[];
}

/**
 * Like `context.df.Task.any(tasks)`, but children already scheduled are awaited without being scheduled again.
 * Every child must still be pending (a completed child would never wake a new compound).
 */
export function anyOf(context: OrchestrationContext, tasks: Task[]): Task {
  const compound = context.df.Task.any(tasks) as Task & ScheduledFlag;
  const fresh = tasks.filter((t) => (t as Task & ScheduledFlag).alreadyScheduled !== true);
  const action = compound.actionObj as CompoundAction | undefined;
  if (action && Array.isArray(action.compoundActions)) {
    action.compoundActions = fresh.map((t) => (t as Task & ScheduledFlag).actionObj);
  }
  // Nothing new to schedule: send no (empty) compound action at all.
  if (fresh.length === 0) compound.alreadyScheduled = true;
  return compound;
}
