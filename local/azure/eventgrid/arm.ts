// Microsoft.EventGrid ARM surface: systemTopics (+ eventSubscriptions), custom topics (+ keys, + eventSubscriptions as
// extension resources and their nested alias). PUT/PATCH of a subscription runs the endpoint validation handshake
// synchronously, so the PUT answers 201/200 Succeeded or 400 `Url validation` (subscription left Failed).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { arm, type Reply } from '../core/errors.js';
import { requireResourceGroup } from '../arm/resourceGroups.js';
import type { DeliveryEngine } from './delivery.js';
import { validateEndpoint } from './handshake.js';
import {
  EVENTGRID_API_VERSIONS,
  EVENT_SUBSCRIPTION_TYPE,
  SYSTEM_TOPIC_SOURCES,
  SYSTEM_TOPIC_SUBSCRIPTION_TYPE,
  SYSTEM_TOPIC_TYPE,
  TOPIC_SUBSCRIPTION_ALIAS_TYPE,
  TOPIC_TYPE,
  egErrors,
  endpointBaseUrl,
  parseEndpointUrl,
  sameId,
  type DeliverySchema,
  type EventSubscriptionResource,
  type InputSchema,
  type SystemTopicResource,
  type TopicResource,
} from './model.js';

const RG = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}';
const NS = `${RG}/providers/Microsoft.EventGrid`;
const EXT = '/{*scope}/providers/Microsoft.EventGrid/eventSubscriptions';
const TOPIC_SCOPE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.EventGrid\/topics\/([^/]+)\/?$/i;

export const TOPIC_KEYS_BUCKET = 'eventgrid.topicKeys';

export interface TopicKeys {
  key1: string;
  key2: string;
}

/** Where the publish endpoint of a custom topic lives (on the ARM port; see publish.ts). */
export function topicEndpoint(emu: Emulator, topicName: string): string {
  return `${emu.armEndpoint}/_emulator/eventgrid/topics/${topicName}/api/events`;
}

export function findTopicByName(emu: Emulator, name: string): TopicResource | undefined {
  const n = name.toLowerCase();
  return emu.store.listResources<TopicResource>(TOPIC_TYPE).find((t) => t.name.toLowerCase() === n);
}

export function topicKeys(emu: Emulator, topicId: string): TopicKeys | undefined {
  return emu.store.bucket<TopicKeys>(TOPIC_KEYS_BUCKET).get(topicId.toLowerCase());
}

/** Where a subscription hangs, resolved from the request path (404s in ARM order: RG → topic). */
interface SubscriptionParent {
  /** Stored id of a subscription with this name. */
  storeId(name: string): string;
  storeType: string;
  /** Id/type echoed for the route used (the nested `topics/{t}/eventSubscriptions` alias differs). */
  viewId(name: string): string;
  viewType: string;
  /** `properties.topic` of the subscription. */
  topicProperty: string;
  /** `topic` of the validation event (and of delivered events): the system topic's source or the custom topic. */
  eventTopic: string;
  inputSchema?: InputSchema;
  rgName: string;
  typeAndName(name: string): string;
  /** Subscriptions of this parent (stored form). */
  list(): EventSubscriptionResource[];
}

type RawSubscriptionProps = {
  destination?: { endpointType?: string; properties?: Record<string, unknown> };
  filter?: Record<string, unknown>;
  labels?: unknown;
  eventDeliverySchema?: string;
  retryPolicy?: { maxDeliveryAttempts?: unknown; eventTimeToLiveInMinutes?: unknown };
  deadLetterDestination?: unknown;
  expirationTimeUtc?: unknown;
  deliveryWithResourceIdentity?: unknown;
  deadLetterWithResourceIdentity?: unknown;
};

