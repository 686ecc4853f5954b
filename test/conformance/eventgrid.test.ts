// Event Grid system topics, WebHook subscriptions (validation handshake) and the delivery engine, driven over ARM with
// fetch + the operator's token (no ARM SDK for Event Grid is installed) and real HTTP webhooks on 127.0.0.1.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventGridDeserializer } from '@azure/eventgrid';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';
import { eventGridOf } from '../../local/azure/eventgrid/index.js';
import type { DeliveryLogEntry } from '../../local/azure/eventgrid/delivery.js';
import { handshakeThen, startWebhook, type Webhook } from '../../local/azure/eventgrid/webhook.js';

const API = 'api-version=2025-02-15';
const RG = 'rg-eventgrid';
let t: TestEmulator;
// JSON bodies are asserted with toMatchObject; a loose type keeps deep reads short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;
const hooks: Webhook[] = [];

beforeAll(async () => {
  t = await startTestEmulator();
  const r = await arm('PUT', `/subscriptions/${t.emu.subscriptionId}/resourcegroups/${RG}?api-version=2021-04-01`, {
    location: 'eastus',
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  for (const h of hooks) await h.close();
  await t?.stop();
});
beforeEach(async () => {
  // Retries in milliseconds instead of Azure's 10 s, 30 s, 1 m...
  const r = await t.admin('PUT', '/eventgrid/settings', { retryScale: 0.001 });
  expect(r.status).toBe(200);
});

async function arm(method: string, path: string, body?: unknown, token?: string) {
  const bearer = token ?? (await t.operator.getToken('https://management.azure.com/.default'))!.token;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
}

const rgPath = () => `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${RG}`;
const topicPath = (name: string) => `${rgPath()}/providers/Microsoft.EventGrid/systemTopics/${name}`;
const subPath = (topic: string, sub: string) => `${topicPath(topic)}/eventSubscriptions/${sub}`;

/** Registries and vaults belong to other emulator modules; the store is seeded directly so this file tests Event Grid. */
function seedSource(kind: 'registry' | 'vault', location = 'eastus'): string {
  const name = unique(kind === 'registry' ? 'egreg' : 'egkv');
  const type = kind === 'registry' ? 'Microsoft.ContainerRegistry/registries' : 'Microsoft.KeyVault/vaults';
  const id = `${rgPath()}/providers/${type}/${name}`;
  t.emu.store.putResource({ id, name, type, location, properties: {} });
  return id;
}

async function systemTopicFor(source: string, topicType = 'Microsoft.ContainerRegistry.Registries') {
  const name = unique('st');
  const r = await arm('PUT', `${topicPath(name)}?${API}`, { location: 'eastus', properties: { source, topicType } });
  expect(r.status).toBe(201);
  return name;
}

async function webhook(responder?: Parameters<typeof startWebhook>[0]) {
  const h = await startWebhook(responder);
  hooks.push(h);
  return h;
}

async function subscribe(topic: string, hook: Webhook, props: Record<string, unknown> = {}, extraDest = {}) {
  const name = unique('sub-');
  const r = await arm('PUT', `${subPath(topic, name)}?${API}`, {
    properties: {
      destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url, ...extraDest } },
      ...props,
    },
  });
  expect(r.status).toBe(201);
  return name;
}

function pushEvent(source: string, repository = 'samples/nginx', tag = 'v1') {
  const id = crypto.randomUUID();
  t.emu.emit({
    source,
    eventType: 'Microsoft.ContainerRegistry.ImagePushed',
    subject: `${repository}:${tag}`,
    data: {
      id,
      timestamp: t.emu.nowIso(),
      action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:abc', repository, tag },
      request: { id: crypto.randomUUID(), host: 'myregistry.azurecr.io', method: 'PUT', useragent: 'test' },
    },
  });
  return id;
}

const idle = () => eventGridOf(t.emu).idle();
async function deliveries(subscription: string): Promise<DeliveryLogEntry[]> {
  const res = await t.admin('GET', `/eventgrid/deliveries?subscription=${subscription}`);
  return ((await res.json()) as { value: DeliveryLogEntry[] }).value;
}

