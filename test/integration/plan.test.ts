// Plans and preflight against the emulator (seed scenario) with the real SDK clients and Azurite: every verdict is
// checked against the emulator's own run outcome for the same state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { SecretClient } from '@azure/keyvault-secrets';
import { TableClient } from '@azure/data-tables';
import { appPrincipal, type TestEmulator } from '../support/emulator.js';
import type { RunningAzurite } from '../../local/stack/azurite.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import type { Settings } from '../../src/config/settings.js';
import type { Deps } from '../../src/activities/deps.js';
import { createPlanActivities, INDEX_TABLE, type PlanActivities } from '../../src/activities/plan/index.js';
import type { PlanView, PlanEntry } from '../../src/contracts/index.js';
import { ROLE_IDS, repositoryReadCondition } from '../../src/domain/index.js';

const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;

let harness: AppHarness;
let t: TestEmulator;
let az: RunningAzurite;
let seed: SeedResult;
let settings: Settings;
let deps: Deps;
let plans: PlanActivities;
let acr: ContainerRegistryManagementClient;
let authz: AuthorizationManagementClient;
let kvm: KeyVaultManagementClient;
let msi: ManagedServiceIdentityClient;
let password: string;
const logs: string[] = [];
let sub: string;
let rgId: string;
const rg = SEED.resourceGroup;

const arm = () => ({ endpoint: t.emu.armEndpoint, credentialScopes: ['https://management.azure.com/.default'] });
const roleDef = (guid: string) => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

beforeAll(async () => {
  harness = await startAppHarness({ runDurationMs: 50, seed: { runTasksOnce: true }, log: (m) => logs.push(m) });
  ({ t, azurite: az, seed, settings, deps } = harness);
  sub = t.emu.subscriptionId;
  rgId = `/subscriptions/${sub}/resourceGroups/${rg}`;
  plans = createPlanActivities(deps);
  acr = new ContainerRegistryManagementClient(t.operator, sub, arm());
  authz = new AuthorizationManagementClient(t.operator, sub, arm());
  // The new-generation Key Vault client reads `credentials.scopes`, not credentialScopes.
  kvm = new KeyVaultManagementClient(t.operator, sub, {
    endpoint: t.emu.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });
  msi = new ManagedServiceIdentityClient(t.operator, sub, arm());
  const secrets = new SecretClient(seed.vaultUri.replace(/\/+$/, ''), t.operator, {
    disableChallengeResourceVerification: true,
  });
  password = (await secrets.getSecret('Password')).value!;
});

afterAll(async () => {
  await harness?.stop();
});

/** Schedules a run of the task as the operator and waits for the emulator's verdict. */
async function runOutcome(taskId: string): Promise<{ status: string; runErrorMessage?: string }> {
  const [, , , , , , , , registry] = taskId.split('/');
  const run = await acr.registries.beginScheduleRunAndWait(rg, registry!, { type: 'TaskRunRequest', taskId });
  let current = run;
  while (!TERMINAL.includes(current.status ?? '')) {
    await new Promise((r) => setTimeout(r, 20));
    current = await acr.runs.get(rg, registry!, run.runId!);
  }
  return { status: current.status!, ...(current.runErrorMessage ? { runErrorMessage: current.runErrorMessage } : {}) };
}

function taskOf(plan: PlanView, taskId: string): PlanEntry {
  const found = Object.values(plan.tasks).find((p) => p.task.toLowerCase() === taskId.toLowerCase());
  if (!found) throw new Error(`task ${taskId} not in plan: ${Object.keys(plan.tasks).join(', ')}`);
  return found;
}

/** The seed creates its tasks as `az acr task create` does: ACR's base-image trigger on (the default policy adopts). */
const nativeTrigger = (taskName: string) =>
  expect.objectContaining({
    code: 'NativeTriggerEnabled',
    severity: 'info',
    fix: `az acr task update --name ${taskName} --registry ${SEED.appRegistry} --base-image-trigger-enabled false`,
  });

