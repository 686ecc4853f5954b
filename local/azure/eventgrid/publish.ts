// Custom topic publish endpoint (`properties.endpoint`), on the ARM port under /_emulator/eventgrid/topics/{name}/api/events
// because the ARM pipeline would demand an ARM token elsewhere. Authenticates like Event Grid: `aeg-sas-key`,
// `aeg-sas-token`, or an Entra bearer token for https://eventgrid.azure.net with the `events/send/action` data action.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import type { Reply } from '../core/errors.js';
import type { DeliveryEngine } from './delivery.js';
import { findTopicByName, topicKeys } from './arm.js';
import {
  EVENTGRID_AUDIENCES,
  EVENT_SUBSCRIPTION_TYPE,
  PUBLISH_API_VERSIONS,
  SEND_DATA_ACTION,
  egErrors,
  filterMatches,
  renderEventGrid,
  sameId,
  type CanonicalEvent,
  type EventSubscriptionResource,
  type TopicResource,
} from './model.js';

/** Azure's limit for one publish request (contracts §7.5). */
const MAX_PUBLISH_BYTES = 1024 * 1024;

export function registerPublish(emu: Emulator, engine: DeliveryEngine): void {
  emu.adminRoute({
    op: 'eventGrid.publish',
    method: 'POST',
    path: '/eventgrid/topics/{topicName}/api/events',
    handler: (req) => publish(emu, engine, req),
  });
}

function publish(emu: Emulator, engine: DeliveryEngine, req: EmuRequest): Reply {
  emu.throttle.count('eventGrid.publish', 'write');
  const topic = findTopicByName(emu, req.params.topicName!);
  if (!topic) throw egErrors.topicNotFound(req.params.topicName!);
  authenticate(emu, req, topic);
  const apiVersion = req.q('api-version');
  if (!apiVersion || !PUBLISH_API_VERSIONS.includes(apiVersion)) {
    throw egErrors.bad(
      `The api-version '${apiVersion ?? ''}' is missing or not supported. Supported versions: ${PUBLISH_API_VERSIONS.join(', ')}.`,
    );
  }
  if (req.rawBody.length > MAX_PUBLISH_BYTES) throw egErrors.payloadTooLarge();
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw egErrors.bad('The request body is not valid JSON.');
  }
  const now = emu.nowMs();
  const events =
    topic.properties.inputSchema === 'CloudEventSchemaV1_0'
      ? parseCloudEvents(body, now)
      : parseEventGridEvents(body, topic, now);

  engine.recordPublished(
    topic.id,
    events.map((e) => e.cloudEvent ?? renderEventGrid(e)),
  );
  const subs = emu.store
    .listResources<EventSubscriptionResource>(EVENT_SUBSCRIPTION_TYPE, topic.id)
    .filter((s) => s.properties.provisioningState === 'Succeeded' && !expired(s, now));
  for (const s of subs) {
    const matching = events.filter((e) => filterMatches(s.properties.filter, e));
    if (matching.length) engine.enqueue(s.id, matching);
  }
  return { status: 200 };
}

export function expired(s: EventSubscriptionResource, nowMs: number): boolean {
  const exp = s.properties.expirationTimeUtc;
  return !!exp && Date.parse(exp) <= nowMs;
}

function parseEventGridEvents(body: unknown, topic: TopicResource, now: number): CanonicalEvent[] {
  if (!Array.isArray(body))
    throw egErrors.bad('The request body must be a JSON array of events in the Event Grid schema.');
  return body.map((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw egErrors.bad(`Event ${i} is not a JSON object.`);
    const e = raw as Record<string, unknown>;
    for (const k of ['id', 'subject', 'eventType', 'eventTime', 'dataVersion'] as const) {
      if (typeof e[k] !== 'string' || (k !== 'subject' && k !== 'dataVersion' && !e[k]))
        throw egErrors.bad(`Event ${i}: the required property '${k}' is missing or not a string.`);
    }
    if (!('data' in e)) throw egErrors.bad(`Event ${i}: the required property 'data' is missing.`);
    if (Number.isNaN(Date.parse(e.eventTime as string)))
      throw egErrors.bad(`Event ${i}: eventTime '${String(e.eventTime)}' is not a valid date-time.`);
    if (e.topic !== undefined && e.topic !== null && !sameId(String(e.topic), topic.id)) {
      throw egErrors.bad(
        `Event ${i}: the topic '${String(e.topic)}' does not match the topic of this endpoint ('${topic.id}').`,
      );
    }
    return {
      id: e.id as string,
      source: topic.id,
      subject: e.subject as string,
      type: e.eventType as string,
      time: e.eventTime as string,
      data: e.data,
      dataVersion: e.dataVersion as string,
      publishMs: now,
    };
  });
}

