// ACR's own base-image trigger (CASCADE_NATIVE_TRIGGERS) inside rebuildTask: before scheduling a task's first attempt,
// find the run ACR started for the same base update and use it as the task's run (`adopt`), or switch the trigger off
// and use a run it already started (`disable`). Under `adopt` a run that does not appear within the window is
// scheduled as usual (exactly-once claims), so a task is never left without its run. A task the plan found already
// built from the pushed digest (`planned.upToDate`: ACR's run finished before the cascade planned) adopts that run if
// the trigger started it, and is otherwise up to date: it is never built a second time.
// Pure: time from currentUtcDateTime, I/O only through activities.
import type { OrchestrationContext, Task } from 'durable-functions';
import {
  ActivityNames,
  NativeTriggerActivityNames,
  TERMINAL_RUN_STATUSES,
  type CancelRunInput,
  type CascadeReason,
  type DisableNativeTriggerInput,
  type FindNativeRunInput,
  type FindNativeRunOutput,
  type RebuildTaskInput,
} from '../contracts/index.js';
import { callActivity, tryCallActivity } from './calls.js';
import {
  nativeRunAdopted,
  nativeRunCanceled,
  nativeRunLate,
  nativeRunNotFound,
  nativeTriggerDisabled,
  upToDateWithoutNativeRun,
} from './cascadeReasons.js';

export type NativeOutcome =
  /** `waited`: the adopt window ran out, so ACR may still start its run late (see settleLateNativeRun). */
  | { kind: 'schedule'; reasons: CascadeReason[]; waited?: true }
  | { kind: 'upToDate'; reasons: CascadeReason[] }
  | { kind: 'adopted'; run: NonNullable<FindNativeRunOutput['run']>; reasons: CascadeReason[] };

/** Probe interval while waiting for a native run: short, since ACR queues it as soon as the base is pushed. */
export const NATIVE_PROBE_SECONDS = 5;

/** What the probe asks: the pushed digest in the first wave; later waves build on an earlier wave's push. */
export function findNativeRunInput(input: RebuildTaskInput, now: Date): FindNativeRunInput | undefined {
  const p = input.planned;
  // Tasks the index saw without the trigger cost no ARM request here (a trigger switched on since is seen at the next
  // index refresh).
  if (p.nativeTrigger !== true) return undefined;
  const common = { task: p.task, cascadeId: input.cascadeId, outputImages: p.outputImages };
  if (p.wave <= 1) {
    // An on-demand rebuild pushed nothing before its first wave: there is no native run to find.
    return input.base ? { ...common, digest: input.base.digest, bases: [input.base.ref] } : undefined;
  }
  return { ...common, since: input.cascadeStartedAt ?? now.toISOString(), bases: p.baseImages.map((b) => b.ref) };
}

export function* nativeRunOrSchedule(
  context: OrchestrationContext,
  input: RebuildTaskInput,
): Generator<Task, NativeOutcome, unknown> {
  const who = { taskName: input.planned.taskName, registryId: input.planned.registryId };
  const req = findNativeRunInput(input, context.df.currentUtcDateTime);
  if (!req) return { kind: 'schedule', reasons: [] };
  const probe = function* (): Generator<Task, FindNativeRunOutput, unknown> {
    return yield* callActivity(context, NativeTriggerActivityNames.findNativeRun, req);
  };
  let found = yield* probe();
  // Already built from this digest, by a run that is not ACR's for this push (or the policy ignores those runs).
  const notRebuilt = (reasons: CascadeReason[]): NativeOutcome =>
    input.planned.upToDate && input.base
      ? { kind: 'upToDate', reasons: [...reasons, upToDateWithoutNativeRun(who, input.base)] }
      : { kind: 'schedule', reasons };
  if (found.policy === 'ignore' || !found.triggerEnabled) return notRebuilt([]);

  if (found.policy === 'disable') {
    const off: DisableNativeTriggerInput = { task: input.planned.task };
    const out = yield* callActivity(context, NativeTriggerActivityNames.disableNativeTrigger, off);
    const reasons = out.changed ? [nativeTriggerDisabled(who, out.triggerName)] : [];
    // A run the trigger started before it was switched off is this update's run.
    if (found.willFire && !found.run) found = yield* probe();
    if (found.willFire && found.run) {
      return { kind: 'adopted', run: found.run, reasons: [...reasons, nativeRunAdopted(who, found.run.runId)] };
    }
    return notRebuilt(reasons);
  }

  if (found.run) return { kind: 'adopted', run: found.run, reasons: [nativeRunAdopted(who, found.run.runId)] };
  // The recorded digest is the pushed one and no native run built it: nothing to wait for.
  if (!found.willFire || input.planned.upToDate) return notRebuilt([]);
  const deadline = context.df.currentUtcDateTime.getTime() + found.adoptWindowSeconds * 1000;
  while (!found.run) {
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= deadline) {
      return { kind: 'schedule', reasons: [nativeRunNotFound(who, found.adoptWindowSeconds)], waited: true };
    }
    yield context.df.createTimer(new Date(Math.min(now + NATIVE_PROBE_SECONDS * 1000, deadline)));
    found = yield* probe();
  }
  return { kind: 'adopted', run: found.run, reasons: [nativeRunAdopted(who, found.run.runId)] };
}

/**
 * Once the run acr-cascade scheduled after the adopt window has ended: did ACR's trigger start its run for the same
 * update after all (ACR slower than the window)? One more probe; a late run still going is canceled (the update builds
 * once, and its push cannot fire ACR's chain a second time), one already finished is reported as a second build.
 */
export function* settleLateNativeRun(
  context: OrchestrationContext,
  input: RebuildTaskInput,
  ours: string,
): Generator<Task, CascadeReason[], unknown> {
  const req = findNativeRunInput(input, context.df.currentUtcDateTime);
  if (!req) return [];
  const found = yield* callActivity(context, NativeTriggerActivityNames.findNativeRun, req);
  const late = found.run;
  if (!late || late.runId === ours) return [];
  const who = { taskName: input.planned.taskName, registryId: input.planned.registryId };
  if ((TERMINAL_RUN_STATUSES as readonly string[]).includes(late.status)) {
    return [nativeRunLate(who, late.runId, late.status)];
  }
  // No cascadeStartedAt: this cancels one run, it does not mark the cascade canceled.
  const cancel: CancelRunInput = {
    cascadeId: input.cascadeId,
    cascadeStartedAt: '',
    runs: [{ registryId: late.registryId, runId: late.runId }],
  };
  const out = yield* tryCallActivity(context, ActivityNames.cancelRun, cancel);
  return out?.canceled.includes(late.runId)
    ? [nativeRunCanceled(who, late.runId)]
    : [nativeRunLate(who, late.runId, out ? 'finished' : late.status)];
}
