// Pure steps of rebuildCascade: plain data in, plain data out, no durable context. The generator in rebuildCascade.ts
// only sequences them around its activity calls and sub-orchestrations (unit tests: test/unit/cascadeSteps.test.ts).
import { isStillTriggered, type Trigger } from '../domain/index.js';
import type {
  BuildPlanInput,
  CancelRunInput,
  CascadeInput,
  CascadeProgress,
  CascadeReason,
  CascadeResult,
  CascadeTotals,
  Notification,
  PlanView,
  PlanEntry,
  PreflightOutput,
  PreflightVerdict,
  PushedImage,
  RebuildTaskInput,
  TaskOutcome,
  TaskResult,
} from '../contracts/index.js';
import {
  cascadeCanceled,
  planFailed,
  preflightFailed,
  taskOrchestrationFailed,
  upstreamFailed,
} from './cascadeReasons.js';
import { remediable } from './rebuildTask.js';

/** A run is watched for the task's timeout plus this margin (queueing, agent start). */
export const WATCH_MARGIN_SECONDS = 600;
/** Used when the plan does not carry the task's timeout (ACR's default is 3600 s). */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 3600;

const FAILED_OUTCOMES: readonly TaskOutcome[] = ['failed', 'blocked', 'canceled'];

/** The base image a cascade rolls out (override values for its runs, and the exactly-once key). */
export type CascadeBase = { ref: string; digest: string };

export function emptyTotals(): CascadeTotals {
  return { planned: 0, scheduled: 0, succeeded: 0, failed: 0, blocked: 0, skipped: 0, canceled: 0 };
}

export function countTotals(results: Iterable<TaskResult>, planned: number): CascadeTotals {
  const t = emptyTotals();
  t.planned = planned;
  for (const r of results) {
    if (r.run) t.scheduled++;
    t[r.outcome]++;
  }
  return t;
}

/** A result for a task that never ran (or whose child failed), with the plan's own decision. */
export function resultOf(t: PlanEntry, outcome: TaskOutcome, reasons: CascadeReason[]): TaskResult {
  return { task: t.task, taskName: t.taskName, wave: t.wave, decision: t.decision, outcome, reasons };
}

/** What the plan asks for: the settled push, else the requested image, else the requested tasks. No preflight. */
export function planRequest(input: CascadeInput, image: PushedImage | undefined): BuildPlanInput {
  if (image) return { preflight: false, image: { ref: image.ref, digest: image.digest } };
  if (input.requestedImage) return { preflight: false, image: input.requestedImage };
  return { preflight: false, ...(input.tasks ? { tasks: input.tasks } : {}) };
}

export function cascadeBase(input: CascadeInput, image: PushedImage | undefined): CascadeBase | undefined {
  const ref = image ?? (input.requestedImage?.digest ? input.requestedImage : undefined);
  return ref?.digest ? { ref: ref.ref.replace(/@sha256:[0-9a-f]{64}$/, ''), digest: ref.digest } : undefined;
}

/** Tasks the plan settled outside its waves (up to date, in a loop, unknown): reported, never scheduled. */
export function settledOutsideWaves(plan: PlanView): TaskResult[] {
  const inWaves = new Set(plan.waves.flat());
  return Object.values(plan.tasks)
    .filter((t) => !inWaves.has(t.task))
    .map((t) => resultOf(t, t.decision === 'skip' ? 'skipped' : 'blocked', t.reasons));
}

/** Why the plan has the task; a plan without `triggers` (older history) knows only its producers. */
function triggersOf(t: PlanEntry): { triggers: readonly Trigger[] } {
  return { triggers: t.triggers ?? t.dependsOn.map((id) => ({ why: 'output' as const, producerTaskId: id })) };
}

/**
 * Splits wave `w` into results known without running (canceled, skipped, blocked, upstream failed) and candidates.
 * Upstream failed is the domain's rule (isStillTriggered): a task runs while the push or the request triggers it
 * directly or one producer it waits for did not fail.
 */
