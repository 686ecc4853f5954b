// ACR's native base-image trigger, through the official SDK: a task with `trigger.baseImageTrigger` Enabled (what
// `az acr task create` sends) runs by itself when a base it recorded is updated in a registry of the emulator; the run
// names the update in `imageUpdateTrigger`. `Runtime` follows only the runtime base, `All` every base; a disabled
// trigger, an unchanged digest or a task that never ran (no recorded bases) start nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient, type Run, type Task } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';

const ARM = { credentialScopes: ['https://management.azure.com/.default'] };
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
const RG = 'rg-native-triggers';
/** What `az acr task create` sends unless told `--base-image-trigger-enabled false`. */
const CLI_TRIGGER: Task['trigger'] = {
  baseImageTrigger: {
    name: 'defaultBaseimageTriggerName',
    status: 'Enabled',
    baseImageTriggerType: 'Runtime',
    updateTriggerPayloadType: 'Default',
  },
};

let t: TestEmulator;
let client: ContainerRegistryManagementClient;
let uai: { id: string; clientId: string };
let base: { name: string; loginServer: string };
let app: { name: string; loginServer: string };
let counter = 0;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const pushBase = (repository: string, label: string) =>
  t.emu.services.registryData!.pushSyntheticImage(base.name, repository, '1', label).digest;

