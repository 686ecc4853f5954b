// Rebuild cascades on the local stack, starting from real pushes to the emulated base registry: Event Grid delivers
// ImagePushed to onRegistryEvent, the durable cascade plans, preflights and schedules runs through emulated ARM.
// The seed's tasks carry ACR's own base-image trigger (as `az acr task create` sets it), so each real push also starts
// ACR's run of each task; under the default policy (adopt) the cascade adopts that run instead of scheduling another.
// Needs `npx tsc -p tsconfig.build.json` (or `npm run build`) first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { SEED } from '../../local/azure/seed.js';
import { parseLine } from '../../src/telemetry/log.js';
import { guidFrom } from '../../local/azure/guid.js';
import { keyOf, tokenOf } from '../../src/activities/runs/index.js';
import type { CascadeResult, PlanView, TaskResult } from '../../src/contracts/index.js';
import { nativeFor, runsForUpdate, startCascadeStack, waitFor, withToken, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;
let counter = 0;
const label = (what: string) => `${what}-${++counter}`;

const hello = () => s.stack.seed!.taskIds[SEED.tasks.hello]!;
const dockerhub = () => s.stack.seed!.taskIds[SEED.tasks.dockerhub]!;
const baseRef = () => s.stack.seed!.baseImageRef;
const token = (task: string, digest: string, attempt = 1) =>
  tokenOf(keyOf({ task, cascadeId: '', base: { ref: baseRef(), digest } }), attempt);
const taskResult = (r: CascadeResult | undefined, name: string) =>
  r?.tasks.find((t) => t.taskName === name) as TaskResult;
/** Every run of the task for this base digest: ACR's own and the cascade's. */
const runsFor = async (name: string, taskId: string, digest: string) =>
  runsForUpdate(await s.runsOf(name), token(taskId, digest), digest);

beforeAll(async () => {
  // A short adopt window: an event no real push stands behind (the CloudEvents case) has no native run to wait for.
  s = await startCascadeStack('cascade-e2e', { CASCADE_NATIVE_ADOPT_WINDOW_SECONDS: '5' });
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

interface WindowCounts {
  /** Emulator requests per operation (ARM, managed identity tokens, Key Vault, registry data) in the window. */
  emulator: Record<string, number>;
  /** Azurite's access-log lines of requests in the window. */
  tables: string[];
  /** The host's dispatch gate as the window closed. */
  held: { held: boolean; running: number; waiting: number };
}

/**
 * Holds the host's durable dispatch (test-only control, see local/host/durable/gate.ts) and marks the start of a
 * window in the emulator's request counts and in Azurite's access log. `close` reads both; `release` lets durable
 * work run again (always call it).
 */
async function openTriggerWindow(): Promise<{ close(): Promise<WindowCounts>; release(): Promise<void> }> {
  const f = s.stack.description.functions;
  const dispatch = async (hold: boolean) => {
    const res = await fetch(`${f.baseUrl}/admin/test/durable-dispatch`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-functions-key': f.masterKey },
      body: JSON.stringify({ hold }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as WindowCounts['held'];
  };
  // The Azurite the app's Table clients use.
  const tableEndpoint = /TableEndpoint=([^;]+)/.exec(s.stack.appSettings.AzureWebJobsStorage ?? '')?.[1];
  expect(tableEndpoint).toBeDefined();
  const emulatorCounts = async () =>
    ((await (await s.admin('GET', '/stats')).json()) as { requests: Record<string, number> }).requests;
  // Azurite logs a request when it has answered it, in order: a marker request answered at each end of the window
  // brackets every Table request answered in between.
  const azuriteMark = async (name: string): Promise<number> => {
    const marker = `acr-cascade-window=${name}-${++counter}`;
    await fetch(`${tableEndpoint}/Tables?${marker}`);
    return waitFor(`Azurite's log line of ${marker}`, async () => {
      const i = s.logs.findIndex((l) => l.startsWith('[azurite]') && l.includes(marker));
      return i >= 0 ? i : undefined;
    });
  };
  expect(await dispatch(true)).toMatchObject({ held: true, running: 0 });
  let released = false;
  try {
    const from = await azuriteMark('open');
    const before = await emulatorCounts();
    return {
      close: async () => {
        const after = await emulatorCounts();
        const to = await azuriteMark('close');
        const emulator: Record<string, number> = {};
        for (const [op, n] of Object.entries(after)) if (n > (before[op] ?? 0)) emulator[op] = n - (before[op] ?? 0);
        const tables = s.logs.slice(from + 1, to).filter((l) => /^\[azurite\] .*"[A-Z]+ \//.test(l));
        const held = await (
          await fetch(`${f.baseUrl}/admin/test/durable-dispatch`, { headers: { 'x-functions-key': f.masterKey } })
        ).json();
        return { emulator, tables, held: held as WindowCounts['held'] };
      },
      release: async () => {
        if (released) return;
        released = true;
        expect(await dispatch(false)).toMatchObject({ held: false });
      },
    };
  } catch (err) {
    await dispatch(false);
    throw err;
  }
}

describe('a push to the base registry', () => {
  it('rebuilds helloworldtask once, adopting the run ACR started, and reports dockerhubtask', async () => {
    const digest = s.pushBase(label('seed'));
    const done = await s.waitDone(s.cascadeId(), digest);
    expect(done.runtimeStatus).toBe('Completed');
    const result = done.result!;
    expect(result).toMatchObject({
      trigger: 'event',
      status: 'Completed',
      waves: 1,
      image: { ref: baseRef(), digest },
    });
    const h = taskResult(result, SEED.tasks.hello);
    expect(h).toMatchObject({
      wave: 1,
      decision: 'rebuild',
      outcome: 'succeeded',
      run: { status: 'Succeeded', attempts: 1, adopted: true },
    });
    expect(h.reasons.map((r) => r.code)).toContain('NativeRunAdopted');
    expect(h.run?.outputImages.some((o) => o.startsWith(`${SEED.appRegistry}.azurecr.io/hello-world:`))).toBe(true);
    const d = taskResult(result, SEED.tasks.dockerhub);
    expect(['succeeded', 'failed', 'blocked']).toContain(d.outcome);
    expect(d.reasons.every((r) => typeof r.message === 'string')).toBe(true);
    // Exactly one run per task for this digest in the run list: ACR's own, adopted; the cascade scheduled none.
    const helloRuns = await runsFor(SEED.tasks.hello, hello(), digest);
    expect(helloRuns.map((r) => r.runId)).toEqual([h.run!.runId]);
    expect(nativeFor(helloRuns, digest)).toHaveLength(1);
    const dockerRuns = await runsFor(SEED.tasks.dockerhub, dockerhub(), digest);
    expect(dockerRuns).toHaveLength(1);
    if (d.run) expect(d.run).toMatchObject({ runId: dockerRuns[0]!.runId, adopted: true });
    // The history table keeps it after the fact.
    expect(s.logs.some((l) => l.includes(`recordCascade ${s.cascadeId()}`))).toBe(true);
  });

  it("turns 5 redeliveries of one event and a burst of 10 pushes into one cascade that adopts the newest digest's runs", async () => {
    await s.admin('DELETE', '/eventgrid/deliveries');
    const before = (await s.status(s.cascadeId()))?.result?.generation ?? -1;
    // The trigger shares its process with the intake's orchestrations, activities and entity, which do call ARM and
    // Tables. Holding durable dispatch leaves a window in which only the trigger runs; what the emulator and Azurite
    // count in it is the trigger's. (This host keeps durable state in its own journals, not in Azurite.)
    const window = await openTriggerWindow();
    let counted: WindowCounts;
    const marks = s.logs.length;
    // Every ARM request takes ARM_LATENCY_MS during the burst: a trigger that touched ARM could not answer faster.
    const ARM_LATENCY_MS = 3000;
    let newest: string;
    let delivered: string;
    const digests: string[] = [];
    try {
      expect((await s.admin('PUT', '/faults', { latencyMs: ARM_LATENCY_MS })).status).toBe(200);
      digests.push(s.pushBase(label('burst')));
      delivered = await waitFor('the first delivery', async () => {
        const res = await s.admin('GET', '/eventgrid/deliveries?outcome=delivered');
        const list = ((await res.json()) as { value: { eventIds: string[]; kind: string }[] }).value;
        return list.find((d) => d.kind === 'original')?.eventIds[0];
      });
      const redeliver = await s.admin('POST', '/eventgrid/redeliver', { eventId: delivered, times: 5 });
      expect(redeliver.status).toBe(202);
      for (let i = 0; i < 10; i++) digests.push(s.pushBase(label('burst')));
      newest = digests[digests.length - 1]!;
      await waitFor('11 pushes and 5 redeliveries answered', async () => {
        const answered = s.logs
          .slice(marks)
          .filter((l) => /^\[host\] onRegistryEvent \(.*\) Succeeded in \d+ms/.test(l));
        return answered.length >= 16 ? answered : undefined;
      });
      counted = await window.close();
    } finally {
      expect((await s.admin('PUT', '/faults', {})).status).toBe(200);
      await window.release();
    }
    // Answering the 16 deliveries made no ARM, token, Key Vault or registry request and no Table request.
    expect(counted.emulator).toEqual({});
    expect(counted.tables).toEqual([]);
    // Nothing durable ran in the window: the intakes waited at the hold (the trigger's one call is a start).
    expect(counted.held.waiting).toBeGreaterThan(0);
    // The trigger answered every delivery in milliseconds (no Table/ARM round trip, no wait for the cascade) ...
    const answers = s.logs.slice(marks).filter((l) => /^\[host\] onRegistryEvent \(/.test(l));
    for (const line of answers) {
      expect(line).toMatch(/Succeeded in \d+ms/);
      expect(Number(/in (\d+)ms/.exec(line)?.[1])).toBeLessThan(ARM_LATENCY_MS);
    }
    // The trigger's own measurement (its push.received record) of the whole handler, start to answer.
    const own = s.logs
      .slice(marks)
      .map((l) => parseLine(l))
      .filter((r) => r?.event === 'push.received');
    expect(own.length).toBeGreaterThanOrEqual(11);
    for (const r of own) expect(r?.ms).toBeLessThan(ARM_LATENCY_MS);
    // ... and each of its own lines names the one durable call it made.
    const handed = s.logs
      .slice(marks)
      .filter((l) => /onRegistryEvent: event .* (handed to intake|ignored \(redelivery)/.test(l));
    expect(handed.length).toBeGreaterThanOrEqual(16);
    const done = await s.waitDone(s.cascadeId(), newest);
    // One cascade for the whole burst: the one after the previous test's.
    expect(done.result).toMatchObject({ status: 'Completed', generation: before + 1 });
    // Nothing left that could start another cascade or run.
    await s.admin('GET', '/eventgrid/idle');
    const again = await s.status(s.cascadeId());
    expect(again?.runtimeStatus).toBe('Completed');
    expect(again?.result?.image?.digest).toBe(newest);
    const helloRuns = await s.runsOf(SEED.tasks.hello);
    const dockerRuns = await s.runsOf(SEED.tasks.dockerhub);
    // ACR's trigger builds every pushed digest once by itself; the cascade adds no run to any of them.
    const newestHello = runsForUpdate(helloRuns, token(hello(), newest), newest);
    expect(newestHello).toHaveLength(1);
    expect(taskResult(done.result, SEED.tasks.hello).run).toMatchObject({
      runId: newestHello[0]!.runId,
      adopted: true,
    });
    expect(runsForUpdate(dockerRuns, token(dockerhub(), newest), newest)).toHaveLength(1);
    // The 5 redeliveries really reached the function (and were filtered there or folded in the cascade).
    const res = await s.admin('GET', `/eventgrid/deliveries?eventId=${delivered}`);
    const redelivered = ((await res.json()) as { value: { kind: string; outcome: string }[] }).value.filter(
      (d) => d.kind === 'redelivery' && d.outcome === 'delivered',
    );
    expect(redelivered).toHaveLength(5);
    for (const d of digests.slice(0, -1)) {
      expect(withToken(helloRuns, token(hello(), d))).toHaveLength(0);
      expect(withToken(dockerRuns, token(dockerhub(), d))).toHaveLength(0);
      expect(nativeFor(helloRuns, d)).toHaveLength(1);
    }
    expect(
      s.logs.some(
        (l) => /absorbed: redelivery of event/.test(l) || /ignored \(redelivery: its intake is running\)/.test(l),
      ),
    ).toBe(true);
  });

  it('runs a push queued behind a cascade that was terminated (no push is lost to a cascade that ends)', async () => {
    const id = s.cascadeId();
    const control = (op: 'suspend' | 'terminate') =>
      s.call('POST', `/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}/${op}`, {
        key: s.stack.description.functions.masterKey,
        query: { reason: 'test' },
      });
    const first = s.pushBase(label('handover'));
    await waitFor('the cascade to settle on the first push', async () => {
      const st = await s.status(id);
      return st?.runtimeStatus === 'Running' && st.progress?.image?.digest === first ? st : undefined;
    });
    // Suspended while settling, the cascade cannot take the next push; terminated, it never runs its own code again.
    expect((await control('suspend')).status).toBe(202);
    await waitFor('the suspension', async () =>
      (await s.status(id))?.runtimeStatus === 'Suspended' ? true : undefined,
    );
    const marks = s.logs.length;
    const second = s.pushBase(label('handover'));
    await waitFor('the tag entity to queue the second push', async () =>
      s.logs.slice(marks).find((l) => l.includes(`push ${second} queued`)),
    );
    expect((await control('terminate')).status).toBe(202);

    const done = await s.waitDone(id, second);
    expect(done.result).toMatchObject({ status: 'Completed', image: { digest: second } });
    expect(s.logs.slice(marks).some((l) => /cascade of .* ended Failed/.test(l))).toBe(true);
    const secondRuns = await runsFor(SEED.tasks.hello, hello(), second);
    expect(secondRuns).toHaveLength(1);
    expect(taskResult(done.result, SEED.tasks.hello).run).toMatchObject({
      runId: secondRuns[0]!.runId,
      adopted: true,
    });
    // The first push was built once too: by ACR's trigger, never by the cascade that was cut short.
    const firstRuns = await runsFor(SEED.tasks.hello, hello(), first);
    expect(firstRuns).toHaveLength(1);
    expect(nativeFor(firstRuns, first)).toHaveLength(1);
  });

  it('starts nothing for a forged event from an unwatched topic posted straight to the webhook', async () => {
    const before = await s.status(s.cascadeId());
    const runsBefore = (await s.runsOf(SEED.tasks.hello)).length;
    const forgedId = `forged-${++counter}`;
    const f = s.stack.description.functions;
    const forgedDigest = `sha256:${'f'.repeat(64)}`;
    const res = await fetch(
      `${f.baseUrl}/runtime/webhooks/eventgrid?functionName=onRegistryEvent&code=${f.eventGridKey}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
        body: JSON.stringify([
          {
            id: forgedId,
            topic: `/subscriptions/${s.stack.emu.subscriptionId}/resourceGroups/evil/providers/Microsoft.ContainerRegistry/registries/mybaseregistry`,
            subject: 'baseimages/node:15-alpine',
            eventType: 'Microsoft.ContainerRegistry.ImagePushed',
            eventTime: new Date().toISOString(),
            dataVersion: '1.0',
            data: {
              target: {
                mediaType: 'application/vnd.oci.image.manifest.v1+json',
                repository: 'baseimages/node',
                tag: '15-alpine',
                digest: forgedDigest,
              },
              request: { host: 'mybaseregistry.azurecr.io' },
            },
          },
          { id: `malformed-${counter}`, topic: 42 },
        ]),
      },
    );
    expect(res.status).toBe(202);
    await waitFor('the forged event to be logged', async () =>
      s.logs.find((l) => l.includes(`ignored event ${forgedId}`) && l.includes('is not a watched registry')),
    );
    expect(s.logs.some((l) => l.includes(`rejected event malformed-${counter}`))).toBe(true);
    const after = await s.status(s.cascadeId());
    expect(after?.result?.image?.digest).toBe(before?.result?.image?.digest);
    expect(after?.result?.image?.digest).not.toBe(forgedDigest);
    expect((await s.runsOf(SEED.tasks.hello)).length).toBe(runsBefore);
  });
});

describe('CloudEvents', () => {
  it('accepts an ImagePushed in the CloudEvents 1.0 schema from the watched registry', async () => {
    const f = s.stack.description.functions;
    const digest = `sha256:${(++counter).toString(16).padStart(2, '0').repeat(32)}`;
    const res = await fetch(
      `${f.baseUrl}/runtime/webhooks/eventgrid?functionName=onRegistryEvent&code=${f.eventGridKey}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body: JSON.stringify({
          specversion: '1.0',
          id: `cloud-${counter}`,
          source: s.baseRegistryId,
          type: 'Microsoft.ContainerRegistry.ImagePushed',
          subject: 'baseimages/node:15-alpine',
          time: new Date().toISOString(),
          data: {
            target: {
              mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
              repository: 'baseimages/node',
              tag: '15-alpine',
              digest,
            },
            request: { host: 'mybaseregistry.azurecr.io' },
          },
        }),
      },
    );
    expect(res.status).toBe(202);
    const done = await s.waitDone(s.cascadeId(), digest);
    expect(done.result?.image).toMatchObject({ digest, eventId: `cloud-${counter}` });
    // No registry push stands behind this event, so ACR started nothing: after the adopt window the cascade
    // schedules the one run itself.
    expect(withToken(await s.runsOf(SEED.tasks.hello), token(hello(), digest))).toHaveLength(1);
    expect(nativeFor(await s.runsOf(SEED.tasks.hello), digest)).toHaveLength(0);
    expect(taskResult(done.result, SEED.tasks.hello).reasons.map((r) => r.code)).toContain('NativeRunNotFound');
  });
});

describe('/api/rebuilds', () => {
  it('refuses requests without the function key, malformed bodies (naming the field) and tasks outside the scopes', async () => {
    expect((await s.call('POST', '/api/rebuilds', { key: null, body: { tasks: [hello()] } })).status).toBe(401);
    const notJson = await s.call('POST', '/api/rebuilds', { body: '{oops' });
    expect(notJson).toMatchObject({ status: 400, json: { error: { field: 'body' } } });
    const both = await s.call('POST', '/api/rebuilds', { body: { image: baseRef(), tasks: [hello()] } });
    expect(both).toMatchObject({ status: 400, json: { error: { field: 'tasks' } } });
    const neither = await s.call('POST', '/api/rebuilds', { body: { dryRun: true } });
    expect(neither).toMatchObject({ status: 400, json: { error: { field: 'image' } } });
    const unknown = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()], force: true } });
    expect(unknown).toMatchObject({ status: 400, json: { error: { field: 'force' } } });
    const badImage = await s.call('POST', '/api/rebuilds', { body: { image: 'Not An Image' } });
    expect(badImage).toMatchObject({ status: 400, json: { error: { field: 'image' } } });
    const badTask = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello(), 'nope'] } });
    expect(badTask).toMatchObject({ status: 400, json: { error: { field: 'tasks[1]' } } });
    const badDry = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()], dryRun: 'yes' } });
    expect(badDry).toMatchObject({ status: 400, json: { error: { field: 'dryRun' } } });
    const outside = await s.call('POST', '/api/rebuilds', {
      body: {
        tasks: [
          '/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.ContainerRegistry/registries/r/tasks/t',
        ],
      },
    });
    expect(outside).toMatchObject({
      status: 403,
      json: { error: { code: 'OutsideManagedScopes', field: 'tasks[0]' } },
    });
    const hub = await s.call('POST', '/api/rebuilds', { body: { image: 'node:20' } });
    expect(hub).toMatchObject({ status: 403, json: { error: { field: 'image' } } });
    const status = await s.call('GET', '/api/rebuilds', { query: { status: 'Sleeping' } });
    expect(status).toMatchObject({ status: 400, json: { error: { field: 'status' } } });
  });

  it('answers a dry run with the plan (with preflight) and starts nothing', async () => {
    const before = (await s.runsOf(SEED.tasks.hello)).length;
    const res = await s.call('POST', '/api/rebuilds', { body: { image: baseRef(), dryRun: true } });
    expect(res.status).toBe(200);
    // The plan shape of GET /api/plan: tasks as a list in wave order.
    const plan = res.json.plan as Omit<PlanView, 'tasks'> & { tasks: PlanView['tasks'][string][] };
    expect(plan.waves.flat().sort()).toEqual([dockerhub(), hello()].sort());
    expect(plan.tasks.find((t) => t.task === hello())).toMatchObject({ decision: 'rebuild', wave: 1 });
    expect((await s.runsOf(SEED.tasks.hello)).length).toBe(before);
  });

  it('rebuilds requested tasks: 202 with status URLs, then progress and per-task results, listed as recent', async () => {
    const res = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()] } });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    expect(id).toMatch(/^rebuild-/);
    expect(res.json).toEqual({
      id,
      status: 'Pending',
      statusUri: expect.stringMatching(new RegExp(`/api/rebuilds/${id}$`)),
      cancelUri: expect.stringMatching(new RegExp(`/api/rebuilds/${id}/cancel$`)),
    });
    // Only the app's own URLs: nothing that carries the durable extension's system key.
    expect(res.text).not.toMatch(/runtime\/webhooks|code=/);
    const done = await s.waitDone(id);
    expect(done).toMatchObject({ source: 'durable', status: 'Completed', progress: { phase: 'done' } });
    expect(done.result?.trigger).toBe('http');
    expect(taskResult(done.result, SEED.tasks.hello)).toMatchObject({
      outcome: 'succeeded',
      run: { status: 'Succeeded' },
    });
    const list = await s.call('GET', '/api/rebuilds', { query: { status: 'Completed' } });
    expect(list.status).toBe(200);
    expect((list.json.cascades as { id: string }[]).map((c) => c.id)).toContain(id);
    const late = await s.call('POST', `/api/rebuilds/${id}/cancel`);
    expect(late).toMatchObject({ status: 409, json: { error: { code: 'NotRunning' } } });
    expect((await s.call('GET', '/api/rebuilds/rebuild-unknown')).status).toBe(404);
    // Once the durable instance is purged, the history table still answers.
    const f = s.stack.description.functions;
    const purge = await fetch(`${f.baseUrl}/runtime/webhooks/durabletask/instances/${id}?code=${f.masterKey}`, {
      method: 'DELETE',
    });
    expect(purge.status).toBe(200);
    const fromHistory = await s.call('GET', `/api/rebuilds/${id}`);
    expect(fromHistory).toMatchObject({ status: 200, json: { id, source: 'history', status: 'Completed' } });
    expect((fromHistory.json.tasks as { taskName: string; outcome: string }[])[0]).toMatchObject({
      taskName: SEED.tasks.hello,
      outcome: 'succeeded',
    });
  });

  it('cancels a running cascade and the run it started', async () => {
    await s.admin('PUT', '/acr/runs/config', { durationMs: 120_000 });
    try {
      const res = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello()] } });
      const id = res.json.id as string;
      const runId = await waitFor('the run to be scheduled', async () => {
        const runs = await s.runsOf(SEED.tasks.hello);
        const mine = withToken(runs, tokenOf(keyOf({ task: hello(), cascadeId: id, requestId: id }), 1));
        return mine[0]?.runId;
      });
      const cancel = await s.call('POST', `/api/rebuilds/${id}/cancel`);
      expect(cancel).toMatchObject({ status: 202, json: { id, status: 'Canceling' } });
      const done = await s.waitDone(id);
      expect(done.result?.status).toBe('Canceled');
      // One vocabulary: the cascade reads Canceled, and the Canceled filter finds it (Completed does not).
      expect(done.status).toBe('Canceled');
      const canceled = await s.call('GET', '/api/rebuilds', { query: { status: 'Canceled' } });
      expect((canceled.json.cascades as { id: string; status: string }[]).find((c) => c.id === id)).toMatchObject({
        status: 'Canceled',
      });
      const completed = await s.call('GET', '/api/rebuilds', { query: { status: 'Completed' } });
      expect((completed.json.cascades as { id: string }[]).map((c) => c.id)).not.toContain(id);
      expect(taskResult(done.result, SEED.tasks.hello)).toMatchObject({
        outcome: 'canceled',
        run: { runId, status: 'Canceled' },
      });
      const run = (await s.runsOf(SEED.tasks.hello)).find((r) => r.runId === runId);
      expect(run?.status).toBe('Canceled');
    } finally {
      await s.admin('PUT', '/acr/runs/config', { durationMs: 200 });
    }
  });
});

