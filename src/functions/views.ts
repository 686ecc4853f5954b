// Read routes for people looking at the app (the dashboard, the CLI), on top of the API's own:
//   GET /api/rebuilds/{id}/tasks   every task of one cascade as it stands now: wave, decision, state, run id, run
//                                  status, start/end, reasons — live while the cascade runs, final once it ended
//   GET /api/index/tasks           the indexed registries and tasks (names, status, bases, outputs, problems)
// Same auth, roles and error model as every route (src/http/errors.ts). No secret values: the plan and results hold
// ids, names, reasons and fix commands only, and task credentials are listed as counts.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import {
  OrchestrationNames,
  type BuildPlanInput,
  type CascadeInput,
  type CascadeProgress,
  type CascadeReason,
  type CascadeResult,
  type PlanView,
  type PlanDecision,
  type PreflightOutput,
  type TaskResult,
} from '../contracts/index.js';
import { ImageRefError, normalizeId } from '../domain/index.js';
import type { RebuildTaskStatus } from '../orchestrations/rebuildTask.js';
import { ApiError, apiAuthLevel, route } from '../http/errors.js';
import { ROLES } from '../http/auth.js';
import { cascadeStatus, recordedStatus, type CascadeStatus } from '../http/status.js';
import * as v from '../http/validate.js';
import { planActivities, reportActivities } from './activities.js';
import { statusOf, type DurableClient } from './durable.js';

/** Where a task of a cascade stands. The last five are final (`TaskResult.outcome`). */
export type TaskState =
  | 'waiting'
  | 'scheduling'
  | 'remediating'
  | 'throttled'
  | 'watching'
  | 'rechecking'
  | 'succeeded'
  | 'failed'
  | 'blocked'
  | 'skipped'
  | 'canceled'
  | 'notRun';

export interface TaskView {
  task: string;
  taskName: string;
  wave: number;
  decision: PlanDecision;
  state: TaskState;
  reasons: CascadeReason[];
  runId?: string;
  runStatus?: string;
  attempts?: number;
  /** ISO: the run's start (ACR), else when the cascade started working on the task. */
  startedAt?: string;
  /** ISO: the run's end (ACR), else when the task's work ended. */
  finishedAt?: string;
  adopted?: boolean;
}

export interface CascadeTasksView {
  id: string;
  status: CascadeStatus;
  /** Task ids per wave, wave 1 first (empty until the cascade has planned). */
  waves: string[][];
  tasks: TaskView[];
  /** What was asked for: the image (pushed or requested) or the task ids. */
  request?: { image?: { ref: string; digest?: string }; tasks?: string[] };
}

/** A task's result as the cascade returned it or the history table recorded it. */
type ResultLike = Pick<TaskResult, 'task' | 'taskName' | 'wave' | 'decision' | 'outcome'> & {
  reasons: CascadeReason[] | Pick<CascadeReason, 'code' | 'severity' | 'message' | 'fix'>[];
  run?: { runId: string; status: string; attempts: number; startTime?: string; finishTime?: string; adopted?: boolean };
};

function fromResult(r: ResultLike): TaskView {
  return {
    task: r.task,
    taskName: r.taskName,
    wave: r.wave,
    decision: r.decision,
    state: r.outcome,
    reasons: r.reasons as CascadeReason[],
    ...(r.run
      ? {
          runId: r.run.runId,
          runStatus: r.run.status,
          attempts: r.run.attempts,
          ...(r.run.startTime ? { startedAt: r.run.startTime } : {}),
          ...(r.run.finishTime ? { finishedAt: r.run.finishTime } : {}),
          ...(r.run.adopted ? { adopted: true } : {}),
        }
      : {}),
  };
}

function wavesOf(tasks: TaskView[]): string[][] {
  const waves: string[][] = [];
  for (const t of tasks) (waves[Math.max(0, t.wave - 1)] ??= []).push(t.task);
  return Array.from(waves, (w) => w ?? []);
}

/** An ended cascade: its result says everything. */
export function endedView(id: string, status: CascadeStatus, result: { tasks: ResultLike[] }): CascadeTasksView {
  const tasks = result.tasks.map(fromResult).sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName));
  return { id, status, waves: wavesOf(tasks), tasks };
}

/** A rebuildTask instance of the cascade: its live custom status, or its result once it ended. */
export interface ChildStatus {
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
  createdTime?: string | Date;
}

/**
 * A running cascade, pieced together from what can be read while it runs: the plan of the same request (its waves,
 * decisions and skip reasons), the preflight verdicts of tasks in waves it has reached but did not start (blocked),
 * the result of each task that has finished and the live status (phase, run id, run status) of each task in flight —
 * both from the cascade's rebuildTask instances. A planned task with no instance is `waiting` while its wave is
 * ahead, `notRun` once the cascade went past it (blocked at preflight or canceled: the result will say). Pure.
 */
