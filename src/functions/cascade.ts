// Rebuild cascades: the Event Grid trigger, the /api/rebuilds routes, the two orchestrations and the run/report
// activities. Triggers only validate, hand over to durable instances and shape responses.
//
// Event → cascade: an accepted push (watched registry, image manifest/index, with a tag) starts one `cascadeIntake`
// orchestration (instance id from the event id) and returns — no Table/ARM I/O, no waiting. The intake filters own
// pushes (a run acr-cascade scheduled pushed it) and hands the push to the tag's `cascadeTag` entity, which absorbs
// redeliveries and older digests, queues a push behind a running cascade, or lets the intake start the cascade
// (instance id deterministic per (registry, repository, tag): domain cascadeInstanceId). See docs/decisions.md.
// Ignored and rejected events: one log line with the reason, then return normally (no retry storm).
//
// HTTP (function keys):
//   POST /api/rebuilds                { image } | { tasks: [ids] }, dryRun? → 202 + status URLs (dryRun: 200 + plan,
//                                     computed by calling the plan activity factory directly — no orchestration)
//   GET  /api/rebuilds/{id}           progress (custom status) and, when done, per-task results; falls back to the
//                                     CascadeHistory table once the durable instance is gone
//   GET  /api/rebuilds?status=&top=   recent cascades from the durable instance store
//   POST /api/rebuilds/{id}/cancel    raises `cancel`: the cascade stops scheduling, cancels its runs, ends Canceled
import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { loadSettings, SettingsError, type Settings } from '../config/settings.js';
import {
  cascadeInstanceId,
  classifyRegistryEvent,
  formatImageRef,
  ImageRefError,
  isAncestorOrSelf,
  parseImageRef,
  ResourceIdError,
} from '../domain/index.js';
import {
  ActivityNames,
  CANCEL_EVENT,
  OrchestrationNames,
  type CancelRunInput,
  type CascadeInput,
  type CascadeResult,
  type GetRunInput,
  type IntakeInput,
  type IsOwnPushInput,
  type PublishNotificationsInput,
  type PushedImage,
  type ScheduleRunInput,
} from '../contracts/index.js';
import { lazy } from '../activities/deps.js';
import { createRunActivities } from '../activities/runs/index.js';
import { createReportActivities } from '../activities/report/index.js';
import { planActivities } from './activities.js';
import { taskAddress } from '../azure/adapters.js';
import { cascadeIntakeHandler } from '../orchestrations/cascadeIntake.js';
import '../entities/cascadeTag.js';
import { rebuildCascadeHandler } from '../orchestrations/rebuildCascade.js';
import { rebuildTaskHandler } from '../orchestrations/rebuildTask.js';

const runActivities = lazy(createRunActivities);
const reportActivities = lazy(createReportActivities);

const ACTIVE = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);
const RUNTIME_STATUSES = [
  'Running',
  'Pending',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
];
const MAX_TASKS_PER_REQUEST = 1000;

type DurableClient = ReturnType<typeof df.getClient>;
type Status = Awaited<ReturnType<DurableClient['getStatus']>>;

function cascadeInputFrom(settings: Settings, trigger: 'event' | 'http'): CascadeInput {
  return {
    trigger,
    settleSeconds: trigger === 'event' ? settings.settleSeconds : 0,
    maxParallelRuns: settings.maxParallelRuns,
    transientRetries: settings.transientRetries,
    autoRemediate: settings.autoRemediate,
    pollInitialSeconds: settings.pollInitialSeconds,
    pollMaxSeconds: settings.pollMaxSeconds,
  };
}

/** The durable status, or undefined when no such instance exists (the client throws on 404). */
async function statusOf(client: DurableClient, id: string, showInput = false): Promise<Status | undefined> {
  try {
    return await client.getStatus(id, { showInput, showHistory: false, showHistoryOutput: false });
  } catch (err) {
    if (err instanceof Error && /HTTP 404/.test(err.message)) return undefined;
    throw err;
  }
}

