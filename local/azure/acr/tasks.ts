// Microsoft.ContainerRegistry/registries/tasks (2019-06-01-preview): put/patch/get/list/delete and POST listDetails.
// Tasks are stored unmasked; GET/PUT/PATCH/list answers are masked as contracts 1.4 describes, listDetails is not.
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { acr } from './errors.js';
import type { AsyncOperations } from './operations.js';
import { applyIdentity, dropIdentity, presentIdentity } from './identity.js';
import {
  REGISTRY_TYPE,
  TASK_API_VERSIONS,
  TASK_TYPE,
  childNotFound,
  isObject,
  requireParentRegistry,
  type Dict,
  type RegistryResource,
  type SecretArg,
  type TaskCredentials,
  type TaskResource,
  type TaskStep,
} from './model.js';

const NAME_RX = /^[a-zA-Z0-9-_]{5,50}$/;
const STEP_TYPES = ['Docker', 'FileTask', 'EncodedTask'] as const;
const OS = ['Linux', 'Windows'];
const ARCH = ['amd64', 'x86', '386', 'arm', 'arm64'];
const VARIANT = ['v6', 'v7', 'v8'];

function enumOf(field: string, v: unknown, allowed: readonly string[]): string {
  const found = typeof v === 'string' ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  if (!found)
    throw acr.invalid(`The value '${String(v)}' of ${field} is invalid. Allowed values: ${allowed.join(', ')}.`);
  return found;
}

function str(field: string, v: unknown, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw acr.invalid(`The property '${field}' is required.`);
    return undefined;
  }
  if (typeof v !== 'string') throw acr.invalid(`The property '${field}' must be a string.`);
  if (required && !v) throw acr.invalid(`The property '${field}' is required.`);
  return v;
}

function bool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw acr.invalid(`The property '${field}' must be a boolean.`);
  return v;
}

function args(field: string, v: unknown): SecretArg[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw acr.invalid(`The property '${field}' must be an array.`);
  return v.map((a, i) => {
    if (!isObject(a)) throw acr.invalid(`${field}[${i}] must be an object.`);
    return {
      name: str(`${field}[${i}].name`, a.name, true)!,
      value: str(`${field}[${i}].value`, a.value, true)!,
      isSecret: bool(`${field}[${i}].isSecret`, a.isSecret, false),
    };
  });
}

function stringList(field: string, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw acr.invalid(`The property '${field}' must be an array of strings.`);
  return v as string[];
}

const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Validates a whole step (PUT, or PATCH that changes the step type) and fills the service's defaults. */
function validateStep(v: unknown): TaskStep {
  if (!isObject(v)) throw acr.invalid("The property 'step' is required.");
  const type = STEP_TYPES.find((t) => t === v.type);
  if (!type)
    throw acr.invalid(`The step type '${String(v.type)}' is invalid. Allowed values: ${STEP_TYPES.join(', ')}.`);
  const common = {
    type,
    contextPath: str('step.contextPath', v.contextPath),
    contextAccessToken: str('step.contextAccessToken', v.contextAccessToken),
  };
  if (type === 'Docker')
    return defined({
      ...common,
      imageNames: stringList('step.imageNames', v.imageNames) ?? [],
      isPushEnabled: bool('step.isPushEnabled', v.isPushEnabled, true),
      noCache: bool('step.noCache', v.noCache, false),
      dockerFilePath: str('step.dockerFilePath', v.dockerFilePath, true),
      target: str('step.target', v.target),
      arguments: args('step.arguments', v.arguments) ?? [],
    });
  if (type === 'FileTask')
    return defined({
      ...common,
      taskFilePath: str('step.taskFilePath', v.taskFilePath, true),
      valuesFilePath: str('step.valuesFilePath', v.valuesFilePath),
      values: args('step.values', v.values) ?? [],
    });
  const content = str('step.encodedTaskContent', v.encodedTaskContent, true)!;
  if (!/^[A-Za-z0-9+/=\s]+$/.test(content)) throw acr.invalid("'step.encodedTaskContent' must be base64.");
  const valuesContent = str('step.encodedValuesContent', v.encodedValuesContent);
  if (valuesContent !== undefined && !/^[A-Za-z0-9+/=\s]*$/.test(valuesContent))
    throw acr.invalid("'step.encodedValuesContent' must be base64.");
  return defined({
    ...common,
    encodedTaskContent: content,
    encodedValuesContent: valuesContent,
    values: args('step.values', v.values) ?? [],
  });
}