describe('Event Grid system topics (ARM)', () => {
  it('creates, reads, lists and deletes a system topic over a registry', async () => {
    const source = seedSource('registry');
    const name = unique('st');
    const put = await arm('PUT', `${topicPath(name)}?api-version=2022-06-15`, {
      location: 'eastus',
      properties: { source, topicType: 'Microsoft.ContainerRegistry.Registries' },
    });
    expect(put).toMatchObject({
      status: 201,
      body: {
        name,
        type: 'Microsoft.EventGrid/systemTopics',
        location: 'eastus',
        properties: { provisioningState: 'Succeeded', source, topicType: 'Microsoft.ContainerRegistry.Registries' },
      },
    });
    const get = await arm('GET', `${topicPath(name).toUpperCase()}?${API}`);
    expect(get).toMatchObject({ status: 200, body: { id: topicPath(name), name } });
    const list = await arm('GET', `${rgPath()}/providers/Microsoft.EventGrid/systemTopics?${API}`);
    expect(list.body?.value.map((x: { name: string }) => x.name)).toContain(name);
    const bySub = await arm(
      'GET',
      `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.EventGrid/systemTopics?api-version=2024-06-01-preview`,
    );
    expect(bySub.body?.value.map((x: { name: string }) => x.name)).toContain(name);
    expect((await arm('DELETE', `${topicPath(name)}?${API}`)).status).toBe(200);
    expect(await arm('GET', `${topicPath(name)}?${API}`)).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceNotFound' } },
    });
    expect((await arm('DELETE', `${topicPath(name)}?${API}`)).status).toBe(204);
  });

  it('rejects a system topic whose source does not exist, has the wrong type, or already has a topic', async () => {
    const missing = `${rgPath()}/providers/Microsoft.ContainerRegistry/registries/${unique('nothere')}`;
    const r1 = await arm('PUT', `${topicPath(unique('st'))}?${API}`, {
      location: 'eastus',
      properties: { source: missing, topicType: 'Microsoft.ContainerRegistry.Registries' },
    });
    expect(r1).toMatchObject({ status: 404, body: { error: { code: 'ResourceNotFound' } } });
    const vault = seedSource('vault');
    const r2 = await arm('PUT', `${topicPath(unique('st'))}?${API}`, {
      location: 'eastus',
      properties: { source: vault, topicType: 'Microsoft.ContainerRegistry.Registries' },
    });
    expect(r2).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequest' } } });
    const registry = seedSource('registry');
    await systemTopicFor(registry);
    const r3 = await arm('PUT', `${topicPath(unique('st'))}?${API}`, {
      location: 'eastus',
      properties: { source: registry, topicType: 'Microsoft.ContainerRegistry.Registries' },
    });
    expect(r3.status).toBe(400);
    expect(r3.body?.error.message).toMatch(/Only one system topic is allowed per source/);
  });

  it('orders 404s like ARM and fails loudly on an unknown api-version', async () => {
    const noRg = `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${unique('nope')}/providers/Microsoft.EventGrid/systemTopics/x1x?${API}`;
    expect(await arm('GET', noRg)).toMatchObject({ status: 404, body: { error: { code: 'ResourceGroupNotFound' } } });
    expect(await arm('GET', `${topicPath('absent')}?api-version=2020-01-01-preview`)).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidApiVersionParameter' } },
    });
    expect(await arm('GET', `${subPath('absent', 'sub-x')}?${API}`)).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceNotFound' } },
    });
  });

  it('answers 403 AuthorizationFailed to an identity without rights on Microsoft.EventGrid/systemTopics/write', async () => {
    const { token } = (await t.app.getToken('https://management.azure.com/.default'))!;
    const r = await arm(
      'PUT',
      `${topicPath(unique('st'))}?${API}`,
      {
        location: 'eastus',
        properties: { source: seedSource('registry'), topicType: 'Microsoft.ContainerRegistry.Registries' },
      },
      token,
    );
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'AuthorizationFailed' } } });
    expect(r.body?.error.message).toContain("'Microsoft.EventGrid/systemTopics/write'");
  });
});

