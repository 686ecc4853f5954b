// rebuildCascade: one push (or request) → every dependent task rebuilt once, wave by wave.
//
// settle   pushes of the tag within the settle window coalesce (durable timer vs `push` events); the newest push
//          wins (event time, then arrival); redelivered event ids and repeated digests are ignored.
// plan     buildPlan (no preflight: preflight runs per wave, just before the wave, so it sees the latest state).
// waves    wave k starts when wave k-1 has finished. Per wave: preflightTasks → blocked tasks reported (not run),
//          up-to-date tasks skipped, tasks whose producers all failed reported `UpstreamFailed`; the rest run as
//          `rebuildTask` sub-orchestrations, at most maxParallelRuns in flight (a Task.any window).
// follow-up a push of a NEWER digest of the same tag arriving after the settle window does not disturb this cascade
//          (its runs are valid rebuilds of a real digest); it is queued and, once this cascade has reported, the
//          instance continues-as-new as the follow-up cascade for the newest queued push ("follow-up", not supersede).
// cancel   a `cancel` event stops scheduling, cancels the runs in flight (cancelRun marks the execution canceled, so
//          a run scheduled concurrently is canceled at its first poll) and ends `Canceled`.
// report   recordCascade (Table CascadeHistory) and publishNotifications (cascade.taskBlocked / runFailed /
//          completed). Custom status is CascadeProgress throughout, with the event ids read so far (the trigger's
//          confirmation that a raised push was not dropped). Output: CascadeResult.
import type { OrchestrationContext, OrchestrationHandler, Task, TimerTask } from 'durable-functions';
import { imageKey, isDigest, isNewerPush, newestPush, recordPush, tryParseImageRef } from '../domain/index.js';
// contracts.js is the SDK-free names/types module orchestrators may use; the lint pattern targets activity code.
import {
  ActivityNames,
  CANCEL_EVENT,
  OrchestrationNames,
  PUSH_EVENT,
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
} from '../activities/contracts.js';
import { anyOf } from './anyOf.js';
import { callActivity, failureMessage, tryCallActivity } from './calls.js';
import {
  cascadeCanceled,
  planFailed,
  preflightFailed,
  taskOrchestrationFailed,
  upstreamFailed,
} from './cascadeReasons.js';
import { remediable } from './rebuildTask.js';
import { replaySafeLogger } from '../telemetry/log.js';

/** A run is watched for the task's timeout plus this margin (queueing, agent start). */
export const WATCH_MARGIN_SECONDS = 600;
/** Used when the plan does not carry the task's timeout (ACR's default is 3600 s). */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 3600;
/** Event ids remembered across follow-ups (redeliveries arrive within minutes, not after hundreds of pushes). */
const MAX_SEEN_EVENT_IDS = 100;

const FAILED_OUTCOMES: readonly TaskOutcome[] = ['failed', 'blocked', 'canceled'];

function emptyTotals(): CascadeTotals {
  return { planned: 0, scheduled: 0, succeeded: 0, failed: 0, blocked: 0, skipped: 0, canceled: 0 };
}

/** A `push` event payload, checked: it comes from our trigger, but history must never hold garbage we act on. */
export function parsePushEvent(value: unknown): PushedImage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.ref !== 'string' || typeof v.registryId !== 'string' || !isDigest(v.digest)) return undefined;
  const out: PushedImage = { ref: v.ref, digest: v.digest, registryId: v.registryId };
  if (typeof v.eventId === 'string' && v.eventId) out.eventId = v.eventId;
  if (typeof v.eventTime === 'string') out.eventTime = v.eventTime;
  return out;
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

/**
 * External events of one name, never lost. Each Task.any gets a FRESH waiter (a waiter passed to a second Task.any
 * would be tracked twice by the library and a later event could land on the stale copy). A waiter left behind by a
 * Task.any that another task won stays registered and may still receive the next event (the library serves the
 * newest pending waiter first, or buffers the event until a waiter exists) — so every waiter ever handed out is
 * checked for a delivered event by `take()`.
 */
export class Mailbox {
  private waiters: Task[] = [];

  constructor(
    private readonly context: OrchestrationContext,
    private readonly name: string,
  ) {}

  next(): Task {
    const w = this.context.df.waitForExternalEvent(this.name);
    this.waiters.push(w);
    return w;
  }

  /**
   * Payloads delivered since the last call, oldest waiter first. The library hands an event to the NEWEST pending
   * waiter, so delivered waiters are always found from the end of the list: the scan stops at the first one still
   * pending (this runs on every replay of every iteration — it must not be linear in all waiters ever created).
   */
  take(): unknown[] {
    const done: Task[] = [];
    let i = this.waiters.length - 1;
    for (; i >= 0; i--) {
      const w = this.waiters[i] as Task;
      if (!w.isCompleted) break;
      done.unshift(w);
    }
    if (done.length === 0) return [];
    this.waiters.length = i + 1;
    return done.map((w) => w.result);
  }
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
  const cascadeLog = replaySafeLogger(context, { cascadeId });
  const log = (message: string) => cascadeLog.info('cascade.progress', `[rebuildCascade ${cascadeId}] ${message}`);

