// Event Grid custom topics: ARM (topics, keys, event subscriptions) over fetch + the operator's token, and publishing
// through @azure/eventgrid's EventGridPublisherClient with a key, a SAS token and a managed-identity token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AzureKeyCredential,
  AzureSASCredential,
  EventGridDeserializer,
  EventGridPublisherClient,
  generateSharedAccessSignature,
} from '@azure/eventgrid';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';
import { eventGridOf } from '../../local/azure/eventgrid/index.js';
import { startWebhook, type Webhook } from '../../local/azure/eventgrid/webhook.js';

const API = 'api-version=2025-02-15';
const RG = 'rg-egtopics';
const DATA_SENDER = 'd5a91429-5739-47e2-a06b-3470a27159e7';
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
    location: 'westeurope',
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  for (const h of hooks) await h.close();
  await t?.stop();
});

async function arm(method: string, path: string, body?: unknown) {
  const { token } = (await t.operator.getToken('https://management.azure.com/.default'))!;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
}

const topicPath = (name: string) =>
  `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.EventGrid/topics/${name}`;
const subPath = (topic: string, sub: string) =>
  `${topicPath(topic)}/providers/Microsoft.EventGrid/eventSubscriptions/${sub}`;

async function createTopic(inputSchema?: string) {
  const name = unique('topic-');
  const r = await arm('PUT', `${topicPath(name)}?${API}`, {
    location: 'westeurope',
    properties: inputSchema ? { inputSchema } : {},
  });
  expect(r.status).toBe(201);
  return { name, id: r.body!.id as string, endpoint: r.body!.properties.endpoint as string };
}

async function keysOf(topic: string) {
  const r = await arm('POST', `${topicPath(topic)}/listKeys?${API}`);
  expect(r.status).toBe(200);
  return r.body as { key1: string; key2: string };
}

async function subscribe(topic: string, props: Record<string, unknown> = {}) {
  const hook = await startWebhook();
  hooks.push(hook);
  const name = unique('sub-');
  const r = await arm('PUT', `${subPath(topic, name)}?${API}`, {
    properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url } }, ...props },
  });
  expect(r.status).toBe(201);
  return { hook, name };
}