export function registerEventGridArm(emu: Emulator, engine: DeliveryEngine): void {
  const route = (
    op: string,
    method: string,
    path: string,
    action: string,
    handler: (req: EmuRequest) => Reply | Promise<Reply>,
  ) => emu.armRoute({ op, method, path, apiVersions: EVENTGRID_API_VERSIONS, action, handler });

  // System topics ------------------------------------------------------------------------------------------------
  const ST = `${NS}/systemTopics/{systemTopicName}`;
  route('systemTopics.get', 'GET', ST, 'Microsoft.EventGrid/systemTopics/read', (req) => ({
    status: 200,
    body: requireSystemTopic(emu, req),
  }));
  route('systemTopics.createOrUpdate', 'PUT', ST, 'Microsoft.EventGrid/systemTopics/write', (req) =>
    putSystemTopic(emu, req),
  );
  route('systemTopics.delete', 'DELETE', ST, 'Microsoft.EventGrid/systemTopics/delete', (req) => {
    const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
    const id = `${rg.id}/providers/Microsoft.EventGrid/systemTopics/${req.params.systemTopicName}`;
    if (!emu.store.getResource(id)) return { status: 204 };
    emu.store.deleteResource(id);
    return { status: 200 };
  });
  route(
    'systemTopics.listByResourceGroup',
    'GET',
    `${NS}/systemTopics`,
    'Microsoft.EventGrid/systemTopics/read',
    (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      return { status: 200, body: { value: emu.store.listResources(SYSTEM_TOPIC_TYPE, rg.id) } };
    },
  );
  route(
    'systemTopics.listBySubscription',
    'GET',
    '/subscriptions/{subscriptionId}/providers/Microsoft.EventGrid/systemTopics',
    'Microsoft.EventGrid/systemTopics/read',
    () => ({ status: 200, body: { value: emu.store.listResources(SYSTEM_TOPIC_TYPE) } }),
  );

  // System topic event subscriptions -------------------------------------------------------------------------------
  const systemParent = (req: EmuRequest): SubscriptionParent => {
    const topic = requireSystemTopic(emu, req);
    return {
      storeId: (n) => `${topic.id}/eventSubscriptions/${n}`,
      storeType: SYSTEM_TOPIC_SUBSCRIPTION_TYPE,
      viewId: (n) => `${topic.id}/eventSubscriptions/${n}`,
      viewType: SYSTEM_TOPIC_SUBSCRIPTION_TYPE,
      topicProperty: topic.id,
      eventTopic: topic.properties.source,
      rgName: req.params.resourceGroupName!,
      typeAndName: (n) => `Microsoft.EventGrid/systemTopics/${topic.name}/eventSubscriptions/${n}`,
      list: () => emu.store.listResources<EventSubscriptionResource>(SYSTEM_TOPIC_SUBSCRIPTION_TYPE, topic.id),
    };
  };
  registerSubscriptionRoutes(emu, engine, {
    prefix: 'systemTopicEventSubscriptions',
    collection: `${ST}/eventSubscriptions`,
    actionBase: 'Microsoft.EventGrid/systemTopics/eventSubscriptions',
    parent: systemParent,
  });

  // Custom topics ----------------------------------------------------------------------------------------------------
  const T = `${NS}/topics/{topicName}`;
  route('topics.get', 'GET', T, 'Microsoft.EventGrid/topics/read', (req) => ({
    status: 200,
    body: renderTopic(emu, requireTopic(emu, req)),
  }));
  route('topics.createOrUpdate', 'PUT', T, 'Microsoft.EventGrid/topics/write', (req) => putTopic(emu, req));
  route('topics.delete', 'DELETE', T, 'Microsoft.EventGrid/topics/delete', (req) => {
    const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
    const id = `${rg.id}/providers/Microsoft.EventGrid/topics/${req.params.topicName}`;
    if (!emu.store.getResource(id)) return { status: 204 };
    emu.store.deleteResource(id);
    emu.store.bucket<TopicKeys>(TOPIC_KEYS_BUCKET).delete(id.toLowerCase());
    engine.forgetTopic(id);
    return { status: 200 };
  });
  route('topics.listByResourceGroup', 'GET', `${NS}/topics`, 'Microsoft.EventGrid/topics/read', (req) => {
    const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
    const value = emu.store.listResources<TopicResource>(TOPIC_TYPE, rg.id).map((t) => renderTopic(emu, t));
    return { status: 200, body: { value } };
  });
  route(
    'topics.listBySubscription',
    'GET',
    '/subscriptions/{subscriptionId}/providers/Microsoft.EventGrid/topics',
    'Microsoft.EventGrid/topics/read',
    () => ({
      status: 200,
      body: { value: emu.store.listResources<TopicResource>(TOPIC_TYPE).map((t) => renderTopic(emu, t)) },
    }),
  );
  route('topics.listSharedAccessKeys', 'POST', `${T}/listKeys`, 'Microsoft.EventGrid/topics/listKeys/action', (req) => {
    const topic = requireTopic(emu, req);
    return { status: 200, body: ensureKeys(emu, topic.id) };
  });
  route(
    'topics.regenerateKey',
    'POST',
    `${T}/regenerateKey`,
    'Microsoft.EventGrid/topics/regenerateKey/action',
    (req) => {
      const topic = requireTopic(emu, req);
      const keyName = req.json<{ keyName?: string }>()?.keyName?.toLowerCase();
      if (keyName !== 'key1' && keyName !== 'key2') throw egErrors.bad("keyName must be 'key1' or 'key2'.");
      const keys = { ...ensureKeys(emu, topic.id), [keyName]: newKey() };
      emu.store.bucket<TopicKeys>(TOPIC_KEYS_BUCKET).set(topic.id.toLowerCase(), keys);
      emu.store.changed();
      return { status: 200, body: keys };
    },
  );

  // Custom topic event subscriptions: the extension form and the nested alias address the same subscription.
  const topicParent = (topic: TopicResource, rgName: string, alias: boolean): SubscriptionParent => ({
    storeId: (n) => `${topic.id}/providers/Microsoft.EventGrid/eventSubscriptions/${n}`,
    storeType: EVENT_SUBSCRIPTION_TYPE,
    viewId: (n) =>
      alias
        ? `${topic.id}/eventSubscriptions/${n}`
        : `${topic.id}/providers/Microsoft.EventGrid/eventSubscriptions/${n}`,
    viewType: alias ? TOPIC_SUBSCRIPTION_ALIAS_TYPE : EVENT_SUBSCRIPTION_TYPE,
    topicProperty: topic.id,
    eventTopic: topic.id,
    inputSchema: topic.properties.inputSchema,
    rgName,
    typeAndName: (n) =>
      `Microsoft.EventGrid/topics/${topic.name}/providers/Microsoft.EventGrid/eventSubscriptions/${n}`,
    list: () => emu.store.listResources<EventSubscriptionResource>(EVENT_SUBSCRIPTION_TYPE, topic.id),
  });
  registerSubscriptionRoutes(emu, engine, {
    prefix: 'eventSubscriptions',
    collection: EXT,
    actionBase: 'Microsoft.EventGrid/eventSubscriptions',
    parent: (req) => {
      const m = TOPIC_SCOPE.exec(req.params.scope ?? '');
      if (!m) throw egErrors.notSupported(`event subscriptions on scope '${req.params.scope}' (only custom topics)`);
      requireResourceGroup(emu, m[1]!, m[2]!);
      const topic = emu.store.getResource<TopicResource>(req.params.scope!);
      if (!topic || topic.type !== TOPIC_TYPE) throw arm.resourceNotFound(`Microsoft.EventGrid/topics/${m[3]}`, m[2]!);
      return topicParent(topic, m[2]!, false);
    },
  });
  registerSubscriptionRoutes(emu, engine, {
    prefix: 'topicEventSubscriptions',
    collection: `${T}/eventSubscriptions`,
    actionBase: 'Microsoft.EventGrid/topics/eventSubscriptions',
    parent: (req) => topicParent(requireTopic(emu, req), req.params.resourceGroupName!, true),
  });
}