  const seen = new Set(input.seenEventIds ?? []);
  const results = new Map<string, TaskResult>();
  const notifications: Notification[] = [];
  let planned = 0;
  let running = 0;
  let canceled = false;
  let image: PushedImage | undefined = input.image;
  let followUp: PushedImage | undefined;
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
    if (followUp) progress.followUp = { ref: followUp.ref, digest: followUp.digest };
    if (canceled) progress.canceling = true;
    if (seen.size > 0) progress.eventIds = [...seen].slice(-MAX_SEEN_EVENT_IDS);
    context.df.setCustomStatus({ ...progress });
  };
  const report = (r: TaskResult) => {
    results.set(r.task.toLowerCase(), r);
    addToTotals(totals, r);
    if (r.outcome === 'blocked') notifications.push(blockedNotice(cascadeId, image, r));
    if (r.outcome === 'failed') notifications.push(failedNotice(cascadeId, image, r));
  };

  const pushes = new Mailbox(context, PUSH_EVENT);
  const cancels = new Mailbox(context, CANCEL_EVENT);

  /** A later push of this tag: ignored (redelivery, same or older digest) or queued as the follow-up. */
  const onPush = (raw: unknown, phase: 'settle' | 'run'): PushedImage | undefined => {
    const push = parsePushEvent(raw);
    if (!push) {
      log('ignored a malformed push event');
      return undefined;
    }
    if (image && (push.registryId.toLowerCase() !== image.registryId.toLowerCase() || !sameTag(push.ref, image.ref))) {
      log(`ignored a push of ${push.ref}: not this cascade's tag`);
      return undefined;
    }
    if (push.eventId && seen.has(push.eventId)) {
      log(`ignored redelivered event ${push.eventId}`);
      return undefined;
    }
    if (push.eventId) seen.add(push.eventId);
    const current = phase === 'run' ? (followUp ?? image) : image;
    if (current && current.digest === push.digest) {
      log(`ignored a push of the digest already ${phase === 'run' && followUp ? 'queued' : 'in this cascade'}`);
      return undefined;
    }
    if (phase === 'run' && current) {
      // Newest wins between the queued follow-up (or this cascade's image) and the new push.
      if (!isNewerPush(push, current)) {
        log(`ignored a push of ${push.digest}: older than ${current.digest}`);
        return undefined;
      }
    }
    return push;
  };

  /** Pushes delivered while running: the newest newer digest becomes the follow-up. Shows what was read. */
  const queueFollowUps = () => {
    const delivered = pushes.take();
    for (const raw of delivered) {
      const push = onPush(raw, 'run');
      if (push) {
        followUp = push;
        log(`queued a follow-up cascade for ${push.ref}@${push.digest}`);
      }
    }
    if (delivered.length > 0) show();
  };
  /** Events delivered since the last look: follow-up pushes and a cancel. */
  const checkMail = () => {
    queueFollowUps();
    if (cancels.take().length > 0 && !canceled) {
      canceled = true;
      log('cancel requested');
      show();
    }
  };
  /**
   * Awaits one activity while keeping the mailboxes open, so pushes and a cancel are received (not left buffered
   * without a waiter) however long the activity takes.
   */
  const awaitTask = function* (task: Task): Generator<Task, unknown, unknown> {
    for (;;) {
      yield anyOf(context, [task, pushes.next(), ...(canceled ? [] : [cancels.next()])]);
      checkMail();
      if (task.isFaulted) throw task.result;
      if (task.isCompleted) return task.result;
    }
  };

  // ---- 1. settle ---------------------------------------------------------------------------------------------------
  if (image?.eventId) seen.add(image.eventId);
  show();
  if (input.trigger === 'event' && image && input.settleSeconds > 0) {
    const byEvent = new Map<string, PushedImage>();
    const firstId = image.eventId ?? 'initial';
    byEvent.set(firstId, image);
    let seenPushes = recordPush([], {
      digest: image.digest,
      eventId: firstId,
      ...(image.eventTime ? { eventTime: image.eventTime } : {}),
    });
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.settleSeconds * 1000);
    const settled: TimerTask = context.df.createTimer(deadline);
    for (;;) {
      yield anyOf(context, [settled, pushes.next(), cancels.next()]);
      for (const raw of pushes.take()) {
        const push = onPush(raw, 'settle');
        if (!push) continue;
        const id = push.eventId ?? `arrival-${seenPushes.length}`;
        byEvent.set(id, push);
        seenPushes = recordPush(seenPushes, {
          digest: push.digest,
          eventId: id,
          ...(push.eventTime ? { eventTime: push.eventTime } : {}),
        });
        const newest = newestPush(seenPushes);
        image = (newest && byEvent.get(newest.eventId)) ?? image;
        log(`coalesced a push; newest digest now ${image.digest}`);
      }
      if (cancels.take().length > 0) {
        canceled = true;
        if (!settled.isCompleted) settled.cancel();
        log('canceled while settling');
        break;
      }
      show();
      if (settled.isCompleted) break;
    }
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
      plan = yield* callActivity(context, ActivityNames.buildPlan, req, { wait: awaitTask });
    } catch (err) {
      failure = failureMessage(err);
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
      checkMail();
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
      let verdicts: PreflightOutput;
      try {
        verdicts = yield* callActivity(context, ActivityNames.preflightTasks, pre, { wait: awaitTask });
      } catch (err) {
        // Past its retries: the wave is reported failed (not run blind); the cascade goes on to report and hand over.
        const message = failureMessage(err);
        log(`preflight of wave ${w + 1} failed: ${message}`);
        for (const t of candidates) {
          report({
            task: t.task,
            taskName: t.taskName,
            wave: t.wave,
            decision: t.decision,
            outcome: 'failed',
            reasons: [preflightFailed(t, message)],
          });
        }
        show();
        continue;
      }
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

      // Bounded window of rebuildTask sub-orchestrations.
      checkMail();
      const queue = [...ready];
      const inflight = new Map<Task, PlannedTask>();
      while (queue.length > 0 || inflight.size > 0) {
        while (!canceled && inflight.size < input.maxParallelRuns && queue.length > 0) {
          const { t, v } = queue.shift() as { t: PlannedTask; v: PreflightVerdict };
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
          const task = context.df.callSubOrchestrator(
            OrchestrationNames.rebuildTask,
            child,
            childInstanceId(cascadeId, generation, startedAt, t),
          );
          inflight.set(task, t);
        }
        if (canceled && queue.length > 0) {
          for (const { t } of queue.splice(0)) {
            report({
              task: t.task,
              taskName: t.taskName,
              wave: t.wave,
              decision: t.decision,
              outcome: 'canceled',
              reasons: [cascadeCanceled(t)],
            });
          }
        }
        if (inflight.size === 0) break;
        running = inflight.size;
        show();

        const waits: Task[] = [...inflight.keys(), pushes.next(), ...(canceled ? [] : [cancels.next()])];
        // One history event completes at most one task, and the library resumes this code right after it: the
        // winner is the only child that can have finished (waiters that finished are in the mailboxes).
        const winner = (yield anyOf(context, waits)) as Task;
        const t = inflight.get(winner);
        if (t) {
          const task = winner;
          inflight.delete(task);
          if (task.isFaulted) {
            const message = failureMessage(task.result);
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
        const wasCanceled = canceled;
        checkMail();
        if (canceled && !wasCanceled) {
          log(`canceling ${inflight.size} task(s) in flight`);
          const cancel: CancelRunInput = {
            cascadeId,
            cascadeStartedAt: startedAt,
            tasks: [...inflight.values()].map((t) => ({
              task: t.task,
              attempts: 1 + Math.max(0, input.transientRetries),
              ...(base ? { base } : {}),
              ...(input.trigger === 'http' ? { requestId: cascadeId } : {}),
            })),
          };
          // Best effort: a run it could not cancel is still watched to its end by its rebuildTask.
          yield* tryCallActivity(context, ActivityNames.cancelRun, cancel, { wait: awaitTask });
        }
        running = inflight.size;
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
  if (followUp) result.followUp = followUp;
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
  // Neither the record nor the notifications may stop the hand-over below: a failure past the retries is logged and
  // the queued push still gets its cascade.
  const recorded = yield* tryCallActivity(context, ActivityNames.recordCascade, result, { wait: awaitTask });
  if (!recorded) log('the cascade could not be recorded in CascadeHistory (see the failure above)');
  const publish: PublishNotificationsInput = { notifications };
  yield* tryCallActivity(context, ActivityNames.publishNotifications, publish, { wait: awaitTask });

  // ---- 5. follow-up ------------------------------------------------------------------------------------------------
  // Drain pushes raised while reporting (buffered events resolve at once; otherwise an immediate timer wins).
  if (input.trigger === 'event') {
    queueFollowUps();
    for (;;) {
      const drained: TimerTask = context.df.createTimer(context.df.currentUtcDateTime);
      yield anyOf(context, [drained, pushes.next()]);
      if (!drained.isCompleted) drained.cancel();
      queueFollowUps();
      if (drained.isCompleted) break;
    }
  }
  progress.phase = 'done';
  show();
  if (followUp) {
    log(`continuing as the follow-up cascade for ${followUp.ref}@${followUp.digest}`);
    const next: CascadeInput = {
      ...input,
      trigger: 'event',
      image: followUp,
      seenEventIds: [...seen].slice(-MAX_SEEN_EVENT_IDS),
      generation: generation + 1,
    };
    delete next.requestedImage;
    delete next.tasks;
    context.df.continueAsNew(next);
  }
  return result;
}

export const rebuildCascadeHandler: OrchestrationHandler = rebuildCascade;
