// Event Grid shapes shared by the ARM routes, the publish endpoint and the delivery engine (wire form, contracts §7).
import type { ArmResource } from '../core/state.js';
import { armError } from '../core/errors.js';

export const EVENTGRID_API_VERSIONS = ['2022-06-15', '2023-12-15-preview', '2024-06-01-preview', '2025-02-15'];
/** The data-plane api-version `@azure/eventgrid` sends on publish. */
export const PUBLISH_API_VERSIONS = ['2018-01-01'];
export const EVENTGRID_AUDIENCES = ['https://eventgrid.azure.net'];
export const SEND_DATA_ACTION = 'Microsoft.EventGrid/events/send/action';

export const SYSTEM_TOPIC_TYPE = 'Microsoft.EventGrid/systemTopics';
export const SYSTEM_TOPIC_SUBSCRIPTION_TYPE = 'Microsoft.EventGrid/systemTopics/eventSubscriptions';
export const TOPIC_TYPE = 'Microsoft.EventGrid/topics';
/** Custom-topic subscriptions are extension resources: `{topicId}/providers/Microsoft.EventGrid/eventSubscriptions/{name}`. */
export const EVENT_SUBSCRIPTION_TYPE = 'Microsoft.EventGrid/eventSubscriptions';
/** Type echoed by the nested alias `topics/{t}/eventSubscriptions/{s}` of the same subscription. */
export const TOPIC_SUBSCRIPTION_ALIAS_TYPE = 'Microsoft.EventGrid/topics/eventSubscriptions';

/** System topic types this emulator has sources for: topicType (lower-case) → ARM type of the source resource. */
export const SYSTEM_TOPIC_SOURCES: Record<string, { topicType: string; sourceType: string }> = {
  'microsoft.containerregistry.registries': {
    topicType: 'Microsoft.ContainerRegistry.Registries',
    sourceType: 'Microsoft.ContainerRegistry/registries',
  },
  'microsoft.keyvault.vaults': { topicType: 'Microsoft.KeyVault.vaults', sourceType: 'Microsoft.KeyVault/vaults' },
};

export type DeliverySchema = 'EventGridSchema' | 'CloudEventSchemaV1_0';
export type InputSchema = 'EventGridSchema' | 'CloudEventSchemaV1_0';

export interface SystemTopicResource extends ArmResource {
  location: string;
  tags?: Record<string, string> | null;
  identity?: unknown;
  properties: {
    provisioningState: string;
    source: string;
    topicType: string;
    metricResourceId: string;
  };
}

export interface TopicResource extends ArmResource {
  location: string;
  tags?: Record<string, string> | null;
  properties: {
    provisioningState: string;
    inputSchema: InputSchema;
    publicNetworkAccess: string;
    disableLocalAuth: boolean;
    metricResourceId: string;
    /** Filled in at render time: the emulator's port can change across restarts. */
    endpoint?: string;
  };
}

export interface WebHookDestination {
  endpointType: 'WebHook';
  properties: {
    /** Full URL (may carry a function key); never rendered, only returned by getFullUrl. */
    endpointUrl?: string;
    endpointBaseUrl: string;
    maxEventsPerBatch: number;
    preferredBatchSizeInKilobytes: number;
    azureActiveDirectoryTenantId?: string | null;
    azureActiveDirectoryApplicationIdOrUri?: string | null;
  };
}

export interface SubscriptionFilter {
  includedEventTypes?: string[] | null;
  subjectBeginsWith: string;
  subjectEndsWith: string;
  isSubjectCaseSensitive: boolean;
  enableAdvancedFilteringOnArrays?: boolean;
}

export interface EventSubscriptionResource extends ArmResource {
  properties: {
    topic: string;
    provisioningState: 'Succeeded' | 'Failed';
    destination: WebHookDestination;
    filter: SubscriptionFilter;
    labels: string[] | null;
    eventDeliverySchema: DeliverySchema;
    retryPolicy: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
    expirationTimeUtc?: string | null;
    deadLetterDestination?: unknown;
  };
}

