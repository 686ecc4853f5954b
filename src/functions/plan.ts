// Dependency index, plans and preflight — triggers and registrations:
//   GET  /api/plan?image=<ref>[&digest=sha256:…]   plan for a pushed image, with preflight, no side effects
//   POST /api/plan { image, digest? } | { tasks: [ids] }
//   GET  /api/graph?image=<ref>                     dependency subgraph below an image (edges say why)
//   POST /api/index/refresh                         202 + status URLs of the (singleton) refresh orchestration
//   GET  /api/index                                 index summary: counts, age, scopes
//   timer indexRefreshTimer                         settings.indexRefreshSchedule
// Read-only queries call the activity factory directly (no orchestration); the refresh runs as an orchestration.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { loadSettings, SettingsError, SETTING_SPECS } from '../config/settings.js';
import {
  ActivityNames,
  OrchestrationNames,
  type BuildPlanInput,
  type Plan,
  type PlannedTask,
  type PreflightInput,
  type RefreshIndexInput,
  type RemediateInput,
} from '../contracts/index.js';
import { planActivities } from './activities.js';
import { AzureError, taskAddress } from '../azure/adapters.js';
import { ImageRefError, isAncestorOrSelf, isDigest, parseImageRef, ResourceIdError } from '../domain/index.js';
import { REFRESH_INDEX_INSTANCE_ID, refreshIndexOrchestration } from '../orchestrations/refreshIndex.js';


// ---- responses -----------------------------------------------------------------------------------------------------

function badRequest(field: string, message: string): HttpResponseInit {
  return { status: 400, jsonBody: { error: { code: 'InvalidInput', field, message } } };
}

/** Known failures → a response naming what is wrong; anything else propagates (500 from the host). */
function failure(err: unknown): HttpResponseInit {
  if (err instanceof SettingsError) {
    return { status: 503, jsonBody: { error: { code: 'Misconfigured', setting: err.setting, message: err.message } } };
  }
  if (err instanceof AzureError) {
    return {
      status: 502,
      jsonBody: { error: { code: err.code, statusCode: err.statusCode, message: err.message } },
    };
  }
  throw err;
}

/** The HTTP shape of a plan: tasks as a list (wave order, then skipped/blocked), everything else as in `Plan`. */
export function planBody(plan: Plan): Record<string, unknown> {
  const order = new Map<string, number>();
  plan.waves.flat().forEach((id, i) => order.set(id, i));
  const tasks: PlannedTask[] = Object.values(plan.tasks).sort(
    (a, b) =>
      (order.get(a.task) ?? Number.MAX_SAFE_INTEGER) - (order.get(b.task) ?? Number.MAX_SAFE_INTEGER) ||
      a.taskName.localeCompare(b.taskName),
  );
  return { ...plan, tasks };
}

// ---- input validation ----------------------------------------------------------------------------------------------

type Parsed<T> = { ok: true; value: T } | { ok: false; response: HttpResponseInit };

function imageInput(ref: unknown, digest: unknown): Parsed<{ ref: string; digest?: string }> {
  if (typeof ref !== 'string' || ref.trim() === '') {
    return {
      ok: false,
      response: badRequest(
        'image',
        'image is required: a full image reference such as mybaseregistry.azurecr.io/baseimages/node:15-alpine',
      ),
    };
  }
  try {
    parseImageRef(ref);
  } catch (err) {
    if (err instanceof ImageRefError) return { ok: false, response: badRequest('image', err.message) };
    throw err;
  }
  if (digest !== undefined && digest !== null && digest !== '') {
    if (!isDigest(digest))
      return { ok: false, response: badRequest('digest', `'${String(digest)}' is not sha256:<64 lower-case hex>`) };
    return { ok: true, value: { ref: ref.trim(), digest } };
  }
  return { ok: true, value: { ref: ref.trim() } };
}

function tasksInput(tasks: unknown, managedScopes: readonly string[]): Parsed<string[]> {
  if (!Array.isArray(tasks) || tasks.length === 0) {
    return { ok: false, response: badRequest('tasks', 'tasks must be a non-empty array of ACR task resource ids') };
  }
  if (tasks.length > 1000) return { ok: false, response: badRequest('tasks', 'at most 1000 tasks per request') };
  const out: string[] = [];
  for (const [i, t] of tasks.entries()) {
    if (typeof t !== 'string')
      return { ok: false, response: badRequest(`tasks[${i}]`, 'must be a task resource id string') };
    try {
      taskAddress(t);
    } catch (err) {
      if (err instanceof ResourceIdError || err instanceof TypeError) {
        return { ok: false, response: badRequest(`tasks[${i}]`, err.message) };
      }
      throw err;
    }
    if (!managedScopes.some((s) => isAncestorOrSelf(s, t))) {
      return {
        ok: false,
        response: {
          status: 403,
          jsonBody: {
            error: {
              code: 'TaskNotManaged',
              field: `tasks[${i}]`,
              message: `task ${t} is outside the managed scopes (${SETTING_SPECS.managedScopes.env})`,
            },
          },
        },
      };
    }
    out.push(t);
  }
  return { ok: true, value: out };
}

