// Native base-image trigger benchmark on the local stack: N dependents (default 1,000; BENCH_NATIVE_SIZE) of one base,
// every one with ACR's own base-image trigger on (as `az acr task create` sets it) and one earlier run (so ACR has
// recorded the base). Per CASCADE_NATIVE_TRIGGERS policy, one push of the base, with the emulator's default ARM
// buckets, measuring from the Event Grid delivery of the push:
//   - allRunsStartedMs: until every dependent has its run for this push (the emulator's run createTime; native runs
//     are queued by ACR at the push, so under `adopt` this is ~0);
//   - cascadeCompletedMs: until the cascade completed (every run adopted or scheduled, watched to its end);
//   - runs created per dependent (must be exactly 1), runs adopted, ARM reads and writes, scheduleRun requests.
// `disable` is measured twice: the push that switches the triggers off (ACR already started runs: adopted), and the
// next push, which acr-cascade schedules alone. The app runs with settle 0 s and 1,000 runs in flight per cascade.
// Needs `npm run build` (npm run bench does it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { startStack, type RunningStack } from '../local/stack/stack.js';
import { sleep, stackApi } from './stackApi.js';
import { SEED } from '../local/azure/seed.js';
import type { ArmResource } from '../local/azure/core/state.js';
import { cascadeInstanceId } from '../src/domain/index.js';
import { armCounts, top, type Counts } from './cascade.js';

const SIZE = Number(process.env.BENCH_NATIVE_SIZE ?? 1000);
const TASKS_PER_REGISTRY = 100;
const RUN_DURATION_MS = 200;
const REPOSITORY = 'baseimages/native';
const TAG = '1';
const APP_SETTINGS = {
  CASCADE_TASK_HUB: 'AcrCascadeBenchNative',
  CASCADE_SETTLE_SECONDS: '0',
  CASCADE_MAX_PARALLEL_RUNS: '1000',
  CASCADE_POLL_INITIAL_SECONDS: '2',
  CASCADE_POLL_MAX_SECONDS: '10',
  CASCADE_NATIVE_TRIGGERS: 'adopt',
};

type RunResource = ArmResource & {
  properties: { task?: string; createTime: string; status: string; imageUpdateTrigger?: unknown };
};