function validatePlatform(v: unknown, base?: Dict<unknown>): { os: string; architecture?: string; variant?: string } {
  if (!isObject(v)) throw acr.invalid("The property 'platform' is required.");
  const merged = { ...(base ?? {}), ...v };
  return defined({
    os: enumOf('platform.os', merged.os, OS),
    architecture:
      merged.architecture === undefined || merged.architecture === null
        ? undefined
        : enumOf('platform.architecture', merged.architecture, ARCH),
    variant:
      merged.variant === undefined || merged.variant === null
        ? undefined
        : enumOf('platform.variant', merged.variant, VARIANT),
  });
}

function validateTimeout(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 300 || v > 28800)
    throw acr.invalid(`The timeout '${String(v)}' is invalid. It must be an integer between 300 and 28800 seconds.`);
  return v;
}

function validateTriggerItem(kind: string, t: unknown, i: number, patch: boolean): Dict<unknown> {
  if (!isObject(t)) throw acr.invalid(`trigger.${kind}[${i}] must be an object.`);
  str(`trigger.${kind}[${i}].name`, t.name, true);
  const out: Dict<unknown> = { ...t };
  if (t.status !== undefined) out.status = enumOf(`trigger.${kind}[${i}].status`, t.status, ['Enabled', 'Disabled']);
  else if (!patch) out.status = 'Enabled';
  if (kind === 'timerTriggers' && !patch) str(`trigger.timerTriggers[${i}].schedule`, t.schedule, true);
  if (kind === 'sourceTriggers' && !patch) {
    if (!isObject(t.sourceRepository)) throw acr.invalid(`trigger.sourceTriggers[${i}].sourceRepository is required.`);
    str(`trigger.sourceTriggers[${i}].sourceRepository.repositoryUrl`, t.sourceRepository.repositoryUrl, true);
  }
  return out;
}

function validateTrigger(v: unknown, patch: boolean): Dict<unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw acr.invalid("The property 'trigger' must be an object.");
  const out: Dict<unknown> = {};
  for (const kind of ['timerTriggers', 'sourceTriggers'] as const) {
    const list = v[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw acr.invalid(`trigger.${kind} must be an array.`);
    out[kind] = list.map((t, i) => validateTriggerItem(kind, t, i, patch));
  }
  if (v.baseImageTrigger !== undefined && v.baseImageTrigger !== null) {
    const b = validateTriggerItem('baseImageTrigger', v.baseImageTrigger, 0, patch);
    if (b.baseImageTriggerType !== undefined)
      b.baseImageTriggerType = enumOf('trigger.baseImageTrigger.baseImageTriggerType', b.baseImageTriggerType, [
        'All',
        'Runtime',
      ]);
    else if (!patch) throw acr.invalid('trigger.baseImageTrigger.baseImageTriggerType is required.');
    out.baseImageTrigger = b;
  }
  return out;
}

function validateSecretObject(field: string, v: unknown): Dict<unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw acr.invalid(`${field} must be an object.`);
  return defined({
    type: v.type === undefined ? 'Opaque' : enumOf(`${field}.type`, v.type, ['Opaque', 'Vaultsecret']),
    value: str(`${field}.value`, v.value),
  });
}

/** Validates `credentials`; in PATCH mode `null` custom-registry entries are kept (they mean "remove"). */
function validateCredentials(v: unknown, patch: boolean): TaskCredentials | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw acr.invalid("The property 'credentials' must be an object.");
  const out: TaskCredentials = {};
  if (isObject(v.sourceRegistry)) {
    out.sourceRegistry = defined({
      loginMode:
        v.sourceRegistry.loginMode === undefined
          ? undefined
          : enumOf('credentials.sourceRegistry.loginMode', v.sourceRegistry.loginMode, ['None', 'Default']),
      identity: str('credentials.sourceRegistry.identity', v.sourceRegistry.identity),
    });
  }
  if (v.customRegistries !== undefined && v.customRegistries !== null) {
    if (!isObject(v.customRegistries)) throw acr.invalid('credentials.customRegistries must be an object.');
    out.customRegistries = {};
    for (const [server, c] of Object.entries(v.customRegistries)) {
      const field = `credentials.customRegistries['${server}']`;
      if (c === null) {
        if (patch) out.customRegistries[server] = null;
        continue;
      }
      if (!isObject(c)) throw acr.invalid(`${field} must be an object.`);
      out.customRegistries[server] = defined({
        userName: validateSecretObject(`${field}.userName`, c.userName),
        password: validateSecretObject(`${field}.password`, c.password),
        identity: str(`${field}.identity`, c.identity),
      });
    }
  }
  return out;
}