async function readJson(req: HttpRequest): Promise<Parsed<Record<string, unknown>>> {
  let body: unknown;
  try {
    const text = await req.text();
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return { ok: false, response: badRequest('body', 'the request body is not valid JSON') };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, response: badRequest('body', 'the request body must be a JSON object') };
  }
  return { ok: true, value: body as Record<string, unknown> };
}

// ---- handlers ------------------------------------------------------------------------------------------------------

export async function getPlan(req: HttpRequest): Promise<HttpResponseInit> {
  const image = imageInput(req.query.get('image'), req.query.get('digest') ?? undefined);
  if (!image.ok) return image.response;
  try {
    return {
      status: 200,
      jsonBody: planBody(await planActivities().buildPlan({ image: image.value, preflight: true })),
    };
  } catch (err) {
    return failure(err);
  }
}

export async function postPlan(req: HttpRequest): Promise<HttpResponseInit> {
  const body = await readJson(req);
  if (!body.ok) return body.response;
  const { image, digest, tasks } = body.value;
  if (image !== undefined && tasks !== undefined) return badRequest('body', 'give either image or tasks, not both');
  let input: BuildPlanInput;
  try {
    if (tasks !== undefined) {
      const parsed = tasksInput(tasks, loadSettings().managedScopes);
      if (!parsed.ok) return parsed.response;
      input = { tasks: parsed.value, preflight: true };
    } else {
      const parsed = imageInput(image, digest);
      if (!parsed.ok) return parsed.response;
      input = { image: parsed.value, preflight: true };
    }
    return { status: 200, jsonBody: planBody(await planActivities().buildPlan(input)) };
  } catch (err) {
    return failure(err);
  }
}

export async function getGraph(req: HttpRequest): Promise<HttpResponseInit> {
  const image = imageInput(req.query.get('image'), undefined);
  if (!image.ok) return image.response;
  try {
    return { status: 200, jsonBody: await planActivities().graph(image.value.ref) };
  } catch (err) {
    return failure(err);
  }
}

export async function getIndex(_req: HttpRequest): Promise<HttpResponseInit> {
  try {
    return { status: 200, jsonBody: await planActivities().indexSummary() };
  } catch (err) {
    return failure(err);
  }
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/**
 * Starts the singleton refresh orchestration unless it is already running. A finished instance with the same id is
 * replaced (purged first where the backend refuses to reuse the id).
 */
async function startRefresh(
  client: df.DurableClient,
  trigger: RefreshIndexInput['trigger'],
): Promise<{ alreadyRunning: boolean }> {
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(REFRESH_INDEX_INSTANCE_ID);
  } catch {
    status = undefined; // 404: never ran
  }
  const runtime = status?.runtimeStatus as string | undefined;
  if (runtime !== undefined && !TERMINAL.has(runtime)) return { alreadyRunning: true };
  const input: RefreshIndexInput = { trigger };
  try {
    await client.startNew(OrchestrationNames.refreshIndex, { instanceId: REFRESH_INDEX_INSTANCE_ID, input });
  } catch (err) {
    if (runtime === undefined) throw err;
    await client.purgeInstanceHistory(REFRESH_INDEX_INSTANCE_ID);
    await client.startNew(OrchestrationNames.refreshIndex, { instanceId: REFRESH_INDEX_INSTANCE_ID, input });
  }
  return { alreadyRunning: false };
}

export async function postIndexRefresh(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const client = df.getClient(context);
  const { alreadyRunning } = await startRefresh(client, 'http');
  const urls = client.createHttpManagementPayload(REFRESH_INDEX_INSTANCE_ID);
  return {
    status: 202,
    headers: { Location: urls.statusQueryGetUri },
    jsonBody: { ...urls, alreadyRunning },
  };
}

export async function indexRefreshTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const { alreadyRunning } = await startRefresh(df.getClient(context), 'timer');
  context.log(
    alreadyRunning ? 'indexRefreshTimer: a refresh is already running' : 'indexRefreshTimer: refresh started',
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

app.http('getPlan', { route: 'plan', methods: ['GET'], authLevel: 'function', handler: getPlan });
app.http('postPlan', { route: 'plan', methods: ['POST'], authLevel: 'function', handler: postPlan });
app.http('getGraph', { route: 'graph', methods: ['GET'], authLevel: 'function', handler: getGraph });
app.http('getIndex', { route: 'index', methods: ['GET'], authLevel: 'function', handler: getIndex });
app.http('postIndexRefresh', {
  route: 'index/refresh',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postIndexRefresh,
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