/** One event in a schema-neutral form; rendered per subscription as Event Grid or CloudEvents JSON. */
export interface CanonicalEvent {
  id: string;
  /** Topic (Event Grid) / source (CloudEvents): the system topic's source id, or the custom topic's id. */
  source: string;
  subject: string;
  type: string;
  time: string;
  data: unknown;
  dataVersion?: string;
  /** Events published as CloudEvents are delivered verbatim (extension attributes included). */
  cloudEvent?: Record<string, unknown>;
  /** Emulator clock (ms) when Event Grid accepted the event: TTL counts from here. */
  publishMs: number;
}

export function renderEventGrid(e: CanonicalEvent): Record<string, unknown> {
  return {
    id: e.id,
    topic: e.source,
    subject: e.subject,
    eventType: e.type,
    eventTime: e.time,
    data: e.data,
    dataVersion: e.dataVersion ?? '',
    metadataVersion: '1',
  };
}

export function renderCloudEvent(e: CanonicalEvent): Record<string, unknown> {
  if (e.cloudEvent) return e.cloudEvent;
  // Event Grid → CloudEvents mapping: topic→source, eventType→type, eventTime→time (contracts §7.1).
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    subject: e.subject,
    type: e.type,
    time: e.time,
    data: e.data,
  };
}

export function filterMatches(filter: SubscriptionFilter, e: { type: string; subject: string }): boolean {
  const types = filter.includedEventTypes;
  if (types && types.length > 0) {
    const t = e.type.toLowerCase();
    if (!types.some((x) => x.toLowerCase() === t || x.toLowerCase() === 'all')) return false;
  }
  const cs = filter.isSubjectCaseSensitive;
  const norm = (s: string) => (cs ? s : s.toLowerCase());
  const subject = norm(e.subject ?? '');
  if (filter.subjectBeginsWith && !subject.startsWith(norm(filter.subjectBeginsWith))) return false;
  if (filter.subjectEndsWith && !subject.endsWith(norm(filter.subjectEndsWith))) return false;
  return true;
}

/** Event Grid RP validation errors. The exact codes of the RP are not documented [U]; the envelope is ARM's. */
export const egErrors = {
  bad: (message: string) => armError(400, 'BadRequest', message),
  invalidRequest: (message: string) => armError(400, 'InvalidRequest', message),
  notSupported: (what: string) => armError(501, 'NotImplemented', `The emulator does not implement ${what}.`),
  urlValidation: (message: string) => armError(400, 'Url validation', message),
  // Data plane (publish endpoint).
  unauthorized: (message: string) => armError(401, 'Unauthorized', message),
  topicNotFound: (name: string) => armError(404, 'NotFound', `The topic '${name}' could not be found.`),
  payloadTooLarge: () =>
    armError(413, 'RequestEntityTooLarge', 'The maximum size (1536000) has been exceeded for this request.'),
};

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Base URL Azure echoes for a WebHook: the URL without query (which may carry a function key). */
export function endpointBaseUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * Azure only accepts https WebHooks. Difference: the emulator also accepts plain http on loopback, because the local
 * Functions host serves http.
 */
export function parseEndpointUrl(raw: unknown): URL {
  if (typeof raw !== 'string' || raw.length === 0)
    throw egErrors.invalidRequest('The destination endpointUrl is required for a WebHook destination.');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw egErrors.invalidRequest(`The destination endpoint URL '${redactUrl(raw)}' is not a valid absolute URL.`);
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname.toLowerCase());
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw egErrors.invalidRequest(
      `The destination endpoint URL '${endpointBaseUrl(url)}' must use the https scheme (the emulator also accepts http on 127.0.0.1/localhost).`,
    );
  }
  return url;
}

/** Drops the query of a URL string for messages (it may carry keys). */
export function redactUrl(raw: string): string {
  const i = raw.indexOf('?');
  return i < 0 ? raw : raw.slice(0, i);
}

export function sameId(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase().replace(/\/+$/, '') === b.toLowerCase().replace(/\/+$/, '');
}

/** The data version Azure sends for system events of a resource provider (contracts §7.2/7.3). */
export function systemDataVersion(eventType: string): string {
  return eventType.toLowerCase().startsWith('microsoft.containerregistry.') ? '1.0' : '1';
}