function registerSubscriptionRoutes(
  emu: Emulator,
  engine: DeliveryEngine,
  o: {
    prefix: string;
    collection: string;
    actionBase: string;
    parent: (req: EmuRequest) => SubscriptionParent;
  },
): void {
  const one = `${o.collection}/{eventSubscriptionName}`;
  const add = (
    op: string,
    method: string,
    path: string,
    action: string,
    handler: (req: EmuRequest) => Promise<Reply> | Reply,
  ) => emu.armRoute({ op: `${o.prefix}.${op}`, method, path, apiVersions: EVENTGRID_API_VERSIONS, action, handler });
  const find = (req: EmuRequest) => {
    const parent = o.parent(req);
    const name = req.params.eventSubscriptionName!;
    const sub = emu.store.getResource<EventSubscriptionResource>(parent.storeId(name));
    return { parent, name, sub };
  };
  const require = (req: EmuRequest) => {
    const { parent, name, sub } = find(req);
    if (!sub) throw arm.resourceNotFound(parent.typeAndName(name), parent.rgName);
    return { parent, sub };
  };

  add('get', 'GET', one, `${o.actionBase}/read`, (req) => {
    const { parent, sub } = require(req);
    return { status: 200, body: renderSubscription(sub, parent) };
  });
  add('list', 'GET', o.collection, `${o.actionBase}/read`, (req) => {
    const parent = o.parent(req);
    return { status: 200, body: { value: parent.list().map((s) => renderSubscription(s, parent)) } };
  });
  add('createOrUpdate', 'PUT', one, `${o.actionBase}/write`, async (req) => {
    const { parent, name, sub } = find(req);
    const body = req.json<{ properties?: RawSubscriptionProps }>();
    return upsertSubscription(emu, engine, parent, name, body?.properties ?? {}, sub);
  });
  add('update', 'PATCH', one, `${o.actionBase}/write`, async (req) => {
    const { parent, sub } = require(req);
    const patch = req.json<RawSubscriptionProps>() ?? {};
    const merged = structuredClone(sub.properties) as unknown as RawSubscriptionProps;
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    return upsertSubscription(emu, engine, parent, sub.name, merged, sub);
  });
  add('delete', 'DELETE', one, `${o.actionBase}/delete`, (req) => {
    const { sub } = find(req);
    if (!sub) return { status: 204 };
    emu.store.deleteResource(sub.id);
    return { status: 200 };
  });
  add('getFullUrl', 'POST', `${one}/getFullUrl`, `${o.actionBase}/getFullUrl/action`, (req) => {
    const { sub } = require(req);
    return { status: 200, body: { endpointUrl: sub.properties.destination.properties.endpointUrl } };
  });
}

