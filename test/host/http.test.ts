// HTTP, timer, Event Grid and admin triggers of a fixture app, through the host CLI in a child process.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { NODE_PATH_ENV, copyFixture, pollUntil, requestJson, tempDir } from './helpers.js';

interface Seen {
  kind: string;
  isPastDue?: boolean;
  id?: string;
  type?: string;
  data?: unknown;
  last?: string | null;
}

let host: SpawnedHost;
let stateDir: string;
const PAST = '2020-01-01T00:00:00.000Z';

beforeAll(async () => {
  const appRoot = await copyFixture('basic', {
    'local.settings.json': {
      IsEncrypted: false,
      Values: {
        GREETING: 'hello from local.settings.json',
        TICK_SCHEDULE: '*/1 * * * * *',
        OVERRIDDEN: 'from settings',
      },
    },
  });
  stateDir = await tempDir('basic-state');
  // A schedule status whose next occurrence passed while the host was down: `yearly` must fire as past due.
  await writeFile(
    path.join(stateDir, 'timers.json'),
    JSON.stringify({
      yearly: { Last: '2019-01-01T00:00:00.000Z', Next: PAST, LastUpdated: '2019-01-01T00:00:00.000Z' },
    }),
  );
  host = await spawnHost({ appRoot, stateDir, env: { ...NODE_PATH_ENV, OVERRIDDEN: 'from the environment' } });
});

afterAll(async () => {
  await host?.stop();
});

const api = (p: string): string => `${host.baseUrl}/api/${p}`;
const seen = async (): Promise<Seen[]> => (await requestJson<Seen[]>(api('seen'))).body;