export async function run(): Promise<Record<string, unknown>> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-native-'));
  let stack: RunningStack | undefined;
  try {
    stack = await startStack({
      stateDir,
      ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
      runDurationMs: RUN_DURATION_MS,
      stackFile: null,
      appSettings: { ...APP_SETTINGS },
    });
    const s = stack;
    const emu = s.emu;
    const seed = s.seed!;
    const { admin, call, refreshIndex } = stackApi(s);
    const runs = () => emu.store.listResources<RunResource>('Microsoft.ContainerRegistry/registries/runs');

    // ---- setup (throttling off): tasks with the CLI's trigger, one run each, the index ---------------------------
    await admin('PUT', '/throttle', { enabled: false });
    const acr = new ContainerRegistryManagementClient(s.operator, emu.subscriptionId, {
      endpoint: emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const baseServer = `${SEED.baseRegistry}.azurecr.io`;
    emu.services.registryData!.pushSyntheticImage(SEED.baseRegistry, REPOSITORY, TAG, 'native-initial');
    const taskYaml = (name: string) =>
      Buffer.from(
        [
          'version: v1.1.0',
          'steps:',
          `  - build: -t ${name}:$ID https://github.com/example/app.git -f Dockerfile`,
          '',
        ].join('\n'),
      ).toString('base64');
    const setupStart = Date.now();
    const names = new Set<string>();
    const ids: string[] = [];
    for (let start = 0, reg = 0; start < SIZE; start += TASKS_PER_REGISTRY) {
      const registry = `nativereg${++reg}`;
      await acr.registries.beginCreateAndWait(SEED.resourceGroup, registry, {
        location: SEED.location,
        sku: { name: 'Premium' },
      });
      const batch = Array.from({ length: Math.min(TASKS_PER_REGISTRY, SIZE - start) }, (_, i) => `native${start + i}`);
      const created = await Promise.all(
        batch.map((name) =>
          acr.tasks.beginCreateAndWait(SEED.resourceGroup, registry, name, {
            location: SEED.location,
            tags: { 'cascade.baseImages': `${baseServer}/${REPOSITORY}:${TAG}` },
            identity: { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } },
            platform: { os: 'Linux' },
            step: { type: 'EncodedTask', encodedTaskContent: taskYaml(name), contextPath: '/dev/null' },
            credentials: { customRegistries: { [baseServer]: { identity: seed.identity.clientId } } },
            timeout: 600,
            trigger: {
              baseImageTrigger: {
                name: 'defaultBaseimageTriggerName',
                status: 'Enabled',
                baseImageTriggerType: 'Runtime',
              },
            },
          }),
        ),
      );
      await Promise.all(
        created.map((t) =>
          acr.registries.beginScheduleRunAndWait(SEED.resourceGroup, registry, {
            type: 'TaskRunRequest',
            taskId: t.id!,
          }),
        ),
      );
      for (const t of created) ids.push(t.id!);
      for (const n of batch) names.add(n);
    }
    // Let the first runs finish: ACR records each task's base.
    const sinceSetup = new Date(0).toISOString();
    for (;;) {
      const mine = runs().filter(
        (r) => r.properties.task && names.has(r.properties.task) && r.properties.createTime >= sinceSetup,
      );
      if (mine.length >= SIZE && mine.every((r) => ['Succeeded', 'Failed', 'Error'].includes(r.properties.status)))
        break;
      await sleep(200);
    }
    await refreshIndex();
    const setupMs = Date.now() - setupStart;

    // ---- measurements (default ARM buckets) -------------------------------------------------------------------
    const instanceId = cascadeInstanceId(seed.registries[SEED.baseRegistry]!, REPOSITORY, TAG);
    const deliveredAt = async (since: number): Promise<number> => {
      for (let i = 0; i < 400; i++) {
        const list = (await admin('GET', '/eventgrid/deliveries?outcome=delivered')) as {
          value: { subjects: string[]; publishTime: string; attempts: { at: string }[] }[];
        };
        const hit = list.value
          .filter((d) => d.subjects.some((x) => x.startsWith(`${REPOSITORY}:`)))
          .map((d) => Date.parse(d.attempts[d.attempts.length - 1]?.at ?? d.publishTime))
          .filter((t) => t >= since);
        if (hit.length > 0) return Math.min(...hit);
        await sleep(25);
      }
      throw new Error('the push was not delivered');
    };
    let label = 0;
    const measure = async (what: string) => {
      await admin('PUT', '/throttle', {});
      await admin('DELETE', '/eventgrid/deliveries');
      await admin('DELETE', '/stats');
      const pushedAt = Date.now();
      const sinceIso = new Date(emu.nowMs() - 1).toISOString();
      const digest = emu.services.registryData!.pushSyntheticImage(
        SEED.baseRegistry,
        REPOSITORY,
        TAG,
        `n${++label}`,
      ).digest;
      const delivered = await deliveredAt(pushedAt - 5);
      const limit = Date.now() + 20 * 60_000;
      const sincePush = () =>
        runs().filter((r) => r.properties.task && names.has(r.properties.task) && r.properties.createTime >= sinceIso);
      let started = sincePush();
      while (new Set(started.map((r) => r.properties.task)).size < SIZE) {
        if (Date.now() > limit) throw new Error(`${what}: only ${started.length} runs started`);
        await sleep(50);
        started = sincePush();
      }
      const allStarted = Math.max(...started.map((r) => Date.parse(r.properties.createTime)));
      const done = await (async () => {
        for (;;) {
          const st = await call('GET', `/api/rebuilds/${instanceId}`);
          const result = st.json.result as
            { image?: { digest?: string }; tasks?: { run?: { adopted?: boolean } }[] } | undefined;
          if (st.json.runtimeStatus === 'Completed' && result?.image?.digest === digest) {
            return { at: Date.now(), adopted: (result.tasks ?? []).filter((t) => t.run?.adopted === true).length };
          }
          if (Date.now() > limit) throw new Error(`${what}: the cascade did not complete`);
          await sleep(200);
        }
      })();
      const completedAt = done.at;
      const adopted = done.adopted;
      const created = sincePush();
      const counts = (await admin('GET', '/stats')) as { requests: Counts };
      const arm = armCounts(counts.requests);
      const perTask = new Map<string, RunResource[]>();
      for (const r of created) perTask.set(r.properties.task!, [...(perTask.get(r.properties.task!) ?? []), r]);
      const doubles = [...perTask.entries()].filter(([, list]) => list.length > 1);
      return {
        allRunsStartedMs: Math.max(0, allStarted - delivered),
        cascadeCompletedMs: completedAt - delivered,
        runsPerDependent: Math.round((created.length / SIZE) * 1000) / 1000,
        /** Must be 0: dependents this push built more than once. */
        dependentsWithMoreThanOneRun: doubles.length,
        nativeRuns: created.filter((r) => r.properties.imageUpdateTrigger !== undefined).length,
        adopted,
        armReads: arm.reads,
        armWrites: arm.writes,
        scheduleRunRequests: arm.ops['registries.scheduleRun'] ?? 0,
        topArmOperations: top(arm.ops),
      };
    };
    const adopt = await measure('adopt');
    s.appSettings.CASCADE_NATIVE_TRIGGERS = 'disable';
    await s.killHost();
    await s.startHost();
    const disableSwitch = await measure('disable (switching off)');
    const disableSteady = await measure('disable (steady)');
    return {
      setup: { dependents: SIZE, registries: Math.ceil(SIZE / TASKS_PER_REGISTRY), setupMs },
      settings: { ...APP_SETTINGS, runDurationMs: RUN_DURATION_MS },
      adopt,
      disable_firstPush: disableSwitch,
      disable_nextPush: disableSteady,
    };
  } finally {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
