// Cascade benchmark on the local stack (emulator + Azurite + the Functions host running the compiled app): for 1, 100
// and 1,000 dependents of one base image, push a new digest of it and measure
//   - the time from the Event Grid delivery of the push to the moment ARM has accepted every first-wave run (the
//     emulator's run createTime), with the emulator's default ARM token buckets and with throttling switched off;
//   - ARM requests per dependent over the whole cascade, reads and writes separately (from /_emulator/stats; the
//     requests the emulator answered 429 count too — they are requests the app made), and the reads spent watching
//     runs (runs.get + runs.list) per dependent;
// next to the physical limit the write bucket sets for scheduling N runs: 200 at once, then 10 per second.
// Runs last 20–120 s each (uniform, per run; the emulator's durationMaxMs), real time: minute-scale builds with the
// default poll backoff (10 → 60 s, on the shared 30 s grid), not compressed, so reads per dependent are what a real
// estate would spend. Setup (tasks, registries, index) is done with throttling off. The app runs with settle 0 s and
// 1,000 runs in flight per cascade (the setting's maximum: the whole first wave in one window), so the window measures ARM, not the cascade's own cap.
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

const SIZES = (process.env.BENCH_CASCADE_SIZES ?? '1,100,1000').split(',').map(Number);
/** Which throttling modes to measure (both by default); `BENCH_CASCADE_MODES=defaultBuckets` for a quicker look. */
const MODES = (process.env.BENCH_CASCADE_MODES ?? 'bucketsOff,defaultBuckets')
  .split(',')
  .filter((m): m is 'bucketsOff' | 'defaultBuckets' => m === 'bucketsOff' || m === 'defaultBuckets');
const TASKS_PER_REGISTRY = 100;
const RUN_DURATION_MS = { min: 20_000, max: 120_000 };
const WRITE_BUCKET = { burst: 200, perSecond: 10 };
const APP_SETTINGS = {
  CASCADE_TASK_HUB: 'AcrCascadeBench',
  CASCADE_SETTLE_SECONDS: '0',
  CASCADE_MAX_PARALLEL_RUNS: '1000',
  CASCADE_POLL_INITIAL_SECONDS: '10',
  CASCADE_POLL_MAX_SECONDS: '60',
};
const REPOSITORY = 'baseimages/bench';

export type Counts = Record<string, number>;

interface Measure {
  /** Delivery of the push to the webhook → ARM accepted the last first-wave run. */
  firstWaveAcceptedMs: number;
  /** Delivery → the cascade instance completed (all runs watched to the end, history written). */
  cascadeCompletedMs: number;
  armReadsPerDependent: number;
  armWritesPerDependent: number;
  armReads: number;
  armWrites: number;
  /** Of those, requests the emulator answered 429 (ARM's read / write buckets were empty). */
  armReadsThrottled: number;
  armWritesThrottled: number;
  /**
   * runs.list + runs.get per dependent: what watching the runs cost. The GET of the run that ends each scheduleRun
   * long-running operation (the SDK poller reads the Location once the operation status says Succeeded) is
   * scheduling, not watching: one per dependent is not counted.
   */
  watchReadsPerDependent: number;
  /** Delivery → the first, then 10 / 25 / 50 / 75 / 90 % of the first-wave runs accepted: the scheduling curve. */
  acceptedAtPercentMs: Record<string, number>;
  /** Median / longest run (createTime → finishTime) of the cascade's runs: the duration mix it met. */
  runDurationMedianMs: number;
  runDurationMaxMs: number;
  /** scheduleRun requests per run (above 1 = requests answered 429 and retried). */
  scheduleRunRequestsPerRun: number;
  topArmOperations: Counts;
}

/** Splits the emulator's counters into ARM reads and writes (identity, Key Vault, registry data, Event Grid apart). */
export function armCounts(c: Counts): { reads: number; writes: number; ops: Counts } {
  const ops: Counts = {};
  let nonArmReads = 0;
  let nonArmWrites = 0;
  for (const [op, n] of Object.entries(c)) {
    if (op.startsWith('*')) continue;
    if (op === 'identity.token') nonArmReads += n;
    else if (op === 'eventGrid.publish') nonArmWrites += n;
    else if (op.startsWith('secrets.') || op.startsWith('deletedSecrets.')) {
      if (/\.(get|list|listVersions)$/.test(op)) nonArmReads += n;
      else nonArmWrites += n;
    } else if (op.startsWith('registryData.')) {
      if (/\.(get|head)$/.test(op)) nonArmReads += n;
      else nonArmWrites += n;
    } else ops[op] = n;
  }
  return {
    reads: (c['*read'] ?? 0) - nonArmReads,
    writes: (c['*write'] ?? 0) + (c['*delete'] ?? 0) - nonArmWrites,
    ops,
  };
}