async function upsertSubscription(
  emu: Emulator,
  engine: DeliveryEngine,
  parent: SubscriptionParent,
  name: string,
  raw: RawSubscriptionProps,
  existing: EventSubscriptionResource | undefined,
): Promise<Reply> {
  if (!/^[A-Za-z0-9-]{3,64}$/.test(name)) {
    throw egErrors.invalidRequest(
      `Event subscription name '${name}' is invalid: use 3-64 characters from a-z, A-Z, 0-9 and '-'.`,
    );
  }
  const props = normalizeSubscription(raw, parent.inputSchema);
  const dest = props.destination.properties;
  const prev = existing?.properties;
  const needsHandshake =
    !prev ||
    prev.provisioningState !== 'Succeeded' ||
    prev.destination.properties.endpointUrl !== dest.endpointUrl ||
    prev.eventDeliverySchema !== props.eventDeliverySchema;
  const failure = needsHandshake
    ? await validateEndpoint(
        emu,
        {
          subscriptionName: name,
          endpointUrl: dest.endpointUrl!,
          endpointBaseUrl: dest.endpointBaseUrl,
          schema: props.eventDeliverySchema,
          topic: parent.eventTopic,
        },
        engine.settings.attemptTimeoutMs,
      )
    : undefined;
  const resource: EventSubscriptionResource = {
    id: existing?.id ?? parent.storeId(name),
    name: existing?.name ?? name,
    type: parent.storeType,
    properties: { topic: parent.topicProperty, provisioningState: failure ? 'Failed' : 'Succeeded', ...props },
  };
  emu.store.putResource(resource);
  if (failure) throw egErrors.urlValidation(failure);
  return { status: existing ? 200 : 201, body: renderSubscription(resource, parent) };
}

