// HTTP routes of rebuild cascades:
//   POST /api/rebuilds                { image } | { tasks: [ids] }, dryRun? → 202 { id, status, statusUri, cancelUri }
//                                     (dryRun: 200 { dryRun, plan } — the plan shape of GET /api/plan, computed by the
//                                     plan activity factory directly, no orchestration)
//   GET  /api/rebuilds/{id}           status, progress and, when done, per-task results; falls back to the
//                                     CascadeHistory table once the durable instance is gone
//   GET  /api/rebuilds?status=&top=   recent cascades, newest first
//   POST /api/rebuilds/{id}/cancel    raises `cancel`: the cascade stops scheduling, cancels its runs, ends Canceled
// Responses carry only the app's own URLs (never the durable extension's management URLs and system key); errors use
// the one model of src/http/errors.ts; `status` is the one vocabulary of src/http/status.ts.
import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { ContinuationError, FIRST_HISTORY_PAGE } from '../activities/report/index.js';
import { planActivities, reportActivities } from './activities.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { CANCEL_EVENT, OrchestrationNames, type CascadeInput, type CascadeResult } from '../contracts/index.js';
import { ApiError, apiAuthLevel, callerOf, route } from '../http/errors.js';
import { authorize, describeCaller, ROLES } from '../http/auth.js';
import { planBody } from '../http/shapes.js';
import { ACTIVE_STATUSES, cascadeStatus, recordedStatus, type CascadeStatus } from '../http/status.js';
import * as v from '../http/validate.js';
import { logger } from '../telemetry/log.js';
import { ACTIVE, cascadeInputFrom, statusOf } from './durable.js';

function registryNameOf(id: string): string {
  return (id.replace(/\/+$/, '').split('/').pop() ?? '').toLowerCase();
}

/** May this login server's images be rebuilt from? Watched registries, and registries the index manages. */
async function imageAllowed(settings: Settings, loginServer: string): Promise<boolean> {
  const name = loginServer.split('.')[0]?.toLowerCase() ?? '';
  if (settings.watchedRegistries.some((id) => registryNameOf(id) === name)) return true;
  if (settings.managedScopes.some((s) => /\/registries\/[^/]+$/i.test(s) && registryNameOf(s) === name)) return true;
  const index = await planActivities().index();
  for (const r of index.registries.values()) if (r.loginServer === loginServer.toLowerCase()) return true;
  return false;
}

interface RebuildRequest {
  image?: { ref: string; digest?: string };
  tasks?: string[];
  dryRun: boolean;
}

async function parseRebuildRequest(req: HttpRequest, settings: Settings): Promise<RebuildRequest> {
  const b = await v.jsonObject(req, ['image', 'tasks', 'dryRun']);
  const dryRun = v.optionalBoolean(b.dryRun, 'dryRun') ?? false;
  if (b.image === undefined && b.tasks === undefined) throw v.invalidField('image', 'image or tasks is required');
  if (b.image !== undefined && b.tasks !== undefined) throw v.invalidField('tasks', 'give image or tasks, not both');
  if (b.tasks !== undefined) return { tasks: v.taskIds(b.tasks, 'tasks', settings.managedScopes), dryRun };
  const { loginServer, ...image } = v.image(b.image);
  if (!(await imageAllowed(settings, loginServer))) {
    throw new ApiError(
      'OutsideManagedScopes',
      `registry ${loginServer} is neither watched nor inside the managed scopes`,
      'image',
    );
  }
  return { image, dryRun };
}

function statusUrl(req: HttpRequest, id: string): string {
  return `${new URL(req.url).origin}/api/rebuilds/${encodeURIComponent(id)}`;
}

export async function postRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const settings = loadSettings();
  const parsed = await parseRebuildRequest(req, settings);
  if (parsed.dryRun) {
    const plan = await planActivities().buildPlan({
      ...(parsed.image ? { image: parsed.image } : {}),
      ...(parsed.tasks ? { tasks: parsed.tasks } : {}),
      preflight: true,
    });
    return { status: 200, jsonBody: { dryRun: true, plan: planBody(plan) } };
  }
  // A dry run is a read (Reader); starting a cascade needs Operator.
  const caller = callerOf(req);
  authorize(caller, ROLES.operator);
  const input: CascadeInput = {
    ...cascadeInputFrom(settings, 'http'),
    ...(parsed.image ? { requestedImage: parsed.image } : {}),
    ...(parsed.tasks ? { tasks: parsed.tasks } : {}),
    requestedBy: describeCaller(caller),
  };
  const id = `rebuild-${randomUUID()}`;
  await df.getClient(context).startNew(OrchestrationNames.rebuildCascade, { instanceId: id, input });
  logger(context, { cascadeId: id }).info('cascade.requested', `cascade ${id} started on request`);
  const url = statusUrl(req, id);
  return {
    status: 202,
    headers: { location: url },
    jsonBody: { id, status: 'Pending', statusUri: url, cancelUri: `${url}/cancel` },
  };
}

function notFound(id: string): ApiError {
  return new ApiError('NotFound', `no cascade '${id}'`, 'id');
}

