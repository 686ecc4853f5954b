// scheduleRun (LRO: 202 + operation status, Location = the Queued run; see operations.ts), runs get/list ($filter, $top, newest first)/update/cancel/
// listLogSasUrl (2019-06-01-preview), and the admin routes that steer the simulation.
import { timingSafeEqual } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { EmulatorError, arm } from '../core/errors.js';
import { key } from '../core/state.js';
import { acr } from './errors.js';
import {
  REGISTRY_TYPE,
  RUN_TYPE,
  TASK_API_VERSIONS,
  TASK_TYPE,
  TERMINAL_STATUSES,
  childNotFound,
  findRegistryByName,
  isObject,
  requireParentRegistry,
  type Dict,
  type RegistryResource,
  type RunResource,
  type SecretArg,
  type TaskResource,
  type TaskStep,
} from './model.js';
import type { AsyncOperations } from './operations.js';
import type { RunSimulator, RunSnapshot } from './simulation.js';

const PAGE_SIZE = 100;

function bad(message: string) {
  return new EmulatorError(400, { error: { code: 'BadRequest', message } });
}

function argList(field: string, v: unknown): SecretArg[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw acr.invalid(`${field} must be an array.`);
  return v.map((a, i) => {
    if (!isObject(a) || typeof a.name !== 'string' || typeof a.value !== 'string')
      throw acr.invalid(`${field}[${i}] must be { name, value, isSecret? }.`);
    return { name: a.name, value: a.value, isSecret: a.isSecret === true };
  });
}

function platformOf(v: unknown): RunSnapshot['platform'] {
  if (!isObject(v) || typeof v.os !== 'string') throw acr.invalid("The property 'platform.os' is required.");
  return {
    os: v.os,
    ...(typeof v.architecture === 'string' ? { architecture: v.architecture } : {}),
    ...(typeof v.variant === 'string' ? { variant: v.variant } : {}),
  };
}

function timeoutOf(v: unknown): number {
  if (v === undefined || v === null) return 3600;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 300 || v > 28800)
    throw acr.invalid(`The timeout '${String(v)}' is invalid. It must be an integer between 300 and 28800 seconds.`);
  return v;
}

// $filter ----------------------------------------------------------------------------------------------------------
type Value = string | number | boolean | undefined;
type Pred = (run: RunResource) => boolean;

const FIELDS: Record<string, (r: RunResource) => Value> = {
  runid: (r) => r.properties.runId,
  runtype: (r) => r.properties.runType,
  status: (r) => r.properties.status,
  createtime: (r) => r.properties.createTime,
  finishtime: (r) => r.properties.finishTime,
  starttime: (r) => r.properties.startTime,
  outputimagemanifests: (r) => (r.properties.outputImages ?? []).map((o) => `${o.repository}@${o.digest}`).join(','),
  isarchiveenabled: (r) => r.properties.isArchiveEnabled,
  taskname: (r) => r.properties.task,
  agentpoolname: (r) => r.properties.agentPoolName,
};
const DATE_FIELDS = ['createtime', 'finishtime', 'starttime'];