function agentConfiguration(v: unknown, base?: Dict<unknown>): Dict<unknown> {
  if (v === undefined || v === null) return base ?? { cpu: 2 };
  if (!isObject(v)) throw acr.invalid("The property 'agentConfiguration' must be an object.");
  if (v.cpu !== undefined && (typeof v.cpu !== 'number' || !Number.isInteger(v.cpu) || v.cpu < 1))
    throw acr.invalid('agentConfiguration.cpu must be a positive integer.');
  return { ...(base ?? {}), ...v };
}

/** The wire form the service answers GET/PUT/PATCH/list with (contracts 1.4). */
export function maskTask(emu: Emulator, task: TaskResource): unknown {
  const t = structuredClone(task);
  const p = t.properties;
  if (p.step) {
    delete p.step.contextAccessToken;
    if (p.step.arguments) p.step.arguments = p.step.arguments.filter((a) => !a.isSecret);
    if (p.step.values) p.step.values = p.step.values.filter((a) => !a.isSecret);
  }
  if (isObject(p.trigger)) {
    const sources = p.trigger.sourceTriggers;
    if (Array.isArray(sources))
      for (const s of sources)
        if (isObject(s) && isObject(s.sourceRepository)) delete s.sourceRepository.sourceControlAuthProperties;
    if (isObject(p.trigger.baseImageTrigger)) p.trigger.baseImageTrigger.updateTriggerEndpoint = null;
  }
  if (p.credentials) {
    p.credentials = {
      sourceRegistry: null,
      customRegistries: Object.fromEntries(Object.keys(p.credentials.customRegistries ?? {}).map((k) => [k, null])),
    };
  }
  return withIdentity(emu, t);
}

export function unmaskedTask(emu: Emulator, task: TaskResource): unknown {
  return withIdentity(emu, structuredClone(task));
}

function withIdentity(emu: Emulator, t: TaskResource): unknown {
  const identity = presentIdentity(emu, t.identity);
  if (identity) return { ...t, identity };
  const { identity: _drop, ...rest } = t;
  return rest;
}

/** Merges trigger items by name; an item new to the task is validated as on PUT (defaults, required fields). */
function mergeNamed(kind: string, existing: unknown, patch: unknown): unknown[] | undefined {
  const base = Array.isArray(existing) ? (existing as Dict<unknown>[]).map((x) => ({ ...x })) : [];
  if (!Array.isArray(patch)) return base.length ? base : undefined;
  (patch as Dict<unknown>[]).forEach((item, i) => {
    const at = base.findIndex((b) => String(b.name).toLowerCase() === String(item.name).toLowerCase());
    if (at >= 0) base[at] = { ...base[at], ...item };
    else base.push(validateTriggerItem(kind, item, i, false));
  });
  return base;
}

/** PATCH semantics (contracts 1.5): triggers merge by name and cannot be removed; custom registries merge by login
 * server and a `null` entry removes one; a step of the same type merges field by field. */