export async function getRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = v.instanceId(req.params.id);
  const durable = await statusOf(df.getClient(context), id, true);
  if (durable && durable.name === OrchestrationNames.rebuildCascade) {
    const output = durable.output as CascadeResult | null | undefined;
    const requestedBy = (durable.input as Partial<CascadeInput> | null | undefined)?.requestedBy;
    const status = cascadeStatus(durable.runtimeStatus, output);
    return {
      status: 200,
      jsonBody: {
        id,
        source: 'durable',
        status,
        runtimeStatus: status,
        createdTime: durable.createdTime,
        lastUpdatedTime: durable.lastUpdatedTime,
        ...(requestedBy ? { requestedBy } : {}),
        progress: durable.customStatus ?? null,
        ...(output && typeof output === 'object' ? { result: output, tasks: output.tasks, totals: output.totals } : {}),
      },
    };
  }
  const record = await reportActivities().getCascadeRecord(id);
  if (!record) throw notFound(id);
  const status = recordedStatus(record.status);
  return {
    status: 200,
    jsonBody: { id, source: 'history', status, runtimeStatus: status, result: record, tasks: record.tasks },
  };
}

/**
 * Running cascades first (first page only; a query for active instances costs O(work in flight)), then ended ones
 * from the app's own history table, newest first, one page at a time (`top`, `continuation`): the cost does not grow
 * with how many instances the task hub holds.
 */
export async function listRebuilds(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const statuses = v.cascadeStatuses(req);
  const top = v.top(req.query.get('top'));
  const continuation = v.continuation(req.query.get('continuation'));
  const wanted = (s: CascadeStatus) => statuses.length === 0 || statuses.includes(s);
  const cascades: Record<string, unknown>[] = [];
  if (!continuation && (statuses.length === 0 || statuses.some((s) => ACTIVE_STATUSES.includes(s)))) {
    const found = await df.getClient(context).getStatusBy({
      runtimeStatus: [...ACTIVE] as df.OrchestrationRuntimeStatus[],
    });
    const active = found
      .filter((s) => s.name === OrchestrationNames.rebuildCascade)
      .map((s) => ({ s, status: cascadeStatus(s.runtimeStatus, s.output) }))
      .filter(({ status }) => wanted(status))
      .sort((a, b) => new Date(b.s.createdTime).getTime() - new Date(a.s.createdTime).getTime())
      .slice(0, top);
    for (const { s, status } of active) {
      cascades.push({
        id: s.instanceId,
        status,
        runtimeStatus: status,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
        progress: s.customStatus ?? null,
      });
    }
  }
  let next: string | undefined;
  const ended = statuses.filter((s) => !ACTIVE_STATUSES.includes(s));
  const room = top - cascades.length;
  const wantsEnded = statuses.length === 0 || ended.length > 0;
  // A first page full of running cascades still leads on to the ended ones.
  if (room <= 0 && wantsEnded && !continuation) next = FIRST_HISTORY_PAGE;
  if (room > 0 && wantsEnded) {
    let page;
    try {
      page = await reportActivities().listCascades({
        top: room,
        status: ended,
        ...(continuation ? { continuation } : {}),
      });
    } catch (err) {
      if (err instanceof ContinuationError) throw new ApiError('InvalidInput', err.message, 'continuation');
      throw err;
    }
    for (const c of page.cascades) {
      const status = recordedStatus(c.status);
      cascades.push({
        id: c.cascadeId,
        status,
        runtimeStatus: status,
        createdTime: c.startedAt,
        lastUpdatedTime: c.finishedAt,
        image: c.image ?? null,
        totals: c.totals,
        trigger: c.trigger,
      });
    }
    next = page.continuation;
  }
  return { status: 200, jsonBody: { cascades, ...(next ? { continuation: next } : {}) } };
}

export async function cancelRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = v.instanceId(req.params.id);
  const client = df.getClient(context);
  const durable = await statusOf(client, id);
  if (!durable || durable.name !== OrchestrationNames.rebuildCascade) throw notFound(id);
  if (!ACTIVE.has(durable.runtimeStatus)) {
    throw new ApiError(
      'NotRunning',
      `cascade '${id}' has ended (${cascadeStatus(durable.runtimeStatus, durable.output)})`,
    );
  }
  await client.raiseEvent(id, CANCEL_EVENT, { requestedAt: new Date().toISOString() });
  logger(context, { cascadeId: id }).info('cascade.cancelRequested', `cancel raised on cascade ${id}`);
  return { status: 202, jsonBody: { id, status: 'Canceling', statusUri: statusUrl(req, id) } };
}

// ---- registrations -------------------------------------------------------------------------------------------------

const durableInput = [df.input.durableClient()];
app.http('rebuildsPost', {
  route: 'rebuilds',
  methods: ['POST'],
  authLevel: apiAuthLevel(),
  extraInputs: durableInput,
  handler: route(ROLES.reader, postRebuild),
});
app.http('rebuildsList', {
  route: 'rebuilds',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  extraInputs: durableInput,
  handler: route(ROLES.reader, listRebuilds),
});
app.http('rebuildsGet', {
  route: 'rebuilds/{id}',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  extraInputs: durableInput,
  handler: route(ROLES.reader, getRebuild),
});
app.http('rebuildsCancel', {
  route: 'rebuilds/{id}/cancel',
  methods: ['POST'],
  authLevel: apiAuthLevel(),
  extraInputs: durableInput,
  handler: route(ROLES.operator, cancelRebuild),
});
