// Read routes for people looking at the app (the dashboard, the CLI), on top of the API's own:
//   GET /api/rebuilds/{id}/tasks   every task of one cascade as it stands now: wave, decision, state, run id, run
//                                  status, start/end, reasons — live while the cascade runs, final once it ended
//   GET /api/index/tasks           the indexed registries and tasks (names, status, bases, outputs, problems)
// Same auth, roles and error model as every route (src/http/errors.ts). No secret values: the plan and results hold
// ids, names, reasons and fix commands only, and task credentials are listed as counts.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import {
  ActivityNames,
  OrchestrationNames,
  type CascadeReason,
  type CascadeResult,
  type Plan,
  type PlanDecision,
  type PreflightOutput,
  type TaskResult,
} from '../contracts/index.js';
import { normalizeId } from '../domain/index.js';
import type { RebuildTaskStatus } from '../orchestrations/rebuildTask.js';
import { ApiError, apiAuthLevel, route } from '../http/errors.js';
import { ROLES } from '../http/auth.js';
import { cascadeStatus, recordedStatus, type CascadeStatus } from '../http/status.js';
import * as v from '../http/validate.js';
import { planActivities, reportActivities } from './activities.js';
import { ACTIVE, statusOf, type DurableClient } from './durable.js';

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
  | 'canceled';

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
}

type History = Record<string, unknown>[];

/** The last result of an activity in a (status API formatted) history. */
function lastResult<T>(history: History, fn: string): T | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i]!;
    if (e.EventType === 'TaskCompleted' && e.FunctionName === fn) return e.Result as T;
  }
  return undefined;
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

/**
 * A running cascade, pieced together from what it has recorded: the plan (buildPlan), per-wave preflight verdicts,
 * the results of tasks that finished (sub-orchestration outputs) and the live status of tasks in flight (each
 * rebuildTask instance's custom status). Pure: the inputs are plain data.
 */
export function liveView(
  id: string,
  status: CascadeStatus,
  history: History,
  inflight: { customStatus?: unknown; createdTime?: string | Date }[],
): CascadeTasksView {
  const plan = lastResult<Plan>(history, ActivityNames.buildPlan);
  if (!plan) return { id, status, waves: [], tasks: [] };
  const views = new Map<string, TaskView>();
  for (const t of Object.values(plan.tasks)) {
    const final = t.decision === 'skip' ? 'skipped' : t.decision === 'blocked' ? 'blocked' : undefined;
    views.set(t.task.toLowerCase(), {
      task: t.task,
      taskName: t.taskName,
      wave: t.wave,
      decision: t.decision,
      state: final ?? 'waiting',
      reasons: t.reasons,
    });
  }
  for (const e of history) {
    if (e.EventType === 'TaskCompleted' && e.FunctionName === ActivityNames.preflightTasks) {
      for (const verdict of Object.values((e.Result ?? {}) as PreflightOutput)) {
        const view = views.get(verdict.task.toLowerCase());
        if (view && verdict.decision === 'blocked') {
          Object.assign(view, { decision: 'blocked', state: 'blocked', reasons: verdict.reasons });
        }
      }
    }
  }
  for (const c of inflight) {
    const s = c.customStatus as Partial<RebuildTaskStatus> | null | undefined;
    const view = s?.task ? views.get(s.task.toLowerCase()) : undefined;
    if (!view || !s?.phase || s.phase === 'done') continue;
    view.state = s.phase;
    if (s.runId) view.runId = s.runId;
    if (s.status) view.runStatus = s.status;
    if (s.attempt) view.attempts = s.attempt;
    if (c.createdTime) view.startedAt = new Date(c.createdTime).toISOString();
  }
  for (const e of history) {
    if (e.EventType === 'SubOrchestrationInstanceCompleted' && e.FunctionName === OrchestrationNames.rebuildTask) {
      const r = e.Result as TaskResult | undefined;
      if (r?.task) views.set(r.task.toLowerCase(), fromResult(r));
    }
  }
  const tasks = [...views.values()].sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName));
  return { id, status, waves: plan.waves, tasks };
}

/** The rebuildTask instances of a cascade still in flight (children are named `<cascade id>:…`). */
async function inflightChildren(
  client: DurableClient,
  id: string,
  since: Date,
): Promise<df.DurableOrchestrationStatus[]> {
  const found = await client.getStatusBy({
    createdTimeFrom: since,
    runtimeStatus: [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending],
  });
  return found.filter((s) => s.name === OrchestrationNames.rebuildTask && s.instanceId.startsWith(`${id}:`));
}

export async function getCascadeTasks(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = v.instanceId(req.params.id);
  const client = df.getClient(context);
  const durable = await statusOf(client, id);
  if (durable && durable.name === OrchestrationNames.rebuildCascade) {
    const status = cascadeStatus(durable.runtimeStatus, durable.output);
    const output = durable.output as CascadeResult | null | undefined;
    if (!ACTIVE.has(durable.runtimeStatus) && output && Array.isArray(output.tasks)) {
      return { status: 200, jsonBody: endedView(id, status, output) };
    }
    const full = await client.getStatus(id, { showHistory: true, showHistoryOutput: true, showInput: false });
    const history = (full.history ?? []) as History;
    const inflight = ACTIVE.has(durable.runtimeStatus)
      ? await inflightChildren(client, id, new Date(durable.createdTime))
      : [];
    return { status: 200, jsonBody: liveView(id, status, history, inflight) };
  }
  const record = await reportActivities().getCascadeRecord(id);
  if (!record) throw new ApiError('NotFound', `no cascade '${id}'`, 'id');
  return { status: 200, jsonBody: endedView(id, recordedStatus(record.status), record) };
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
  const snap = await planActivities().index();
  const perRegistry = new Map<string, number>();
  const tasks: IndexTasksView['tasks'] = [];
  const sorted = [...snap.tasks.values()].sort((a, b) => a.info.name.localeCompare(b.info.name));
  for (const t of sorted) {
    const regKey = normalizeId(t.registryId);
    const reg = snap.registries.get(regKey);
    perRegistry.set(regKey, (perRegistry.get(regKey) ?? 0) + 1);
    if (tasks.length >= top) continue;
    tasks.push({
      id: t.taskId,
      name: t.info.name,
      registry: reg?.name ?? t.registryId.split('/').pop() ?? t.registryId,
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
    truncated: snap.tasks.size > tasks.length,
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