const helloId = () => seed.taskIds[SEED.tasks.hello]!;
const dockerhubId = () => seed.taskIds[SEED.tasks.dockerhub]!;
const baseRegistryId = () => seed.registries[SEED.baseRegistry]!;

describe('buildPlan with preflight on the seed scenario', () => {
  it('plans helloworldtask as rebuild in wave 1 with its user-assigned identity, and the run succeeds', async () => {
    const plan = await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true });
    const hello = taskOf(plan, helloId());
    expect(hello).toMatchObject({ decision: 'rebuild', wave: 1, taskName: SEED.tasks.hello });
    expect(hello.reasons).toEqual([nativeTrigger(SEED.tasks.hello)]);
    expect(hello.identity['mybaseregistry.azurecr.io']).toEqual({
      kind: 'user',
      principalId: seed.identity.principalId,
      clientId: seed.identity.clientId,
    });
    expect(hello.baseImages).toContainEqual(expect.objectContaining({ ref: seed.baseImageRef }));
    expect(plan.waves[0]).toEqual(expect.arrayContaining([helloId(), dockerhubId()]));
    expect(taskOf(plan, dockerhubId()).decision).toBe('rebuild');
    expect(await runOutcome(helloId())).toMatchObject({ status: 'Succeeded' });
    expect(await runOutcome(dockerhubId())).toMatchObject({ status: 'Succeeded' });
  });

  it("plans a dependent already built from the pushed digest when ACR's trigger may have built it, and skips it under ignore", async () => {
    const image = { ref: seed.baseImageRef, digest: seed.baseDigest };
    // With the trigger on, the run that recorded the digest may be ACR's own for this push: the cascade adopts it.
    const hello = taskOf(await plans.buildPlan({ image, preflight: false }), helloId());
    expect(hello).toMatchObject({ decision: 'rebuild', wave: 1, nativeTrigger: true, upToDate: true });
    const ignoring = createPlanActivities({ ...deps, settings: { ...settings, nativeTriggers: 'ignore' } });
    const skipped = taskOf(await ignoring.buildPlan({ image, preflight: false }), helloId());
    expect(skipped.decision).toBe('skip');
    expect(skipped.reasons[0]?.code).toBe('UpToDate');
  });

  it('blocks helloworldtask with MissingPullPermission and the exact fix once its AcrPull is removed, and AcrPull at the resource group makes it rebuild again', async () => {
    const assignmentId = seed.assignments['helloworldtask-acrpull']!;
    await authz.roleAssignments.deleteById(assignmentId);
    let rgAssignment: string | undefined;
    try {
      const blocked = taskOf(await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true }), helloId());
      expect(blocked.decision).toBe('blocked');
      expect(blocked.reasons).toEqual([
        nativeTrigger(SEED.tasks.hello),
        expect.objectContaining({
          code: 'MissingPullPermission',
          severity: 'blocking',
          fix: `az role assignment create --assignee ${seed.identity.principalId} --scope ${baseRegistryId()} --role acrpull`,
        }),
      ]);
      expect(await runOutcome(helloId())).toMatchObject({ status: 'Failed' });

      const ra = await authz.roleAssignments.create(rgId, guidFrom(unique('rg-acrpull')), {
        roleDefinitionId: roleDef(ROLE_IDS.AcrPull),
        principalId: seed.identity.principalId,
        principalType: 'ServicePrincipal',
      });
      rgAssignment = ra.id!;
      const again = taskOf(await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true }), helloId());
      expect(again).toMatchObject({ decision: 'rebuild', reasons: [nativeTrigger(SEED.tasks.hello)] });
      expect(await runOutcome(helloId())).toMatchObject({ status: 'Succeeded' });
    } finally {
      if (rgAssignment) await authz.roleAssignments.deleteById(rgAssignment);
      await authz.roleAssignments.create(baseRegistryId(), assignmentId.split('/').pop()!, {
        roleDefinitionId: roleDef(ROLE_IDS.AcrPull),
        principalId: seed.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    }
  });

  it('blocks dockerhubtask with KeyVaultAccessDenied and the set-policy fix when its vault access is removed', async () => {
    const policy = {
      properties: {
        accessPolicies: [
          { tenantId: t.emu.tenantId, objectId: seed.dockerhubPrincipalId, permissions: { secrets: ['get'] } },
        ],
      },
    };
    await kvm.vaults.updateAccessPolicy(rg, SEED.vault, 'remove', policy);
    try {
      const dockerhub = taskOf(
        await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true }),
        dockerhubId(),
      );
      expect(dockerhub.decision).toBe('blocked');
      const codes = dockerhub.reasons.map((r) => r.code);
      expect(codes).toEqual(['NativeTriggerEnabled', 'KeyVaultAccessDenied', 'KeyVaultAccessDenied']);
      expect(dockerhub.reasons[1]!.fix).toBe(
        `az keyvault set-policy --name ${SEED.vault} --object-id ${seed.dockerhubPrincipalId} --secret-permissions get`,
      );
      expect(await runOutcome(dockerhubId())).toMatchObject({ status: 'Failed' });
    } finally {
      await kvm.vaults.updateAccessPolicy(rg, SEED.vault, 'add', policy);
    }
    const restored = taskOf(
      await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true }),
      dockerhubId(),
    );
    expect(restored.decision).toBe('rebuild');
    expect(await runOutcome(dockerhubId())).toMatchObject({ status: 'Succeeded' });
  });

  it('reports that nothing depends on an image no managed task builds from', async () => {
    const plan = await plans.buildPlan({ image: { ref: 'mybaseregistry.azurecr.io/other/thing:1' }, preflight: true });
    expect(plan.waves).toEqual([]);
    expect(plan.tasks).toEqual({});
    expect(plan.notes?.map((n) => n.code)).toEqual(['BaseNotFound']);
  });

  it('plans requested tasks by id and reports unknown ones as TaskNotFound', async () => {
    const missing = `${seed.registries[SEED.appRegistry]}/tasks/nosuchtask`;
    const plan = await plans.buildPlan({ tasks: [helloId(), missing], preflight: true });
    expect(taskOf(plan, helloId())).toMatchObject({ decision: 'rebuild', wave: 1 });
    expect(plan.tasks[missing]).toMatchObject({
      decision: 'blocked',
      reasons: [expect.objectContaining({ code: 'TaskNotFound' })],
    });
  });
});