// ---- Event Grid ----------------------------------------------------------------------------------------------------

/** The intake instance of one event: deterministic, so a redelivery while it runs is refused (409) and dropped. */
export function intakeInstanceId(tagKey: string, eventId: string): string {
  return `${tagKey}:event-${eventId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 64)}`;
}

export async function onRegistryEvent(event: unknown, context: InvocationContext): Promise<void> {
  const started = performance.now();
  const eventId =
    typeof event === 'object' && event !== null && typeof (event as { id?: unknown }).id === 'string'
      ? (event as { id: string }).id.slice(0, 100)
      : '(no id)';
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    context.error(`onRegistryEvent: event ${eventId} not handled: app misconfigured: ${err.message}`);
    return;
  }
  const c = classifyRegistryEvent(event, settings.watchedRegistries);
  if (c.kind === 'reject') {
    context.warn(`onRegistryEvent: rejected event ${eventId}: ${c.reason}`);
    return;
  }
  if (c.kind === 'ignore') {
    context.log(`onRegistryEvent: ignored event ${eventId}: ${c.reason}`);
    return;
  }
  if (!c.image.tag) {
    context.log(`onRegistryEvent: ignored event ${eventId}: push by digest (no tag) — nothing builds FROM it`);
    return;
  }
  const image: PushedImage = {
    ref: formatImageRef({ loginServer: c.image.loginServer, repository: c.image.repository, tag: c.image.tag }),
    digest: c.image.digest,
    registryId: c.image.registryId,
    eventId: c.eventId,
    ...(c.eventTime ? { eventTime: c.eventTime } : {}),
  };
  const tagKey = cascadeInstanceId(c.image.registryId, c.image.repository, c.image.tag);
  const input: IntakeInput = { image, cascade: { ...cascadeInputFrom(settings, 'event'), tagKey } };
  const instanceId = intakeInstanceId(tagKey, c.eventId);
  // One durable call, no Table/ARM I/O and no waiting: the intake orchestration and the tag's entity do the rest.
  let how = 'handed to intake';
  try {
    await df.getClient(context).startNew(OrchestrationNames.cascadeIntake, { instanceId, input });
  } catch (err) {
    if (!(err instanceof Error && /status code: 409/.test(err.message))) throw err;
    how = 'ignored (redelivery: its intake is running)';
  }
  const ms = (performance.now() - started).toFixed(1);
  context.log(`onRegistryEvent: event ${eventId} ${image.ref}@${image.digest} ${how} ${instanceId} in ${ms} ms`);
}

// ---- HTTP ----------------------------------------------------------------------------------------------------------

function bad(field: string, message: string): HttpResponseInit {
  return { status: 400, jsonBody: { error: { code: 'BadRequest', field, message } } };
}

function forbidden(field: string, message: string): HttpResponseInit {
  return { status: 403, jsonBody: { error: { code: 'OutsideManagedScopes', field, message } } };
}

function misconfigured(err: SettingsError): HttpResponseInit {
  return { status: 503, jsonBody: { error: { code: 'Misconfigured', setting: err.setting, message: err.message } } };
}

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

