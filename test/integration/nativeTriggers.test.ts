// The native-trigger activities against the emulator (seed scenario) and Azurite with the real SDK clients and the
// app identity: finding the run ACR's base-image trigger started (by pushed digest, or since a time), recording its
// outputs as ours, whether the trigger follows the base, switching the trigger off, `ignore` costing no ARM call, and
// telling a push by ACR's own run (for a watched base) from anyone else's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import type { TestEmulator } from '../support/emulator.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import type { Deps } from '../../src/activities/deps.js';
import { createNativeTriggerActivities } from '../../src/activities/nativeTriggers/index.js';
import { createRunActivities, DEDUPE_TABLE, DedupeStore } from '../../src/activities/runs/index.js';
import { createPlanActivities } from '../../src/activities/plan/index.js';

const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
const rg = SEED.resourceGroup;
const OUTPUT = `${SEED.appRegistry}.azurecr.io/hello-world:{{.Run.ID}}`;

let harness: AppHarness;
let t: TestEmulator;
let seed: SeedResult;
let deps: Deps;
let acr: ContainerRegistryManagementClient;
let helloId: string;

async function waitTerminal(runId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const r = await acr.runs.get(rg, SEED.appRegistry, runId);
    if (TERMINAL.includes(r.status ?? '')) return r.status!;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`run ${runId} did not finish`);
}

async function stats(): Promise<Record<string, number>> {
  const res = await t.admin('GET', '/stats');
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}

const pushBase = (label: string) =>
  t.emu.services.registryData!.pushSyntheticImage(
    SEED.baseRegistry,
    SEED.baseImage.repository,
    SEED.baseImage.tag,
    label,
  ).digest;