describe('ABAC-mode base registry', () => {
  it('does not accept AcrPull, and accepts Container Registry Repository Reader with the repository condition', async () => {
    const regName = unique('abacbase');
    const registry = await acr.registries.beginCreateAndWait(rg, regName, {
      location: SEED.location,
      sku: { name: 'Premium' },
      roleAssignmentMode: 'AbacRepositoryPermissions',
    });
    const ls = registry.loginServer!;
    t.emu.services.registryData!.pushSyntheticImage(regName, 'baseimages/python', '3');
    const baseRef = `${ls}/baseimages/python:3`;
    const ident = await msi.userAssignedIdentities.createOrUpdate(rg, unique('abacid'), { location: SEED.location });
    const yaml = `version: v1.1.0\nsteps:\n  - build: -t $Registry/abacapp:$ID -f Dockerfile . --build-arg BASE=${baseRef}\n`;
    const task = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, unique('abactask'), {
      location: SEED.location,
      tags: { 'cascade.baseImages': baseRef },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [ident.id!]: {} } },
      platform: { os: 'Linux' },
      step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64'), contextPath: '/dev/null' },
      credentials: { customRegistries: { [ls]: { identity: ident.clientId! } } },
      timeout: 600,
    });
    await authz.roleAssignments.create(registry.id!, guidFrom(unique('abac-acrpull')), {
      roleDefinitionId: roleDef(ROLE_IDS.AcrPull),
      principalId: ident.principalId!,
      principalType: 'ServicePrincipal',
    });
    await plans.refreshIndex({ trigger: 'http' });

    const blocked = taskOf(await plans.buildPlan({ image: { ref: baseRef }, preflight: true }), task.id!);
    expect(blocked.decision).toBe('blocked');
    const condition = repositoryReadCondition('baseimages/python');
    expect(blocked.reasons[0]).toMatchObject({
      code: 'MissingPullPermission',
      remediation: { roleName: 'Container Registry Repository Reader', condition },
    });
    expect(blocked.reasons[0]!.fix).toContain(`--role "Container Registry Repository Reader"`);
    expect(await runOutcome(task.id!)).toMatchObject({ status: 'Failed' });

    await authz.roleAssignments.create(registry.id!, guidFrom(unique('abac-reader')), {
      roleDefinitionId: roleDef(ROLE_IDS.ContainerRegistryRepositoryReader),
      principalId: ident.principalId!,
      principalType: 'ServicePrincipal',
      condition,
      conditionVersion: '2.0',
    });
    const ready = taskOf(await plans.buildPlan({ image: { ref: baseRef }, preflight: true }), task.id!);
    expect(ready).toMatchObject({ decision: 'rebuild', reasons: [] });
    expect(await runOutcome(task.id!)).toMatchObject({ status: 'Succeeded' });
  });
});

