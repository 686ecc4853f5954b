// GET /api/rebuilds stays O(page) however many durable instances the task hub holds: 5,000 unrelated ended instances
// (past rebuildTask children and credential checks, as a busy hub accumulates them) are written straight into the
// local host's durable store, the host restarts on it, and the listing answers the same pages while the one durable
// query it makes (instances still running) still returns only the cascades in flight.
// Needs `npm run build` first.
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { journalFileName } from '../../local/host/durable/journal.js';
import type { InstanceSnapshot } from '../../local/host/durable/state.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller, type Call } from '../support/functionsHttp.js';
import { waitFor } from './cascadeStack.js';

const UNRELATED = 5_000;
const HUB = 'AcrCascade';

let stack: RunningStack;
let stateDir: string;
let call: Call;
const logs: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'listing-scale-e2e-'));
  stack = await startStack({
    stateDir,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 100,
    stackFile: null,
    appSettings: { CASCADE_TASK_HUB: HUB },
    log: (l) => logs.push(l),
  });
  call = functionsCaller(() => stack.description.functions, []);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

interface Listed {
  id: string;
  status: string;
}

/** Every page of the listing, `top` at a time, following continuations. */
async function allPages(query: Record<string, string>, top: number): Promise<Listed[][]> {
  const pages: Listed[][] = [];
  let continuation: string | undefined;
  do {
    const res = await call('GET', '/api/rebuilds', {
      query: { ...query, top: String(top), ...(continuation ? { continuation } : {}) },
    });
    expect(res.status).toBe(200);
    pages.push((res.json.cascades as Listed[]).map(({ id, status }) => ({ id, status })));
    continuation = res.json.continuation as string | undefined;
  } while (continuation && pages.length < 50);
  return pages;
}

/** What the route's one durable query (instances not ended) answers, through the durable HTTP API. */
async function activeInstances(): Promise<string[]> {
  const f = stack.description.functions;
  const url = `${f.baseUrl}/runtime/webhooks/durabletask/instances?runtimeStatus=Running,Pending,ContinuedAsNew,Suspended&code=${f.masterKey}`;
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return ((await res.json()) as { instanceId: string }[]).map((i) => i.instanceId);
}

/** An ended instance as the host journals it (the first record of an instance's journal). */
function endedInstance(n: number, now: number): InstanceSnapshot {
  const at = new Date(now - n * 1000).toISOString();
  const child = n % 5 !== 0;
  return {
    instanceId: child ? `cascade-old-${n}:rebuildTask:${n}` : `credential-check-old-${n}`,
    name: child ? 'rebuildTask' : 'credentialCheck',
    executionId: `exec-${n}`,
    inputJson: '{}',
    status: n % 7 === 0 ? 'Failed' : 'Completed',
    outputJson: '{"outcome":"succeeded"}',
    createdTime: at,
    lastUpdatedTime: at,
    history: [],
    inbox: [],
    msgSeq: 0,
    nextSeq: 0,
    actions: [],
    retries: {},
    canceledTimers: [],
  };
}

describe('GET /api/rebuilds with 5,000 unrelated instances in the task hub', () => {
  it('answers the same pages, and its durable query still sees only what is in flight', async () => {
    // A few ended cascades of our own, in the history table.
    const hello = stack.seed!.taskIds[SEED.tasks.hello]!;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/api/rebuilds', { body: { tasks: [hello] } });
      expect(res.status).toBe(202);
      ids.push(res.json.id as string);
    }
    for (const id of ids) {
      await waitFor(
        `cascade ${id} recorded`,
        async () => {
          // Ended in the task hub too (it records its history, then notifies): the pages below compare as equal.
          const one = await call('GET', `/api/rebuilds/${id}`);
          if (one.json.status !== 'Completed') return undefined;
          const all = (await allPages({ status: 'Completed' }, 10)).flat();
          return all.some((c) => c.id === id) ? true : undefined;
        },
        60_000,
        300,
      );
    }
    const before = await allPages({}, 2);
    const beforeActive = await activeInstances();
    expect(before.flat().map((c) => c.id)).toEqual(expect.arrayContaining(ids));

    // 5,000 unrelated ended instances, straight into the host's store; the host restarts on it.
    await stack.killHost();
    const dir = join(stateDir, 'host', 'durable', HUB);
    const now = Date.now();
    for (let n = 1; n <= UNRELATED; n++) {
      const s = endedInstance(n, now);
      writeFileSync(join(dir, journalFileName(s.instanceId)), `${JSON.stringify({ t: 'init', s })}\n`);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThanOrEqual(UNRELATED);
    const from = logs.length;
    await stack.startHost();
    const loaded = await waitFor('the host to load the task hub', async () => {
      const line = logs.slice(from).find((l) => l.includes(`task hub '${HUB}'`));
      return line ? Number(/: (\d+) instance\(s\)/.exec(line)?.[1]) : undefined;
    });
    expect(loaded).toBeGreaterThanOrEqual(UNRELATED + ids.length);
    const f = stack.description.functions;
    const probe = endedInstance(UNRELATED - 1, now).instanceId; // a rebuildTask child, Completed
    const one = await fetch(
      `${f.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(probe)}?code=${f.masterKey}`,
    );
    expect(await one.json()).toMatchObject({ instanceId: probe, name: 'rebuildTask', runtimeStatus: 'Completed' });

    // The same pages, page for page; the durable query answers no more than before.
    expect(await allPages({}, 2)).toEqual(before);
    expect((await allPages({ status: 'Failed' }, 5)).flat().some((c) => c.id.includes('-old-'))).toBe(false);
    const afterActive = await activeInstances();
    expect(afterActive.filter((id) => id.includes('-old-'))).toEqual([]);
    expect(afterActive.length).toBeLessThanOrEqual(beforeActive.length);
  }, 240_000);

  it('leads on from a first page full of running cascades to the ended ones', async () => {
    const runsConfig = (durationMs: number) =>
      fetch(`${stack.emu.armEndpoint}/_emulator/acr/runs/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ durationMs }),
      });
    expect((await runsConfig(120_000)).ok).toBe(true);
    const hello = stack.seed!.taskIds[SEED.tasks.hello]!;
    const running: string[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const res = await call('POST', '/api/rebuilds', { body: { tasks: [hello] } });
        expect(res.status).toBe(202);
        running.push(res.json.id as string);
      }
      for (const id of running) {
        await waitFor(`cascade ${id} running`, async () =>
          (await call('GET', `/api/rebuilds/${id}`)).json.status === 'Running' ? true : undefined,
        );
      }
      const first = await call('GET', '/api/rebuilds', { query: { top: '2' } });
      expect((first.json.cascades as Listed[]).map((c) => c.id).sort()).toEqual([...running].sort());
      expect(first.json.continuation).toEqual(expect.any(String));
      const next = await call('GET', '/api/rebuilds', {
        query: { top: '5', continuation: first.json.continuation as string },
      });
      expect(next.status).toBe(200);
      const ended = next.json.cascades as Listed[];
      expect(ended.length).toBeGreaterThan(0);
      expect(ended.every((c) => c.status !== 'Running' && !running.includes(c.id))).toBe(true);
    } finally {
      for (const id of running) await call('POST', `/api/rebuilds/${id}/cancel`);
      await runsConfig(100);
    }
  }, 120_000);
});