describe('HTTP triggers', () => {
  it('passes route parameters, repeated query values, headers and the body to the function', async () => {
    const res = await requestJson<Record<string, unknown>>(`${api('echo/Bob/42')}?q=1&q=2`, {
      method: 'POST',
      headers: { 'x-test': 'yes' },
      body: 'payload',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'Bob',
      id: '42',
      q: ['1', '2'],
      header: 'yes',
      body: 'payload',
      method: 'POST',
      url: `${api('echo/Bob/42')}?q=1&q=2`,
    });
  });

  it('leaves an optional parameter out and enforces constraints with 404', async () => {
    expect((await requestJson(api('echo/alice'))).body).toMatchObject({ name: 'alice', id: null });
    expect((await fetch(api('echo/al1ce'))).status).toBe(404);
    expect((await fetch(api('echo/alice/notanint'))).status).toBe(404);
  });

  it('prefers a literal route over a parameter and checks a guid constraint', async () => {
    expect(await (await fetch(api('items/special'))).text()).toBe('literal wins');
    const id = '6f9619ff-8b86-d011-b42d-00c04fc964ff';
    expect((await requestJson(api(`items/${id}`))).body).toEqual({ id });
    expect((await fetch(api('items/not-a-guid'))).status).toBe(404);
  });

  it('routes a function without a route at its name', async () => {
    expect(await (await fetch(api('defaultRoute'))).text()).toBe('default route');
  });

  it('answers 404 for unknown routes and paths outside the route prefix, 405 with Allow for a wrong method', async () => {
    expect((await fetch(api('nope'))).status).toBe(404);
    expect((await fetch(`${host.baseUrl}/echo/bob`)).status).toBe(404);
    const wrong = await fetch(api('echo/bob'), { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
  });

  it('round-trips binary bodies, status, headers and cookies', async () => {
    const res = await fetch(api('bytes'), { method: 'POST', body: Buffer.from([1, 2, 3, 250]) });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-length')).toBe('4');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([250, 3, 2, 1]);
  });

  it('answers 500 when the function throws or exceeds functionTimeout, and 204 when it returns nothing', async () => {
    expect((await fetch(api('boom'))).status).toBe(500);
    expect((await fetch(api('slow'))).status).toBe(500);
    await host.waitForLine(
      /\[host\] slow \([0-9a-f-]+\) Failed in \d+ms: Timeout value of 00:00:01 was exceeded by function: slow/,
    );
    expect((await fetch(api('nothing'))).status).toBe(204);
  });

  it('logs one line per invocation with name, invocation id, duration and outcome, and forwards context.log', async () => {
    const res = await requestJson<{ invocationId: string }>(api('echo/carol'));
    const id = res.body.invocationId;
    await host.waitForLine((l) => new RegExp(`^\\[host\\] echo \\(${id}\\) Succeeded in \\d+ms$`).test(l));
    await host.waitForLine((l) => l === '[echo] echo called for carol');
    await host.waitForLine(/^\[host\] boom \([0-9a-f-]{36}\) Failed in \d+ms: kaboom$/);
  });

  it('runs app hooks around invocations', async () => {
    const kinds = (await seen()).map((s) => s.kind);
    expect(kinds[0]).toBe('appStart');
    expect(kinds).toContain('postInvocation');
  });
});

describe('authorization levels', () => {
  it('rejects function-level routes without a valid key with 401', async () => {
    expect((await fetch(api('secret'))).status).toBe(401);
    expect((await fetch(`${api('secret')}?code=wrong`)).status).toBe(401);
  });

  it('accepts the function key or the master key as code= or x-functions-key', async () => {
    expect(await (await fetch(`${api('secret')}?code=${host.keys.function}`)).text()).toBe('function-level ok');
    expect((await fetch(api('secret'), { headers: { 'x-functions-key': host.keys.function } })).status).toBe(200);
    expect((await fetch(`${api('secret')}?code=${host.keys.master}`)).status).toBe(200);
  });

  it('requires the master key for admin-level routes', async () => {
    expect((await fetch(`${api('admin-only')}?code=${host.keys.function}`)).status).toBe(401);
    expect(await (await fetch(`${api('admin-only')}?code=${host.keys.master}`)).text()).toBe('admin-level ok');
  });

  it('keeps the generated keys in the state folder', async () => {
    const stored = JSON.parse(await readFile(path.join(stateDir, 'keys.json'), 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({
      masterKey: host.keys.master,
      functionKeys: { default: host.keys.function },
      systemKeys: { eventgrid_extension: host.keys.eventGrid, durabletask_extension: host.keys.durableTask },
    });
    expect(new Set(Object.values(host.keys)).size).toBe(4);
  });
});

describe('app settings', () => {
  it('reads local.settings.json Values, with the environment taking precedence', async () => {
    expect((await requestJson(api('settings'))).body).toEqual({
      greeting: 'hello from local.settings.json',
      overridden: 'from the environment',
    });
  });
});

describe('timer triggers', () => {
  it('resolves %SETTING% in the schedule and fires every second', async () => {
    const all = await pollUntil(seen, (s) => s.filter((x) => x.kind === 'tick').length >= 2);
    expect(all.filter((x) => x.kind === 'tick').every((x) => x.isPastDue === false)).toBe(true);
  });

  it('runs runOnStartup timers once at start', async () => {
    expect((await seen()).filter((x) => x.kind === 'startup')).toEqual([{ kind: 'startup', isPastDue: false }]);
  });

  it('fires an occurrence missed while the host was down once, as past due, and records the new schedule status', async () => {
    const all = await pollUntil(seen, (s) => s.some((x) => x.kind === 'yearly'));
    expect(all.filter((x) => x.kind === 'yearly')).toEqual([
      { kind: 'yearly', isPastDue: true, last: '2019-01-01T00:00:00.000Z' },
    ]);
    const status = await pollUntil(
      async () =>
        JSON.parse(await readFile(path.join(stateDir, 'timers.json'), 'utf8')) as Record<string, { Next: string }>,
      (s) => s.yearly?.Next !== PAST,
    );
    expect(Date.parse(status.yearly!.Next)).toBeGreaterThan(Date.now());
  });
});

describe('admin API', () => {
  it('invokes a non-HTTP function by hand with the master key (202)', async () => {
    const url = `${host.baseUrl}/admin/functions/yearly`;
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await fetch(`${url}?code=${host.keys.function}`, { method: 'POST', body: '{}' })).status).toBe(401);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.master },
      body: '{"input":""}',
    });
    expect(res.status).toBe(202);
    await pollUntil(seen, (s) => s.some((x) => x.kind === 'yearly' && x.isPastDue === false));
  });

  it('passes the input to an Event Grid function invoked by hand', async () => {
    const event = { id: 'admin-1', eventType: 'Test.Admin', subject: 's', data: { n: 1 } };
    const res = await fetch(`${host.baseUrl}/admin/functions/onEvent?code=${host.keys.master}`, {
      method: 'POST',
      body: JSON.stringify({ input: JSON.stringify(event) }),
    });
    expect(res.status).toBe(202);
    await pollUntil(seen, (s) => s.some((x) => x.id === 'admin-1' && x.type === 'Test.Admin'));
  });

  it('answers 404 for an unknown function and 400 for an HTTP function', async () => {
    const post = (name: string) =>
      fetch(`${host.baseUrl}/admin/functions/${name}?code=${host.keys.master}`, { method: 'POST', body: '{}' });
    expect((await post('missing')).status).toBe(404);
    expect((await post('echo')).status).toBe(400);
  });
});