export function liveView(
  id: string,
  status: CascadeStatus,
  plan: PlanView | undefined,
  children: ChildStatus[],
  progress: Partial<CascadeProgress> | undefined,
  verdicts: PreflightOutput = {},
): CascadeTasksView {
  if (!plan || progress?.phase === 'settling' || progress?.phase === 'planning') {
    return { id, status, waves: [], tasks: [] };
  }
  const wave = progress?.wave ?? 0;
  const views = new Map<string, TaskView>();
  for (const t of Object.values(plan.tasks)) {
    const state: TaskState =
      t.decision === 'skip' ? 'skipped' : t.decision === 'blocked' ? 'blocked' : t.wave >= wave ? 'waiting' : 'notRun';
    views.set(t.task.toLowerCase(), {
      task: t.task,
      taskName: t.taskName,
      wave: t.wave,
      decision: t.decision,
      state,
      reasons: t.reasons,
    });
  }
  for (const c of children) {
    const result = c.output as TaskResult | null | undefined;
    if (c.runtimeStatus === 'Completed' && result?.task) {
      views.set(result.task.toLowerCase(), fromResult(result));
      continue;
    }
    const s = c.customStatus as Partial<RebuildTaskStatus> | null | undefined;
    const view = s?.task ? views.get(s.task.toLowerCase()) : undefined;
    if (!view || !s?.phase || s.phase === 'done') continue;
    view.state = s.phase;
    if (s.runId) view.runId = s.runId;
    if (s.status) view.runStatus = s.status;
    if (s.attempt) view.attempts = s.attempt;
    if (c.createdTime) view.startedAt = new Date(c.createdTime).toISOString();
  }
  // A task of a wave the cascade has reached that has no instance: its preflight blocked it (or it is canceled).
  for (const v of Object.values(verdicts)) {
    const view = views.get(v.task.toLowerCase());
    if (view && (view.state === 'waiting' || view.state === 'notRun') && v.decision === 'blocked') {
      Object.assign(view, { decision: 'blocked', state: 'blocked', reasons: v.reasons });
    }
  }
  const tasks = [...views.values()].sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName));
  return { id, status, waves: plan.waves, tasks };
}

/**
 * The rebuildTask instances of one execution of a cascade (children are named `<cascade id>:g<generation>-…`). A
 * created-time query: its cost follows the instances created since the cascade started, not the hub's size.
 */
async function childrenOf(client: DurableClient, id: string, generation: number, since: Date): Promise<ChildStatus[]> {
  const found = await client.getStatusBy({ createdTimeFrom: new Date(since.getTime() - 1000) });
  const prefix = `${id}:g${generation}-`;
  return found.filter((s) => s.name === OrchestrationNames.rebuildTask && s.instanceId.startsWith(prefix));
}

/** The plan the cascade made (same request), recomputed without preflight; undefined when it cannot be made. */
async function planOf(
  input: Partial<CascadeInput>,
  progress: Partial<CascadeProgress> | undefined,
): Promise<PlanView | undefined> {
  const image = progress?.image ?? input.image ?? input.requestedImage;
  const req: BuildPlanInput = { preflight: false };
  if (image) req.image = image.digest ? { ref: image.ref, digest: image.digest } : { ref: image.ref };
  else if (input.tasks?.length) req.tasks = input.tasks;
  else return undefined;
  try {
    return await planActivities().buildPlan(req);
  } catch (err) {
    if (err instanceof ImageRefError) return undefined;
    throw err;
  }
}

/** Tasks in a wave the cascade has reached, planned to rebuild, without an instance: blocked at preflight? */
function unstarted(view: CascadeTasksView, progress: Partial<CascadeProgress> | undefined): string[] {
  if (progress?.phase !== 'running' || progress.canceling) return [];
  const wave = progress.wave ?? 0;
  return view.tasks.filter((t) => t.wave <= wave && (t.state === 'waiting' || t.state === 'notRun')).map((t) => t.task);
}

/**
 * Preflight verdicts of such tasks, kept a short while per cascade: the page polls every second or two, and a
 * preflight reads role assignments through ARM (the cascade made the same check just before the wave).
 */
const verdictCache = new Map<string, { at: number; verdicts: PreflightOutput }>();
const VERDICT_TTL_MS = 20_000;

async function verdictsOf(id: string, taskIds: string[]): Promise<PreflightOutput> {
  if (taskIds.length === 0) return {};
  const key = `${id}|${taskIds.join(',').toLowerCase()}`;
  const hit = verdictCache.get(key);
  if (hit && Date.now() - hit.at < VERDICT_TTL_MS) return hit.verdicts;
  const verdicts = await planActivities().preflightTasks({ taskIds });
  if (verdictCache.size > 200) verdictCache.clear();
  verdictCache.set(key, { at: Date.now(), verdicts });
  return verdicts;
}