function mergeProperties(existing: TaskResource['properties'], props: Dict<unknown>): TaskResource['properties'] {
  const out = structuredClone(existing);
  if (props.status !== undefined) out.status = enumOf('status', props.status, ['Enabled', 'Disabled']);
  if (props.platform !== undefined) out.platform = validatePlatform(props.platform, out.platform);
  if (props.agentConfiguration !== undefined)
    out.agentConfiguration = agentConfiguration(props.agentConfiguration, out.agentConfiguration as Dict<unknown>);
  if (props.agentPoolName !== undefined) out.agentPoolName = str('agentPoolName', props.agentPoolName);
  if (props.timeout !== undefined) out.timeout = validateTimeout(props.timeout);
  if (props.logTemplate !== undefined) out.logTemplate = str('logTemplate', props.logTemplate);
  if (props.step !== undefined && props.step !== null) {
    if (!isObject(props.step)) throw acr.invalid("The property 'step' must be an object.");
    const deps = out.step?.baseImageDependencies;
    const sameType = out.step && props.step.type === out.step.type;
    const { baseImageDependencies: _ro, ...incoming } = props.step;
    out.step = validateStep(sameType ? { ...out.step, ...incoming } : incoming);
    if (deps) out.step.baseImageDependencies = deps;
  }
  if (props.trigger !== undefined && props.trigger !== null) {
    const t = validateTrigger(props.trigger, true)!;
    const cur: Dict<unknown> = isObject(out.trigger) ? out.trigger : {};
    const merged: Dict<unknown> = { ...cur };
    for (const kind of ['timerTriggers', 'sourceTriggers']) {
      const m = mergeNamed(kind, cur[kind], t[kind]);
      if (m) merged[kind] = m;
    }
    if (t.baseImageTrigger)
      merged.baseImageTrigger = {
        ...(isObject(cur.baseImageTrigger) ? cur.baseImageTrigger : {}),
        ...(t.baseImageTrigger as Dict<unknown>),
      };
    out.trigger = merged;
  }
  if (props.credentials !== undefined && props.credentials !== null) {
    const c = validateCredentials(props.credentials, true)!;
    const cur = out.credentials ?? {};
    const customs = { ...(cur.customRegistries ?? {}) };
    for (const [server, entry] of Object.entries(c.customRegistries ?? {})) {
      const k = Object.keys(customs).find((x) => x.toLowerCase() === server.toLowerCase());
      if (k) delete customs[k];
      if (entry !== null) customs[server] = entry;
    }
    out.credentials = defined({
      sourceRegistry: c.sourceRegistry ?? cur.sourceRegistry,
      customRegistries: customs,
    });
  }
  return out;
}

function newProperties(props: Dict<unknown>, existing?: TaskResource): TaskResource['properties'] {
  const isSystemTask = bool('isSystemTask', props.isSystemTask, false);
  const step = props.step === undefined || props.step === null ? undefined : validateStep(props.step);
  if (!isSystemTask && !step) throw acr.invalid("The property 'step' is required.");
  if (!isSystemTask && (props.platform === undefined || props.platform === null))
    throw acr.invalid("The property 'platform' is required.");
  const deps = existing?.properties.step?.baseImageDependencies;
  if (step && deps) step.baseImageDependencies = deps;
  const platform =
    props.platform === undefined || props.platform === null ? undefined : validatePlatform(props.platform);
  return defined({
    provisioningState: 'Succeeded',
    creationDate: existing?.properties.creationDate ?? '',
    status: props.status === undefined ? 'Enabled' : enumOf('status', props.status, ['Enabled', 'Disabled']),
    platform,
    agentConfiguration: agentConfiguration(props.agentConfiguration),
    agentPoolName: str('agentPoolName', props.agentPoolName),
    timeout: props.timeout === undefined ? 3600 : validateTimeout(props.timeout),
    step,
    trigger: validateTrigger(props.trigger, false),
    credentials: validateCredentials(props.credentials, false),
    logTemplate: str('logTemplate', props.logTemplate),
    isSystemTask,
  }) as TaskResource['properties'];
}

function tagsOf(v: unknown): Dict<string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string'))
    throw acr.invalid('The tags must be an object of string values.');
  return v as Dict<string>;
}

export interface TaskHooks {
  onDeleted(task: TaskResource): void;
}