beforeAll(async () => {
  harness = await startAppHarness({ runDurationMs: 300, settings: () => ({ watchedVaults: [] }) });
  ({ t, seed, deps } = harness);
  helloId = seed.taskIds[SEED.tasks.hello]!;
  acr = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, {
    endpoint: t.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
  // The seed creates the task with the trigger `az acr task create` sets; one run so ACR records the task's base.
  const task = await acr.tasks.get(rg, SEED.appRegistry, SEED.tasks.hello);
  expect(task.trigger?.baseImageTrigger).toMatchObject({ status: 'Enabled', baseImageTriggerType: 'Runtime' });
  const first = await acr.registries.beginScheduleRunAndWait(rg, SEED.appRegistry, {
    type: 'TaskRunRequest',
    taskId: helloId,
  });
  expect(await waitTerminal(first.runId!)).toBe('Succeeded');
}, 120_000);

afterAll(async () => {
  await harness?.stop();
});

describe('native trigger activities', () => {
  it('finds the run the trigger started for the pushed digest and records its outputs as ours', async () => {
    const native = createNativeTriggerActivities(deps);
    const pushed = pushBase('native-1');
    const out = await native.findNativeRun({
      task: helloId,
      digest: pushed,
      bases: [seed.baseImageRef],
      cascadeId: 'cascade-native',
      outputImages: [OUTPUT],
    });
    expect(out).toMatchObject({ policy: 'adopt', triggerEnabled: true, willFire: true, adoptWindowSeconds: 120 });
    expect(out.run).toMatchObject({ registryId: seed.registries[SEED.appRegistry] });
    const run = await acr.runs.get(rg, SEED.appRegistry, out.run!.runId);
    expect(run.imageUpdateTrigger?.images?.[0]?.digest).toBe(pushed);
    const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
    const rows = await store.listOutputs(`${SEED.appRegistry}.azurecr.io/hello-world`, '2000-01-01T00:00:00Z');
    expect(rows).toContainEqual(expect.objectContaining({ runId: out.run!.runId, cascadeId: 'cascade-native' }));
    await waitTerminal(out.run!.runId);

    // Another digest nobody pushed: no run; a base the task does not record: the trigger will not fire.
    const none = await native.findNativeRun({
      task: helloId,
      digest: `sha256:${'e'.repeat(64)}`,
      bases: [`${SEED.baseRegistry}.azurecr.io/other:1`],
      cascadeId: 'cascade-native',
      outputImages: [],
    });
    expect(none).toMatchObject({ triggerEnabled: true, willFire: false });
    expect(none.run).toBeUndefined();
  });

  it('under ignore answers without calling ARM', async () => {
    const native = createNativeTriggerActivities({ ...deps, settings: { ...deps.settings, nativeTriggers: 'ignore' } });
    const before = await stats();
    const out = await native.findNativeRun({
      task: helloId,
      digest: seed.baseDigest,
      bases: [seed.baseImageRef],
      cascadeId: 'c',
      outputImages: [],
    });
    expect(out).toEqual({ policy: 'ignore', triggerEnabled: false, willFire: false, adoptWindowSeconds: 120 });
    const after = await stats();
    expect(after).toEqual(before); // no ARM request at all
  });

  it("recognises a push by ACR's own run for a watched base as the cascade's own, before any cascade adopted it", async () => {
    const plans = createPlanActivities(deps);
    await plans.refreshIndex({ trigger: 'http' });
    const native = createNativeTriggerActivities(deps, { index: () => plans.index() });
    const runs = createRunActivities(deps, { nativeChainPush: (image) => native.nativeChainPush(image) });
    const pushed = pushBase('native-chain');
    const triggered = async () => {
      for await (const r of acr.runs.list(rg, SEED.appRegistry, { filter: `TaskName eq '${SEED.tasks.hello}'` })) {
        if (r.imageUpdateTrigger?.images?.some((i) => i.digest === pushed)) return r;
      }
      return undefined;
    };
    let run = await triggered();
    expect(run).toBeDefined();
    expect(await waitTerminal(run!.runId!)).toBe('Succeeded');
    run = await triggered();
    const out = run!.outputImages![0]!;
    const image = {
      ref: `${out.registry}/${out.repository}:${out.tag}`,
      digest: out.digest!,
      registryId: seed.registries[SEED.appRegistry]!,
    };
    // No cascade scheduled or adopted that run: the output table does not know it, the run list does.
    expect(await runs.isOwnPush({ image })).toMatchObject({ own: true, runId: run!.runId });
    expect((await runs.isOwnPush({ image })).reason).toContain("ACR's run");

    // The same repository pushed by someone else (another digest, the run long finished) is not ours.
    const other = { ...image, digest: `sha256:${'d'.repeat(64)}` };
    expect(await runs.isOwnPush({ image: other })).toMatchObject({ own: false });
    // Nor under ignore, where the cascade plans no chain of ACR's runs.
    const ignoring = createNativeTriggerActivities(
      { ...deps, settings: { ...deps.settings, nativeTriggers: 'ignore' } },
      { index: () => plans.index() },
    );
    expect(await ignoring.nativeChainPush(image)).toMatchObject({ own: false });
  });

  it('switches the trigger off once (a second call changes nothing), and then a push starts no run', async () => {
    const native = createNativeTriggerActivities(deps);
    expect(await native.disableNativeTrigger({ task: helloId })).toEqual({
      changed: true,
      triggerName: 'defaultBaseimageTriggerName',
    });
    const task = await acr.tasks.get(rg, SEED.appRegistry, SEED.tasks.hello);
    expect(task.trigger?.baseImageTrigger?.status).toBe('Disabled');
    expect(await native.disableNativeTrigger({ task: helloId })).toEqual({ changed: false });
    const pushed = pushBase('native-2');
    const out = await native.findNativeRun({
      task: helloId,
      digest: pushed,
      bases: [seed.baseImageRef],
      cascadeId: 'c',
      outputImages: [],
    });
    expect(out).toMatchObject({ triggerEnabled: false, willFire: false });
    expect(out.run).toBeUndefined();
  });
});