export function triageWave(
  plan: PlanView,
  w: number,
  results: ReadonlyMap<string, TaskResult>,
  canceled: boolean,
): { settled: TaskResult[]; candidates: PlanEntry[] } {
  const settled: TaskResult[] = [];
  const candidates: PlanEntry[] = [];
  const failed = [...results.values()].filter((r) => FAILED_OUTCOMES.includes(r.outcome)).map((r) => r.task);
  for (const id of plan.waves[w] ?? []) {
    const t = plan.tasks[id];
    if (!t) continue;
    if (canceled) settled.push(...canceledResults([t]));
    else if (t.decision === 'skip') settled.push(resultOf(t, 'skipped', t.reasons));
    else if (t.decision === 'blocked') settled.push(resultOf(t, 'blocked', t.reasons));
    else if (t.dependsOn.length > 0 && !isStillTriggered(triggersOf(t), failed)) {
      const producers = t.dependsOn
        .map((d) => results.get(d.toLowerCase()))
        .filter((r): r is TaskResult => r !== undefined)
        .map((r) => ({ taskName: r.taskName, outcome: r.outcome }));
      settled.push(resultOf(t, 'blocked', [upstreamFailed(t, producers)]));
    } else candidates.push(t);
  }
  return { settled, candidates };
}

/** Preflight verdicts → tasks to run (with their verdict) and tasks reported blocked (unless auto-remediable). */
export function applyVerdicts(
  candidates: readonly PlanEntry[],
  verdicts: PreflightOutput,
  autoRemediate: boolean,
): { ready: { t: PlanEntry; v: PreflightVerdict }[]; blocked: TaskResult[] } {
  const ready: { t: PlanEntry; v: PreflightVerdict }[] = [];
  const blocked: TaskResult[] = [];
  for (const t of candidates) {
    const v = verdicts[t.task] ?? { task: t.task, decision: 'ready', reasons: [], identity: t.identity };
    if (v.decision === 'blocked' && !(autoRemediate && remediable(v.reasons))) {
      blocked.push({ ...resultOf(t, 'blocked', v.reasons), decision: 'blocked' });
    } else ready.push({ t, v });
  }
  return { ready, blocked };
}

/** Tasks never started because the cascade was canceled. */
export function canceledResults(tasks: readonly PlanEntry[]): TaskResult[] {
  return tasks.map((t) => resultOf(t, 'canceled', [cascadeCanceled(t)]));
}

