// rebuildTask: one planned task of a cascade, as a sub-orchestration so the parent's history stays small.
// (optional) remediate → schedule (429 → durable timer → again; never dropped) → watch with durable timers (backoff,
// capped, bounded by the task timeout plus a margin) → a failed run is re-checked by preflight: blocked → reported with
// the preflight reasons; otherwise retried once (a new attempt = a new exactly-once key) when transientRetries > 0.
// Pure: time from currentUtcDateTime, no I/O, logs only when not replaying.
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
// contracts.js is the SDK-free names/types module orchestrators may use; the lint pattern targets activity code.
import {
  ActivityNames,
  TERMINAL_RUN_STATUSES,
  type CascadeReason,
  type CancelRunInput,
  type GetRunInput,
  type PreflightInput,
  type PreflightVerdict,
  type RebuildTaskInput,
  type RemediateInput,
  type RemediateOutput,
  type RunInfo,
  type ScheduleRunInput,
  type ScheduleRunOutput,
  type TaskOutcome,
  type TaskResult,
} from '../contracts/index.js';
import {
  remediationFailed,
  runCanceled,
  runFailed,
  scheduleRejected,
  cascadeCanceled,
  watchTimedOut,
} from './cascadeReasons.js';
import { callActivity, tryCallActivity } from './calls.js';
import { nativeRunOrSchedule, settleLateNativeRun } from './nativeTrigger.js';
import { nextPollAt, watchGridSeconds, watchSlot } from './runWatch.js';
import { replaySafeLogger } from '../telemetry/log.js';

/** Default wait for a freshly created role assignment to reach the data plane. */
export const REMEDIATION_WAIT_SECONDS = 30;

/** Child custom status: what a person watching one task wants to see. */
export interface RebuildTaskStatus {
  task: string;
  attempt: number;
  phase: 'remediating' | 'scheduling' | 'throttled' | 'watching' | 'rechecking' | 'done';
  runId?: string;
  status?: string;
  retryAt?: string;
}

function addSeconds(d: Date, seconds: number): Date {
  return new Date(d.getTime() + seconds * 1000);
}

