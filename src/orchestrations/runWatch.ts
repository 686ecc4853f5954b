// When rebuildTask polls a run: on a grid shared by every task of every cascade, so the polls of one instant can be
// answered by one `runs.list` per registry (activities/runs/watcher.ts) instead of one `runs.get` per run. A task's
// own backoff (pollInitialSeconds doubling up to pollMaxSeconds) still sets how long it waits at least; the poll then
// lands on the next grid instant. Pure: plain numbers and dates in, plain data out.
import type { RunWatchSlot } from '../contracts/index.js';

/** Margin for ARM's clock against ours in a slot's look-back. */
export const WATCH_SKEW_SECONDS = 60;

/** The poll grid: half the poll cap (at least the first delay, at least 1 s). Defaults 10 → 60 s give 30 s. */
export function watchGridSeconds(pollInitialSeconds: number, pollMaxSeconds: number): number {
  return Math.max(1, Math.ceil(pollInitialSeconds), Math.ceil(pollMaxSeconds / 2));
}

/** The first grid instant at least `delaySeconds` after `now`, but never after `deadline`. */
export function nextPollAt(now: Date, delaySeconds: number, gridSeconds: number, deadline: Date): Date {
  const grid = Math.max(1, gridSeconds) * 1000;
  const aligned = Math.ceil((now.getTime() + Math.max(0, delaySeconds) * 1000) / grid) * grid;
  return new Date(Math.min(aligned, deadline.getTime()));
}

/**
 * The slot of a poll at `at`. The look-back covers the longest gap between two polls of one task (the cap plus one
 * grid step) and the clock margin, so a run that finished since the task's previous poll is in the listing.
 */
export function watchSlot(at: Date, pollMaxSeconds: number, gridSeconds: number): RunWatchSlot {
  const lookBack = Math.max(pollMaxSeconds, gridSeconds) + 2 * gridSeconds + WATCH_SKEW_SECONDS;
  return { at: at.toISOString(), finishedSince: new Date(at.getTime() - lookBack * 1000).toISOString() };
}