/** A wave whose preflight failed past its retries: reported failed, never run blind. */
export function preflightFailedResults(candidates: readonly PlanEntry[], message: string): TaskResult[] {
  return candidates.map((t) => resultOf(t, 'failed', [preflightFailed(t, message)]));
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
export function childInstanceId(cascadeId: string, generation: number, startedAt: string, t: PlanEntry): string {
  const stamp = startedAt.replace(/[-:.]/g, '');
  const name = t.taskName.replace(/[^A-Za-z0-9-]/g, '').slice(0, 50);
  return `${cascadeId}:g${generation}-${stamp}:${name}-${hash32(t.task.toLowerCase())}`;
}

export interface CascadeIds {
  cascadeId: string;
  startedAt: string;
  base: CascadeBase | undefined;
}

export function childInput(input: CascadeInput, ids: CascadeIds, t: PlanEntry, v: PreflightVerdict): RebuildTaskInput {
  return {
    cascadeId: ids.cascadeId,
    cascadeStartedAt: ids.startedAt,
    planned: t,
    verdict: v,
    transientRetries: input.transientRetries,
    autoRemediate: input.autoRemediate,
    pollInitialSeconds: input.pollInitialSeconds,
    pollMaxSeconds: input.pollMaxSeconds,
    timeoutSeconds: (t.timeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS) + WATCH_MARGIN_SECONDS,
    ...(ids.base ? { base: ids.base } : {}),
    ...(input.trigger === 'http' ? { requestId: ids.cascadeId } : {}),
  };
}

/** The result of one child: its own TaskResult, or TaskOrchestrationFailed when the sub-orchestration failed. */
export function childResult(t: PlanEntry, faulted: boolean, value: unknown): TaskResult {
  if (!faulted) return value as TaskResult;
  const text = value instanceof Error ? value.message : String(value);
  return resultOf(t, 'failed', [taskOrchestrationFailed(t, (text.split('\n')[0] ?? '').slice(0, 500))]);
}

export function cancelInput(input: CascadeInput, ids: CascadeIds, open: readonly PlanEntry[]): CancelRunInput {
  return {
    cascadeId: ids.cascadeId,
    cascadeStartedAt: ids.startedAt,
    tasks: open.map((t) => ({
      task: t.task,
      attempts: 1 + Math.max(0, input.transientRetries),
      ...(ids.base ? { base: ids.base } : {}),
      ...(input.trigger === 'http' ? { requestId: ids.cascadeId } : {}),
    })),
  };
}

export interface CascadeState {
  phase: CascadeProgress['phase'];
  cascadeId: string;
  startedAt: string;
  /** 1-based wave being run (0 before the first). */
  wave: number;
  plan: PlanView | undefined;
  results: ReadonlyMap<string, TaskResult>;
  image: PushedImage | undefined;
  /** Runs in flight now. */
  running: number;
  canceling: boolean;
}

/** The custom status a cascade shows (GET /api/rebuilds/{id} `progress`). */
export function progressOf(s: CascadeState): CascadeProgress {
  const planned = s.plan ? Object.keys(s.plan.tasks).length : 0;
  return {
    phase: s.phase,
    wave: s.wave,
    waves: s.plan?.waves.length ?? 0,
    totals: { ...countTotals(s.results.values(), planned), running: s.running },
    cascadeId: s.cascadeId,
    startedAt: s.startedAt,
    ...(s.image ? { image: { ref: s.image.ref, digest: s.image.digest } } : {}),
    ...(s.canceling ? { canceling: true } : {}),
  };
}

export interface CascadeEnding {
  input: CascadeInput;
  cascadeId: string;
  generation: number;
  image: PushedImage | undefined;
  plan: PlanView | undefined;
  planError: string | undefined;
  canceled: boolean;
  results: Iterable<TaskResult>;
  startedAt: string;
  finishedAt: string;
}

export function cascadeResult(e: CascadeEnding): CascadeResult {
  const tasks = [...e.results].sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName));
  const result: CascadeResult = {
    cascadeId: e.cascadeId,
    trigger: e.input.trigger,
    ...(e.image ? { image: e.image } : {}),
    status: e.planError !== undefined ? 'Failed' : e.canceled ? 'Canceled' : 'Completed',
    waves: e.plan?.waves.length ?? 0,
    tasks,
    totals: countTotals(tasks, e.plan ? Object.keys(e.plan.tasks).length : 0),
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    generation: e.generation,
  };
  const notes: CascadeReason[] = [
    ...(e.plan?.notes ?? []),
    ...(e.planError !== undefined ? [planFailed(e.planError)] : []),
  ];
  if (notes.length > 0) result.notes = notes;
  if (e.planError !== undefined) result.error = e.planError;
  return result;
}

function taskNoticeData(r: CascadeResult, t: TaskResult): Record<string, unknown> {
  return {
    cascadeId: r.cascadeId,
    task: t.task,
    taskName: t.taskName,
    wave: t.wave,
    ...(r.image ? { image: { ref: r.image.ref, digest: r.image.digest } } : {}),
    reasons: t.reasons.map((x) => ({ code: x.code, message: x.message, ...(x.fix ? { fix: x.fix } : {}) })),
  };
}

/** cascade.taskBlocked / cascade.runFailed per task, then cascade.completed. */
export function cascadeNotifications(r: CascadeResult, subject: string): Notification[] {
  const out: Notification[] = [];
  for (const t of r.tasks) {
    if (t.outcome === 'blocked') out.push({ type: 'cascade.taskBlocked', subject: t.task, data: taskNoticeData(r, t) });
    if (t.outcome === 'failed') {
      const run = t.run ? { runId: t.run.runId, status: t.run.status, attempts: t.run.attempts } : {};
      out.push({ type: 'cascade.runFailed', subject: t.task, data: { ...taskNoticeData(r, t), ...run } });
    }
  }
  out.push({
    type: 'cascade.completed',
    subject,
    data: {
      cascadeId: r.cascadeId,
      status: r.status,
      trigger: r.trigger,
      ...(r.image ? { image: { ref: r.image.ref, digest: r.image.digest } } : {}),
      waves: r.waves,
      totals: r.totals,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    },
  });
  return out;
}