beforeAll(async () => {
  t = await startTestEmulator();
  const opts = { endpoint: t.emu.armEndpoint, ...ARM };
  client = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, opts);
  const { token } = (await t.operator.getToken(ARM.credentialScopes))!;
  await fetch(
    `${t.emu.armEndpoint}/subscriptions/${t.emu.subscriptionId}/resourcegroups/${RG}?api-version=2021-04-01`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: 'eastus' }),
    },
  );
  const msi = new ManagedServiceIdentityClient(t.operator, t.emu.subscriptionId, opts);
  const identity = await msi.userAssignedIdentities.createOrUpdate(RG, 'tasksId', { location: 'eastus' });
  uai = { id: identity.id!, clientId: identity.clientId! };
  const registry = async (name: string) => {
    const r = await client.registries.beginCreateAndWait(RG, name, { location: 'eastus', sku: { name: 'Standard' } });
    return { name, id: r.id!, loginServer: r.loginServer! };
  };
  const b = await registry('nativebase');
  base = b;
  app = await registry('nativeapp');
  const authz = new AuthorizationManagementClient(t.operator, t.emu.subscriptionId, opts);
  await authz.roleAssignments.create(b.id, randomUUID(), {
    roleDefinitionId: `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
    principalId: identity.principalId!,
    principalType: 'ServicePrincipal',
  });
  expect((await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 })).status).toBe(200);
});
afterAll(async () => {
  await t?.stop();
});

/** An encoded task building FROM the given bases (the last one is the final stage) and pushing `output`. */
function buildTask(bases: string[], output: string, trigger: Task['trigger'] | null = CLI_TRIGGER): Task {
  const yaml = [
    'version: v1.1.0',
    'steps:',
    `  - build: -t $Registry/${output}:1 .`,
    `  - push: ["$Registry/${output}:1"]`,
    ...bases.map((b, i) => `FROM ${b}${i < bases.length - 1 ? ` AS stage${i}` : ''}`),
  ].join('\n');
  return {
    location: 'eastus',
    platform: { os: 'Linux' },
    step: { type: 'EncodedTask', encodedTaskContent: b64(yaml) },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [uai.id]: {} } },
    credentials: { customRegistries: { [base.loginServer]: { identity: uai.clientId } } },
    ...(trigger ? { trigger } : {}),
  };
}

async function createTask(task: Task): Promise<string> {
  const name = `native${++counter}`;
  await client.tasks.beginCreateAndWait(RG, app.name, name, task);
  return name;
}

async function runsOf(task: string): Promise<Run[]> {
  const out: Run[] = [];
  for await (const r of client.runs.list(RG, app.name, { filter: `TaskName eq '${task}'` })) out.push(r);
  return out;
}

/** Lets emulator time pass so every queued run finishes (and pushes its outputs). */
const settle = () => t.admin('POST', '/clock/advance', { seconds: 2 });

/** A first run records the task's bases (ACR tracks them only once the task has run). */
async function runOnce(task: string): Promise<void> {
  const { id } = await client.tasks.get(RG, app.name, task);
  const run = await client.registries.beginScheduleRunAndWait(RG, app.name, { type: 'TaskRunRequest', taskId: id! });
  await settle();
  expect((await client.runs.get(RG, app.name, run.runId!)).status).toBe('Succeeded');
}

describe('native base-image trigger', () => {
  it('runs a task when its recorded runtime base is updated, naming the update in imageUpdateTrigger', async () => {
    const first = pushBase('node', 'node-v1');
    const task = await createTask(buildTask([`${base.loginServer}/node:1`], 'web'));
    await runOnce(task);
    const details = await client.tasks.getDetails(RG, app.name, task);
    expect(details.trigger?.baseImageTrigger).toMatchObject({ status: 'Enabled', baseImageTriggerType: 'Runtime' });
    expect(details.step?.baseImageDependencies).toEqual([
      { type: 'RunTime', registry: base.loginServer, repository: 'node', tag: '1', digest: first },
    ]);
    expect(await runsOf(task)).toHaveLength(1);

    const second = pushBase('node', 'node-v2');
    const runs = await runsOf(task);
    expect(runs).toHaveLength(2);
    const native = runs[0]!; // newest first
    expect(native.imageUpdateTrigger?.images).toEqual([
      { registry: base.loginServer, repository: 'node', tag: '1', digest: second },
    ]);
    expect(native.imageUpdateTrigger?.id).toEqual(expect.any(String));
    expect(native).toMatchObject({ status: 'Queued', task });
    expect(runs[1]!.imageUpdateTrigger).toBeUndefined();
    await settle();
    expect((await client.runs.get(RG, app.name, native.runId!)).status).toBe('Succeeded');
    // The run recorded the new base; pushing the same digest again is no update.
    expect((await client.tasks.getDetails(RG, app.name, task)).step?.baseImageDependencies?.[0]?.digest).toBe(second);
    pushBase('node', 'node-v2');
    expect(await runsOf(task)).toHaveLength(2);
  });

  it('starts nothing for a disabled trigger, a task without one, or a task that never ran', async () => {
    pushBase('alpine', 'alpine-v1');
    const disabled = await createTask(buildTask([`${base.loginServer}/alpine:1`], 'a1'));
    const without = await createTask(buildTask([`${base.loginServer}/alpine:1`], 'a2', null));
    const neverRan = await createTask(buildTask([`${base.loginServer}/alpine:1`], 'a3'));
    await runOnce(disabled);
    await runOnce(without);
    const patched = await client.tasks.beginUpdateAndWait(RG, app.name, disabled, {
      trigger: { baseImageTrigger: { name: 'defaultBaseimageTriggerName', status: 'Disabled' } },
    });
    expect(patched.trigger?.baseImageTrigger?.status).toBe('Disabled');
    expect((await client.tasks.get(RG, app.name, without)).trigger).toBeUndefined();
    pushBase('alpine', 'alpine-v2');
    expect((await runsOf(disabled)).length).toBe(1);
    expect((await runsOf(without)).length).toBe(1);
    expect(await runsOf(neverRan)).toEqual([]);
  });

  it('follows build-stage bases only with baseImageTriggerType All', async () => {
    pushBase('sdk', 'sdk-v1');
    pushBase('runtime', 'runtime-v1');
    const bases = [`${base.loginServer}/sdk:1`, `${base.loginServer}/runtime:1`];
    const runtimeOnly = await createTask(buildTask(bases, 'r1'));
    const all = await createTask(
      buildTask(bases, 'r2', { baseImageTrigger: { name: 'b', status: 'Enabled', baseImageTriggerType: 'All' } }),
    );
    await runOnce(runtimeOnly);
    await runOnce(all);
    expect((await client.tasks.getDetails(RG, app.name, all)).step?.baseImageDependencies?.map((d) => d.type)).toEqual([
      'BuildTime',
      'RunTime',
    ]);
    pushBase('sdk', 'sdk-v2'); // build stage
    expect((await runsOf(runtimeOnly)).length).toBe(1);
    expect((await runsOf(all)).length).toBe(2);
    await settle();
    pushBase('runtime', 'runtime-v2'); // runtime stage
    expect((await runsOf(runtimeOnly)).length).toBe(2);
    expect((await runsOf(all)).length).toBe(3);
  });

  it("chains by itself: a triggered run's output triggers the tasks built on it", async () => {
    pushBase('chain', 'chain-v1');
    const mid = await createTask(buildTask([`${base.loginServer}/chain:1`], 'mid'));
    await runOnce(mid);
    const leaf = await createTask({
      ...buildTask([`${app.loginServer}/mid:1`], 'leaf'),
      credentials: {},
    });
    await runOnce(leaf);
    expect((await runsOf(leaf))[0]!.status).toBe('Succeeded');
    pushBase('chain', 'chain-v2');
    expect((await runsOf(mid)).length).toBe(2);
    await settle(); // mid's native run pushes mid:1 → leaf's trigger fires
    const leafRuns = await runsOf(leaf);
    expect(leafRuns).toHaveLength(2);
    expect(leafRuns[0]!.imageUpdateTrigger?.images?.[0]).toMatchObject({
      registry: app.loginServer,
      repository: 'mid',
      tag: '1',
    });
  });
});