async function parseRebuildRequest(req: HttpRequest, settings: Settings): Promise<RebuildRequest | HttpResponseInit> {
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return bad('body', 'the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad('body', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['image', 'tasks', 'dryRun'].includes(k))
      return bad(k, `unknown field '${k}' (expected image, tasks, dryRun)`);
  }
  if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean') return bad('dryRun', 'dryRun must be true or false');
  const out: RebuildRequest = { dryRun: b.dryRun === true };
  if (b.image === undefined && b.tasks === undefined) return bad('image', 'image or tasks is required');
  if (b.image !== undefined && b.tasks !== undefined) return bad('tasks', 'give image or tasks, not both');
  if (b.image !== undefined) {
    if (typeof b.image !== 'string') return bad('image', 'image must be an image reference string');
    let parsed;
    try {
      parsed = parseImageRef(b.image);
    } catch (err) {
      if (err instanceof ImageRefError) return bad('image', err.message);
      throw err;
    }
    if (!(await imageAllowed(settings, parsed.loginServer))) {
      return forbidden('image', `registry ${parsed.loginServer} is neither watched nor inside the managed scopes`);
    }
    out.image = {
      ref: formatImageRef({ ...parsed, digest: undefined }),
      ...(parsed.digest ? { digest: parsed.digest } : {}),
    };
  } else {
    if (!Array.isArray(b.tasks) || b.tasks.length === 0)
      return bad('tasks', 'tasks must be a non-empty array of task ids');
    if (b.tasks.length > MAX_TASKS_PER_REQUEST)
      return bad('tasks', `at most ${MAX_TASKS_PER_REQUEST} tasks per request`);
    const tasks: string[] = [];
    for (let i = 0; i < b.tasks.length; i++) {
      const t: unknown = b.tasks[i];
      if (typeof t !== 'string') return bad(`tasks[${i}]`, 'not a string');
      try {
        taskAddress(t);
      } catch (err) {
        if (err instanceof TypeError || err instanceof ResourceIdError) {
          return bad(
            `tasks[${i}]`,
            `'${t.slice(0, 300)}' is not an ACR task id (…/registries/{registry}/tasks/{task})`,
          );
        }
        throw err;
      }
      if (!settings.managedScopes.some((s) => isAncestorOrSelf(s, t))) {
        return forbidden(`tasks[${i}]`, `task ${t} is outside the managed scopes`);
      }
      if (!tasks.some((x) => x.toLowerCase() === t.toLowerCase())) tasks.push(t);
    }
    out.tasks = tasks;
  }
  return out;
}

function statusUrl(req: HttpRequest, id: string): string {
  return `${new URL(req.url).origin}/api/rebuilds/${encodeURIComponent(id)}`;
}

export async function postRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) return misconfigured(err);
    throw err;
  }
  const parsed = await parseRebuildRequest(req, settings);
  if (!('dryRun' in parsed)) return parsed;
  if (parsed.dryRun) {
    const plan = await planActivities().buildPlan({
      ...(parsed.image ? { image: parsed.image } : {}),
      ...(parsed.tasks ? { tasks: parsed.tasks } : {}),
      preflight: true,
    });
    return { status: 200, jsonBody: { dryRun: true, plan } };
  }
  const input: CascadeInput = {
    ...cascadeInputFrom(settings, 'http'),
    ...(parsed.image ? { requestedImage: parsed.image } : {}),
    ...(parsed.tasks ? { tasks: parsed.tasks } : {}),
  };
  const client = df.getClient(context);
  const id = `rebuild-${randomUUID()}`;
  await client.startNew(OrchestrationNames.rebuildCascade, { instanceId: id, input });
  context.log(`postRebuild: started cascade ${id}`);
  const payload = client.createHttpManagementPayload(id);
  const url = statusUrl(req, id);
  return {
    status: 202,
    headers: { location: url },
    jsonBody: { ...payload, id, statusUri: url, cancelUri: `${url}/cancel` },
  };
}

export async function getRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = req.params.id ?? '';
  if (!id || id.length > 300) return bad('id', 'a cascade id is required');
  const status = await statusOf(df.getClient(context), id);
  if (status && status.name === OrchestrationNames.rebuildCascade) {
    const output = status.output as CascadeResult | null | undefined;
    return {
      status: 200,
      jsonBody: {
        id,
        source: 'durable',
        runtimeStatus: status.runtimeStatus,
        createdTime: status.createdTime,
        lastUpdatedTime: status.lastUpdatedTime,
        progress: status.customStatus ?? null,
        ...(output && typeof output === 'object' ? { result: output, tasks: output.tasks, totals: output.totals } : {}),
      },
    };
  }
  const record = await reportActivities().getCascadeRecord(id);
  if (record) {
    return {
      status: 200,
      jsonBody: { id, source: 'history', runtimeStatus: record.status, result: record, tasks: record.tasks },
    };
  }
  return { status: 404, jsonBody: { error: { code: 'NotFound', message: `no cascade '${id}'` } } };
}

