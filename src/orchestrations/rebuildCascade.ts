// rebuildCascade: one push (or request) → every dependent task rebuilt once, wave by wave.
// settle  an event cascade waits CASCADE_SETTLE_SECONDS (or a cancel), then takes the newest push from the tag's
//         `cascadeTag` entity (which absorbed redeliveries and repeated digests meanwhile). Pushes after that stay
//         queued in the entity: the intake that owns this cascade reports its end (any end) and runs the next one.
// plan    buildPlan without preflight; each wave is triaged (cascadeSteps), preflighted just before it runs, and run
//         as `rebuildTask` children in windows of at most maxParallelRuns (one fresh Task.all each).
// cancel  one `cancel` waiter for the whole run: scheduling stops, runs in flight are canceled, the end is Canceled.
// report  recordCascade and publishNotifications, best effort. Activities go through calls.ts (one failure policy).
import { EntityId, type OrchestrationContext, type OrchestrationHandler, type Task } from 'durable-functions';
import {
  ActivityNames,
  CANCEL_EVENT,
  EntityNames,
  OrchestrationNames,
  TagOperations,
  type CascadeInput,
  type CascadeProgress,
  type CascadeResult,
  type PlanView,
  type PreflightOutput,
  type PushedImage,
  type TaskResult,
} from '../contracts/index.js';
import { callActivity, failureMessage, tryCallActivity } from './calls.js';
import * as steps from './cascadeSteps.js';
import { replaySafeLogger } from '../telemetry/log.js';

export { DEFAULT_TASK_TIMEOUT_SECONDS, WATCH_MARGIN_SECONDS } from './cascadeSteps.js';

export function* rebuildCascade(context: OrchestrationContext): Generator<Task, CascadeResult, unknown> {
  const input = context.df.getInput() as CascadeInput;
  const cascadeId = context.df.instanceId;
  const generation = input.generation ?? 0;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const cascadeLog = replaySafeLogger(context, { cascadeId });
  const log = (message: string) => cascadeLog.info('cascade.progress', `[rebuildCascade ${cascadeId}] ${message}`);
  // One waiter for `cancel`, created once: each wait races it against tasks created for that wait only.
  const cancelEvent = context.df.waitForExternalEvent(CANCEL_EVENT);
  const results = new Map<string, TaskResult>();
  const report = (list: readonly TaskResult[]) => list.forEach((r) => results.set(r.task.toLowerCase(), r));
  let image: PushedImage | undefined = input.image;
  let plan: PlanView | undefined;
  let wave = 0;
  const show = (phase: CascadeProgress['phase'], running = 0) =>
    context.df.setCustomStatus(
      steps.progressOf({
        phase,
        cascadeId,
        startedAt,
        wave,
        plan,
        results,
        image,
        running,
        canceling: cancelEvent.isCompleted,
      }),
    );
  const awaitTask = function* (task: Task): Generator<Task, unknown, unknown> {
    if (!cancelEvent.isCompleted) yield context.df.Task.any([task, cancelEvent]);
    if (!task.isCompleted) yield task;
    if (task.isFaulted) throw task.result;
    return task.result;
  };

  // settle
  show('settling');
  if (input.trigger === 'event' && image && input.settleSeconds > 0) {
    const settled = context.df.createTimer(
      new Date(context.df.currentUtcDateTime.getTime() + input.settleSeconds * 1000),
    );
    yield context.df.Task.any([settled, cancelEvent]);
    if (!settled.isCompleted) settled.cancel();
  }
  if (input.trigger === 'event' && input.tagKey && !cancelEvent.isCompleted) {
    // The newest push of the tag (it may have arrived while settling); the entity notes it as the one being built.
    const tag = new EntityId(EntityNames.cascadeTag, input.tagKey);
    const newest = (yield context.df.callEntity(tag, TagOperations.take)) as PushedImage | null;
    if (newest && newest.digest !== image?.digest) log(`settled on the newest push ${newest.ref}@${newest.digest}`);
    image = newest ?? image;
  }

  // plan
  let planError: string | undefined;
  if (!cancelEvent.isCompleted) {
    show('planning');
    try {
      plan = yield* callActivity(context, ActivityNames.buildPlan, steps.planRequest(input, image), {
        wait: awaitTask,
      });
    } catch (err) {
      planError = failureMessage(err);
      log(`plan failed: ${planError}`);
    }
  }
  const ids: steps.CascadeIds = { cascadeId, startedAt, base: steps.cascadeBase(input, image) };

  // waves
  if (plan) {
    report(steps.settledOutsideWaves(plan));
    for (let w = 0; w < plan.waves.length; w++) {
      wave = w + 1;
      const { settled, candidates } = steps.triageWave(plan, w, results, cancelEvent.isCompleted);
      report(settled);
      show('running');
      if (candidates.length === 0) continue;
      const pre = { taskIds: candidates.map((t) => t.task), ...(ids.base ? { image: ids.base } : {}) };
      let verdicts: PreflightOutput;
      try {
        verdicts = yield* callActivity(context, ActivityNames.preflightTasks, pre, { wait: awaitTask });
      } catch (err) {
        // Past its retries: the wave is reported failed (not run blind); later waves see their producers failed.
        log(`preflight of wave ${w + 1} failed: ${failureMessage(err)}`);
        report(steps.preflightFailedResults(candidates, failureMessage(err)));
        continue;
      }
      const { ready, blocked } = steps.applyVerdicts(candidates, verdicts, input.autoRemediate);
      report(blocked);
      for (let i = 0; i < ready.length; i += input.maxParallelRuns) {
        const window = ready.slice(i, i + input.maxParallelRuns);
        if (cancelEvent.isCompleted) {
          report(steps.canceledResults(window.map(({ t }) => t)));
          continue;
        }
        yield* runWindow(context, input, ids, generation, window, cancelEvent, report, show);
      }
    }
  }

  // report
  show('reporting');
  const finishedAt = context.df.currentUtcDateTime.toISOString();
  const canceled = cancelEvent.isCompleted;
  const ending = { input, cascadeId, generation, image, plan, planError, canceled, results: results.values() };
  const result = steps.cascadeResult({ ...ending, startedAt, finishedAt });
  if (!(yield* tryCallActivity(context, ActivityNames.recordCascade, result, { wait: awaitTask }))) {
    log('the cascade could not be recorded in CascadeHistory (see the failure above)');
  }
  const notifications = steps.cascadeNotifications(result, image?.ref ?? input.requestedImage?.ref ?? cascadeId);
  yield* tryCallActivity(context, ActivityNames.publishNotifications, { notifications }, { wait: awaitTask });
  show('done');
  return result;
}

