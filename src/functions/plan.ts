// Dependency index, plans and preflight — triggers and registrations:
//   GET  /api/plan?image=<ref>[&digest=sha256:…]   plan for a pushed image, with preflight, no side effects
//   POST /api/plan { image, digest? } | { tasks: [ids] }
//   GET  /api/graph?image=<ref>                     dependency subgraph below an image (edges say why)
//   POST /api/index/refresh [{ tasks?, registries? }] 202 { statusUri }: starts the (singleton) refresh orchestration;
//                                                   named tasks / every task of named registries are re-read in full
//   GET  /api/index/refresh                         state of the latest refresh
//   GET  /api/index                                 index summary: counts, age, scopes
//   timer indexRefreshTimer                         settings.indexRefreshSchedule
// Read-only queries call the activity factory directly (no orchestration); the refresh runs as an orchestration.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { planActivities } from './activities.js';
import { loadSettings, SettingsError, SETTING_SPECS } from '../config/settings.js';
import {
  ActivityNames,
  OrchestrationNames,
  type BuildPlanInput,
  type PreflightInput,
  type RefreshIndexInput,
  type RemediateInput,
} from '../contracts/index.js';
import { ApiError, invalid, apiAuthLevel, route } from '../http/errors.js';
import { ROLES } from '../http/auth.js';
import { planBody } from '../http/shapes.js';
import { cascadeStatus } from '../http/status.js';
import * as v from '../http/validate.js';
import { logger } from '../telemetry/log.js';
import { REFRESH_INDEX_INSTANCE_ID, refreshIndexOrchestration } from '../orchestrations/refreshIndex.js';
import { statusOf } from './durable.js';

export { planBody };

// ---- handlers ------------------------------------------------------------------------------------------------------

function imageOf(ref: unknown, digest: unknown): { ref: string; digest?: string } {
  const { loginServer: _, ...image } = v.image(ref, digest);
  return image;
}

export async function getPlan(req: HttpRequest): Promise<HttpResponseInit> {
  const image = imageOf(req.query.get('image'), req.query.get('digest') ?? undefined);
  return { status: 200, jsonBody: planBody(await planActivities().buildPlan({ image, preflight: true })) };
}

export async function postPlan(req: HttpRequest): Promise<HttpResponseInit> {
  const { image, digest, tasks } = await v.jsonObject(req, ['image', 'digest', 'tasks'], true);
  if (image !== undefined && tasks !== undefined) throw invalid('body', 'give either image or tasks, not both');
  const input: BuildPlanInput =
    tasks !== undefined
      ? { tasks: v.taskIds(tasks, 'tasks', loadSettings().managedScopes), preflight: true }
      : { image: imageOf(image, digest), preflight: true };
  return { status: 200, jsonBody: planBody(await planActivities().buildPlan(input)) };
}

export async function getGraph(req: HttpRequest): Promise<HttpResponseInit> {
  const image = imageOf(req.query.get('image'), undefined);
  return { status: 200, jsonBody: await planActivities().graph(image.ref) };
}

export async function getIndex(_req: HttpRequest): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await planActivities().indexSummary() };
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/**
 * Starts the singleton refresh orchestration unless it is already running. A finished instance with the same id is
 * replaced (purged first where the backend refuses to reuse the id).
 */
async function startRefresh(
  client: df.DurableClient,
  trigger: RefreshIndexInput['trigger'],
  targets: Pick<RefreshIndexInput, 'tasks' | 'registries'> = {},
): Promise<{ alreadyRunning: boolean }> {
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(REFRESH_INDEX_INSTANCE_ID);
  } catch {
    status = undefined; // 404: never ran
  }
  const runtime = status?.runtimeStatus as string | undefined;
  if (runtime !== undefined && !TERMINAL.has(runtime)) return { alreadyRunning: true };
  const input: RefreshIndexInput = { trigger, ...targets };
  try {
    await client.startNew(OrchestrationNames.refreshIndex, { instanceId: REFRESH_INDEX_INSTANCE_ID, input });
  } catch (err) {
    if (runtime === undefined) throw err;
    await client.purgeInstanceHistory(REFRESH_INDEX_INSTANCE_ID);
    await client.startNew(OrchestrationNames.refreshIndex, { instanceId: REFRESH_INDEX_INSTANCE_ID, input });
  }
  return { alreadyRunning: false };
}