export function top(ops: Counts, n = 6): Counts {
  return Object.fromEntries(
    Object.entries(ops)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n),
  );
}

export async function run(): Promise<Record<string, unknown>> {
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-cascade-'));
  let stack: RunningStack | undefined;
  try {
    stack = await startStack({
      stateDir,
      ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
      runDurationMs: RUN_DURATION_MS.min,
      stackFile: null,
      appSettings: APP_SETTINGS,
    });
    const s = stack;
    const emu = s.emu;
    const seed = s.seed!;
    const { admin, call, refreshIndex } = stackApi(s);

    // ---- setup (throttling off) ----------------------------------------------------------------------------------
    await admin('PUT', '/throttle', { enabled: false });
    await admin('PUT', '/acr/runs/config', { durationMs: RUN_DURATION_MS.min, durationMaxMs: RUN_DURATION_MS.max });
    const acr = new ContainerRegistryManagementClient(s.operator, emu.subscriptionId, {
      endpoint: emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const baseServer = `${SEED.baseRegistry}.azurecr.io`;
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
    let registryNo = 0;
    const tasksOfSize = new Map<number, Set<string>>();
    for (const size of SIZES) {
      const names = new Set<string>();
      for (let start = 0; start < size; start += TASKS_PER_REGISTRY) {
        const registry = `benchreg${++registryNo}`;
        await acr.registries.beginCreateAndWait(SEED.resourceGroup, registry, {
          location: SEED.location,
          sku: { name: 'Premium' },
        });
        const batch = Array.from(
          { length: Math.min(TASKS_PER_REGISTRY, size - start) },
          (_, i) => `bench${size}t${start + i}`,
        );
        await Promise.all(
          batch.map((name) =>
            acr.tasks.beginCreateAndWait(SEED.resourceGroup, registry, name, {
              location: SEED.location,
              tags: { 'cascade.baseImages': `${baseServer}/${REPOSITORY}:n${size}` },
              identity: { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } },
              platform: { os: 'Linux' },
              step: { type: 'EncodedTask', encodedTaskContent: taskYaml(name), contextPath: '/dev/null' },
              credentials: { customRegistries: { [baseServer]: { identity: seed.identity.clientId } } },
              timeout: 600,
            }),
          ),
        );
        for (const n of batch) names.add(n);
      }
      tasksOfSize.set(size, names);
    }
    const tasksMs = Date.now() - setupStart;
    await refreshIndex();
    const setupMs = Date.now() - setupStart;

    // ---- measurements --------------------------------------------------------------------------------------------
    const runDurations = (names: Set<string>, sinceIso: string): number[] => {
      const out: number[] = [];
      for (const r of emu.store.listResources<
        ArmResource & { properties: { task?: string; createTime: string; finishTime?: string } }
      >('Microsoft.ContainerRegistry/registries/runs')) {
        const p = r.properties;
        if (p.task && names.has(p.task) && p.createTime >= sinceIso && p.finishTime)
          out.push(Date.parse(p.finishTime) - Date.parse(p.createTime));
      }
      return out.sort((a, b) => a - b);
    };
    const runsAccepted = (names: Set<string>, sinceIso: string): number[] => {
      const times: number[] = [];
      for (const r of emu.store.listResources<ArmResource & { properties: { task?: string; createTime: string } }>(
        'Microsoft.ContainerRegistry/registries/runs',
      )) {
        const p = r.properties;
        if (p.task && names.has(p.task) && p.createTime >= sinceIso) times.push(Date.parse(p.createTime));
      }
      return times;
    };
    const deliveredAt = async (digestLabelSince: number): Promise<number> => {
      for (let i = 0; i < 400; i++) {
        const list = (await admin('GET', '/eventgrid/deliveries?outcome=delivered')) as {
          value: { subjects: string[]; publishTime: string; attempts: { at: string }[] }[];
        };
        const hit = list.value
          .filter((d) => d.subjects.some((x) => x.startsWith(`${REPOSITORY}:`)))
          .map((d) => Date.parse(d.attempts[d.attempts.length - 1]?.at ?? d.publishTime))
          .filter((t) => t >= digestLabelSince);
        if (hit.length > 0) return Math.min(...hit);
        await sleep(25);
      }
      throw new Error('the push was not delivered');
    };

    const results: Record<string, unknown> = {};
    let label = 0;
    for (const size of SIZES) {
      const names = tasksOfSize.get(size)!;
      const instanceId = cascadeInstanceId(seed.registries[SEED.baseRegistry]!, REPOSITORY, `n${size}`);
      const perMode: Record<string, Measure> = {};
      for (const mode of MODES) {
        await admin('PUT', '/throttle', mode === 'bucketsOff' ? { enabled: false } : {});
        await admin('DELETE', '/eventgrid/deliveries');
        await admin('DELETE', '/stats');
        const pushedAt = Date.now();
        const sinceIso = new Date(emu.nowMs() - 1).toISOString();
        const digest = emu.services.registryData!.pushSyntheticImage(
          SEED.baseRegistry,
          REPOSITORY,
          `n${size}`,
          `b${++label}`,
        ).digest;
        const delivered = await deliveredAt(pushedAt - 5);
        let accepted: number[] = [];
        const limit = Date.now() + 15 * 60_000;
        while ((accepted = runsAccepted(names, sinceIso)).length < size) {
          if (Date.now() > limit)
            throw new Error(`${size} dependents (${mode}): only ${accepted.length} runs accepted`);
          await sleep(50);
        }
        const firstWave = Math.max(...accepted);
        let completedAt = 0;
        for (;;) {
          const st = await call('GET', `/api/rebuilds/${instanceId}`);
          const result = st.json.result as { image?: { digest?: string } } | undefined;
          if (st.json.runtimeStatus === 'Completed' && result?.image?.digest === digest) {
            completedAt = Date.now();
            break;
          }
          if (Date.now() > limit) throw new Error(`${size} dependents (${mode}): cascade did not complete`);
          await sleep(200);
        }
        const counts = (await admin('GET', '/stats')) as { requests: Counts; throttled: Counts };
        const arm = armCounts(counts.requests);
        const lroFinalReads = arm.ops['registries.operationStatuses.get'] ?? 0;
        const watchReads = Math.max(0, (arm.ops['runs.get'] ?? 0) - lroFinalReads) + (arm.ops['runs.list'] ?? 0);
        const sorted = [...accepted].sort((a, b) => a - b);
        const acceptedAtPercentMs = Object.fromEntries(
          [0, 10, 25, 50, 75, 90].map((pc) => [
            `p${pc}`,
            Math.max(0, (sorted[Math.max(0, Math.ceil((pc / 100) * sorted.length) - 1)] ?? delivered) - delivered),
          ]),
        );
        const lasted = runDurations(names, sinceIso);
        perMode[mode] = {
          firstWaveAcceptedMs: Math.max(0, firstWave - delivered),
          cascadeCompletedMs: completedAt - delivered,
          armReadsPerDependent: Math.round((arm.reads / size) * 100) / 100,
          armWritesPerDependent: Math.round((arm.writes / size) * 100) / 100,
          armReads: arm.reads,
          armWrites: arm.writes,
          armReadsThrottled: counts.throttled['*read'] ?? 0,
          armWritesThrottled: counts.throttled['*write'] ?? 0,
          watchReadsPerDependent: Math.round((watchReads / size) * 1000) / 1000,
          acceptedAtPercentMs,
          runDurationMedianMs: lasted[Math.floor(lasted.length / 2)] ?? 0,
          runDurationMaxMs: lasted[lasted.length - 1] ?? 0,
          scheduleRunRequestsPerRun: Math.round(((arm.ops['registries.scheduleRun'] ?? 0) / size) * 100) / 100,
          topArmOperations: top(arm.ops),
        };
      }
      const writeBucketLimitMs = Math.max(0, Math.ceil(((size - WRITE_BUCKET.burst) / WRITE_BUCKET.perSecond) * 1000));
      results[`dependents_${size}`] = {
        ...perMode,
        writeBucketLimitMs,
        ...(writeBucketLimitMs > 0
          ? {
              firstWaveOverFloor:
                Math.round((perMode.defaultBuckets!.firstWaveAcceptedMs / writeBucketLimitMs) * 1000) / 1000,
            }
          : {}),
      };
    }
    return {
      setup: {
        tasks: SIZES.reduce((a, b) => a + b, 0),
        registries: registryNo,
        createTasksMs: tasksMs,
        indexRefreshMs: setupMs - tasksMs,
      },
      settings: {
        ...APP_SETTINGS,
        runDurationMinMs: RUN_DURATION_MS.min,
        runDurationMaxMs: RUN_DURATION_MS.max,
        writeBucket: WRITE_BUCKET,
      },
      ...results,
    };
  } finally {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