describe('Event Grid webhook', () => {
  const hook = (query: string) => `${host.baseUrl}/runtime/webhooks/eventgrid?${query}`;
  const withKey = (fn = 'onEvent') => hook(`functionName=${fn}&code=${host.keys.eventGrid}`);
  const blobEvent = (id: string, subject = '/blobServices/default/containers/c/blobs/a.txt') => ({
    id,
    topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa',
    subject,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    dataVersion: '',
    metadataVersion: '1',
    data: { url: 'https://sa.blob.core.windows.net/c/a.txt' },
  });
  const post = (url: string, body: unknown, headers: Record<string, string>) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('answers the subscription validation handshake with 200 and the validation code', async () => {
    const res = await post(
      withKey(),
      [
        {
          id: 'v',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          subject: '',
          data: { validationCode: 'code-123' },
        },
      ],
      { 'aeg-event-type': 'SubscriptionValidation' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: 'code-123' });
  });

  it('reads the double-encoded validation data of a CloudEvents subscription', async () => {
    const res = await post(
      withKey(),
      { specversion: '1.0', id: 'v2', type: 'x', source: 'y', data: '{"validationCode":"ce-7"}' },
      {
        'aeg-event-type': 'SubscriptionValidation',
      },
    );
    expect(await res.json()).toEqual({ validationResponse: 'ce-7' });
  });

  it('rejects a missing or wrong key with 401 and an unknown function with 404', async () => {
    const headers = { 'aeg-event-type': 'Notification' };
    expect((await post(hook('functionName=onEvent'), [blobEvent('x')], headers)).status).toBe(401);
    expect((await post(hook('functionName=onEvent&code=wrong'), [blobEvent('x')], headers)).status).toBe(401);
    const missing = await post(withKey('nope'), [blobEvent('x')], headers);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("cannot find function: 'nope'");
  });

  it('invokes the function once per event of an Event Grid array and answers 202', async () => {
    const res = await post(withKey(), [blobEvent('eg-1'), blobEvent('eg-2')], { 'aeg-event-type': 'Notification' });
    expect(res.status).toBe(202);
    const events = (await pollUntil(seen, (s) => s.filter((x) => x.id?.startsWith('eg-')).length === 2)).filter((x) =>
      x.id?.startsWith('eg-'),
    );
    expect(events.map((e) => e.id).sort()).toEqual(['eg-1', 'eg-2']);
    expect(events[0]).toMatchObject({
      type: 'Microsoft.Storage.BlobCreated',
      data: { url: 'https://sa.blob.core.windows.net/c/a.txt' },
    });
  });

  it('accepts CloudEvents, single and batched, by content type', async () => {
    const ce = (id: string) => ({
      specversion: '1.0',
      id,
      type: 'Contoso.Thing.Happened',
      source: '/contoso',
      data: { id },
    });
    expect((await post(withKey(), ce('ce-1'), { 'content-type': 'application/cloudevents+json' })).status).toBe(202);
    expect(
      (
        await post(withKey(), [ce('ce-2'), ce('ce-3')], {
          'content-type': 'application/cloudevents-batch+json',
          'aeg-event-type': 'Notification',
        })
      ).status,
    ).toBe(202);
    await pollUntil(seen, (s) =>
      ['ce-1', 'ce-2', 'ce-3'].every((id) => s.some((x) => x.id === id && x.type === 'Contoso.Thing.Happened')),
    );
  });

  it('answers the CloudEvents OPTIONS abuse-protection handshake', async () => {
    const res = await fetch(withKey(), {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('answers 500 when an invocation fails, 400 for bodies it cannot parse or an unknown event type, 202 for Unsubscribe', async () => {
    const failing = await post(withKey(), [blobEvent('bad-1', 'fail')], { 'aeg-event-type': 'Notification' });
    expect(failing.status).toBe(500);
    expect(await failing.text()).toContain('event handler failed');
    expect((await post(withKey(), '{not json', { 'aeg-event-type': 'Notification' })).status).toBe(400);
    expect((await post(withKey(), '42', { 'aeg-event-type': 'Notification' })).status).toBe(400);
    expect((await post(withKey(), [blobEvent('n')], {})).status).toBe(400);
    expect((await post(withKey(), [], { 'aeg-event-type': 'Unsubscribe' })).status).toBe(202);
  });
});

describe('startup errors', () => {
  it('refuses to start when a binding refers to an unset app setting, naming it', async () => {
    const appRoot = await copyFixture('basic');
    await expect(spawnHost({ appRoot, stateDir: await tempDir('bad-state'), env: NODE_PATH_ENV })).rejects.toThrow(
      "function 'tick' binding 'timerTrigger' property 'schedule' refers to app setting 'TICK_SCHEDULE', which is not set",
    );
  });
});