function parseCloudEvents(body: unknown, now: number): CanonicalEvent[] {
  const list = Array.isArray(body) ? body : [body];
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw egErrors.bad(`Event ${i} is not a JSON object.`);
    const e = raw as Record<string, unknown>;
    if (e.specversion !== '1.0')
      throw egErrors.bad(`Event ${i}: specversion must be '1.0' (this topic accepts CloudEvents 1.0 only).`);
    for (const k of ['id', 'source', 'type'] as const) {
      if (typeof e[k] !== 'string' || !e[k])
        throw egErrors.bad(`Event ${i}: the required attribute '${k}' is missing.`);
    }
    return {
      id: e.id as string,
      source: e.source as string,
      subject: typeof e.subject === 'string' ? e.subject : '',
      type: e.type as string,
      time: typeof e.time === 'string' ? e.time : new Date(now).toISOString(),
      data: e.data ?? e.data_base64,
      cloudEvent: e,
      publishMs: now,
    };
  });
}

function header(req: EmuRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function authenticate(emu: Emulator, req: EmuRequest, topic: TopicResource): void {
  const sasKey = header(req, 'aeg-sas-key');
  const sasToken = header(req, 'aeg-sas-token');
  const auth = header(req, 'authorization');
  if (sasKey !== undefined || sasToken !== undefined) {
    if (topic.properties.disableLocalAuth) {
      throw egErrors.unauthorized(
        `Publishing with a key or SAS token is not allowed: local authentication is disabled for topic '${topic.name}'.`,
      );
    }
    const keys = topicKeys(emu, topic.id);
    const candidates = keys ? [keys.key1, keys.key2] : [];
    if (sasKey !== undefined) {
      if (!candidates.some((k) => safeEqual(k, sasKey)))
        throw egErrors.unauthorized(`The request authorization key is not authorized for topic '${topic.name}'.`);
      return;
    }
    const why = checkSasToken(sasToken!, candidates, topic.name, emu.nowMs());
    if (why) throw egErrors.unauthorized(`The request authorization token is not authorized: ${why}`);
    return;
  }
  if (auth && /^bearer /i.test(auth)) {
    const verified = emu.identities.verify(auth.slice(7).trim(), EVENTGRID_AUDIENCES, emu.nowSeconds());
    if ('error' in verified) throw egErrors.unauthorized(`The access token is invalid. ${verified.error}`);
    const decision = emu.check(verified.principal.objectId, topic.id, { dataAction: SEND_DATA_ACTION });
    if (!decision.allowed) {
      // Azure answers 401 (not 403) here, with this wording (observed in azure-sdk-for-net#22831).
      throw egErrors.unauthorized(
        `The principal associated with access token presented with the incoming request does not have permission to send data to ${topic.id}. Report '${randomUUID()}:0:${new Date(emu.nowMs()).toUTCString()}' to our forums for assistance or raise a support ticket.`,
      );
    }
    return;
  }
  throw egErrors.unauthorized(
    'The request does not carry an aeg-sas-key, an aeg-sas-token or an Authorization bearer token.',
  );
}

/** `r=<url>&e=<M/d/yyyy h:mm:ss AM|PM UTC>&s=<base64 HMAC-SHA256 of "r=..&e=.." with the base64-decoded key>`. */
function checkSasToken(token: string, keys: string[], topicName: string, nowMs: number): string | undefined {
  const i = token.lastIndexOf('&s=');
  if (i < 0) return 'the token has no signature.';
  const unsigned = token.slice(0, i);
  let signature: string;
  try {
    signature = decodeURIComponent(token.slice(i + 3));
  } catch {
    return 'the signature is malformed.';
  }
  const parts = new URLSearchParams(unsigned);
  const resource = parts.get('r') ?? '';
  const expires = parseServiceTime(parts.get('e') ?? '');
  if (expires === undefined) return 'the expiry is malformed.';
  if (expires <= nowMs) return 'the token has expired.';
  if (!resource.toLowerCase().includes(`/topics/${topicName.toLowerCase()}/api/events`))
    return 'the token was issued for another resource.';
  const ok = keys.some((k) =>
    safeEqual(createHmac('sha256', Buffer.from(k, 'base64')).update(unsigned).digest('base64'), signature),
  );
  return ok ? undefined : 'the signature does not match.';
}

/** .NET "M/d/yyyy h:mm:ss tt" in UTC, as `@azure/eventgrid` writes it. */
function parseServiceTime(s: string): number | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/i.exec(s.trim());
  if (!m) return undefined;
  let hour = Number(m[4]) % 12;
  if (m[7]!.toUpperCase() === 'PM') hour += 12;
  return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), hour, Number(m[5]), Number(m[6]));
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