function normalizeSubscription(
  raw: RawSubscriptionProps,
  inputSchema: InputSchema | undefined,
): Omit<EventSubscriptionResource['properties'], 'topic' | 'provisioningState'> {
  if (raw.deliveryWithResourceIdentity || raw.deadLetterWithResourceIdentity)
    throw egErrors.notSupported('delivery with a resource identity');
  const dest = raw.destination;
  if (!dest || typeof dest !== 'object')
    throw egErrors.invalidRequest('The event subscription destination is required.');
  if (typeof dest.endpointType !== 'string' || dest.endpointType.toLowerCase() !== 'webhook')
    throw egErrors.notSupported(
      `event subscription destinations of type '${String(dest.endpointType)}' (only WebHook)`,
    );
  const dp = dest.properties ?? {};
  const url = parseEndpointUrl(dp.endpointUrl);

  const f = raw.filter ?? {};
  if (Array.isArray(f.advancedFilters) && f.advancedFilters.length > 0) throw egErrors.notSupported('advanced filters');
  const included = f.includedEventTypes;
  if (
    included !== undefined &&
    included !== null &&
    !(Array.isArray(included) && included.every((x) => typeof x === 'string'))
  )
    throw egErrors.invalidRequest('filter.includedEventTypes must be an array of strings.');
  for (const k of ['subjectBeginsWith', 'subjectEndsWith'] as const) {
    if (f[k] !== undefined && f[k] !== null && typeof f[k] !== 'string')
      throw egErrors.invalidRequest(`filter.${k} must be a string.`);
  }
  if (
    f.isSubjectCaseSensitive !== undefined &&
    f.isSubjectCaseSensitive !== null &&
    typeof f.isSubjectCaseSensitive !== 'boolean'
  )
    throw egErrors.invalidRequest('filter.isSubjectCaseSensitive must be a boolean.');

  const schema = parseDeliverySchema(raw.eventDeliverySchema, inputSchema);
  if (inputSchema === 'CloudEventSchemaV1_0' && schema !== 'CloudEventSchemaV1_0') {
    throw egErrors.invalidRequest(
      "The event delivery schema 'EventGridSchema' is not supported for a topic whose input schema is 'CloudEventSchemaV1_0'.",
    );
  }

  const labels = raw.labels;
  if (labels !== undefined && labels !== null && !(Array.isArray(labels) && labels.every((x) => typeof x === 'string')))
    throw egErrors.invalidRequest('labels must be an array of strings.');
  let expirationTimeUtc: string | null = null;
  if (raw.expirationTimeUtc !== undefined && raw.expirationTimeUtc !== null) {
    if (typeof raw.expirationTimeUtc !== 'string' || Number.isNaN(Date.parse(raw.expirationTimeUtc)))
      throw egErrors.invalidRequest('expirationTimeUtc must be a date-time.');
    expirationTimeUtc = raw.expirationTimeUtc;
  }

  return {
    destination: {
      endpointType: 'WebHook',
      properties: {
        endpointUrl: url.toString(),
        endpointBaseUrl: endpointBaseUrl(url),
        maxEventsPerBatch: intIn(dp.maxEventsPerBatch, 1, 5000, 1, 'maxEventsPerBatch'),
        preferredBatchSizeInKilobytes: intIn(
          dp.preferredBatchSizeInKilobytes,
          1,
          1024,
          64,
          'preferredBatchSizeInKilobytes',
        ),
        azureActiveDirectoryTenantId: (dp.azureActiveDirectoryTenantId as string | undefined) ?? null,
        azureActiveDirectoryApplicationIdOrUri:
          (dp.azureActiveDirectoryApplicationIdOrUri as string | undefined) ?? null,
      },
    },
    filter: {
      includedEventTypes: (included as string[] | null | undefined) ?? null,
      subjectBeginsWith: (f.subjectBeginsWith as string | undefined) ?? '',
      subjectEndsWith: (f.subjectEndsWith as string | undefined) ?? '',
      isSubjectCaseSensitive: (f.isSubjectCaseSensitive as boolean | undefined) ?? false,
      ...(typeof f.enableAdvancedFilteringOnArrays === 'boolean'
        ? { enableAdvancedFilteringOnArrays: f.enableAdvancedFilteringOnArrays }
        : {}),
    },
    labels: (labels as string[] | null | undefined) ?? null,
    eventDeliverySchema: schema,
    retryPolicy: {
      maxDeliveryAttempts: intIn(raw.retryPolicy?.maxDeliveryAttempts, 1, 30, 30, 'retryPolicy.maxDeliveryAttempts'),
      eventTimeToLiveInMinutes: intIn(
        raw.retryPolicy?.eventTimeToLiveInMinutes,
        1,
        1440,
        1440,
        'retryPolicy.eventTimeToLiveInMinutes',
      ),
    },
    expirationTimeUtc,
    ...(raw.deadLetterDestination ? { deadLetterDestination: raw.deadLetterDestination } : {}),
  };
}

function parseDeliverySchema(v: string | undefined, inputSchema: InputSchema | undefined): DeliverySchema {
  if (v === undefined || v === null)
    return inputSchema === 'CloudEventSchemaV1_0' ? 'CloudEventSchemaV1_0' : 'EventGridSchema';
  switch (String(v).toLowerCase()) {
    case 'eventgridschema':
      return 'EventGridSchema';
    case 'cloudeventschemav1_0':
      return 'CloudEventSchemaV1_0';
    case 'custominputschema':
      throw egErrors.notSupported("the 'CustomInputSchema' delivery schema");
    default:
      throw egErrors.invalidRequest(
        `The event delivery schema '${v}' is invalid. Valid values are 'EventGridSchema', 'CloudEventSchemaV1_0' and 'CustomInputSchema'.`,
      );
  }
}