export function registerTasks(emu: Emulator, hooks: TaskHooks, ops: AsyncOperations): void {
  const base =
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tasks';
  const taskOf = (req: EmuRequest) => {
    const registry = requireParentRegistry(emu, req);
    const id = `${registry.id}/tasks/${req.params.taskName}`;
    return { registry, id, existing: emu.store.getResource<TaskResource>(id) };
  };
  const displayName = (registry: RegistryResource, name: string) => `${registry.name}/tasks/${name}`;

  emu.armRoute({
    op: 'tasks.list',
    method: 'GET',
    path: base,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/read`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      const tasks = emu.store.listResources<TaskResource>(TASK_TYPE, registry.id);
      return { status: 200, body: { value: tasks.map((t) => maskTask(emu, t)) } };
    },
  });
  emu.armRoute({
    op: 'tasks.get',
    method: 'GET',
    path: `${base}/{taskName}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/read`,
    handler: (req) => {
      const { registry, existing } = taskOf(req);
      if (!existing) throw childNotFound(registry, 'tasks', req.params.taskName!);
      return { status: 200, body: maskTask(emu, existing) };
    },
  });
  emu.armRoute({
    op: 'tasks.getDetails',
    method: 'POST',
    path: `${base}/{taskName}/listDetails`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/listDetails/action`,
    handler: (req) => {
      const { registry, existing } = taskOf(req);
      if (!existing) throw childNotFound(registry, 'tasks', req.params.taskName!);
      return { status: 200, body: unmaskedTask(emu, existing) };
    },
  });
  emu.armRoute({
    op: 'tasks.create',
    method: 'PUT',
    path: `${base}/{taskName}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/write`,
    handler: (req) => {
      const { registry, id, existing } = taskOf(req);
      const name = existing?.name ?? req.params.taskName!;
      if (!NAME_RX.test(name))
        throw acr.invalidName('a task', name, 'It must be 5 to 50 letters, numbers, hyphens or underscores.');
      const body = req.json<{ location?: unknown; tags?: unknown; identity?: unknown; properties?: unknown }>() ?? {};
      if (typeof body.location !== 'string' || !body.location) throw acr.locationRequired();
      const props = newProperties(isObject(body.properties) ? body.properties : {}, existing);
      props.creationDate = existing?.properties.creationDate ?? emu.nowIso();
      const taskId = existing?.id ?? id;
      const identity = applyIdentity(
        emu,
        taskId,
        displayName(registry, name),
        body.identity,
        existing?.identity,
        false,
      );
      const tags = tagsOf(body.tags);
      const task: TaskResource = {
        id: taskId,
        name,
        type: TASK_TYPE,
        location: body.location.toLowerCase().replace(/\s+/g, ''),
        ...(tags ? { tags } : {}),
        ...(identity ? { identity } : {}),
        properties: props,
      };
      emu.store.putResource(task);
      return { status: existing ? 200 : 201, body: maskTask(emu, task) };
    },
  });
  emu.armRoute({
    op: 'tasks.update',
    method: 'PATCH',
    path: `${base}/{taskName}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/write`,
    handler: (req) => {
      const { registry, existing } = taskOf(req);
      if (!existing) throw childNotFound(registry, 'tasks', req.params.taskName!);
      const body = req.json<{ tags?: unknown; identity?: unknown; properties?: unknown }>() ?? {};
      const props = mergeProperties(existing.properties, isObject(body.properties) ? body.properties : {});
      const identity = applyIdentity(
        emu,
        existing.id,
        displayName(registry, existing.name),
        body.identity,
        existing.identity,
        true,
      );
      const tags = body.tags === undefined ? existing.tags : tagsOf(body.tags);
      const task: TaskResource = { ...existing, properties: props };
      if (tags) task.tags = tags;
      else delete task.tags;
      if (identity) task.identity = identity;
      else delete task.identity;
      emu.store.putResource(task);
      // Async: the client reads the task back from the request URL once the operation has succeeded.
      return ops.accepted(req, registry, { status: 200, body: maskTask(emu, task) });
    },
  });
  emu.armRoute({
    op: 'tasks.delete',
    method: 'DELETE',
    path: `${base}/{taskName}`,
    apiVersions: TASK_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tasks/delete`,
    handler: (req) => {
      const { existing } = taskOf(req);
      if (!existing) return { status: 204 };
      dropIdentity(emu, existing.identity);
      hooks.onDeleted(existing);
      emu.store.deleteResource(existing.id);
      return { status: 200 };
    },
  });
}

/** Drops the system principals of every task of a deleted registry. */
export function dropRegistryTasks(emu: Emulator, registry: RegistryResource): void {
  for (const t of emu.store.listResources<TaskResource>(TASK_TYPE, registry.id)) dropIdentity(emu, t.identity);
}