function requestOf(input: Partial<CascadeInput>, progress?: Partial<CascadeProgress>): CascadeTasksView['request'] {
  const image = input.image ?? progress?.image ?? input.requestedImage;
  if (image) return { image: image.digest ? { ref: image.ref, digest: image.digest } : { ref: image.ref } };
  if (input.tasks?.length) return { tasks: input.tasks };
  return undefined;
}

export async function getCascadeTasks(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = v.instanceId(req.params.id);
  const client = df.getClient(context);
  const durable = await statusOf(client, id, true);
  if (durable && durable.name === OrchestrationNames.rebuildCascade) {
    const status = cascadeStatus(durable.runtimeStatus, durable.output);
    const output = durable.output as CascadeResult | null | undefined;
    const input = (durable.input ?? {}) as Partial<CascadeInput>;
    const progress = (durable.customStatus ?? undefined) as Partial<CascadeProgress> | undefined;
    const request = requestOf(input, progress);
    const withRequest = (view: CascadeTasksView): CascadeTasksView => (request ? { ...view, request } : view);
    if (output && typeof output === 'object' && Array.isArray(output.tasks)) {
      return { status: 200, jsonBody: withRequest(endedView(id, status, output)) };
    }
    const [plan, children] = await Promise.all([
      planOf(input, progress),
      childrenOf(client, id, input.generation ?? 0, new Date(durable.createdTime)),
    ]);
    let view = liveView(id, status, plan, children, progress);
    const pending = unstarted(view, progress);
    if (pending.length > 0) view = liveView(id, status, plan, children, progress, await verdictsOf(id, pending));
    return { status: 200, jsonBody: withRequest(view) };
  }
  const record = await reportActivities().getCascadeRecord(id);
  if (!record) throw new ApiError('NotFound', `no cascade '${id}'`, 'id');
  const view = endedView(id, recordedStatus(record.status), record);
  return { status: 200, jsonBody: record.image ? { ...view, request: { image: record.image } } : view };
}

export interface IndexTasksView {
  refreshedAt?: string;
  registries: { id: string; name: string; loginServer: string; tasks: number }[];
  tasks: {
    id: string;
    name: string;
    registry: string;
    status: string;
    baseImages: { ref: string; source: string }[];
    outputImages: string[];
    /** Registry logins the task's runs use (Key Vault secrets or identity), as a count: details are in /api/credentials. */
    logins: number;
    nativeTrigger?: string;
    problems: string[];
  }[];
  /** More tasks than `top` matched. */
  truncated: boolean;
}

export async function getIndexTasks(req: HttpRequest): Promise<HttpResponseInit> {
  const top = v.top(req.query.get('top'), 500, 5000);
  // `task=registry/name,…` finds tasks by the names people see (the CLI turns them into ARM ids this way).
  const names = v.taskNames(req.query.get('task'));
  const snap = await planActivities().index();
  const perRegistry = new Map<string, number>();
  const tasks: IndexTasksView['tasks'] = [];
  let matched = 0;
  const sorted = [...snap.tasks.values()].sort((a, b) => a.info.name.localeCompare(b.info.name));
  for (const t of sorted) {
    const regKey = normalizeId(t.registryId);
    const reg = snap.registries.get(regKey);
    perRegistry.set(regKey, (perRegistry.get(regKey) ?? 0) + 1);
    const registryName = reg?.name ?? t.registryId.split('/').pop() ?? t.registryId;
    const full = `${registryName}/${t.info.name}`.toLowerCase();
    if (names && !names.some((n) => n === full || n === t.info.name.toLowerCase())) continue;
    matched++;
    if (tasks.length >= top) continue;
    tasks.push({
      id: t.taskId,
      name: t.info.name,
      registry: registryName,
      status: t.info.status,
      baseImages: t.info.baseImages.map((b) => ({ ref: b.ref, source: b.source })),
      outputImages: t.info.outputImages,
      logins: t.info.credentials.length,
      ...(t.info.nativeTrigger ? { nativeTrigger: t.info.nativeTrigger.status } : {}),
      problems: t.problems,
    });
  }
  const registries = [...snap.registries.values()]
    .map((r) => ({
      id: r.id,
      name: r.name,
      loginServer: r.loginServer,
      tasks: perRegistry.get(normalizeId(r.id)) ?? 0,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const body: IndexTasksView = {
    refreshedAt: snap.meta.refreshedAt,
    registries,
    tasks,
    truncated: matched > tasks.length,
  };
  return { status: 200, jsonBody: body };
}

app.http('rebuildsTasks', {
  route: 'rebuilds/{id}/tasks',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: route(ROLES.reader, getCascadeTasks),
});
app.http('indexTasks', {
  route: 'index/tasks',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, getIndexTasks),
});