describe('remediatePull in ABAC mode', () => {
  it('creates Container Registry Repository Reader with the repository condition, after which the run succeeds', async () => {
    const regName = unique('abacrem');
    const registry = await acr.registries.beginCreateAndWait(rg, regName, {
      location: SEED.location,
      sku: { name: 'Premium' },
      roleAssignmentMode: 'AbacRepositoryPermissions',
    });
    const ls = registry.loginServer!;
    t.emu.services.registryData!.pushSyntheticImage(regName, 'team/base', '2');
    const baseRef = `${ls}/team/base:2`;
    const ident = await msi.userAssignedIdentities.createOrUpdate(rg, unique('abacremid'), { location: SEED.location });
    const yaml = `version: v1.1.0\nsteps:\n  - build: -t $Registry/abacrem:$ID -f Dockerfile . --build-arg BASE=${baseRef}\n`;
    const task = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, unique('abacremtask'), {
      location: SEED.location,
      tags: { 'cascade.baseImages': baseRef },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [ident.id!]: {} } },
      platform: { os: 'Linux' },
      step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64'), contextPath: '/dev/null' },
      credentials: { customRegistries: { [ls]: { identity: ident.clientId! } } },
      timeout: 600,
    });
    await authz.roleAssignments.create(registry.id!, guidFrom(unique('abacrem-admin')), {
      roleDefinitionId: roleDef('f58310d9-a9f6-439a-9e8d-f62e7b41a168'),
      principalId: appPrincipal(t.emu).objectId,
      principalType: 'ServicePrincipal',
    });
    await plans.refreshIndex({ trigger: 'http' });
    const blocked = taskOf(await plans.buildPlan({ tasks: [task.id!], preflight: true }), task.id!);
    expect(blocked.decision).toBe('blocked');
    expect(await runOutcome(task.id!)).toMatchObject({ status: 'Failed' });

    const on = createPlanActivities({ ...deps, settings: { ...settings, autoRemediate: true } });
    const done = await on.remediatePull({ task: task.id!, reasons: blocked.reasons });
    expect(done).toEqual({
      created: [
        expect.objectContaining({
          scope: registry.id,
          principalId: ident.principalId,
          roleName: 'Container Registry Repository Reader',
        }),
      ],
      failed: [],
    });
    const created = await authz.roleAssignments.getById(done.created[0]!.assignmentId);
    expect(created.condition).toBe(repositoryReadCondition('team/base'));
    expect(created.conditionVersion).toBe('2.0');
    expect(created.roleDefinitionId!.toLowerCase()).toContain(ROLE_IDS.ContainerRegistryRepositoryReader);

    expect(taskOf(await plans.buildPlan({ tasks: [task.id!], preflight: true }), task.id!).decision).toBe('rebuild');
    expect(await runOutcome(task.id!)).toMatchObject({ status: 'Succeeded' });
  });
});