describe('Event Grid WebHook subscriptions (validation handshake)', () => {
  it('validates the endpoint on create, stores defaults, and never echoes the full endpoint URL', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const hook = await webhook();
    const name = unique('sub-');
    const put = await arm('PUT', `${subPath(topic, name)}?${API}`, {
      properties: {
        destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url } },
        filter: { includedEventTypes: ['Microsoft.ContainerRegistry.ImagePushed'] },
      },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({
      name,
      type: 'Microsoft.EventGrid/systemTopics/eventSubscriptions',
      properties: {
        provisioningState: 'Succeeded',
        topic: topicPath(topic),
        eventDeliverySchema: 'EventGridSchema',
        retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
        filter: { includedEventTypes: ['Microsoft.ContainerRegistry.ImagePushed'], isSubjectCaseSensitive: false },
        destination: {
          endpointType: 'WebHook',
          properties: {
            endpointBaseUrl: hook.url.split('?')[0],
            maxEventsPerBatch: 1,
            preferredBatchSizeInKilobytes: 64,
          },
        },
      },
    });
    expect(put.body?.properties.destination.properties.endpointUrl).toBeUndefined();

    expect(hook.received).toHaveLength(1);
    const validation = hook.received[0]!;
    expect(validation.method).toBe('POST');
    expect(validation.headers).toMatchObject({
      'aeg-event-type': 'SubscriptionValidation',
      'aeg-subscription-name': name.toUpperCase(),
    });
    const [event] = JSON.parse(validation.body);
    expect(event).toMatchObject({
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      subject: '',
      data: { validationCode: expect.any(String), validationUrl: expect.stringMatching(/^https:\/\//) },
    });

    const full = await arm('POST', `${subPath(topic, name)}/getFullUrl?${API}`);
    expect(full).toMatchObject({ status: 200, body: { endpointUrl: hook.url } });
    const list = await arm('GET', `${topicPath(topic)}/eventSubscriptions?${API}`);
    expect(list.body?.value).toHaveLength(1);
    expect((await arm('DELETE', `${subPath(topic, name)}?${API}`)).status).toBe(200);
    expect((await arm('GET', `${subPath(topic, name)}?${API}`)).status).toBe(404);
  });

  it('fails creation with 400 Url validation when the endpoint answers 202 to the validation event', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const hook = await webhook(() => ({ status: 202 }));
    const name = unique('sub-');
    const put = await arm('PUT', `${subPath(topic, name)}?${API}`, {
      properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url } } },
    });
    expect(put).toMatchObject({ status: 400, body: { error: { code: 'Url validation' } } });
    expect(put.body?.error.message).toMatch(
      /^Webhook validation handshake failed for http:\/\/127\.0\.0\.1:\d+\/api\/events\./,
    );
    expect(put.body?.error.message).toContain('response code 202');
    expect(put.body?.error.message).not.toContain('not-a-real-function-key');
    const get = await arm('GET', `${subPath(topic, name)}?${API}`);
    expect(get).toMatchObject({ status: 200, body: { properties: { provisioningState: 'Failed' } } });
  });

  it('fails creation when the endpoint answers 200 without the validation code', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const hook = await webhook(() => ({ status: 200, body: { validationResponse: 'wrong' } }));
    const put = await arm('PUT', `${subPath(topic, unique('sub-'))}?${API}`, {
      properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url } } },
    });
    expect(put).toMatchObject({ status: 400, body: { error: { code: 'Url validation' } } });
    expect(put.body?.error.message).toContain('retuned 2XX response');
  });

  it('runs the CloudEvents OPTIONS preflight instead, and fails when the origin is not allowed', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const good = await webhook();
    await subscribe(topic, good, { eventDeliverySchema: 'CloudEventSchemaV1_0' });
    expect(good.received).toHaveLength(1);
    expect(good.received[0]).toMatchObject({
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    const bad = await webhook(() => ({ status: 200 }));
    const put = await arm('PUT', `${subPath(topic, unique('sub-'))}?${API}`, {
      properties: {
        eventDeliverySchema: 'CloudEventSchemaV1_0',
        destination: { endpointType: 'WebHook', properties: { endpointUrl: bad.url } },
      },
    });
    expect(put).toMatchObject({ status: 400, body: { error: { code: 'Url validation' } } });
  });

  it('updates a subscription with PATCH, validating again only when the endpoint changes', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const first = await webhook();
    const name = await subscribe(topic, first);
    const patched = await arm('PATCH', `${subPath(topic, name)}?${API}`, {
      filter: { subjectBeginsWith: 'baseimages/' },
    });
    expect(patched).toMatchObject({
      status: 200,
      body: { properties: { provisioningState: 'Succeeded', filter: { subjectBeginsWith: 'baseimages/' } } },
    });
    expect(first.received).toHaveLength(1);
    const second = await webhook();
    const moved = await arm('PATCH', `${subPath(topic, name)}?${API}`, {
      destination: { endpointType: 'WebHook', properties: { endpointUrl: second.url } },
    });
    expect(moved.status).toBe(200);
    expect(second.received.map((r) => r.headers['aeg-event-type'])).toEqual(['SubscriptionValidation']);
  });

  it('accepts http only on loopback and validates the retry policy bounds', async () => {
    const topic = await systemTopicFor(seedSource('registry'));
    const put = (props: Record<string, unknown>, endpointUrl: string) =>
      arm('PUT', `${subPath(topic, unique('sub-'))}?${API}`, {
        properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl } }, ...props },
      });
    expect(await put({}, 'http://example.com/api/events')).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidRequest' } },
    });
    const hook = await webhook();
    expect(await put({ retryPolicy: { maxDeliveryAttempts: 31 } }, hook.url)).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidRequest' } },
    });
    expect(await put({ retryPolicy: { eventTimeToLiveInMinutes: 0 } }, hook.url)).toMatchObject({ status: 400 });
    expect(hook.received).toHaveLength(0);
  });
});

