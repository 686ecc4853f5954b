// rebuildCascade: one push (or request) → every dependent task rebuilt once, wave by wave.
//
// settle   an event cascade waits CASCADE_SETTLE_SECONDS (durable timer, or a cancel), then asks the tag's
//          `cascadeTag` entity for the newest push: pushes of the tag meanwhile went to the entity, which keeps the
//          newest (event time, then arrival) and absorbs redeliveries and repeated digests.
// plan     buildPlan (no preflight: preflight runs per wave, just before the wave, so it sees the latest state).
// waves    wave k starts when wave k-1 has finished. Per wave: preflightTasks → blocked tasks reported (not run),
//          up-to-date tasks skipped, tasks whose producers all failed reported `UpstreamFailed`; the rest run as
//          `rebuildTask` sub-orchestrations, at most maxParallelRuns in flight (a Task.any window).
// follow-up pushes after the settle window stay queued in the entity; the intake orchestration that owns this
//          cascade reports its end to the entity, which starts the next cascade for the newest of them.
// cancel   a `cancel` event stops scheduling, cancels the runs in flight (cancelRun marks the execution canceled, so
//          a run scheduled concurrently is canceled at its first poll) and ends `Canceled`.
// report   recordCascade (Table CascadeHistory) and publishNotifications (cascade.taskBlocked / runFailed /
//          completed), both best-effort. Custom status is CascadeProgress throughout. Output: CascadeResult.
import { EntityId, type OrchestrationContext, type OrchestrationHandler, type Task } from 'durable-functions';
import { imageKey, tryParseImageRef } from '../domain/index.js';
// contracts.js is the SDK-free names/types module orchestrators may use; the lint pattern targets activity code.
import {
  ActivityNames,
  CANCEL_EVENT,
  EntityNames,
  OrchestrationNames,
  TagOperations,
  type BuildPlanInput,
  type CancelRunInput,
  type CascadeInput,
  type CascadeProgress,
  type CascadeReason,
  type CascadeResult,
  type CascadeTotals,
  type Notification,
  type Plan,
  type PlannedTask,
  type PreflightInput,
  type PreflightOutput,
  type PreflightVerdict,
  type PublishNotificationsInput,
  type PushedImage,
  type RebuildTaskInput,
  type TaskOutcome,
  type TaskResult,
} from '../contracts/index.js';
import { cascadeCanceled, planFailed, taskOrchestrationFailed, upstreamFailed } from './cascadeReasons.js';
import { ACTIVITY_RETRY, remediable } from './rebuildTask.js';

/** A run is watched for the task's timeout plus this margin (queueing, agent start). */
export const WATCH_MARGIN_SECONDS = 600;
/** Used when the plan does not carry the task's timeout (ACR's default is 3600 s). */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 3600;

const FAILED_OUTCOMES: readonly TaskOutcome[] = ['failed', 'blocked', 'canceled'];

function emptyTotals(): CascadeTotals {
  return { planned: 0, scheduled: 0, succeeded: 0, failed: 0, blocked: 0, skipped: 0, canceled: 0 };
}

function sameTag(a: string, b: string): boolean {
  const pa = tryParseImageRef(a);
  const pb = tryParseImageRef(b);
  if (!pa || !pb) return a.toLowerCase() === b.toLowerCase();
  return imageKey({ ...pa, digest: undefined }) === imageKey({ ...pb, digest: undefined });
}

