// The dependency index against the emulator and Azurite: what a refresh reads (counted by the emulator's
// /_emulator/stats), what it writes, and that preflight shares its reads across tasks.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient, type Task } from '@azure/arm-containerregistry';
import { TableClient } from '@azure/data-tables';
import type { TestEmulator } from '../support/emulator.js';
import type { RunningAzurite } from '../../local/stack/azurite.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import type { Settings } from '../../src/config/settings.js';
import { createAzureClients } from '../../src/azure/clients.js';
import type { Deps } from '../../src/activities/deps.js';
import { createPlanActivities, INDEX_TABLE, IndexStore } from '../../src/activities/plan/index.js';
import { normalizeId } from '../../src/domain/index.js';

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;

let harness: AppHarness;
let t: TestEmulator;
let az: RunningAzurite;
let seed: SeedResult;
let settings: Settings;
let acr: ContainerRegistryManagementClient;
let sub: string;
const rg = SEED.resourceGroup;

function depsFor(connection = az.connectionString): Deps {
  const s = { ...settings, storageConnection: connection };
  return { settings: s, clients: createAzureClients(s, t.app), now: () => new Date(), log: () => {} };
}

async function stats(): Promise<Record<string, number>> {
  const res = await t.admin('GET', '/stats');
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}
const resetStats = () => t.admin('DELETE', '/stats');

async function freshIndexTable(): Promise<void> {
  const table = TableClient.fromConnectionString(az.connectionString, INDEX_TABLE, { allowInsecureConnection: true });
  await table.deleteTable();
}

function taskBody(name: string, extra: { customRegistries?: Record<string, { identity: string }> } = {}): Task {
  const yaml = `version: v1.1.0\nsteps:\n  - build: -t $Registry/${name}:$ID -f Dockerfile . --build-arg BASE=${seed.baseImageRef}\n`;
  return {
    location: SEED.location,
    tags: { 'cascade.baseImages': seed.baseImageRef },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } },
    platform: { os: 'Linux' },
    step: {
      type: 'EncodedTask',
      encodedTaskContent: Buffer.from(yaml).toString('base64'),
      contextPath: '/dev/null',
    },
    credentials: {
      customRegistries: extra.customRegistries ?? { 'mybaseregistry.azurecr.io': { identity: seed.identity.clientId } },
    },
    timeout: 600,
  };
}

