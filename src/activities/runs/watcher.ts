// Batched run watching: every run a cascade waits for in one registry is read with ONE `runs.list` per poll instead of
// one `runs.get` per run. rebuildTask polls on a grid shared by every task (see orchestrations/runWatch.ts), so the
// getRun calls of one poll carry the same slot; the first of them lists the registry's runs that are in flight or
// finished since the slot's look-back, and the others of the slot (in this worker process) are answered from that
// listing. A run missing from it (finished before the look-back, or listed before it was created) falls back to
// `runs.get`, so the answer is never wrong, only sometimes one read dearer. The listing lives only in memory and only
// for a short while: the orchestration's state (which run, which attempt) stays durable; this is a read cache.
import type { Run } from '@azure/arm-containerregistry';
import type { RunRef, RunWatchSlot } from '../../contracts/index.js';

/** How long a slot's listing answers late callers of that slot (the polls of one slot arrive within seconds). */
export const SLOT_KEEP_MS = 120_000;

/** The `$filter` of a slot: runs not yet terminal, or finished since `finishedSince` (ACR's OData subset). */
export function watchFilter(finishedSince: string): string {
  if (Number.isNaN(Date.parse(finishedSince))) {
    throw new RangeError(`watch.finishedSince: '${finishedSince}' is not an ISO date-time`);
  }
  return `Status eq 'Queued' or Status eq 'Started' or Status eq 'Running' or FinishTime ge ${finishedSince}`;
}

export type ListRuns = (registryId: string, filter: string) => Promise<Run[]>;

export class RunWatcher {
  private readonly slots = new Map<string, { until: number; runs: Promise<Map<string, Run>> }>();

  constructor(
    private readonly list: ListRuns,
    private readonly nowMs: () => number,
  ) {}

  /** The run as the slot's listing saw it; undefined when the listing does not hold it. */
  async find(ref: RunRef, slot: RunWatchSlot): Promise<Run | undefined> {
    const now = this.nowMs();
    for (const [k, v] of this.slots) if (v.until < now) this.slots.delete(k);
    const key = `${ref.registryId.toLowerCase()}|${slot.at}|${slot.finishedSince}`;
    let entry = this.slots.get(key);
    if (!entry) {
      const runs = this.list(ref.registryId, watchFilter(slot.finishedSince)).then(
        (list) => new Map(list.map((r) => [(r.runId ?? r.name ?? '').toLowerCase(), r])),
      );
      entry = { until: now + SLOT_KEEP_MS, runs };
      this.slots.set(key, entry);
      // A failed listing is not kept: the next caller of the slot lists again.
      runs.catch(() => {
        if (this.slots.get(key) === entry) this.slots.delete(key);
      });
    }
    return (await entry.runs).get(ref.runId.toLowerCase());
  }

  /** Slots listed and still kept (tests, diagnostics). */
  get size(): number {
    return this.slots.size;
  }
}