/** 32-bit FNV-1a over UTF-16 code units: cheap enough to run for every child on every replay. */
function hash32(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Child instance ids: readable, unique per cascade execution and task. */
function childInstanceId(cascadeId: string, generation: number, startedAt: string, t: PlannedTask): string {
  const stamp = startedAt.replace(/[-:.]/g, '');
  const name = t.taskName.replace(/[^A-Za-z0-9-]/g, '').slice(0, 50);
  return `${cascadeId}:g${generation}-${stamp}:${name}-${hash32(t.task.toLowerCase())}`;
}

function addToTotals(t: CascadeTotals, r: TaskResult): void {
  if (r.run) t.scheduled++;
  if (r.outcome === 'succeeded') t.succeeded++;
  else if (r.outcome === 'failed') t.failed++;
  else if (r.outcome === 'blocked') t.blocked++;
  else if (r.outcome === 'skipped') t.skipped++;
  else if (r.outcome === 'canceled') t.canceled++;
}

function countTotals(results: Iterable<TaskResult>, planned: number): CascadeTotals {
  const t = emptyTotals();
  t.planned = planned;
  for (const r of results) addToTotals(t, r);
  return t;
}

/** What a per-task notification says: the task, its wave, the base being rolled out and the reasons (with fixes). */
function taskNoticeData(cascadeId: string, image: PushedImage | undefined, r: TaskResult): Record<string, unknown> {
  return {
    cascadeId,
    task: r.task,
    taskName: r.taskName,
    wave: r.wave,
    ...(image ? { image: { ref: image.ref, digest: image.digest } } : {}),
    reasons: r.reasons.map((x) => ({ code: x.code, message: x.message, ...(x.fix ? { fix: x.fix } : {}) })),
  };
}

function blockedNotice(cascadeId: string, image: PushedImage | undefined, r: TaskResult): Notification {
  return { type: 'cascade.taskBlocked', subject: r.task, data: taskNoticeData(cascadeId, image, r) };
}

function failedNotice(cascadeId: string, image: PushedImage | undefined, r: TaskResult): Notification {
  return {
    type: 'cascade.runFailed',
    subject: r.task,
    data: {
      ...taskNoticeData(cascadeId, image, r),
      ...(r.run ? { runId: r.run.runId, status: r.run.status, attempts: r.run.attempts } : {}),
    },
  };
}

export function* rebuildCascade(context: OrchestrationContext): Generator<Task, CascadeResult, unknown> {
  const input = context.df.getInput() as CascadeInput;
  const cascadeId = context.df.instanceId;
  const generation = input.generation ?? 0;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const log = (message: string) => {
    if (!context.df.isReplaying) context.log(`[rebuildCascade ${cascadeId}] ${message}`);
  };

  const results = new Map<string, TaskResult>();
  const notifications: Notification[] = [];
  let planned = 0;
  let running = 0;
  let canceled = false;
  let image: PushedImage | undefined = input.image;
  const progress: CascadeProgress = {
    phase: 'settling',
    wave: 0,
    waves: 0,
    totals: emptyTotals(),
    cascadeId,
    startedAt,
  };
  const totals = emptyTotals();
  const show = () => {
    progress.totals = { ...totals, planned, running };
    if (image) progress.image = { ref: image.ref, digest: image.digest };
    if (canceled) progress.canceling = true;
    context.df.setCustomStatus({ ...progress });
  };
  const report = (r: TaskResult) => {
    results.set(r.task.toLowerCase(), r);
    addToTotals(totals, r);
    if (r.outcome === 'blocked') notifications.push(blockedNotice(cascadeId, image, r));
    if (r.outcome === 'failed') notifications.push(failedNotice(cascadeId, image, r));
  };

  // One waiter for `cancel`, created once: each wait below races it against tasks created for that wait only.
  const cancelEvent = context.df.waitForExternalEvent(CANCEL_EVENT);
  const checkCancel = () => {
    if (cancelEvent.isCompleted && !canceled) {
      canceled = true;
      log('cancel requested');
      show();
    }
  };
  /** Awaits `task` (new, never yielded before) or a cancel; after a cancel, awaits the task alone. */
  const awaitTask = function* (task: Task): Generator<Task, unknown, unknown> {
    if (!canceled) {
      yield context.df.Task.any([task, cancelEvent]);
      checkCancel();
    }
    if (!task.isCompleted) yield task;
    if (task.isFaulted) throw task.result;
    return task.result;
  };

  // ---- 1. settle ---------------------------------------------------------------------------------------------------
  show();
  if (input.trigger === 'event' && image && input.settleSeconds > 0) {
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.settleSeconds * 1000);
    const settled = context.df.createTimer(deadline);
    yield context.df.Task.any([settled, cancelEvent]);
    checkCancel();
    if (canceled) {
      if (!settled.isCompleted) settled.cancel();
      log('canceled while settling');
    }
  }
  if (input.trigger === 'event' && input.tagKey && !canceled) {
    // The newest push of the tag (it may have arrived during the settle window); the entity records it as built here.
    const tag = new EntityId(EntityNames.cascadeTag, input.tagKey);
    const newest = (yield context.df.callEntity(tag, TagOperations.take)) as PushedImage | null;
    if (newest && newest.digest !== image?.digest) {
      log(`settled on the newest push ${newest.ref}@${newest.digest}`);
      image = newest;
    }
    show();
  }

  // ---- 2. plan -----------------------------------------------------------------------------------------------------
  let plan: Plan | undefined;
  let failure: string | undefined;
  if (!canceled) {
    progress.phase = 'planning';
    show();
    const req: BuildPlanInput = { preflight: false };
    if (image) req.image = { ref: image.ref, digest: image.digest };
    else if (input.requestedImage) req.image = input.requestedImage;
    else if (input.tasks) req.tasks = input.tasks;
    try {
      plan = (yield* awaitTask(context.df.callActivityWithRetry(ActivityNames.buildPlan, ACTIVITY_RETRY, req))) as Plan;
    } catch (err) {
      failure = (err instanceof Error ? err.message : String(err)).slice(0, 500);
      log(`plan failed: ${failure}`);
    }
  }

  // The base the runs get as override values (and the exactly-once key, for event cascades).
  const baseRef = image ?? (input.requestedImage?.digest ? input.requestedImage : undefined);
  const base =
    baseRef && baseRef.digest
      ? { ref: baseRef.ref.replace(/@sha256:[0-9a-f]{64}$/, ''), digest: baseRef.digest }
      : undefined;
  const requested = new Set((input.tasks ?? []).map((t) => t.toLowerCase()));

  /** Is the task triggered directly (by the pushed image or the request), not only through producers? */
  const triggeredDirectly = (t: PlannedTask): boolean => {
    if (requested.has(t.task.toLowerCase())) return true;
    const pushed = base?.ref ?? input.requestedImage?.ref;
    if (!pushed) return false;
    return t.baseImages.some((b) => b.why !== 'output' && sameTag(b.ref, pushed));
  };

  // ---- 3. waves ----------------------------------------------------------------------------------------------------
  if (plan) {
    planned = Object.keys(plan.tasks).length;
    progress.phase = 'running';
    progress.waves = plan.waves.length;
    const inWaves = new Set(plan.waves.flat());
    // Tasks the plan already settled (up to date, in a loop, unknown): reported, never scheduled.
    for (const t of Object.values(plan.tasks)) {
      if (inWaves.has(t.task)) continue;
      report({
        task: t.task,
        taskName: t.taskName,
        wave: t.wave,
        decision: t.decision,
        outcome: t.decision === 'skip' ? 'skipped' : 'blocked',
        reasons: t.reasons,
      });
    }
    show();

    for (let w = 0; w < plan.waves.length; w++) {
      progress.wave = w + 1;
      checkCancel();
      const candidates: PlannedTask[] = [];
      for (const id of plan.waves[w] ?? []) {
        const t = plan.tasks[id];
        if (!t) continue;
        const result = (outcome: TaskOutcome, reasons: CascadeReason[]): TaskResult => ({
          task: t.task,
          taskName: t.taskName,
          wave: t.wave,
          decision: t.decision,
          outcome,
          reasons,
        });
        if (canceled) {
          report(result('canceled', [cascadeCanceled(t)]));
          continue;
        }
        if (t.decision === 'skip') {
          report(result('skipped', t.reasons));
          continue;
        }
        if (t.decision === 'blocked') {
          report(result('blocked', t.reasons));
          continue;
        }
        const producers = t.dependsOn
          .map((d) => results.get(d.toLowerCase()))
          .filter((r): r is TaskResult => r !== undefined);
        if (
          producers.length > 0 &&
          producers.every((r) => FAILED_OUTCOMES.includes(r.outcome)) &&
          !triggeredDirectly(t)
        ) {
          report(
            result('blocked', [
              upstreamFailed(
                t,
                producers.map((r) => ({ taskName: r.taskName, outcome: r.outcome })),
              ),
            ]),
          );
          continue;
        }
        candidates.push(t);
      }
      show();
      if (candidates.length === 0) continue;

      // Preflight the wave just before it runs.
      const pre: PreflightInput = { taskIds: candidates.map((t) => t.task), ...(base ? { image: base } : {}) };
      const verdicts = (yield* awaitTask(
        context.df.callActivityWithRetry(ActivityNames.preflightTasks, ACTIVITY_RETRY, pre),
      )) as PreflightOutput;
      const ready: { t: PlannedTask; v: PreflightVerdict }[] = [];
      for (const t of candidates) {
        const v: PreflightVerdict = verdicts[t.task] ?? {
          task: t.task,
          decision: 'ready',
          reasons: [],
          identity: t.identity,
        };
        if (v.decision === 'blocked' && !(input.autoRemediate && remediable(v.reasons))) {
          report({
            task: t.task,
            taskName: t.taskName,
            wave: t.wave,
            decision: 'blocked',
            outcome: 'blocked',
            reasons: v.reasons,
          });
          continue;
        }
        ready.push({ t, v });
      }
      show();

      // Windows of at most maxParallelRuns rebuildTask sub-orchestrations: each window is one fresh Task.all, raced
      // against the cancel waiter; a child is yielded again on its own only if the window ended early.
      checkCancel();
      for (let i = 0; i < ready.length; i += input.maxParallelRuns) {
        const window = ready.slice(i, i + input.maxParallelRuns);
        if (canceled) {
          for (const { t } of window) {
            report({
              task: t.task,
              taskName: t.taskName,
              wave: t.wave,
              decision: t.decision,
              outcome: 'canceled',
              reasons: [cascadeCanceled(t)],
            });
          }
          continue;
        }
        const tasks = window.map(({ t, v }) => {
          const child: RebuildTaskInput = {
            cascadeId,
            cascadeStartedAt: startedAt,
            planned: t,
            verdict: v,
            transientRetries: input.transientRetries,
            autoRemediate: input.autoRemediate,
            pollInitialSeconds: input.pollInitialSeconds,
            pollMaxSeconds: input.pollMaxSeconds,
            timeoutSeconds: (t.timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS) + WATCH_MARGIN_SECONDS,
            ...(base ? { base } : {}),
            ...(input.trigger === 'http' ? { requestId: cascadeId } : {}),
          };
          return context.df.callSubOrchestrator(
            OrchestrationNames.rebuildTask,
            child,
            childInstanceId(cascadeId, generation, startedAt, t),
          );
        });
        running = tasks.length;
        show();
        try {
          yield context.df.Task.any([context.df.Task.all(tasks), cancelEvent]);
        } catch {
          // A child failed (Task.all fails on the first failure): the others are awaited below.
        }
        const wasCanceled = canceled;
        checkCancel();
        if (canceled && !wasCanceled) {
          const open = window.filter((_, k) => !(tasks[k] as Task).isCompleted).map(({ t }) => t);
          log(`canceling ${open.length} task(s) in flight`);
          const cancel: CancelRunInput = {
            cascadeId,
            cascadeStartedAt: startedAt,
            tasks: open.map((t) => ({
              task: t.task,
              attempts: 1 + Math.max(0, input.transientRetries),
              ...(base ? { base } : {}),
              ...(input.trigger === 'http' ? { requestId: cascadeId } : {}),
            })),
          };
          yield* awaitTask(context.df.callActivityWithRetry(ActivityNames.cancelRun, ACTIVITY_RETRY, cancel));
        }
        for (let k = 0; k < tasks.length; k++) {
          const task = tasks[k] as Task;
          const { t } = window[k] as { t: PlannedTask };
          if (!task.isCompleted) {
            try {
              yield task;
            } catch {
              // recorded below
            }
          }
          if (task.isFaulted) {
            const message = (task.result instanceof Error ? task.result.message : String(task.result)).slice(0, 500);
            report({
              task: t.task,
              taskName: t.taskName,
              wave: t.wave,
              decision: t.decision,
              outcome: 'failed',
              reasons: [taskOrchestrationFailed(t, message)],
            });
          } else {
            report(task.result as TaskResult);
          }
        }
        running = 0;
        show();
      }
    }
  }

  // ---- 4. report ---------------------------------------------------------------------------------------------------
  progress.phase = 'reporting';
  running = 0;
  show();
  const tasks = [...results.values()].sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName));
  const result: CascadeResult = {
    cascadeId,
    trigger: input.trigger,
    ...(image ? { image } : {}),
    status: failure !== undefined ? 'Failed' : canceled ? 'Canceled' : 'Completed',
    waves: plan?.waves.length ?? 0,
    tasks,
    totals: countTotals(tasks, planned),
    startedAt,
    finishedAt: context.df.currentUtcDateTime.toISOString(),
    generation,
  };
  const notes: CascadeReason[] = [...(plan?.notes ?? []), ...(failure !== undefined ? [planFailed(failure)] : [])];
  if (notes.length > 0) result.notes = notes;
  if (failure !== undefined) result.error = failure;
  notifications.push({
    type: 'cascade.completed',
    subject: image?.ref ?? input.requestedImage?.ref ?? cascadeId,
    data: {
      cascadeId,
      status: result.status,
      trigger: result.trigger,
      ...(image ? { image: { ref: image.ref, digest: image.digest } } : {}),
      waves: result.waves,
      totals: result.totals,
      startedAt,
      finishedAt: result.finishedAt,
    },
  });
  // Best-effort: the cascade's runs are done; a Table or Event Grid outage must not turn it into a failure.
  try {
    yield* awaitTask(context.df.callActivityWithRetry(ActivityNames.recordCascade, ACTIVITY_RETRY, result));
  } catch (err) {
    log(`recording failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}`);
  }
  try {
    const publish: PublishNotificationsInput = { notifications };
    yield* awaitTask(context.df.callActivityWithRetry(ActivityNames.publishNotifications, ACTIVITY_RETRY, publish));
  } catch (err) {
    log(`notifications failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 300)}`);
  }
  progress.phase = 'done';
  show();
  return result;
}

export const rebuildCascadeHandler: OrchestrationHandler = rebuildCascade;