beforeAll(async () => {
  harness = await startAppHarness({ runDurationMs: 50, seed: { runTasksOnce: true } });
  ({ t, azurite: az, seed, settings } = harness);
  sub = t.emu.subscriptionId;
  acr = new ContainerRegistryManagementClient(t.operator, sub, {
    endpoint: t.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
});

afterAll(async () => {
  await harness?.stop();
});

describe('index refresh', () => {
  beforeEach(async () => {
    await freshIndexTable();
  });

  it('builds the index from the managed subscription with credentials read through getDetails', async () => {
    const plans = createPlanActivities(depsFor());
    await resetStats();
    const built = await plans.refreshIndex({ trigger: 'http' });
    expect(built).toMatchObject({
      registries: 2,
      tasks: 2,
      added: 2,
      removed: 0,
      pending: 0,
      detailReads: 2,
      errors: [],
    });
    const requests = await stats();
    expect(requests['tasks.getDetails']).toBe(2);
    expect(requests['registries.list']).toBe(1);
    expect(requests['tasks.list']).toBe(2);

    const snap = await plans.index();
    const dockerhub = snap.tasks.get(normalizeId(seed.taskIds[SEED.tasks.dockerhub]!))!;
    expect(dockerhub.info.credentials).toContainEqual(
      expect.objectContaining({
        loginServer: 'docker.io',
        identity: '[system]',
        password: expect.objectContaining({ kind: 'vault', name: 'Password' }),
      }),
    );
    expect(await plans.indexSummary()).toMatchObject({ built: true, tasks: 2, registries: 2, pending: 0 });
  });

  it('refreshes an unchanged estate with one registry list and one task list per registry, and writes nothing', async () => {
    const plans = createPlanActivities(depsFor());
    const first = await plans.refreshIndex({ trigger: 'http' });
    await resetStats();
    const again = await plans.refreshIndex({ trigger: 'timer' });
    const { ['identity.token']: _tokens, ...requests } = await stats();
    expect(requests).toEqual({ 'registries.list': 1, 'tasks.list': 2, '*read': 3 });
    expect(again).toMatchObject({
      version: first.version,
      added: 0,
      changed: 0,
      removed: 0,
      armReads: 3,
      detailReads: 0,
    });
  });

  it("re-indexes the tasks whose runs (started by ACR's own trigger) recorded a new base digest from the list alone, without getDetails", async () => {
    const plans = createPlanActivities(depsFor());
    const first = await plans.refreshIndex({ trigger: 'http' });
    const digest = t.emu.services.registryData!.pushSyntheticImage(
      SEED.baseRegistry,
      SEED.baseImage.repository,
      SEED.baseImage.tag,
      unique('label'),
    ).digest;
    const hello = seed.taskIds[SEED.tasks.hello]!;
    // The seed's tasks carry ACR's base-image trigger (as `az acr task create` sets it): the push runs both of them.
    const triggered = async () => {
      const runs = [];
      for await (const r of acr.runs.list(rg, SEED.appRegistry)) {
        if (r.imageUpdateTrigger?.images?.some((i) => i.digest === digest)) runs.push(r);
      }
      return runs;
    };
    for (let i = 0; ; i++) {
      const runs = await triggered();
      if (runs.length === 2 && runs.every((r) => r.status === 'Succeeded')) break;
      if (i > 500) throw new Error(`native runs for ${digest}: ${JSON.stringify(runs.map((r) => [r.task, r.status]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await triggered()).map((r) => r.task).sort()).toEqual([SEED.tasks.dockerhub, SEED.tasks.hello]);
    await resetStats();
    const after = await plans.refreshIndex({ trigger: 'timer' });
    expect(after).toMatchObject({ changed: 2, added: 0, detailReads: 0, version: first.version + 1 });
    expect((await stats())['tasks.getDetails']).toBeUndefined();
    const stored = (await plans.index()).tasks.get(normalizeId(hello))!;
    expect(stored.info.baseImages).toContainEqual(expect.objectContaining({ source: 'recorded', digest }));
    expect(stored.info.credentials).toEqual([
      { loginServer: 'mybaseregistry.azurecr.io', identity: seed.identity.clientId },
    ]);
  });

  it('reads getDetails once for a task whose credentials changed, and drops a deleted task', async () => {
    const plans = createPlanActivities(depsFor());
    await plans.refreshIndex({ trigger: 'http' });
    const name = unique('credtask');
    const created = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, name, taskBody(name));
    await resetStats();
    expect(await plans.refreshIndex({ trigger: 'timer' })).toMatchObject({ added: 1, detailReads: 1 });

    await acr.tasks.beginUpdateAndWait(rg, SEED.appRegistry, name, {
      credentials: { customRegistries: { 'docker.io': { identity: '[system]' } } },
    });
    await resetStats();
    expect(await plans.refreshIndex({ trigger: 'timer' })).toMatchObject({ changed: 1, detailReads: 1 });
    expect((await stats())['tasks.getDetails']).toBe(1);
    const stored = (await plans.index()).tasks.get(normalizeId(created.id!))!;
    expect(stored.info.credentials.map((c) => c.loginServer).sort()).toEqual([
      'docker.io',
      'mybaseregistry.azurecr.io',
    ]);

    await acr.tasks.beginDeleteAndWait(rg, SEED.appRegistry, name);
    const removed = await plans.refreshIndex({ trigger: 'timer' });
    expect(removed).toMatchObject({ removed: 1, tasks: 2 });
    expect((await plans.index()).tasks.has(normalizeId(created.id!))).toBe(false);
  });

  it('keeps tasks beyond the getDetails budget pending; preflight reads them live and writes them through', async () => {
    const plans = createPlanActivities(depsFor());
    const partial = await plans.refreshIndex({ trigger: 'http', maxDetailReads: 1 });
    expect(partial).toMatchObject({ tasks: 2, detailReads: 1, pending: 1 });
    const verdicts = await plans.preflightTasks({ taskIds: Object.values(seed.taskIds) });
    for (const id of Object.values(seed.taskIds))
      expect(verdicts[id]).toMatchObject({ decision: 'ready', reasons: [] });
    expect(verdicts[seed.taskIds[SEED.tasks.hello]!]!.identity['mybaseregistry.azurecr.io']).toMatchObject({
      kind: 'user',
      clientId: seed.identity.clientId,
    });
    // What preflight read is in the index now: the next refresh has nothing left to read.
    expect((await plans.index()).meta.pending).toBe(0);
    const rest = await plans.refreshIndex({ trigger: 'http', maxDetailReads: 1 });
    expect(rest).toMatchObject({ detailReads: 0, pending: 0 });
  });

  it('indexes a task without custom registry credentials from the masked list alone (no getDetails)', async () => {
    const plans = createPlanActivities(depsFor());
    await plans.refreshIndex({ trigger: 'http' });
    const name = unique('plaintask');
    const created = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, name, {
      ...taskBody(name),
      credentials: undefined,
    });
    await resetStats();
    expect(await plans.refreshIndex({ trigger: 'timer' })).toMatchObject({ added: 1, detailReads: 0, pending: 0 });
    expect((await stats())['tasks.getDetails']).toBeUndefined();
    const stored = (await plans.index()).tasks.get(normalizeId(created.id!))!;
    expect(stored).toMatchObject({ needsDetails: false, info: { credentials: [] } });
    expect(stored.detailsReadAt).not.toBe('');
    await acr.tasks.beginDeleteAndWait(rg, SEED.appRegistry, name);
  });

  it('re-reads named tasks and every task of named registries in full on a targeted refresh', async () => {
    const plans = createPlanActivities(depsFor());
    await plans.refreshIndex({ trigger: 'http' });
    const hello = seed.taskIds[SEED.tasks.hello]!;
    await resetStats();
    expect(await plans.refreshIndex({ trigger: 'http', tasks: [hello.toUpperCase()] })).toMatchObject({
      detailReads: 1,
      errors: [],
    });
    expect((await stats())['tasks.getDetails']).toBe(1);
    const appRegistry = hello.replace(/\/tasks\/[^/]+$/, '');
    expect(await plans.refreshIndex({ trigger: 'http', registries: [appRegistry] })).toMatchObject({ detailReads: 2 });
  });

  it('re-checks a blocking verdict against the task as it is now, and writes what it read through', async () => {
    const plans = createPlanActivities(depsFor());
    const name = unique('fixtask');
    const stranger = 'dddddddd-0000-4000-8000-000000000013';
    const created = await acr.tasks.beginCreateAndWait(
      rg,
      SEED.appRegistry,
      name,
      taskBody(name, { customRegistries: { 'mybaseregistry.azurecr.io': { identity: stranger } } }),
    );
    await plans.refreshIndex({ trigger: 'http' });
    const blocked = (await plans.preflightTasks({ taskIds: [created.id!] }))[created.id!]!;
    expect(blocked).toMatchObject({
      decision: 'blocked',
      reasons: [expect.objectContaining({ code: 'UnknownIdentity' })],
    });
    expect(blocked.reasons[0]!.fix).toContain(`--use-identity ${seed.identity.clientId}`);

    // The printed fix, applied; no refresh.
    await acr.tasks.beginUpdateAndWait(rg, SEED.appRegistry, name, {
      credentials: { customRegistries: { 'mybaseregistry.azurecr.io': { identity: seed.identity.clientId } } },
    });
    await resetStats();
    const verdict = (await plans.preflightTasks({ taskIds: [created.id!] }))[created.id!]!;
    expect(verdict).toMatchObject({ decision: 'ready', reasons: [] });
    // The index (not only this verdict) knows: the stored task was read once, so the next check is free.
    const requests = await stats();
    expect(requests['tasks.getDetails']).toBe(1);
    expect((await plans.index()).tasks.get(normalizeId(created.id!))!.info.credentials).toEqual([
      { loginServer: 'mybaseregistry.azurecr.io', identity: seed.identity.clientId },
    ]);
    await resetStats();
    expect((await plans.preflightTasks({ taskIds: [created.id!] }))[created.id!]).toMatchObject({ decision: 'ready' });
    expect((await stats())['tasks.getDetails']).toBeUndefined();
    await acr.tasks.beginDeleteAndWait(rg, SEED.appRegistry, name);
  });

  it('shares one index copy per version: a second process sees a refresh written by the first', async () => {
    const writer = createPlanActivities(depsFor());
    const reader = createPlanActivities(depsFor(), { indexCheckIntervalMs: 0 });
    await writer.refreshIndex({ trigger: 'http' });
    const before = await reader.index();
    expect(before.tasks.size).toBe(2);
    const name = unique('seen');
    await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, name, taskBody(name));
    await writer.refreshIndex({ trigger: 'http' });
    const after = await reader.index();
    expect(after.meta.version).toBe(before.meta.version + 1);
    expect(after.tasks.size).toBe(3);
    await acr.tasks.beginDeleteAndWait(rg, SEED.appRegistry, name);
  });

  it('builds the index on first use when a plan needs it', async () => {
    const plans = createPlanActivities(depsFor());
    expect(await plans.indexSummary()).toMatchObject({ built: false, tasks: 0 });
    const plan = await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: false });
    expect(plan.waves.flat()).toHaveLength(2);
    expect(await new IndexStore(depsFor().clients.table(INDEX_TABLE)).readMeta()).toMatchObject({ tasks: 2 });
  });
});

describe('preflight reads', () => {
  it('reads the role assignments of a base registry once for 100 tasks that pull from it', async () => {
    await freshIndexTable();
    await t.admin('PUT', '/throttle', { enabled: false });
    const names = Array.from({ length: 100 }, () => unique('many'));
    try {
      for (const name of names) await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, name, taskBody(name));
      const plans = createPlanActivities(depsFor());
      await plans.refreshIndex({ trigger: 'http' });
      const snap = await plans.index();
      const ids = [...snap.tasks.values()].filter((s) => names.includes(s.info.name)).map((s) => s.taskId);
      expect(ids).toHaveLength(100);

      await resetStats();
      const verdicts = await plans.preflightTasks({ taskIds: ids });
      const { ['identity.token']: tokens = 0, ['*read']: reads, ...requests } = await stats();
      expect(Object.values(verdicts).filter((v) => v.decision === 'ready')).toHaveLength(100);
      // One list at the registry (atScope: inherited included), one registry GET, and one read per distinct role
      // assigned at or above it (Owner, Reader, Container Registry Tasks Contributor, AcrPull) — for 100 tasks.
      expect(requests).toEqual({ 'roleAssignments.list': 1, 'registries.get': 1, 'roleDefinitions.get': 4 });
      expect(reads! - tokens).toBe(6);
    } finally {
      for (const name of names) await acr.tasks.beginDeleteAndWait(rg, SEED.appRegistry, name).catch(() => {});
      await t.admin('PUT', '/throttle', { enabled: true });
    }
  });
});