function isTerminal(status: string): boolean {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

/** Only blocking reasons that auto-remediation can fix (a missing role assignment) may be remediated. */
export function remediable(reasons: readonly CascadeReason[]): boolean {
  const blocking = reasons.filter((r) => r.severity === 'blocking');
  return blocking.length > 0 && blocking.every((r) => r.remediation !== undefined);
}

export function* rebuildTask(context: OrchestrationContext): Generator<Task, TaskResult, unknown> {
  const input = context.df.getInput() as RebuildTaskInput;
  const p = input.planned;
  const who = { taskName: p.taskName, registryId: p.registryId };
  // Replay-safe records carrying the cascade, the task and (once there is one) the run.
  const taskLog = replaySafeLogger(context, { cascadeId: input.cascadeId, taskId: p.task });
  const log = (message: string, runId?: string) =>
    (runId ? taskLog.with({ runId }) : taskLog).info('task.progress', `[rebuildTask ${p.taskName}] ${message}`);
  const status: RebuildTaskStatus = { task: p.task, attempt: 1, phase: 'scheduling' };
  const show = (patch: Partial<RebuildTaskStatus>) => {
    Object.assign(status, patch);
    context.df.setCustomStatus({ ...status });
  };
  const done = (
    outcome: TaskOutcome,
    reasons: CascadeReason[],
    extra: Partial<Pick<TaskResult, 'run' | 'remediated' | 'decision'>> = {},
  ): TaskResult => {
    show({ phase: 'done' });
    return {
      task: p.task,
      taskName: p.taskName,
      wave: p.wave,
      decision: extra.decision ?? (outcome === 'blocked' ? 'blocked' : p.decision),
      outcome,
      reasons,
      ...(extra.run ? { run: extra.run } : {}),
      ...(extra.remediated && extra.remediated.length > 0 ? { remediated: extra.remediated } : {}),
    };
  };
  const preflightAgain = function* (): Generator<Task, PreflightVerdict | undefined, unknown> {
    const req: PreflightInput = { taskIds: [p.task], ...(input.base ? { image: input.base } : {}) };
    const out = yield* callActivity(context, ActivityNames.preflightTasks, req);
    return out[p.task] ?? Object.values(out)[0];
  };

  // 1. Blocked with auto-remediation on: create the missing assignment, wait out propagation, check again.
  let verdict = input.verdict;
  let remediated: RemediateOutput['created'] = [];
  if (verdict.decision === 'blocked') {
    if (!input.autoRemediate || !remediable(verdict.reasons)) return done('blocked', verdict.reasons);
    show({ phase: 'remediating' });
    const req: RemediateInput = { task: p.task, reasons: verdict.reasons.filter((r) => r.remediation !== undefined) };
    const out = yield* callActivity(context, ActivityNames.remediatePull, req);
    remediated = out.created;
    if (out.failed.length > 0) {
      return done('blocked', [...verdict.reasons, remediationFailed(who, out.failed)], { remediated });
    }
    log(`created ${out.created.length} role assignment(s); waiting for propagation`);
    const wait = input.remediationWaitSeconds ?? REMEDIATION_WAIT_SECONDS;
    if (out.created.length > 0 && wait > 0) {
      yield context.df.createTimer(addSeconds(context.df.currentUtcDateTime, wait));
    }
    verdict = (yield* preflightAgain()) ?? verdict;
    if (verdict.decision === 'blocked') return done('blocked', verdict.reasons, { remediated });
  }
  // Warnings (e.g. an expiring secret) travel with the result; they do not stop the run.
  const warnings: CascadeReason[] = verdict.reasons.filter((r) => r.severity !== 'blocking');

  // 2a. ACR's own base-image trigger may already have started this update's run (CASCADE_NATIVE_TRIGGERS).
  const native = yield* nativeRunOrSchedule(context, input);
  warnings.push(...native.reasons);
  if (native.kind === 'upToDate') return done('skipped', warnings, { decision: 'skip' });

  const attempts = 1 + Math.max(0, input.transientRetries);
  for (let attempt = 1; ; attempt++) {
    // 2. Schedule, exactly once per (task, base digest | request, attempt). A 429 waits; it never drops the run.
    show({ attempt, phase: 'scheduling' });
    let scheduled: Extract<ScheduleRunOutput, { kind: 'scheduled' }>;
    const adopted = attempt === 1 && native.kind === 'adopted';
    for (;;) {
      if (native.kind === 'adopted' && adopted) {
        scheduled = { kind: 'scheduled', ...native.run, deduplicated: false };
        break;
      }
      const req: ScheduleRunInput = {
        cascadeId: input.cascadeId,
        task: p.task,
        attempt,
        outputImages: p.outputImages,
        ...(input.base ? { base: input.base } : {}),
        ...(input.cascadeStartedAt ? { cascadeStartedAt: input.cascadeStartedAt } : {}),
        ...(input.requestId ? { requestId: input.requestId } : {}),
      };
      // Retrying is safe: the run is claimed exactly once per key, so a lost answer finds the same run.
      const out = yield* callActivity(context, ActivityNames.scheduleRun, req);
      if (out.kind === 'scheduled') {
        scheduled = out;
        break;
      }
      if (out.kind === 'rejected') {
        if (out.code === 'CascadeCanceled') return done('canceled', [...warnings, cascadeCanceled(who)]);
        return done('blocked', [...warnings, scheduleRejected(who, out.code, out.message)], { remediated });
      }
      const retryAt = addSeconds(context.df.currentUtcDateTime, Math.max(1, Math.ceil(out.retryAfterSeconds)));
      show({ phase: 'throttled', retryAt: retryAt.toISOString() });
      log(`ARM throttled scheduling; trying again at ${retryAt.toISOString()}`);
      yield context.df.createTimer(retryAt);
    }
    const ref: GetRunInput = {
      registryId: scheduled.registryId,
      runId: scheduled.runId,
      cascadeId: input.cascadeId,
      ...(input.cascadeStartedAt ? { cascadeStartedAt: input.cascadeStartedAt } : {}),
    };
    const how = adopted
      ? " (started by ACR's base-image trigger: adopted)"
      : scheduled.deduplicated
        ? ' (already scheduled: adopted)'
        : '';
    log(`run ${scheduled.runId}${how} ${scheduled.status}`, scheduled.runId);
    show({ phase: 'watching', runId: scheduled.runId, status: scheduled.status });

    // 3. Watch: durable timers, backoff from pollInitialSeconds doubling up to pollMaxSeconds, bounded; each poll on
    //    the shared grid, so the registry's runs are read with one runs.list per poll instant (runWatch.ts).
    let info: RunInfo;
    if (isTerminal(scheduled.status)) {
      info = yield* callActivity(context, ActivityNames.getRun, ref);
    } else {
      info = { runId: scheduled.runId, status: scheduled.status, outputImages: [] };
      const deadline = addSeconds(context.df.currentUtcDateTime, input.timeoutSeconds);
      let delay = Math.max(1, input.pollInitialSeconds);
      const grid = watchGridSeconds(input.pollInitialSeconds, input.pollMaxSeconds);
      while (!isTerminal(info.status)) {
        const now = context.df.currentUtcDateTime;
        if (now.getTime() >= deadline.getTime()) {
          // No cascadeStartedAt: this gives up on one run; it must not mark the whole cascade canceled (which
          // would cancel every sibling's run at its next poll).
          const cancel: CancelRunInput = {
            cascadeId: input.cascadeId,
            cascadeStartedAt: '',
            runs: [{ registryId: scheduled.registryId, runId: scheduled.runId }],
          };
          yield* tryCallActivity(context, ActivityNames.cancelRun, cancel);
          return done('failed', [...warnings, watchTimedOut(who, scheduled.runId, input.timeoutSeconds)], {
            run: { ...info, attempts: attempt, registryId: scheduled.registryId },
            remediated,
          });
        }
        const next = nextPollAt(now, delay, grid, deadline);
        yield context.df.createTimer(next);
        const poll: GetRunInput = { ...ref, watch: watchSlot(next, input.pollMaxSeconds, grid) };
        info = yield* callActivity(context, ActivityNames.getRun, poll);
        show({ status: info.status });
        delay = Math.min(delay * 2, Math.max(1, input.pollMaxSeconds));
      }
    }
    // ACR's trigger may have started its run after the adopt window: the update still builds once.
    if (attempt === 1 && native.kind === 'schedule' && native.waited) {
      warnings.push(...(yield* settleLateNativeRun(context, input, scheduled.runId)));
    }
    const run = {
      ...info,
      attempts: attempt,
      registryId: scheduled.registryId,
      ...(scheduled.deduplicated ? { deduplicated: true } : {}),
      ...(adopted ? { adopted: true } : {}),
    };
    if (info.status === 'Succeeded') return done('succeeded', warnings, { run, remediated });
    if (info.status === 'Canceled') return done('canceled', [...warnings, runCanceled(who, info.runId)], { run });

    // 4. Failed / Error / Timeout: an authorisation problem shows up in preflight and is reported as such.
    show({ phase: 'rechecking' });
    const failure = runFailed(who, info.runId, info.status, info.runErrorMessage);
    const recheck = yield* preflightAgain();
    if (recheck?.decision === 'blocked') {
      log(`run ${info.runId} ${info.status}; preflight now blocks the task`, info.runId);
      return done('blocked', [...recheck.reasons, failure], { run, remediated });
    }
    if (attempt < attempts) {
      log(`run ${info.runId} ${info.status}; retrying once (attempt ${attempt + 1})`, info.runId);
      continue;
    }
    return done('failed', [...warnings, failure], { run, remediated });
  }
}

export const rebuildTaskHandler: OrchestrationHandler = rebuildTask;