export async function listRebuilds(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const raw = req.query
    .getAll('status')
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const statuses: string[] = [];
  for (const s of raw) {
    const match = RUNTIME_STATUSES.find((r) => r.toLowerCase() === s.toLowerCase());
    if (!match) return bad('status', `'${s.slice(0, 50)}' is not one of ${RUNTIME_STATUSES.join(', ')}`);
    statuses.push(match);
  }
  const topText = req.query.get('top');
  const top = topText === null ? 50 : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 1000) return bad('top', 'top must be an integer between 1 and 1000');
  const client = df.getClient(context);
  const found = await client.getStatusBy(
    statuses.length > 0 ? { runtimeStatus: statuses as df.OrchestrationRuntimeStatus[] } : {},
  );
  const cascades = found
    .filter((s) => s.name === OrchestrationNames.rebuildCascade)
    .sort((a, b) => new Date(b.createdTime).getTime() - new Date(a.createdTime).getTime())
    .slice(0, top)
    .map((s) => ({
      id: s.instanceId,
      runtimeStatus: s.runtimeStatus,
      createdTime: s.createdTime,
      lastUpdatedTime: s.lastUpdatedTime,
      progress: s.customStatus ?? null,
    }));
  return { status: 200, jsonBody: { cascades } };
}

export async function cancelRebuild(req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = req.params.id ?? '';
  if (!id || id.length > 300) return bad('id', 'a cascade id is required');
  const client = df.getClient(context);
  const status = await statusOf(client, id);
  if (!status || status.name !== OrchestrationNames.rebuildCascade) {
    return { status: 404, jsonBody: { error: { code: 'NotFound', message: `no cascade '${id}'` } } };
  }
  if (!ACTIVE.has(status.runtimeStatus)) {
    return {
      status: 409,
      jsonBody: { error: { code: 'NotRunning', message: `cascade '${id}' is ${status.runtimeStatus}` } },
    };
  }
  await client.raiseEvent(id, CANCEL_EVENT, { requestedAt: new Date().toISOString() });
  context.log(`cancelRebuild: cancel raised on ${id}`);
  return { status: 202, jsonBody: { id, status: 'canceling', statusUri: statusUrl(req, id) } };
}

// ---- registrations -------------------------------------------------------------------------------------------------

app.eventGrid('onRegistryEvent', {
  extraInputs: [df.input.durableClient()],
  handler: (event, context) => onRegistryEvent(event, context),
});

app.http('rebuildsPost', {
  route: 'rebuilds',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postRebuild,
});
app.http('rebuildsList', {
  route: 'rebuilds',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: listRebuilds,
});
app.http('rebuildsGet', {
  route: 'rebuilds/{id}',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getRebuild,
});
app.http('rebuildsCancel', {
  route: 'rebuilds/{id}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: cancelRebuild,
});

df.app.orchestration(OrchestrationNames.cascadeIntake, cascadeIntakeHandler);
df.app.orchestration(OrchestrationNames.rebuildCascade, rebuildCascadeHandler);
df.app.orchestration(OrchestrationNames.rebuildTask, rebuildTaskHandler);

df.app.activity(ActivityNames.scheduleRun, {
  handler: (input: ScheduleRunInput) => runActivities().scheduleRun(input),
});
df.app.activity(ActivityNames.getRun, { handler: (input: GetRunInput) => runActivities().getRun(input) });
df.app.activity(ActivityNames.cancelRun, { handler: (input: CancelRunInput) => runActivities().cancelRun(input) });
df.app.activity(ActivityNames.isOwnPush, { handler: (input: IsOwnPushInput) => runActivities().isOwnPush(input) });
df.app.activity(ActivityNames.recordCascade, {
  handler: (input: CascadeResult) => reportActivities().recordCascade(input),
});
df.app.activity(ActivityNames.publishNotifications, {
  handler: (input: PublishNotificationsInput) => reportActivities().publishNotifications(input),
});