/**
 * One window of rebuildTask children: one fresh Task.all raced against the cancel waiter. A cancel while it runs
 * cancels the runs still open (best effort: a run it could not cancel is watched to its end by its rebuildTask);
 * every child is then awaited on its own, so each one's result (or failure) is reported.
 */
function* runWindow(
  context: OrchestrationContext,
  input: CascadeInput,
  ids: steps.CascadeIds,
  generation: number,
  window: ReturnType<typeof steps.applyVerdicts>['ready'],
  cancelEvent: Task,
  report: (list: readonly TaskResult[]) => void,
  show: (phase: CascadeProgress['phase'], running?: number) => void,
): Generator<Task, void, unknown> {
  const children = window.map(({ t, v }) =>
    context.df.callSubOrchestrator(
      OrchestrationNames.rebuildTask,
      steps.childInput(input, ids, t, v),
      steps.childInstanceId(ids.cascadeId, generation, ids.startedAt, t),
    ),
  );
  show('running', children.length);
  try {
    yield context.df.Task.any([context.df.Task.all(children), cancelEvent]);
  } catch {
    // A child failed (Task.all fails on the first failure): every child is awaited below.
  }
  if (cancelEvent.isCompleted) {
    const open = window.filter((_, k) => !children[k]?.isCompleted).map(({ t }) => t);
    show('running', open.length);
    if (open.length > 0) {
      replaySafeLogger(context, { cascadeId: ids.cascadeId }).info(
        'cascade.progress',
        `[rebuildCascade ${ids.cascadeId}] canceling ${open.length} task(s)`,
      );
      yield* tryCallActivity(context, ActivityNames.cancelRun, steps.cancelInput(input, ids, open));
    }
  }
  for (let k = 0; k < children.length; k++) {
    const child = children[k] as Task;
    if (!child.isCompleted) {
      try {
        yield child;
      } catch {
        // reported below
      }
    }
    report([steps.childResult((window[k] as (typeof window)[number]).t, child.isFaulted, child.result)]);
  }
  show('running');
}

export const rebuildCascadeHandler: OrchestrationHandler = rebuildCascade;