function intIn(v: unknown, min: number, max: number, dflt: number, name: string): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw egErrors.invalidRequest(`${name} must be an integer between ${min} and ${max}.`);
  return v;
}

function renderSubscription(sub: EventSubscriptionResource, parent: SubscriptionParent) {
  const copy = structuredClone(sub);
  // Azure never echoes the full WebHook URL (it may carry a key): only endpointBaseUrl; getFullUrl returns it.
  delete copy.properties.destination.properties.endpointUrl;
  copy.id = parent.viewId(sub.name);
  copy.type = parent.viewType;
  return copy;
}

// System topics -------------------------------------------------------------------------------------------------------

function requireSystemTopic(emu: Emulator, req: EmuRequest): SystemTopicResource {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const name = req.params.systemTopicName!;
  const t = emu.store.getResource<SystemTopicResource>(`${rg.id}/providers/Microsoft.EventGrid/systemTopics/${name}`);
  if (!t) throw arm.resourceNotFound(`Microsoft.EventGrid/systemTopics/${name}`, req.params.resourceGroupName!);
  return t;
}

function putSystemTopic(emu: Emulator, req: EmuRequest): Reply {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const name = req.params.systemTopicName!;
  const body = req.json<{
    location?: string;
    tags?: Record<string, string> | null;
    identity?: unknown;
    properties?: { source?: string; topicType?: string };
  }>();
  if (!body?.location)
    throw arm.badRequest('LocationRequired', 'The location property is required for this definition.');
  if (!/^[A-Za-z0-9-]{3,128}$/.test(name))
    throw egErrors.invalidRequest(
      `System topic name '${name}' is invalid: use 3-128 characters from a-z, A-Z, 0-9 and '-'.`,
    );
  const source = body.properties?.source;
  const topicType = body.properties?.topicType;
  if (typeof source !== 'string' || !source)
    throw egErrors.invalidRequest("The system topic property 'source' is required.");
  if (typeof topicType !== 'string' || !topicType)
    throw egErrors.invalidRequest("The system topic property 'topicType' is required.");
  const kind = SYSTEM_TOPIC_SOURCES[topicType.toLowerCase()];
  if (!kind) {
    throw egErrors.notSupported(
      `system topics of type '${topicType}' (supported: ${Object.values(SYSTEM_TOPIC_SOURCES)
        .map((k) => k.topicType)
        .join(', ')})`,
    );
  }
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/([^/]+\/[^/]+)\/([^/]+)\/?$/i.exec(source);
  if (!m || m[2]!.toLowerCase() !== kind.sourceType.toLowerCase()) {
    throw egErrors.invalidRequest(
      `The source '${source}' is not a resource of type '${kind.sourceType}' required by topic type '${kind.topicType}'.`,
    );
  }
  const src = emu.store.getResource<{ id: string; name: string; type: string; location?: string }>(source);
  if (!src) throw arm.resourceNotFound(`${kind.sourceType}/${m[3]}`, m[1]!);
  const location = normLocation(body.location);
  // A regional source can only feed a system topic in its own region [U: Azure rejects a mismatch; wording guessed].
  if (src.location && normLocation(src.location) !== location && normLocation(src.location) !== 'global') {
    throw egErrors.invalidRequest(
      `The location '${body.location}' of the system topic must match the location '${src.location}' of its source.`,
    );
  }
  const id = `${rg.id}/providers/Microsoft.EventGrid/systemTopics/${name}`;
  const existing = emu.store.getResource<SystemTopicResource>(id);
  if (existing && !sameId(existing.properties.source, source))
    throw egErrors.invalidRequest("The system topic property 'source' cannot be changed.");
  const other = emu.store
    .listResources<SystemTopicResource>(SYSTEM_TOPIC_TYPE)
    .find((t) => sameId(t.properties.source, source) && !sameId(t.id, id));
  if (other) {
    throw egErrors.invalidRequest(
      `Only one system topic is allowed per source. System topic '${other.name}' already exists for source '${source}'.`,
    );
  }
  const topic: SystemTopicResource = {
    id: existing?.id ?? id,
    name: existing?.name ?? name,
    type: SYSTEM_TOPIC_TYPE,
    location,
    tags: body.tags ?? null,
    ...(body.identity !== undefined ? { identity: body.identity } : {}),
    properties: {
      provisioningState: 'Succeeded',
      source: existing?.properties.source ?? source,
      topicType: kind.topicType,
      metricResourceId: existing?.properties.metricResourceId ?? randomUUID(),
    },
  };
  emu.store.putResource(topic);
  return { status: existing ? 200 : 201, body: topic };
}

