// Pacing across instances, as processes: ONE emulator (one principal, one subscription, so one ARM write bucket and
// one read bucket) and one Azurite, and TWO Functions hosts running the app — two apps, or two instances of one on
// Flex Consumption — each with its own task hub and its own cascade of 150 dependents (different base images, pushed
// at once). Alone, each host's pacer would spend ARM's whole 200-write burst; through the CascadePacing rows they
// share it: a handful of 429s at most, every run scheduled exactly once, both cascades complete.
// Needs `npm run build` first (the hosts load dist/).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type ExtraHost, type RunningStack } from '../../local/stack/stack.js';
import type { Scenario } from '../../local/azure/scenario.js';
import type { ArmResource } from '../../local/azure/core/state.js';
import { cascadeInstanceId } from '../../src/domain/index.js';
import { functionsCaller, type Call } from '../support/functionsHttp.js';
import { waitFor, type CascadeStatusBody } from './cascadeStack.js';

const PER_HOST = 150;
/** Dependents per registry (two registries per cascade). */
const PER_REGISTRY = PER_HOST / 2;
const BASES = [
  { registry: 'pacebaseone', repository: 'app/base', tag: 'one', deps: ['pacedepsonea', 'pacedepsoneb'] },
  { registry: 'pacebasetwo', repository: 'app/base', tag: 'two', deps: ['pacedepstwoa', 'pacedepstwob'] },
] as const;
const RUN_DURATION_MS = 200;

/** 300 tasks, each built on one of the two bases, pulling it with an identity that has AcrPull there. */
function scenario(): Scenario {
  const tasks: NonNullable<Scenario['tasks']> = [];
  for (const base of BASES) {
    const server = `${base.registry}.azurecr.io`;
    for (const registry of base.deps) {
      for (let i = 0; i < PER_REGISTRY; i++) {
        const name = `${registry}t${i}`;
        tasks.push({
          name,
          registry,
          identity: { userAssigned: ['paceidentity'] },
          yaml: `version: v1.1.0\nsteps:\n  - build: -t ${name}:$ID https://github.com/example/app.git -f Dockerfile\n`,
          tags: { 'cascade.baseImages': `${server}/${base.repository}:${base.tag}` },
          credentials: { [server]: { identity: 'paceidentity' } },
          baseImageTrigger: false,
          runOnce: false,
        });
      }
    }
  }
  return {
    registries: [
      ...BASES.map((b) => ({ name: b.registry, images: [`${b.repository}:${b.tag}`] })),
      ...BASES.flatMap((b) => b.deps.map((name) => ({ name }))),
    ],
    identities: [{ name: 'paceidentity' }],
    roleAssignments: BASES.map((b) => ({
      name: `pace-pull-${b.registry}`,
      principal: { identity: 'paceidentity' },
      role: 'AcrPull',
      scope: { registry: b.registry },
    })),
    tasks,
  };
}

const APP_SETTINGS = {
  CASCADE_SETTLE_SECONDS: '1',
  CASCADE_MAX_PARALLEL_RUNS: '500',
  CASCADE_POLL_INITIAL_SECONDS: '2',
  CASCADE_POLL_MAX_SECONDS: '5',
};

let stateDir: string;
let stack: RunningStack;
let second: ExtraHost;
const bodies: string[] = [];
let calls: [Call, Call];

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${stack.emu.armEndpoint}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

async function refreshIndex(call: Call): Promise<void> {
  const started = await call('POST', '/api/index/refresh');
  expect(started.status).toBe(202);
  await waitFor(
    'the index refresh',
    async () => {
      const { status } = (await call('GET', '/api/index/refresh')).json as { status?: string };
      if (status === 'Failed') throw new Error('index refresh failed');
      return status === 'Completed' ? true : undefined;
    },
    90_000,
    250,
  );
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'pacing-hosts-'));
  stack = await startStack({
    stateDir,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: RUN_DURATION_MS,
    stackFile: null,
    scenarios: [scenario()],
    watch: [BASES[0].registry],
    appSettings: { ...APP_SETTINGS, CASCADE_TASK_HUB: 'AcrCascadeOne' },
  });
  second = await stack.addHost({ name: 'Two', watch: [BASES[1].registry], appSettings: APP_SETTINGS });
  calls = [functionsCaller(() => stack.description.functions, bodies), functionsCaller(() => second.functions, bodies)];
  // Set-up unthrottled (the index build reads every task's details, one ARM write each); the test puts ARM's buckets
  // back. Both apps read the same index tables; each refreshes them once, as each would on start.
  await admin('PUT', '/throttle', { enabled: false });
  for (const call of calls) await refreshIndex(call);
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('two hosts against one ARM write bucket', () => {
  it('schedule a cascade of 150 each with a handful of 429s at most, every run once, both complete', async () => {
    const registryIds = BASES.map(
      (b) =>
        stack.emu.store
          .listResources<ArmResource>('Microsoft.ContainerRegistry/registries')
          .find((r) => r.name === b.registry)!.id,
    );
    await admin('PUT', '/throttle', {}); // ARM's default buckets: writes 200 at once then 10/s, reads 250 then 25/s
    await admin('DELETE', '/stats');
    const sinceIso = new Date(stack.emu.nowMs() - 1).toISOString();
    const digests = BASES.map(
      (b) =>
        stack.emu.services.registryData!.pushSyntheticImage(b.registry, b.repository, b.tag, 'pacing-hosts').digest,
    );

    const done = await Promise.all(
      BASES.map((b, i) =>
        waitFor(
          `cascade ${b.registry} on host ${i + 1}`,
          async () => {
            const id = cascadeInstanceId(registryIds[i]!, b.repository, b.tag);
            const res = await calls[i]!('GET', `/api/rebuilds/${encodeURIComponent(id)}`);
            if (res.status === 404) return undefined;
            const s = res.json as unknown as CascadeStatusBody;
            return ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(s.status) &&
              s.result?.image?.digest === digests[i]
              ? s
              : undefined;
          },
          150_000,
          500,
        ),
      ),
    );
    for (const s of done) expect(s.status).toBe('Completed');

    // Every dependent ran exactly once, each on its own host's cascade.
    const runs = stack.emu.store
      .listResources<ArmResource & { properties: { task?: string; createTime: string } }>(
        'Microsoft.ContainerRegistry/registries/runs',
      )
      .filter((r) => r.properties.createTime >= sinceIso && r.properties.task);
    for (const b of BASES) {
      const perTask = new Map<string, number>();
      for (const r of runs) {
        const task = r.properties.task!;
        if (b.deps.some((d) => task.startsWith(`${d}t`))) perTask.set(task, (perTask.get(task) ?? 0) + 1);
      }
      expect(perTask.size).toBe(PER_HOST);
      expect([...perTask.values()].every((n) => n === 1)).toBe(true);
    }

    const { requests, throttled } = (await admin('GET', '/stats')) as {
      requests: Record<string, number>;
      throttled: Record<string, number>;
    };
    // ARM accepted 300 scheduleRuns: none sent twice. 429s: ≤ 3 over both buckets (the rows keep a second of refill
    // in hand for requests still on their way; a request stalled longer by the load may still land on an empty bucket).
    expect((requests['registries.scheduleRun'] ?? 0) - (throttled['registries.scheduleRun'] ?? 0)).toBe(2 * PER_HOST);
    expect((throttled['*write'] ?? 0) + (throttled['*read'] ?? 0)).toBeLessThanOrEqual(3);
  }, 200_000);
});