describe('preflight in the cascade', () => {
  it('blocks exactly the task whose pull role assignment was removed, with the fix, and runs the other', async () => {
    const sub = s.stack.emu.subscriptionId;
    const authz = new AuthorizationManagementClient(s.stack.operator, sub, {
      endpoint: s.stack.emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const assignmentId = s.stack.seed!.assignments['helloworldtask-acrpull']!;
    await authz.roleAssignments.deleteById(assignmentId);
    try {
      const digest = s.pushBase(label('norole'));
      const done = await s.waitDone(s.cascadeId(), digest);
      const h = taskResult(done.result, SEED.tasks.hello);
      expect(h).toMatchObject({ outcome: 'blocked', decision: 'blocked' });
      expect(h.run).toBeUndefined();
      const reason = h.reasons.find((r) => r.code === 'MissingPullPermission');
      expect(reason?.fix).toContain(`az role assignment create --assignee ${s.stack.seed!.identity.principalId}`);
      expect(reason?.fix).toContain('--role acrpull');
      expect(taskResult(done.result, SEED.tasks.dockerhub).outcome).not.toBe('blocked');
      // The blocked task is also a structured log record the alert rules query (event, cascade and task ids, reason).
      const record = s.logs.find(
        (l) => l.includes('"event":"cascade.taskBlocked"') && l.includes(`"taskId":"${hello()}"`),
      );
      expect(record).toContain('"reason":"MissingPullPermission"');
      expect(record).toContain(`"cascadeId":"${done.result!.cascadeId}"`);
      // The cascade scheduled nothing for it; ACR's own trigger did start a run, which fails to pull the base.
      expect(withToken(await s.runsOf(SEED.tasks.hello), token(hello(), digest))).toHaveLength(0);
      const native = await waitFor("ACR's run of the blocked task to end", async () => {
        const runs = nativeFor(await s.runsOf(SEED.tasks.hello), digest);
        return runs.length === 1 && !['Queued', 'Running'].includes(runs[0]!.status ?? '') ? runs : undefined;
      });
      expect(native[0]!.status).toBe('Failed');
      expect(done.result?.totals.blocked).toBe(1);
    } finally {
      await authz.roleAssignments.create(
        s.stack.seed!.registries[SEED.baseRegistry]!,
        guidFrom('helloworldtask-acrpull'),
        {
          roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
          principalId: s.stack.seed!.identity.principalId,
          principalType: 'ServicePrincipal',
        },
      );
    }
  });
});

describe('secret hygiene', () => {
  it('never shows the seed Password value in a log line, durable history, output, response or notification', async () => {
    expect(s.password.length).toBeGreaterThan(10);
    const dump = await s.durableDump();
    expect(dump).toContain('rebuildCascade'); // the dump really holds histories
    const events = await (await s.admin('GET', `/eventgrid/topics/${SEED.notificationTopic}/events`)).text();
    expect(events).toContain('cascade.completed');
    for (const [what, text] of [
      ['logs', s.logs.join('\n')],
      ['responses', s.bodies.join('\n')],
      ['durable history', dump],
      ['notifications', events],
    ] as const) {
      expect(text.includes(s.password), `${what} contain the password`).toBe(false);
    }
  });
});