/** OData subset of `RunFilter`: `eq ne gt ge lt le`, `contains(Field, 'x')`, `and`, `or`, parentheses (no `not`). */
export function parseRunFilter(filter: string): Pred {
  const toks: string[] = [];
  const rx = /\s*('(?:[^']|'')*'|datetime'[^']*'|\(|\)|,|[^\s(),]+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = rx.exec(filter))) {
    toks.push(m[1]!);
    end = rx.lastIndex;
  }
  if (filter.slice(end).trim()) throw bad(`Invalid $filter '${filter}'.`);
  let pos = 0;
  const peek = () => toks[pos]?.toLowerCase();
  const field = (): [string, (r: RunResource) => Value] => {
    const name = toks[pos++];
    const get = name ? FIELDS[name.toLowerCase()] : undefined;
    if (!name || !get) throw bad(`Invalid $filter '${filter}': '${name ?? ''}' is not a filterable run property.`);
    return [name.toLowerCase(), get];
  };
  const literal = (): Value => {
    const t = toks[pos++];
    if (t === undefined) throw bad(`Invalid $filter '${filter}': a value is missing.`);
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^datetime'/i.test(t)) return t.slice(9, -1);
    if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (!Number.isNaN(Date.parse(t))) return t;
    throw bad(`Invalid $filter '${filter}': '${t}' is not a literal.`);
  };
  const compare = (name: string, op: string, actual: Value, expected: Value): boolean => {
    if (actual === undefined) return op === 'ne';
    let a: string | number | boolean = actual;
    let e: string | number | boolean | undefined = expected;
    if (DATE_FIELDS.includes(name)) {
      a = Date.parse(String(actual));
      e = Date.parse(String(expected));
      if (Number.isNaN(e)) throw bad(`Invalid $filter '${filter}': '${String(expected)}' is not a date-time.`);
    } else if (typeof a === 'string' && typeof e === 'string') {
      a = a.toLowerCase();
      e = e.toLowerCase();
    }
    if (e === undefined) return false;
    switch (op) {
      case 'eq':
        return a === e;
      case 'ne':
        return a !== e;
      case 'gt':
        return a > e;
      case 'ge':
        return a >= e;
      case 'lt':
        return a < e;
      case 'le':
        return a <= e;
      default:
        throw bad(`Invalid $filter '${filter}': unknown operator '${op}'.`);
    }
  };
  const expect = (t: string) => {
    if (toks[pos++] !== t) throw bad(`Invalid $filter '${filter}': expected '${t}'.`);
  };
  const factor = (): Pred => {
    if (peek() === 'not')
      // The 2019-06-01-preview spec: "All logical operators except 'Not', 'Has', 'All' are allowed."
      throw bad(`Invalid $filter '${filter}': the logical operator 'not' is not supported.`);
    if (peek() === '(') {
      pos++;
      const inner = expr();
      expect(')');
      return inner;
    }
    if (peek() === 'contains') {
      pos++;
      expect('(');
      const [, get] = field();
      expect(',');
      const needle = String(literal()).toLowerCase();
      expect(')');
      return (r) =>
        String(get(r) ?? '')
          .toLowerCase()
          .includes(needle);
    }
    const [name, get] = field();
    const op = peek() ?? '';
    pos++;
    if (!['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op))
      throw bad(`Invalid $filter '${filter}': unknown operator '${op}'.`);
    const value = literal();
    return (r) => compare(name, op, get(r), value);
  };
  const term = (): Pred => {
    let p = factor();
    while (peek() === 'and') {
      pos++;
      const l = p;
      const r = factor();
      p = (x) => l(x) && r(x);
    }
    return p;
  };
  const expr = (): Pred => {
    let p = term();
    while (peek() === 'or') {
      pos++;
      const l = p;
      const r = term();
      p = (x) => l(x) || r(x);
    }
    return p;
  };
  const pred = expr();
  if (pos !== toks.length) throw bad(`Invalid $filter '${filter}': unexpected '${toks[pos]}'.`);
  return pred;
}

/** What a run of a task executes: the task as it is now (a runnable task: it has a step and a platform). */
export function taskRunSnapshot(task: TaskResource): RunSnapshot {
  return structuredClone({
    taskId: task.id,
    taskName: task.name,
    ...(task.identity ? { identity: task.identity } : {}),
    ...(task.tags ? { tags: task.tags } : {}),
    step: task.properties.step!,
    ...(task.properties.credentials ? { credentials: task.properties.credentials } : {}),
    platform: task.properties.platform!,
    timeout: task.properties.timeout,
  });
}

export const taskRunType = (task: TaskResource): string =>
  task.properties.step?.type === 'Docker' ? 'QuickBuild' : 'QuickRun';

export function registerRuns(emu: Emulator, sim: RunSimulator, ops: AsyncOperations): void {
  const base =
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}';

  const runOf = (req: EmuRequest) => {
    const registry = requireParentRegistry(emu, req);
    const id = `${registry.id}/runs/${req.params.runId}`;
    sim.settle(id);
    const run = emu.store.getResource<RunResource>(id);
    if (!run) throw childNotFound(registry, 'runs', req.params.runId!);
    return { registry, run };
  };

  const taskSnapshot = (registry: RegistryResource, body: Dict<unknown>) => {
    if (typeof body.taskId !== 'string' || !body.taskId)
      throw acr.invalid("The property 'taskId' is required: the resource id of a task of this registry.");
    // The SDK and az CLI send the task's full resource id; the spec example sends a bare name.
    const taskId = body.taskId.includes('/') ? body.taskId : `${registry.id}/tasks/${body.taskId}`;
    if (!key(taskId).startsWith(key(registry.id) + '/tasks/'))
      throw acr.invalid(`The task '${body.taskId}' does not belong to registry '${registry.name}'.`);
    const task = emu.store.getResource<TaskResource>(taskId);
    if (!task || task.type !== TASK_TYPE) throw childNotFound(registry, 'tasks', taskId.split('/').pop()!);
    if (!task.properties.step || !task.properties.platform)
      throw acr.invalid(`The task '${task.name}' is a system task and cannot be run.`);
    if (task.properties.status === 'Disabled') throw acr.invalid(`The task '${task.name}' is disabled.`);
    const o = isObject(body.overrideTaskStepProperties) ? body.overrideTaskStepProperties : {};
    const snapshot = taskRunSnapshot(task);
    const overrides = {
      ...(o.arguments !== undefined ? { arguments: argList('overrideTaskStepProperties.arguments', o.arguments) } : {}),
      ...(o.values !== undefined ? { values: argList('overrideTaskStepProperties.values', o.values) } : {}),
    };
    const runType = taskRunType(task);
    const extra = typeof o.updateTriggerToken === 'string' ? { updateTriggerToken: o.updateTriggerToken } : {};
    return { snapshot, overrides, runType, extra };
  };

  const quickSnapshot = (body: Dict<unknown>, step: TaskStep): RunSnapshot => ({
    step,
    platform: platformOf(body.platform),
    timeout: timeoutOf(body.timeout),
    ...(isObject(body.credentials) ? { credentials: structuredClone(body.credentials) } : {}),
  });

  emu.armRoute({
    op: 'registries.scheduleRun',
    method: 'POST',
    path: `${base}/scheduleRun`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scheduleRun/action`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      const body = req.json<Dict<unknown>>();
      if (!isObject(body)) throw acr.invalid('The run request is required.');
      let run: RunResource;
      switch (body.type) {
        case 'TaskRunRequest': {
          const t = taskSnapshot(registry, body);
          run = sim.schedule(registry, t.snapshot, t.runType, t.overrides, t.extra);
          break;
        }
        case 'EncodedTaskRunRequest': {
          if (typeof body.encodedTaskContent !== 'string' || !body.encodedTaskContent)
            throw acr.invalid("The property 'encodedTaskContent' is required.");
          const step: TaskStep = {
            type: 'EncodedTask',
            encodedTaskContent: body.encodedTaskContent,
            ...(typeof body.encodedValuesContent === 'string'
              ? { encodedValuesContent: body.encodedValuesContent }
              : {}),
            values: argList('values', body.values) ?? [],
          };
          run = sim.schedule(registry, quickSnapshot(body, step), 'QuickRun', {});
          break;
        }
        case 'DockerBuildRequest': {
          if (typeof body.dockerFilePath !== 'string' || !body.dockerFilePath)
            throw acr.invalid("The property 'dockerFilePath' is required.");
          const step: TaskStep = {
            type: 'Docker',
            dockerFilePath: body.dockerFilePath,
            imageNames: Array.isArray(body.imageNames) ? body.imageNames.filter((x) => typeof x === 'string') : [],
            isPushEnabled: body.isPushEnabled !== false,
            arguments: argList('arguments', body.arguments) ?? [],
          };
          run = sim.schedule(registry, quickSnapshot(body, step), 'QuickBuild', {});
          break;
        }
        case 'FileTaskRunRequest':
          throw arm.notImplemented('POST', `${req.path} (FileTaskRunRequest)`);
        default:
          throw acr.invalid(
            `The run request type '${String(body.type)}' is invalid. Allowed values: TaskRunRequest, EncodedTaskRunRequest, DockerBuildRequest, FileTaskRunRequest.`,
          );
      }
      return ops.accepted(req, registry, { status: 200, body: run }, { location: run.id });
    },
  });

  emu.armRoute({
    op: 'runs.list',
    method: 'GET',
    path: `${base}/runs`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/runs/read`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      const filter = req.q('$filter');
      const pred = filter ? parseRunFilter(filter) : () => true;
      const topRaw = req.q('$top');
      const top = topRaw === undefined ? undefined : Number(topRaw);
      if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw bad(`Invalid $top '${topRaw}'.`);
      const skip = Number(req.q('$skipToken') ?? 0) || 0;
      const all = emu.store.listResources<RunResource>(RUN_TYPE, registry.id);
      for (const r of all) sim.settle(r.id);
      const matching = all
        .map((r) => emu.store.getResource<RunResource>(r.id)!)
        .filter(pred)
        .sort(
          (a, b) =>
            Date.parse(b.properties.createTime) - Date.parse(a.properties.createTime) ||
            sim.seqOf(b.id) - sim.seqOf(a.id),
        );
      if (top !== undefined) return { status: 200, body: { value: matching.slice(0, top) } };
      const page = matching.slice(skip, skip + PAGE_SIZE);
      const next = skip + PAGE_SIZE < matching.length ? skip + PAGE_SIZE : undefined;
      const nextLink =
        next === undefined
          ? undefined
          : `${req.baseUrl}${req.path}?api-version=${req.apiVersion}${filter ? `&$filter=${encodeURIComponent(filter)}` : ''}&$skipToken=${next}`;
      return { status: 200, body: { value: page, ...(nextLink ? { nextLink } : {}) } };
    },
  });
  emu.armRoute({
    op: 'runs.get',
    method: 'GET',
    path: `${base}/runs/{runId}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/runs/read`,
    handler: (req) => ({ status: 200, body: runOf(req).run }),
  });
  emu.armRoute({
    op: 'runs.update',
    method: 'PATCH',
    path: `${base}/runs/{runId}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/runs/write`,
    handler: (req) => {
      const { run } = runOf(req);
      const body = req.json<{ isArchiveEnabled?: unknown }>() ?? {};
      if (body.isArchiveEnabled !== undefined) {
        if (typeof body.isArchiveEnabled !== 'boolean') throw acr.invalid('isArchiveEnabled must be a boolean.');
        run.properties.isArchiveEnabled = body.isArchiveEnabled;
        run.properties.lastUpdatedTime = emu.nowIso();
        emu.store.putResource(run);
      }
      return { status: 200, body: run };
    },
  });
  emu.armRoute({
    op: 'runs.cancel',
    method: 'POST',
    path: `${base}/runs/{runId}/cancel`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/runs/cancel/action`,
    handler: (req) => {
      const { registry, run } = runOf(req);
      sim.cancel(run.id);
      return ops.accepted(req, registry, { status: 200 });
    },
  });
  emu.armRoute({
    op: 'runs.getLogSasUrl',
    method: 'POST',
    path: `${base}/runs/{runId}/listLogSasUrl`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/runs/listLogSasUrl/action`,
    handler: (req) => {
      const { registry, run } = runOf(req);
      const sig = sim.logSignature(run.id);
      const logLink = `${emu.armEndpoint}/_emulator/acr/logs/${encodeURIComponent(registry.name)}/${encodeURIComponent(run.name)}?sv=emulator&sr=b&sp=r&sig=${sig}`;
      return { status: 200, body: { logLink } };
    },
  });

  // Admin ------------------------------------------------------------------------------------------------------------
  emu.adminRoute({
    op: 'admin.acr.runs.config.set',
    method: 'PUT',
    path: '/acr/runs/config',
    handler: (req) => {
      const body = req.json<{ durationMs?: unknown; durationMaxMs?: unknown }>() ?? {};
      const ms = (field: string, v: unknown) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 3_600_000)
          throw bad(`${field} must be a number of milliseconds between 0 and 3600000`);
        return v;
      };
      const min = ms('durationMs', body.durationMs);
      const max = body.durationMaxMs === undefined ? undefined : ms('durationMaxMs', body.durationMaxMs);
      if (max !== undefined && max < min) throw bad('durationMaxMs must not be less than durationMs');
      sim.durationMs = min;
      if (max !== undefined) sim.durationMaxMs = max;
      return { status: 200, body: { durationMs: sim.durationMs, durationMaxMs: sim.durationMaxMs } };
    },
  });
  emu.adminRoute({
    op: 'admin.acr.runs.config.get',
    method: 'GET',
    path: '/acr/runs/config',
    handler: () => ({ status: 200, body: { durationMs: sim.durationMs, durationMaxMs: sim.durationMaxMs } }),
  });
  emu.adminRoute({
    op: 'admin.acr.tasks.failNext',
    method: 'POST',
    path: '/acr/tasks/fail-next',
    handler: (req) => {
      const body = req.json<{ taskId?: unknown; count?: unknown; status?: unknown; message?: unknown }>() ?? {};
      if (typeof body.taskId !== 'string' || !body.taskId) throw bad('taskId (the task resource id) is required');
      const task = emu.store.getResource<TaskResource>(body.taskId);
      if (!task || task.type !== TASK_TYPE)
        throw new EmulatorError(404, { error: { code: 'NotFound', message: `task '${body.taskId}' does not exist` } });
      const count = body.count ?? 1;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
        throw bad('count must be an integer >= 0');
      const status = body.status ?? 'Failed';
      if (status !== 'Failed' && status !== 'Error') throw bad("status must be 'Failed' or 'Error'");
      if (body.message !== undefined && typeof body.message !== 'string') throw bad('message must be a string');
      sim.failNext(task.id, count, status, body.message);
      return {
        status: 200,
        body: { taskId: task.id, count, status, ...(body.message ? { message: body.message } : {}) },
      };
    },
  });
  // The "SAS URL" of a run log: text, `x-ms-meta-Complete` once terminal (what az reads), ranged reads.
  emu.adminRoute({
    op: 'admin.acr.logs.get',
    method: 'GET',
    path: '/acr/logs/{registryName}/{runId}',
    handler: (req) => {
      const registry = findRegistryByName(emu, req.params.registryName!);
      const runArmId = registry ? `${registry.id}/runs/${req.params.runId}` : '';
      const given = Buffer.from(req.q('sig') ?? '');
      const expected = Buffer.from(registry ? sim.logSignature(runArmId) : '');
      if (!registry || given.length !== expected.length || !timingSafeEqual(given, expected))
        throw new EmulatorError(403, {
          error: {
            code: 'AuthenticationFailed',
            message: 'Server failed to authenticate the request. Make sure the signature is formed correctly.',
          },
        });
      sim.settle(runArmId);
      const run = emu.store.getResource<RunResource>(runArmId);
      const lines = sim.logOf(runArmId);
      if (!run || !lines)
        throw new EmulatorError(404, {
          error: { code: 'BlobNotFound', message: 'The specified blob does not exist.' },
        });
      const text = Buffer.from(lines.join('\n') + '\n', 'utf8');
      const headers: Record<string, string> = {
        'content-type': 'text/plain; charset=utf-8',
        'x-ms-blob-type': 'AppendBlob',
        'accept-ranges': 'bytes',
      };
      if (TERMINAL_STATUSES.includes(run.properties.status)) {
        const complete: Record<string, string> = { Error: 'internalerror', Timeout: 'timedout' };
        headers['x-ms-meta-Complete'] = complete[run.properties.status] ?? run.properties.status.toLowerCase();
      }
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? req.headers['x-ms-range'] ?? ''));
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), text.length - 1) : text.length - 1;
        if (start >= text.length)
          throw new EmulatorError(
            416,
            {
              error: {
                code: 'InvalidRange',
                message: 'The range specified is invalid for the current size of the resource.',
              },
            },
            { 'content-range': `bytes */${text.length}` },
          );
        return {
          status: 206,
          body: text.subarray(start, end + 1),
          headers: { ...headers, 'content-range': `bytes ${start}-${end}/${text.length}` },
        };
      }
      return { status: 200, body: text, headers };
    },
  });
}