describe('secret hygiene', () => {
  it('never puts the seed Password value in plans, the index table or logs', async () => {
    const plan = await plans.buildPlan({ image: { ref: seed.baseImageRef }, preflight: true });
    const table = TableClient.fromConnectionString(az.connectionString, INDEX_TABLE, { allowInsecureConnection: true });
    const entities: unknown[] = [];
    for await (const e of table.listEntities()) entities.push(e);
    expect(entities.length).toBeGreaterThan(2);
    const everything = JSON.stringify({ plan, entities, logs, summary: await plans.indexSummary() });
    expect(everything).toContain('/secrets/Password'); // the reference is there…
    expect(everything).not.toContain(password); // …the value never is
  });
});

describe('remediatePull', () => {
  it('reports instead of acting when off, reports a 403 when the app may not assign roles, and creates AcrPull once allowed', async () => {
    const ident = await msi.userAssignedIdentities.createOrUpdate(rg, unique('remid'), { location: SEED.location });
    const yaml = `version: v1.1.0\nsteps:\n  - build: -t $Registry/remapp:$ID -f Dockerfile . --build-arg BASE=${seed.baseImageRef}\n`;
    const task = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, unique('remtask'), {
      location: SEED.location,
      tags: { 'cascade.baseImages': seed.baseImageRef },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [ident.id!]: {} } },
      platform: { os: 'Linux' },
      step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64'), contextPath: '/dev/null' },
      credentials: { customRegistries: { 'mybaseregistry.azurecr.io': { identity: ident.clientId! } } },
      timeout: 600,
    });
    await plans.refreshIndex({ trigger: 'http' });
    const blocked = taskOf(await plans.buildPlan({ tasks: [task.id!], preflight: true }), task.id!);
    expect(blocked).toMatchObject({
      decision: 'blocked',
      reasons: [expect.objectContaining({ code: 'MissingPullPermission' })],
    });
    const input = { task: task.id!, reasons: blocked.reasons };

    const off = await plans.remediatePull(input);
    expect(off.created).toEqual([]);
    expect(off.failed).toEqual([
      expect.objectContaining({
        scope: baseRegistryId(),
        principalId: ident.principalId,
        message: expect.stringContaining('auto-remediation is off'),
      }),
    ]);

    const onDeps: Deps = { ...deps, settings: { ...settings, autoRemediate: true } };
    const on = createPlanActivities(onDeps);
    const denied = await on.remediatePull(input);
    expect(denied.created).toEqual([]);
    expect(denied.failed[0]!.message).toContain('AuthorizationFailed');

    // Role Based Access Control Administrator for the app at the base registry.
    await authz.roleAssignments.create(baseRegistryId(), guidFrom(unique('app-rbac-admin')), {
      roleDefinitionId: roleDef('f58310d9-a9f6-439a-9e8d-f62e7b41a168'),
      principalId: appPrincipal(t.emu).objectId,
      principalType: 'ServicePrincipal',
    });
    const done = await on.remediatePull(input);
    expect(done.failed).toEqual([]);
    expect(done.created).toEqual([
      expect.objectContaining({ scope: baseRegistryId(), principalId: ident.principalId, roleName: 'AcrPull' }),
    ]);
    const created = await authz.roleAssignments.getById(done.created[0]!.assignmentId);
    expect(created).toMatchObject({ principalType: 'ServicePrincipal', principalId: ident.principalId });
    expect(created.roleDefinitionId!.toLowerCase()).toContain(ROLE_IDS.AcrPull);

    const again = await on.remediatePull(input);
    expect(again.created[0]!.assignmentId).toBe(done.created[0]!.assignmentId);

    expect(taskOf(await plans.buildPlan({ tasks: [task.id!], preflight: true }), task.id!).decision).toBe('rebuild');
    expect(await runOutcome(task.id!)).toMatchObject({ status: 'Succeeded' });
  });
});
