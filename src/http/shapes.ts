// Response shapes shared by several routes, so GET, POST and dry runs answer alike.
import type { PlanView, PlanEntry } from '../contracts/index.js';

/** The HTTP shape of a plan: tasks as a list (wave order, then skipped/blocked), everything else as in `PlanView`. */
export function planBody(plan: PlanView): Omit<PlanView, 'tasks'> & { tasks: PlanEntry[] } {
  const order = new Map<string, number>();
  plan.waves.flat().forEach((id, i) => order.set(id, i));
  const tasks: PlanEntry[] = Object.values(plan.tasks).sort(
    (a, b) =>
      (order.get(a.task) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.task) ?? Number.MAX_SAFE_INTEGER) ||
      a.taskName.localeCompare(b.taskName),
  );
  return { ...plan, tasks };
}
