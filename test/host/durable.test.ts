// Durable Functions through the real durable client: the fixture's HTTP functions call df.getClient(context), which
// talks to the host's Durable HTTP API; orchestrations replay through the real durable-functions library.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedHost, spawnHost } from '../../local/host/spawn.js';
import { FIXTURES, pollUntil, requestJson, tempDir } from './helpers.js';

interface Status {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
}

interface HistoryEvent {
  EventType: string;
  FunctionName?: string;
  Result?: unknown;
  Reason?: string;
}

interface CheckStatus {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

let host: SpawnedHost;
let n = 0;
const uniqueId = (label: string): string => `${label}-${++n}`;

beforeAll(async () => {
  host = await spawnHost({
    appRoot: `${FIXTURES}/durable`,
    stateDir: await tempDir('durable-state'),
    env: { HUB_NAME: 'DurableTestHub' },
  });
});

afterAll(async () => {
  await host?.stop();
});

const dapi = (p: string): string => `${host.baseUrl}/dapi/${p}`;
const webhook = (p: string, query = ''): string =>
  `${host.baseUrl}/runtime/webhooks/durabletask/${p}?code=${host.keys.durableTask}${query}`;

async function start(name: string, input?: unknown, id = uniqueId(name)): Promise<CheckStatus> {
  const res = await requestJson<CheckStatus>(dapi(`start/${name}/${id}`), {
    method: 'POST',
    ...(input !== undefined ? { body: JSON.stringify(input) } : {}),
  });
  expect(res.status).toBe(202);
  return res.body;
}

const status = async (id: string): Promise<Status> =>
  (await requestJson<Status>(dapi(`status/${encodeURIComponent(id)}`))).body;

const TERMINAL = ['Completed', 'Failed', 'Terminated'];
const finished = (id: string): Promise<Status> =>
  pollUntil(
    () => status(id),
    (s) => TERMINAL.includes(s.runtimeStatus),
  );

/** The JS client drops `historyEvents` (it reads `history`), so history comes straight from the HTTP API. */
const historyOf = async (id: string): Promise<HistoryEvent[]> =>
  (
    await requestJson<{ historyEvents: HistoryEvent[] }>(
      webhook(`instances/${id}`, '&showHistory=true&showHistoryOutput=true'),
    )
  ).body.historyEvents;

describe('durable client binding and HTTP API', () => {
  it('starts an instance and returns check-status links that work with the system key', async () => {
    const links = await start('sequence', 'unused input', 'links-1');
    expect(links.id).toBe('links-1');
    expect(links.statusQueryGetUri).toBe(
      `${host.baseUrl}/runtime/webhooks/durabletask/instances/links-1?taskHub=DurableTestHub&connection=Storage&code=${host.keys.durableTask}`,
    );
    const done = await pollUntil(
      () => requestJson<Status>(links.statusQueryGetUri),
      (r) => r.status === 200,
    );
    expect(done.body).toMatchObject({ instanceId: 'links-1', runtimeStatus: 'Completed', input: 'unused input' });
    expect((await fetch(links.statusQueryGetUri.replace(/code=[^&]+/, 'code=wrong'))).status).toBe(401);
  });

  it('answers 202 with Location while running and 404 for unknown instances', async () => {
    const { id } = await start('waiter');
    const running = await fetch(webhook(`instances/${id}`));
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toContain(`/runtime/webhooks/durabletask/instances/${id}`);
    expect((await fetch(webhook('instances/no-such-instance'))).status).toBe(404);
    await requestJson(dapi(`manage/terminate/${id}`), { method: 'POST' });
  });

  it('builds management payloads on the host address (WEBSITE_HOSTNAME), not localhost:7071', async () => {
    const res = await requestJson<CheckStatus>(dapi('payload/some-id'));
    expect(
      res.body.statusQueryGetUri.startsWith(`${host.baseUrl}/runtime/webhooks/durabletask/instances/some-id?`),
    ).toBe(true);
  });

  it('gives the durable client to an Event Grid function, which starts an orchestration', async () => {
    const eventId = uniqueId('push');
    const res = await fetch(
      `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=onPush&code=${host.keys.eventGrid}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
        body: JSON.stringify([
          { id: eventId, eventType: 'Microsoft.ContainerRegistry.ImagePushed', subject: 'base:1', data: { tag: '1' } },
        ]),
      },
    );
    expect(res.status).toBe(202);
    expect(await finished(`push-${eventId}`)).toMatchObject({ runtimeStatus: 'Completed', input: { tag: '1' } });
  });

  it('pages instance lists with x-ms-continuation-token', async () => {
    const first = await fetch(webhook('instances/', '&top=1'));
    const token = first.headers.get('x-ms-continuation-token');
    expect(await first.json()).toHaveLength(1);
    expect(token).toBeTruthy();
    const second = await fetch(webhook('instances/', '&top=1'), { headers: { 'x-ms-continuation-token': token! } });
    const [a] = (await second.json()) as { instanceId: string }[];
    expect(a?.instanceId).toBeDefined();
  });

  it('refuses a second start of a running instance id with 409 and an unknown orchestrator with 400', async () => {
    const { id } = await start('waiter');
    const again = await fetch(webhook(`orchestrators/waiter/${id}`), { method: 'POST' });
    expect(again.status).toBe(409);
    const unknown = await fetch(webhook('orchestrators/noSuchOrchestrator'), { method: 'POST' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("The function 'noSuchOrchestrator' doesn't exist");
    await requestJson(dapi(`manage/terminate/${id}`), { method: 'POST' });
  });
});

describe('orchestrations', () => {
  it('runs activities in sequence and shows them in the history', async () => {
    const { id } = await start('sequence');
    const s = await finished(id);
    expect(s.output).toEqual(['Hello Tokyo', 'Hello London']);
    const completed = (await historyOf(id)).filter((e) => e.EventType === 'TaskCompleted');
    expect(completed.map((e) => [e.FunctionName, e.Result])).toEqual([
      ['hello', 'Hello Tokyo'],
      ['hello', 'Hello London'],
    ]);
  });

  it('fans out with Task.all and fans back in', async () => {
    const { id } = await start('fanOut', 40);
    expect((await finished(id)).output).toBe((39 * 40) / 2);
  });

  it('retries a failing activity after a durable timer until it succeeds', async () => {
    const { id } = await start('retrying', uniqueId('flaky-key'));
    const s = await finished(id);
    expect(s.output).toMatchObject({ attempts: 3 });
    const history = await historyOf(id);
    expect(history.filter((e) => e.EventType === 'TaskFailed')).toHaveLength(2);
    expect(history.filter((e) => e.EventType === 'TimerFired')).toHaveLength(2);
  });

  it('surfaces the last failure once retries are exhausted, without extra attempts', async () => {
    const { id } = await start('retryExhausted');
    const s = await finished(id);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toMatchObject({
      caught: expect.stringContaining("Activity function 'alwaysFails' failed: always fails"),
    });
    expect((s.output as { runs: number }).runs).toBe(2);
  });

  it('fails the orchestration with the activity error when it is not caught', async () => {
    const { id } = await start('activityFails');
    const s = await finished(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(
      /^Orchestrator function 'activityFails' failed: Activity function 'alwaysFails' failed: always fails/,
    );
  });

  it('runs sub-orchestrations with generated and given instance ids', async () => {
    const { id } = await start('parent');
    const s = await finished(id);
    expect(s.output).toEqual([
      { n: 5, doubled: 10, parent: id },
      { n: 7, doubled: 14, parent: id },
    ]);
    expect((await status(`${id}:0`)).runtimeStatus).toBe('Completed');
    expect((await status(`${id}-named-child`)).input).toBe(7);
  });

  it('fans out to sub-orchestrations with Task.all', async () => {
    const { id } = await start('fanOutChildren', 30);
    expect((await finished(id)).output).toBe(29 * 30);
    expect((await status(`${id}:29`)).runtimeStatus).toBe('Completed');
  });

  it('retries a failing sub-orchestration with a new child instance per attempt', async () => {
    const { id } = await start('retryingParent', uniqueId('child-key'));
    expect((await finished(id)).output).toMatchObject({ attempts: 3 });
    // Task ids: attempt 0, timer 1, attempt 2, timer 3, attempt 4.
    const children = await Promise.all([0, 2, 4].map((t) => status(`${id}:${t}`)));
    expect(children.map((c) => c.runtimeStatus)).toEqual(['Failed', 'Failed', 'Completed']);
  });

  it('reports a failed sub-orchestration to its parent as a catchable error', async () => {
    const { id } = await start('parentOfFailing');
    expect((await finished(id)).output).toMatch(
      /^caught: Sub-orchestration 'failingChild' .* failed: .*child exploded/,
    );
  });

  it('fires a durable timer no earlier than requested', async () => {
    const { id } = await start('timer');
    const s = await finished(id);
    expect((s.output as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(300);
  });

  it('delivers an external event to Task.any, cancels the losing timer and reports custom status', async () => {
    const { id } = await start('approval', { timeoutMs: 60_000 });
    await pollUntil(
      () => status(id),
      (s) => s.customStatus === 'waiting for approval',
    );
    const raised = await fetch(dapi(`raise/${id}/Approve`), { method: 'POST', body: JSON.stringify({ by: 'alice' }) });
    expect(raised.status).toBe(202);
    const s = await finished(id);
    expect(s).toMatchObject({
      runtimeStatus: 'Completed',
      output: { approved: { by: 'alice' } },
      customStatus: 'approved',
    });
  });

  it('lets the timer win Task.any when no event arrives', async () => {
    const { id } = await start('approval', { timeoutMs: 200 });
    expect(await finished(id)).toMatchObject({ output: { approved: false }, customStatus: 'timed out' });
  });

  it('continues as new with the new input until done', async () => {
    const { id } = await start('counter', 0);
    const s = await finished(id);
    expect(s).toMatchObject({ output: 'done at 3', input: 3 });
    // History is per execution: only the last one's.
    expect((await historyOf(id)).filter((e) => e.EventType === 'ExecutionStarted')).toHaveLength(1);
  });

  it('suspends (events wait) and resumes', async () => {
    const { id } = await start('waiter');
    await pollUntil(
      () => status(id),
      (s) => s.runtimeStatus === 'Running',
    );
    expect((await fetch(dapi(`manage/suspend/${id}`), { method: 'POST' })).status).toBe(202);
    await pollUntil(
      () => status(id),
      (s) => s.runtimeStatus === 'Suspended',
    );
    await fetch(dapi(`raise/${id}/Go`), { method: 'POST', body: '"while suspended"' });
    // The event is stored, not delivered: the instance stays suspended until resumed.
    expect((await status(id)).runtimeStatus).toBe('Suspended');
    await fetch(dapi(`manage/resume/${id}`), { method: 'POST' });
    expect(await finished(id)).toMatchObject({ runtimeStatus: 'Completed', output: { value: 'while suspended' } });
  });

  it('terminates with the reason as output, then answers 410 to events', async () => {
    const { id } = await start('waiter');
    await fetch(dapi(`manage/terminate/${id}`), { method: 'POST' });
    expect(await finished(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'terminate requested by test' });
    const late = await fetch(webhook(`instances/${id}/raiseEvent/Go`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '1',
    });
    expect(late.status).toBe(410);
  });

  it('purges a finished instance and refuses to purge a running one (412)', async () => {
    const { id } = await start('sequence');
    await finished(id);
    expect((await requestJson(dapi(`purge/${id}`), { method: 'DELETE' })).body).toEqual({ instancesDeleted: 1 });
    expect((await fetch(webhook(`instances/${id}`))).status).toBe(404);
    const running = await start('waiter');
    expect((await fetch(webhook(`instances/${running.id}`), { method: 'DELETE' })).status).toBe(412);
    await fetch(dapi(`manage/terminate/${running.id}`), { method: 'POST' });
  });

  it('lists instances by runtime status through the client', async () => {
    const { id } = await start('waiter');
    await pollUntil(
      () => status(id),
      (s) => s.runtimeStatus === 'Running',
    );
    const list = await requestJson<{ instanceId: string; runtimeStatus: string }[]>(dapi('list?status=Running'));
    expect(list.body).toContainEqual({ instanceId: id, runtimeStatus: 'Running' });
    expect(list.body.every((s) => s.runtimeStatus === 'Running')).toBe(true);
    await fetch(dapi(`manage/terminate/${id}`), { method: 'POST' });
  });

  it('fails a non-deterministic orchestrator with an error naming the task id and both actions', async () => {
    const { id } = await start('nondeterministic');
    const s = await finished(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toContain(
      "task 0 was scheduled in history as CallActivity 'hello', but the orchestrator now schedules CallActivity 'double'",
    );
    expect(s.output).toMatch(/^NonDeterminismError: /);
    await host.waitForLine((l) => l.startsWith('[host] durable: NonDeterminismError') && l.includes(`'${id}'`));
  });

  it("logs an orchestrator's own log calls only when not replaying", async () => {
    const { id } = await start('chatty');
    await finished(id);
    const chatty = (text: string) => host.lines.filter((l) => l === `[chatty] ${text}`).length;
    expect(chatty('chatty: before the activity')).toBe(1);
    expect(chatty('chatty: after the activity')).toBe(1);
    // One invocation line per episode: start, then the activity's completion.
    expect(host.lines.filter((l) => /^\[host\] chatty \([0-9a-f-]{36}\) Succeeded in \d+ms$/.test(l))).toHaveLength(2);
  });
});