function refreshUrl(req: HttpRequest): string {
  return `${new URL(req.url).origin}/api/index/refresh`;
}

/** The body of POST /api/index/refresh: empty, or `{ tasks?: [task ids], registries?: [registry ids] }`. */
export async function refreshTargets(req: HttpRequest): Promise<Pick<RefreshIndexInput, 'tasks' | 'registries'>> {
  const body = await v.jsonObject(req, ['tasks', 'registries'], true);
  const scopes = loadSettings().managedScopes;
  return {
    ...(body.tasks !== undefined ? { tasks: v.taskIds(body.tasks, 'tasks', scopes) } : {}),
    ...(body.registries !== undefined ? { registries: v.registryIds(body.registries, 'registries', scopes) } : {}),
  };
}

export async function postIndexRefresh(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const targets = await refreshTargets(req);
  const client = df.getClient(context);
  const { alreadyRunning } = await startRefresh(client, 'http', targets);
  if (alreadyRunning && (targets.tasks || targets.registries)) {
    // The running refresh started without these targets; a plain request joins it, a targeted one must not be lost.
    throw new ApiError(
      'NotRunning',
      'an index refresh is running and re-reads only what it was started with; retry the targeted refresh when GET /api/index/refresh says it has finished',
    );
  }
  const url = refreshUrl(req);
  return {
    status: 202,
    headers: { location: url },
    jsonBody: { id: REFRESH_INDEX_INSTANCE_ID, status: 'Running', alreadyRunning, statusUri: url },
  };
}

/** GET /api/index/refresh — the state of the latest index refresh (404 before the first one). */
export async function getIndexRefresh(_req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const s = await statusOf(df.getClient(context), REFRESH_INDEX_INSTANCE_ID);
  if (!s) throw new ApiError('NotFound', 'no index refresh has run yet; POST /api/index/refresh starts one');
  const status = cascadeStatus(s.runtimeStatus, undefined);
  return {
    status: 200,
    jsonBody: {
      id: REFRESH_INDEX_INSTANCE_ID,
      status,
      runtimeStatus: status,
      createdTime: s.createdTime,
      lastUpdatedTime: s.lastUpdatedTime,
      ...(status === 'Completed' ? { result: s.output ?? null } : {}),
    },
  };
}

export async function indexRefreshTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const { alreadyRunning } = await startRefresh(df.getClient(context), 'timer');
  logger(context).info(
    'index.refreshTimer',
    alreadyRunning ? 'a refresh is already running' : 'index refresh started',
    { alreadyRunning },
  );
}

/** The schedule from settings; the default when settings are invalid (health reports the bad setting). */
function refreshSchedule(): string {
  try {
    return loadSettings().indexRefreshSchedule;
  } catch (err) {
    if (err instanceof SettingsError) return SETTING_SPECS.indexRefreshSchedule.default;
    throw err;
  }
}

// ---- registrations -------------------------------------------------------------------------------------------------

app.http('getPlan', {
  route: 'plan',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, getPlan),
});
app.http('postPlan', {
  route: 'plan',
  methods: ['POST'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, postPlan),
});
app.http('getGraph', {
  route: 'graph',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, getGraph),
});
app.http('getIndex', {
  route: 'index',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, getIndex),
});
app.http('postIndexRefresh', {
  route: 'index/refresh',
  methods: ['POST'],
  authLevel: apiAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: route(ROLES.operator, postIndexRefresh),
});
app.http('getIndexRefresh', {
  route: 'index/refresh',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: route(ROLES.reader, getIndexRefresh),
});
app.timer('indexRefreshTimer', {
  schedule: refreshSchedule(),
  extraInputs: [df.input.durableClient()],
  handler: indexRefreshTimer,
});

df.app.orchestration(OrchestrationNames.refreshIndex, refreshIndexOrchestration);
df.app.activity(ActivityNames.buildPlan, { handler: (input: BuildPlanInput) => planActivities().buildPlan(input) });
df.app.activity(ActivityNames.preflightTasks, {
  handler: (input: PreflightInput) => planActivities().preflightTasks(input),
});
df.app.activity(ActivityNames.remediatePull, {
  handler: (input: RemediateInput) => planActivities().remediatePull(input),
});
df.app.activity(ActivityNames.refreshIndex, {
  handler: (input: RefreshIndexInput) => planActivities().refreshIndex(input),
});