/** The authorization module is another helper's; the assignment is written to the store the evaluator reads. */
function grantDataSender(principalId: string, scope: string) {
  const name = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
  t.emu.store.putResource({
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${DATA_SENDER}`,
      principalId,
      principalType: 'ServicePrincipal',
      scope,
    },
  });
}

const rebuildEvent = (subject: string) => ({
  eventType: 'AcrCascade.RebuildScheduled',
  subject,
  dataVersion: '1.0',
  data: { task: 'helloworldtask', reason: 'base image pushed' },
});

describe('Event Grid custom topics (ARM)', () => {
  it('creates a topic with a publish endpoint and keys, lists it, and deletes it with its subscriptions', async () => {
    const topic = await createTopic();
    expect(topic.endpoint).toBe(`${t.emu.armEndpoint}/_emulator/eventgrid/topics/${topic.name}/api/events`);
    const get = await arm('GET', `${topicPath(topic.name)}?api-version=2022-06-15`);
    expect(get).toMatchObject({
      status: 200,
      body: {
        type: 'Microsoft.EventGrid/topics',
        location: 'westeurope',
        properties: { provisioningState: 'Succeeded', inputSchema: 'EventGridSchema', endpoint: topic.endpoint },
      },
    });
    const keys = await keysOf(topic.name);
    expect(Buffer.from(keys.key1, 'base64')).toHaveLength(32);
    expect(keys.key2).not.toBe(keys.key1);
    const regen = await arm('POST', `${topicPath(topic.name)}/regenerateKey?${API}`, { keyName: 'key1' });
    expect(regen).toMatchObject({ status: 200, body: { key2: keys.key2 } });
    expect(regen.body?.key1).not.toBe(keys.key1);

    const list = await arm(
      'GET',
      `/subscriptions/${t.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.EventGrid/topics?${API}`,
    );
    expect(list.body?.value.map((x: { name: string }) => x.name)).toContain(topic.name);

    const { name: sub } = await subscribe(topic.name);
    const ext = await arm('GET', `${subPath(topic.name, sub)}?${API}`);
    expect(ext).toMatchObject({
      status: 200,
      body: { type: 'Microsoft.EventGrid/eventSubscriptions', properties: { topic: topic.id } },
    });
    const alias = await arm('GET', `${topicPath(topic.name)}/eventSubscriptions/${sub}?${API}`);
    expect(alias).toMatchObject({
      status: 200,
      body: { id: `${topic.id}/eventSubscriptions/${sub}`, type: 'Microsoft.EventGrid/topics/eventSubscriptions' },
    });
    const subs = await arm('GET', `${topicPath(topic.name)}/providers/Microsoft.EventGrid/eventSubscriptions?${API}`);
    expect(subs.body?.value).toHaveLength(1);

    expect((await arm('DELETE', `${topicPath(topic.name)}?${API}`)).status).toBe(200);
    expect(await arm('GET', `${subPath(topic.name, sub)}?${API}`)).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceNotFound' } },
    });
  });

  it('refuses an Event Grid schema subscription on a CloudEvents topic', async () => {
    const topic = await createTopic('CloudEventSchemaV1_0');
    const hook = await startWebhook();
    hooks.push(hook);
    const r = await arm('PUT', `${subPath(topic.name, unique('sub-'))}?${API}`, {
      properties: {
        eventDeliverySchema: 'EventGridSchema',
        destination: { endpointType: 'WebHook', properties: { endpointUrl: hook.url } },
      },
    });
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequest' } } });
  });
});

describe('Event Grid custom topic publishing', () => {
  it('accepts events from EventGridPublisherClient with the topic key and delivers them to subscriptions', async () => {
    const topic = await createTopic();
    const { hook, name } = await subscribe(topic.name);
    const client = new EventGridPublisherClient(
      topic.endpoint,
      'EventGrid',
      new AzureKeyCredential((await keysOf(topic.name)).key1),
    );
    await client.send([{ ...rebuildEvent('myregistry/helloworldtask'), id: 'evt-key-1' }]);
    await eventGridOf(t.emu).idle();

    const got = hook.notifications();
    expect(got).toHaveLength(1);
    expect(got[0]!.headers).toMatchObject({ 'aeg-subscription-name': name.toUpperCase(), 'aeg-data-version': '1.0' });
    const [event] = await new EventGridDeserializer().deserializeEventGridEvents(got[0]!.body);
    expect(event).toMatchObject({
      id: 'evt-key-1',
      topic: topic.id,
      subject: 'myregistry/helloworldtask',
      eventType: 'AcrCascade.RebuildScheduled',
      dataVersion: '1.0',
      data: { task: 'helloworldtask' },
    });

    const recent = await t.admin('GET', `/eventgrid/topics/${topic.name}/events`);
    expect(((await recent.json()) as { value: unknown[] }).value).toMatchObject([
      { id: 'evt-key-1', topic: topic.id, eventType: 'AcrCascade.RebuildScheduled', metadataVersion: '1' },
    ]);
  });

  it('accepts a SAS token generated from the topic key', async () => {
    const topic = await createTopic();
    const { hook } = await subscribe(topic.name);
    const sas = await generateSharedAccessSignature(
      topic.endpoint,
      new AzureKeyCredential((await keysOf(topic.name)).key2),
      new Date(Date.now() + 3600_000),
    );
    await new EventGridPublisherClient(topic.endpoint, 'EventGrid', new AzureSASCredential(sas)).send([
      rebuildEvent('sas'),
    ]);
    await eventGridOf(t.emu).idle();
    expect(hook.notifications()).toHaveLength(1);
  });

  it('rejects a wrong key with 401 Unauthorized', async () => {
    const topic = await createTopic();
    const client = new EventGridPublisherClient(
      topic.endpoint,
      'EventGrid',
      new AzureKeyCredential(Buffer.alloc(32, 1).toString('base64')),
    );
    await expect(client.send([rebuildEvent('nope')])).rejects.toMatchObject({ statusCode: 401, code: 'Unauthorized' });
  });

  it('accepts the managed identity token of a principal with EventGrid Data Sender on the topic', async () => {
    const topic = await createTopic();
    const { hook } = await subscribe(topic.name);
    grantDataSender(t.stack().identity.appPrincipalId, topic.id);
    await new EventGridPublisherClient(topic.endpoint, 'EventGrid', t.app).send([rebuildEvent('token')]);
    await eventGridOf(t.emu).idle();
    expect(JSON.parse(hook.notifications()[0]!.body)[0]).toMatchObject({ subject: 'token', topic: topic.id });
  });

  it('answers 401 Unauthorized (as Azure does, not 403) to an identity without the Data Sender role', async () => {
    const topic = await createTopic();
    const stranger = t.emu.newPrincipal('userAssigned', unique('no-role-'), undefined, true);
    const client = new EventGridPublisherClient(topic.endpoint, 'EventGrid', t.credentialFor(stranger));
    const err = await client.send([rebuildEvent('denied')]).catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 401, code: 'Unauthorized' });
    expect((err as Error).message).toContain(`does not have permission to send data to ${topic.id}`);
  });

  it('rejects Event Grid events that miss required fields and answers 404 for an unknown topic', async () => {
    const topic = await createTopic();
    const { key1 } = await keysOf(topic.name);
    const post = (name: string, body: unknown) =>
      fetch(`${t.emu.armEndpoint}/_emulator/eventgrid/topics/${name}/api/events?api-version=2018-01-01`, {
        method: 'POST',
        headers: { 'aeg-sas-key': key1, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const missing = await post(topic.name, [{ id: '1', subject: 's', eventTime: new Date().toISOString(), data: {} }]);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain("'eventType'");
    expect((await post(unique('absent-'), [])).status).toBe(404);
  });

  it('publishes CloudEvents to a CloudEvents topic and delivers them verbatim', async () => {
    const topic = await createTopic('CloudEventSchemaV1_0');
    const { hook } = await subscribe(topic.name);
    expect(hook.received[0]!.method).toBe('OPTIONS');
    const client = new EventGridPublisherClient(
      topic.endpoint,
      'CloudEvent',
      new AzureKeyCredential((await keysOf(topic.name)).key1),
    );
    await client.send([
      {
        type: 'AcrCascade.RebuildScheduled',
        source: '/acr-cascade',
        subject: 'myregistry/helloworldtask',
        id: 'ce-1',
        data: { task: 'helloworldtask' },
        extensionAttributes: { cascadeid: 'c1' },
      },
    ]);
    await eventGridOf(t.emu).idle();
    const got = hook.notifications();
    expect(got[0]!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    const [event] = await new EventGridDeserializer().deserializeCloudEvents(got[0]!.body);
    expect(event).toMatchObject({
      id: 'ce-1',
      source: '/acr-cascade',
      type: 'AcrCascade.RebuildScheduled',
      data: { task: 'helloworldtask' },
      extensionAttributes: { cascadeid: 'c1' },
    });
  });

  it('maps Event Grid events to CloudEvents for a CloudEvents subscription on an Event Grid topic', async () => {
    const topic = await createTopic();
    const { hook } = await subscribe(topic.name, { eventDeliverySchema: 'CloudEventSchemaV1_0' });
    const client = new EventGridPublisherClient(
      topic.endpoint,
      'EventGrid',
      new AzureKeyCredential((await keysOf(topic.name)).key1),
    );
    await client.send([{ ...rebuildEvent('mapped'), id: 'evt-map-1' }]);
    await eventGridOf(t.emu).idle();
    expect(JSON.parse(hook.notifications()[0]!.body)).toMatchObject({
      specversion: '1.0',
      id: 'evt-map-1',
      source: topic.id,
      type: 'AcrCascade.RebuildScheduled',
      subject: 'mapped',
    });
  });
});