// Custom topics -------------------------------------------------------------------------------------------------------

function requireTopic(emu: Emulator, req: EmuRequest): TopicResource {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const name = req.params.topicName!;
  const t = emu.store.getResource<TopicResource>(`${rg.id}/providers/Microsoft.EventGrid/topics/${name}`);
  if (!t) throw arm.resourceNotFound(`Microsoft.EventGrid/topics/${name}`, req.params.resourceGroupName!);
  return t;
}

function renderTopic(emu: Emulator, t: TopicResource): TopicResource {
  return { ...t, properties: { ...t.properties, endpoint: topicEndpoint(emu, t.name) } };
}

function putTopic(emu: Emulator, req: EmuRequest): Reply {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const name = req.params.topicName!;
  const body = req.json<{
    location?: string;
    tags?: Record<string, string> | null;
    properties?: { inputSchema?: string; disableLocalAuth?: boolean; publicNetworkAccess?: string };
  }>();
  if (!body?.location)
    throw arm.badRequest('LocationRequired', 'The location property is required for this definition.');
  if (!/^[A-Za-z0-9-]{3,50}$/.test(name))
    throw egErrors.invalidRequest(`Topic name '${name}' is invalid: use 3-50 characters from a-z, A-Z, 0-9 and '-'.`);
  const p = body.properties ?? {};
  let inputSchema: InputSchema;
  switch ((p.inputSchema ?? 'EventGridSchema').toLowerCase()) {
    case 'eventgridschema':
      inputSchema = 'EventGridSchema';
      break;
    case 'cloudeventschemav1_0':
      inputSchema = 'CloudEventSchemaV1_0';
      break;
    case 'customeventschema':
      throw egErrors.notSupported("the 'CustomEventSchema' input schema");
    default:
      throw egErrors.invalidRequest(`The input schema '${p.inputSchema}' is invalid.`);
  }
  if (p.disableLocalAuth !== undefined && typeof p.disableLocalAuth !== 'boolean')
    throw egErrors.invalidRequest('disableLocalAuth must be a boolean.');
  const id = `${rg.id}/providers/Microsoft.EventGrid/topics/${name}`;
  const existing = emu.store.getResource<TopicResource>(id);
  if (existing && existing.properties.inputSchema !== inputSchema)
    throw egErrors.invalidRequest("The topic property 'inputSchema' cannot be changed.");
  // The publish endpoint is addressed by name alone, so names are unique across the emulator (Azure: per region).
  const clash = findTopicByName(emu, name);
  if (clash && !sameId(clash.id, id))
    throw arm.conflict('TopicNameNotAvailable', `Topic name '${name}' is already in use by '${clash.id}'.`);
  const topic: TopicResource = {
    id: existing?.id ?? id,
    name: existing?.name ?? name,
    type: TOPIC_TYPE,
    location: normLocation(body.location),
    tags: body.tags ?? null,
    properties: {
      provisioningState: 'Succeeded',
      inputSchema,
      publicNetworkAccess: p.publicNetworkAccess ?? 'Enabled',
      disableLocalAuth: p.disableLocalAuth ?? false,
      metricResourceId: existing?.properties.metricResourceId ?? randomUUID(),
    },
  };
  emu.store.putResource(topic);
  ensureKeys(emu, topic.id);
  return { status: existing ? 200 : 201, body: renderTopic(emu, topic) };
}

function ensureKeys(emu: Emulator, topicId: string): TopicKeys {
  const bucket = emu.store.bucket<TopicKeys>(TOPIC_KEYS_BUCKET);
  let keys = bucket.get(topicId.toLowerCase());
  if (!keys) {
    keys = { key1: newKey(), key2: newKey() };
    bucket.set(topicId.toLowerCase(), keys);
    emu.store.changed();
  }
  return keys;
}

/** Keys are base64 of 32 random bytes, like Azure's; SAS signatures HMAC with the decoded key. */
function newKey(): string {
  return randomBytes(32).toString('base64');
}

function normLocation(l: string): string {
  return l.toLowerCase().replace(/\s+/g, '');
}