describe('Event Grid delivery', () => {
  it('delivers an ImagePushed event once, asynchronously, in the Event Grid schema', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    const sub = await subscribe(topic, hook);
    const id = pushEvent(registry, 'samples/nginx', 'v1');
    // Delivery never happens inside the emitter's call stack.
    expect(hook.notifications()).toHaveLength(0);
    await idle();

    const got = hook.notifications();
    expect(got).toHaveLength(1);
    expect(got[0]!.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'aeg-event-type': 'Notification',
      'aeg-subscription-name': sub.toUpperCase(),
      'aeg-delivery-count': '0',
      'aeg-data-version': '1.0',
      'aeg-metadata-version': '1',
    });
    const body = JSON.parse(got[0]!.body);
    expect(Array.isArray(body)).toBe(true);
    expect(body).toHaveLength(1);
    expect(body[0]).toMatchObject({
      id,
      topic: registry,
      subject: 'samples/nginx:v1',
      eventType: 'Microsoft.ContainerRegistry.ImagePushed',
      dataVersion: '1.0',
      metadataVersion: '1',
      data: { action: 'push', target: { repository: 'samples/nginx', tag: 'v1' } },
    });
    const [parsed] = await new EventGridDeserializer().deserializeEventGridEvents(got[0]!.body);
    expect(parsed).toMatchObject({ id, topic: registry, eventType: 'Microsoft.ContainerRegistry.ImagePushed' });
    expect(parsed!.eventTime).toBeInstanceOf(Date);
    // Event Grid writes 7 fractional digits; the app orders same-millisecond pushes by them.
    expect(body[0].eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);

    const log = await deliveries(sub);
    expect(log).toMatchObject([
      { outcome: 'delivered', eventIds: [id], attempts: [{ deliveryCount: 0, status: 200 }] },
    ]);
  });

  it('gives events emitted in the same millisecond strictly increasing event times', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    await subscribe(topic, hook);
    const ids = Array.from({ length: 5 }, (_, i) => pushEvent(registry, 'samples/nginx', `v${i}`));
    await idle();
    const times = new Map<string, string>();
    for (const n of hook.notifications()) for (const e of JSON.parse(n.body)) times.set(e.id, e.eventTime);
    const ordered = ids.map((id) => times.get(id)!);
    // Same-length ISO strings compare in time order.
    expect([...ordered].sort()).toEqual(ordered);
    expect(new Set(ordered).size).toBe(5);
  });

  it('delivers in the CloudEvents 1.0 schema as a single object with the cloudevents content type', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    await subscribe(topic, hook, { eventDeliverySchema: 'CloudEventSchemaV1_0' });
    const id = pushEvent(registry, 'base/node', '20');
    await idle();
    const got = hook.notifications();
    expect(got).toHaveLength(1);
    expect(got[0]!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    const body = JSON.parse(got[0]!.body);
    expect(Array.isArray(body)).toBe(false);
    expect(body).toMatchObject({
      specversion: '1.0',
      id,
      source: registry,
      subject: 'base/node:20',
      type: 'Microsoft.ContainerRegistry.ImagePushed',
      time: expect.any(String),
      data: { action: 'push' },
    });
    const [parsed] = await new EventGridDeserializer().deserializeCloudEvents(got[0]!.body);
    expect(parsed).toMatchObject({ id, source: registry, type: 'Microsoft.ContainerRegistry.ImagePushed' });
  });

  it('retries after a 500 and delivers the same event again with aeg-delivery-count 1', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook(handshakeThen((_req, i) => ({ status: i === 0 ? 500 : 200 })));
    const sub = await subscribe(topic, hook);
    const id = pushEvent(registry);
    await idle();
    const got = hook.notifications();
    expect(got.map((r) => r.headers['aeg-delivery-count'])).toEqual(['0', '1']);
    expect(got.map((r) => JSON.parse(r.body)[0].id)).toEqual([id, id]);
    expect(await deliveries(sub)).toMatchObject([
      {
        outcome: 'delivered',
        attempts: [
          { deliveryCount: 0, status: 500 },
          { deliveryCount: 1, status: 200 },
        ],
      },
    ]);
  });

  it('does not retry a 400 and records the delivery as dropped', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook(handshakeThen(() => ({ status: 400 })));
    // Few attempts allowed, so a wrongly retried 400 shows up as extra deliveries rather than a slow test.
    const sub = await subscribe(topic, hook, { retryPolicy: { maxDeliveryAttempts: 4 } });
    pushEvent(registry);
    await idle();
    expect(hook.notifications()).toHaveLength(1);
    expect(await deliveries(sub)).toMatchObject([
      { outcome: 'dropped', reason: 'NonRetryableStatusCode', attempts: [{ status: 400 }] },
    ]);
  });

  it('stops after maxDeliveryAttempts and dead-letters when a dead-letter destination is set', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook(handshakeThen(() => ({ status: 503 })));
    const deadLetterDestination = {
      endpointType: 'StorageBlob',
      properties: { resourceId: `${rgPath()}/providers/Microsoft.Storage/storageAccounts/dl`, blobContainerName: 'dl' },
    };
    const sub = await subscribe(topic, hook, { retryPolicy: { maxDeliveryAttempts: 3 }, deadLetterDestination });
    const id = pushEvent(registry);
    await idle();
    expect(hook.notifications().map((r) => r.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
    expect(await deliveries(sub)).toMatchObject([{ outcome: 'deadLettered', reason: 'MaxDeliveryAttemptsExceeded' }]);
    const dl = (await (await t.admin('GET', '/eventgrid/deadletters')).json()) as { value: Json[] };
    expect(dl.value.find((d) => d.event.id === id)).toMatchObject({
      deadLetterReason: 'MaxDeliveryAttemptsExceeded',
      deliveryAttempts: 3,
      lastHttpStatusCode: 503,
      lastDeliveryOutcome: 'Busy',
      deadLetterDestination,
    });
  });

  it('gives up once the event time-to-live has passed when the next retry comes due', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook(
      handshakeThen(() => {
        // The first attempt fails while two minutes pass on the emulator clock: the retry finds the TTL exceeded.
        t.emu.advanceClock(120);
        return { status: 500 };
      }),
    );
    const sub = await subscribe(topic, hook, { retryPolicy: { eventTimeToLiveInMinutes: 1 } });
    pushEvent(registry);
    await idle();
    expect(hook.notifications()).toHaveLength(1);
    expect(await deliveries(sub)).toMatchObject([{ outcome: 'dropped', reason: 'TimeToLiveExceeded' }]);
  });

  it('filters by includedEventTypes and by subject prefix and suffix, case-insensitively by default', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const deletes = await webhook();
    const base = await webhook();
    const caseSensitive = await webhook();
    await subscribe(topic, deletes, { filter: { includedEventTypes: ['Microsoft.ContainerRegistry.ImageDeleted'] } });
    await subscribe(topic, base, { filter: { subjectBeginsWith: 'BASEIMAGES/', subjectEndsWith: ':LTS' } });
    await subscribe(topic, caseSensitive, {
      filter: { subjectBeginsWith: 'BASEIMAGES/', isSubjectCaseSensitive: true },
    });
    pushEvent(registry, 'baseimages/node', 'lts');
    pushEvent(registry, 'baseimages/node', '20');
    pushEvent(registry, 'apps/web', 'lts');
    t.emu.emit({
      source: registry,
      eventType: 'Microsoft.ContainerRegistry.ImageDeleted',
      subject: 'apps/web',
      data: { action: 'delete', target: { repository: 'apps/web', digest: 'sha256:abc' } },
    });
    await idle();
    const subjects = (h: Webhook) => h.notifications().map((r) => JSON.parse(r.body)[0].subject as string);
    expect(subjects(deletes)).toEqual(['apps/web']);
    expect(subjects(base)).toEqual(['baseimages/node:lts']);
    expect(subjects(caseSensitive)).toEqual([]);
  });

  it('delivers Key Vault events from a vault system topic with dataVersion 1', async () => {
    const vault = seedSource('vault');
    const topic = await systemTopicFor(vault, 'Microsoft.KeyVault.vaults');
    const hook = await webhook();
    await subscribe(topic, hook);
    t.emu.emit({
      source: vault,
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
      subject: 'Password',
      data: { Id: 'https://v/secrets/Password/1', ObjectType: 'Secret', ObjectName: 'Password', NBF: null, EXP: null },
    });
    await idle();
    const got = hook.notifications();
    expect(got).toHaveLength(1);
    expect(got[0]!.headers['aeg-data-version']).toBe('1');
    expect(JSON.parse(got[0]!.body)[0]).toMatchObject({
      topic: vault,
      dataVersion: '1',
      data: { ObjectName: 'Password', NBF: null },
    });
  });

  it('batches events emitted together up to maxEventsPerBatch', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    await subscribe(topic, hook, {}, { maxEventsPerBatch: 2 });
    pushEvent(registry, 'a/one', '1');
    pushEvent(registry, 'a/two', '1');
    pushEvent(registry, 'a/three', '1');
    await idle();
    expect(hook.notifications().map((r) => (JSON.parse(r.body) as unknown[]).length)).toEqual([2, 1]);
  });

  it('redelivers an already delivered event on request, and duplicates deliveries at duplicateRate', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    const sub = await subscribe(topic, hook);
    const id = pushEvent(registry);
    await idle();
    const res = await t.admin('POST', '/eventgrid/redeliver', { eventId: id, times: 2 });
    expect(res.status).toBe(202);
    await idle();
    expect(hook.notifications().map((r) => JSON.parse(r.body)[0].id)).toEqual([id, id, id]);
    expect((await deliveries(sub)).map((d) => d.kind)).toEqual(['original', 'redelivery', 'redelivery']);
    expect((await t.admin('POST', '/eventgrid/redeliver', { eventId: 'unknown-event', times: 1 })).status).toBe(404);

    expect((await t.admin('PUT', '/eventgrid/settings', { retryScale: 0.001, duplicateRate: 1 })).status).toBe(200);
    const second = pushEvent(registry);
    await idle();
    expect(hook.notifications().filter((r) => JSON.parse(r.body)[0].id === second)).toHaveLength(2);
  });

  it('keeps a resettable delivery log and stops delivering to deleted subscriptions', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    const sub = await subscribe(topic, hook);
    pushEvent(registry);
    await idle();
    expect(await deliveries(sub)).toHaveLength(1);
    expect((await t.admin('DELETE', '/eventgrid/deliveries')).status).toBe(204);
    expect(await deliveries(sub)).toHaveLength(0);
    expect((await arm('DELETE', `${subPath(topic, sub)}?${API}`)).status).toBe(200);
    pushEvent(registry);
    await idle();
    expect(hook.notifications()).toHaveLength(1);
  });

  it('accepts system events through the admin emit route (for tests in other processes)', async () => {
    const registry = seedSource('registry');
    const topic = await systemTopicFor(registry);
    const hook = await webhook();
    await subscribe(topic, hook);
    const res = await t.admin('POST', '/eventgrid/emit', {
      source: registry.toLowerCase(),
      eventType: 'Microsoft.ContainerRegistry.ImagePushed',
      subject: 'x/y:z',
      data: { action: 'push' },
    });
    expect(res.status).toBe(202);
    const wait = await t.admin('GET', '/eventgrid/idle');
    expect(await wait.json()).toEqual({ pending: 0 });
    expect(JSON.parse(hook.notifications()[0]!.body)[0]).toMatchObject({ subject: 'x/y:z' });
  });
});
