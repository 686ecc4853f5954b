// ACR runs: scheduleRun, the run simulation (outcome from identities, role assignments, Key Vault and images),
// runs.list filters, cancel, logs, fail-next, and runs surviving a restart. Most runs are driven deterministically by
// advancing the emulator clock; one uses the real timers.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContainerRegistryManagementClient,
  type Run,
  type Task,
  type TaskRunRequest,
} from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { EmulatorTokenCredential, startTestEmulator, type TestEmulator } from '../support/emulator.js';
import { operatorPrincipal, startEmulator } from '../../local/azure/index.js';
import type { EmittedEvent } from '../../local/azure/core/emulator.js';

const ARM = { credentialScopes: ['https://management.azure.com/.default'] };
const ROLES = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  repositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
};
const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
const RG = 'rg-runs';

let t: TestEmulator;
let client: ContainerRegistryManagementClient;
let authz: AuthorizationManagementClient;
let uai: { id: string; principalId: string; clientId: string };
let base: { name: string; id: string; loginServer: string; digest: string };
let app: { name: string; id: string; loginServer: string };
const events: EmittedEvent[] = [];
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

beforeAll(async () => {
  t = await startTestEmulator();
  t.emu.onEvent((e) => events.push(e));
  const opts = { endpoint: t.emu.armEndpoint, ...ARM };
  client = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, opts);
  authz = new AuthorizationManagementClient(t.operator, t.emu.subscriptionId, opts);
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
  const identity = await msi.userAssignedIdentities.createOrUpdate(RG, 'myACRTasksId', { location: 'eastus' });
  uai = { id: identity.id!, principalId: identity.principalId!, clientId: identity.clientId! };
  base = { ...(await registry('mybaseregistry')), digest: '' };
  base.digest = t.emu.services.registryData!.pushSyntheticImage(base.name, 'baseimages/node', '15-alpine').digest;
  app = await registry('myregistry');
  // The seed's arrangement: the shared user-assigned identity may pull from the base registry.
  await grant(uai.principalId, ROLES.acrPull, base.id);
  // Runs finish after a second of emulator time; tests advance the clock instead of waiting.
  expect((await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 })).status).toBe(200);
});
afterAll(async () => {
  await t?.stop();
});

async function registry(name: string, mode?: 'AbacRepositoryPermissions', extra: Record<string, unknown> = {}) {
  const r = await client.registries.beginCreateAndWait(RG, name, {
    location: 'eastus',
    sku: { name: 'Standard' },
    ...(mode ? { roleAssignmentMode: mode } : {}),
    ...extra,
  });
  return { name, id: r.id!, loginServer: r.loginServer! };
}

async function grant(principalId: string, role: string, scope: string, condition?: string, name = randomUUID()) {
  await authz.roleAssignments.create(scope, name, {
    roleDefinitionId: `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
    principalId,
    principalType: 'ServicePrincipal',
    ...(condition ? { condition, conditionVersion: '2.0' } : {}),
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The seed's helloworldtask: build FROM a base named by a build argument, push to the task's registry. */
function helloTask(
  credentials: Task['credentials'],
  identity: Task['identity'] = {
    type: 'UserAssigned',
    userAssignedIdentities: { [uai.id]: {} },
  },
): Task {
  const yaml = [
    'version: v1.1.0',
    'steps:',
    '  # the base comes from a build argument so a run can override it',
    '  - build: -t $Registry/hello-world:$ID https://github.com/Azure-Samples/acr-build-helloworld-node.git -f Dockerfile-app --build-arg BASE_IMAGE={{.Values.base}}',
    '  - push: ["$Registry/hello-world:$ID"]',
  ].join('\n');
  return {
    location: 'eastus',
    platform: { os: 'Linux' },
    step: {
      type: 'EncodedTask',
      encodedTaskContent: b64(yaml),
      values: [{ name: 'base', value: `${base.loginServer}/baseimages/node:15-alpine` }],
    },
    identity,
    credentials,
  };
}

const viaUai = (loginServer = base.loginServer): Task['credentials'] => ({
  customRegistries: { [loginServer]: { identity: uai.clientId } },
});

async function createTask(registryName: string, task: Task, name = unique('task')) {
  const created = await client.tasks.beginCreateAndWait(RG, registryName, name, task);
  return { name, id: created.id!, principalId: created.identity?.principalId };
}

async function schedule(registryName: string, taskId: string, values?: Record<string, string>): Promise<Run> {
  const request: TaskRunRequest = {
    type: 'TaskRunRequest',
    taskId,
    ...(values
      ? { overrideTaskStepProperties: { values: Object.entries(values).map(([name, value]) => ({ name, value })) } }
      : {}),
  };
  return client.registries.beginScheduleRunAndWait(RG, registryName, request);
}

/** Lets emulator time pass until the run is due, then reads it. */
async function finished(registryName: string, runId: string): Promise<Run> {
  await t.admin('POST', '/clock/advance', { seconds: 2 });
  const run = await client.runs.get(RG, registryName, runId);
  expect(TERMINAL).toContain(run.status);
  return run;
}

describe('scheduleRun and the run simulation', () => {
  it('queues a run, then runs it to Succeeded on real timers, pushing the output and recording the base digest', async () => {
    const task = await createTask(app.name, helloTask(viaUai()));
    events.length = 0;
    // Queued for the first 10% of the duration: 2 s is far beyond scheduleRun's 202, its status poll and the final GET
    // of the run, even on a loaded machine (a shorter run made this assertion a race).
    await t.admin('PUT', '/acr/runs/config', { durationMs: 20_000 });
    const queued = await schedule(app.name, task.id);
    await t.admin('PUT', '/acr/runs/config', { durationMs: 200 });
    expect(queued).toMatchObject({ task: task.name, provisioningState: 'Succeeded' });
    // Queued, unless the 202's status polls (Retry-After honoured) outlasted the Queued window on a loaded machine.
    expect(['Queued', 'Running']).toContain(queued.status);
    expect(queued.runId).toMatch(/^[a-z]{2}[0-9a-z]+$/);
    let run = queued;
    // Real timers finish the run after 20 s; the emulator clock is moved on a second at a time to get there sooner.
    for (let i = 0; i < 400 && !TERMINAL.includes(run.status!); i++) {
      await new Promise((r) => setTimeout(r, 10));
      if (i % 10 === 9) await t.admin('POST', '/clock/advance', { seconds: 1 });
      run = await client.runs.get(RG, app.name, queued.runId!);
    }
    expect(run.status).toBe('Succeeded');
    expect(run.startTime!.getTime()).toBeLessThanOrEqual(run.finishTime!.getTime());
    const [output] = run.outputImages!;
    expect(output).toMatchObject({ registry: app.loginServer, repository: 'hello-world', tag: run.runId });
    expect(t.emu.services.registryData!.resolveImage(app.loginServer, 'hello-world', run.runId!)).toEqual({
      digest: output!.digest,
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        source: app.id,
        eventType: 'Microsoft.ContainerRegistry.ImagePushed',
        subject: `hello-world:${run.runId}`,
      }),
    );
    const details = await client.tasks.getDetails(RG, app.name, task.name);
    expect(details.step?.baseImageDependencies).toEqual([
      {
        type: 'RunTime',
        registry: base.loginServer,
        repository: 'baseimages/node',
        tag: '15-alpine',
        digest: base.digest,
      },
    ]);
  });

  it('moves Queued to Running after a tenth of the duration on the emulator clock', async () => {
    await t.admin('PUT', '/acr/runs/config', { durationMs: 100_000 });
    const task = await createTask(app.name, helloTask(viaUai()));
    const queued = await schedule(app.name, task.id);
    expect((await client.runs.get(RG, app.name, queued.runId!)).status).toBe('Queued');
    await t.admin('POST', '/clock/advance', { seconds: 11 });
    const running = await client.runs.get(RG, app.name, queued.runId!);
    expect(running.status).toBe('Running');
    expect(running.startTime).toBeInstanceOf(Date);
    await t.admin('POST', '/clock/advance', { seconds: 90 });
    expect((await client.runs.get(RG, app.name, queued.runId!)).status).toBe('Succeeded');
    await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 });
  });

  it('fails a run whose identity lacks pull on the base registry, and succeeds once AcrPull is granted', async () => {
    const other = await registry(unique('lockedbase'));
    t.emu.services.registryData!.pushSyntheticImage(other.name, 'baseimages/node', '15-alpine');
    const msi = new ManagedServiceIdentityClient(t.operator, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    const id = await msi.userAssignedIdentities.createOrUpdate(RG, unique('noroles'), { location: 'eastus' });
    const task = await createTask(
      app.name,
      helloTask(
        { customRegistries: { [other.loginServer]: { identity: id.clientId } } },
        { type: 'UserAssigned', userAssignedIdentities: { [id.id!]: {} } },
      ),
    );
    const values = { base: `${other.loginServer}/baseimages/node:15-alpine` };
    const failed = await finished(app.name, (await schedule(app.name, task.id, values)).runId!);
    expect(failed.status).toBe('Failed');
    expect(failed.runErrorMessage).toMatch(
      new RegExp(`^failed to login to registry '${other.loginServer}': unauthorized`),
    );
    expect(failed.outputImages).toBeUndefined();
    await grant(id.principalId!, ROLES.acrPull, other.id);
    const ok = await finished(app.name, (await schedule(app.name, task.id, values)).runId!);
    expect(ok.status).toBe('Succeeded');
    expect(ok.customRegistries).toEqual([other.loginServer]);
  });

  it('in ABAC mode ignores AcrPull and honours a Repository Reader assignment conditioned on the repository', async () => {
    const abac = await registry(unique('abacbase'), 'AbacRepositoryPermissions');
    t.emu.services.registryData!.pushSyntheticImage(abac.name, 'baseimages/node', '15-alpine');
    const task = await createTask(app.name, helloTask(viaUai(abac.loginServer)));
    const values = { base: `${abac.loginServer}/baseimages/node:15-alpine` };
    await grant(uai.principalId, ROLES.acrPull, abac.id);
    const denied = await finished(app.name, (await schedule(app.name, task.id, values)).runId!);
    expect(denied).toMatchObject({
      status: 'Failed',
      runErrorMessage: `pull access denied for ${abac.loginServer}/baseimages/node, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
    });
    const condition = (repo: string) =>
      `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase '${repo}'))`;
    // One assignment (the triple principal/role/scope is unique); its condition is then widened in place.
    const assignment = randomUUID();
    await grant(uai.principalId, ROLES.repositoryReader, abac.id, condition('other/repo'), assignment);
    const stillDenied = await finished(app.name, (await schedule(app.name, task.id, values)).runId!);
    expect(stillDenied.status).toBe('Failed');
    await grant(uai.principalId, ROLES.repositoryReader, abac.id, condition('baseimages/node'), assignment);
    const ok = await finished(app.name, (await schedule(app.name, task.id, values)).runId!);
    expect(ok.status).toBe('Succeeded');
  });

  it('fails a task in an ABAC registry that pushes to its own registry, which tasks cannot reach by default', async () => {
    const abacApp = await registry(unique('abacapp'), 'AbacRepositoryPermissions');
    const task = await createTask(abacApp.name, helloTask(viaUai()));
    const run = await finished(abacApp.name, (await schedule(abacApp.name, task.id)).runId!);
    expect(run.status).toBe('Failed');
    expect(run.runErrorMessage).toContain(`failed to login to registry '${abacApp.loginServer}'`);
    expect(run.runErrorMessage).toContain('AbacRepositoryPermissions');
  });

  it('fails when the base image does not exist, and without a credential for another private registry', async () => {
    const task = await createTask(app.name, helloTask(viaUai()));
    const missing = await finished(
      app.name,
      (await schedule(app.name, task.id, { base: `${base.loginServer}/baseimages/node:99` })).runId!,
    );
    expect(missing.runErrorMessage).toBe(
      `manifest for ${base.loginServer}/baseimages/node:99 not found: manifest unknown: manifest tagged by "99" is not found`,
    );
    const open = await registry(unique('openbase'), undefined, { anonymousPullEnabled: true });
    const closed = await registry(unique('closedbase'));
    for (const r of [open, closed]) t.emu.services.registryData!.pushSyntheticImage(r.name, 'lib/base', '1');
    const noCred = await finished(
      app.name,
      (await schedule(app.name, task.id, { base: `${closed.loginServer}/lib/base:1` })).runId!,
    );
    expect(noCred.runErrorMessage).toMatch(
      new RegExp(`^failed to pull image '${closed.loginServer}/lib/base:1': unauthorized: authentication required`),
    );
    const anonymous = await finished(
      app.name,
      (await schedule(app.name, task.id, { base: `${open.loginServer}/lib/base:1` })).runId!,
    );
    expect(anonymous.status).toBe('Succeeded');
  });

  it('reads a Docker task’s bases from the cascade.baseImages tag and pushes imageNames to the task registry', async () => {
    const task = await createTask(app.name, {
      location: 'eastus',
      tags: { 'cascade.baseImages': `${base.loginServer}/baseimages/node:15-alpine, node:20-alpine` },
      platform: { os: 'Linux' },
      step: { type: 'Docker', dockerFilePath: 'Dockerfile', imageNames: ['webapp:{{.Run.ID}}', 'webapp:latest'] },
      identity: { type: 'SystemAssigned' },
      credentials: { customRegistries: { [base.loginServer]: { identity: '[system]' } } },
    });
    const noRole = await finished(app.name, (await schedule(app.name, task.id)).runId!);
    expect(noRole.runErrorMessage).toContain(`failed to login to registry '${base.loginServer}'`);
    await grant(task.principalId!, ROLES.acrPull, base.id);
    const run = await finished(app.name, (await schedule(app.name, task.id)).runId!);
    expect(run.status).toBe('Succeeded');
    expect(run.runType).toBe('QuickBuild');
    expect(run.outputImages!.map((o) => `${o.registry}/${o.repository}:${o.tag}`)).toEqual([
      `${app.loginServer}/webapp:${run.runId}`,
      `${app.loginServer}/webapp:latest`,
    ]);
    expect(run.outputImages![0]!.digest).toBe(run.outputImages![1]!.digest);
    const deps = (await client.tasks.get(RG, app.name, task.name)).step?.baseImageDependencies;
    expect(deps).toEqual([
      {
        type: 'BuildTime',
        registry: base.loginServer,
        repository: 'baseimages/node',
        tag: '15-alpine',
        digest: base.digest,
      },
      expect.objectContaining({ registry: 'registry.hub.docker.com', repository: 'library/node', tag: '20-alpine' }),
    ]);
  });

  it('resolves the Key Vault secrets of a task with its system identity (the seed’s dockerhubtask)', async () => {
    // arm-keyvault v5 is a TypeSpec client: its scopes go under `credentials`.
    const kvm = new KeyVaultManagementClient(t.operator, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      credentials: { scopes: ARM.credentialScopes },
    });
    const vault = await kvm.vaults.beginCreateOrUpdateAndWait(RG, 'mykeyvault', {
      location: 'eastus',
      properties: { tenantId: t.emu.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
    });
    await grant(operatorPrincipal(t.emu).objectId, ROLES.secretsOfficer, vault.id!);
    const secrets = new SecretClient(vault.properties.vaultUri!, t.operator as TokenCredential, {
      disableChallengeResourceVerification: true,
    });
    await secrets.setSecret('UserName', 'hubuser');
    await secrets.setSecret('Password', 'hub-password');
    const yaml = [
      'version: v1.0.0',
      'secrets:',
      '  - id: username',
      '    keyvault: https://mykeyvault.vault.azure.net/secrets/UserName',
      '  - id: password',
      '    keyvault: https://mykeyvault.vault.azure.net/secrets/Password',
      'steps:',
      "  - cmd: docker login --username '{{.Secrets.username}}' --password '{{.Secrets.password}}'",
      '  - build: -t {{.Values.PrivateRepo}}:{{.Run.ID}} https://github.com/Azure-Samples/acr-tasks.git -f hello-world.dockerfile',
      '  - push:',
      '    - {{.Values.PrivateRepo}}:{{.Run.ID}}',
    ].join('\n');
    const task = await createTask(app.name, {
      location: 'eastus',
      platform: { os: 'Linux' },
      step: {
        type: 'EncodedTask',
        encodedTaskContent: b64(yaml),
        values: [{ name: 'PrivateRepo', value: 'hubuser/hubrepo' }],
      },
      identity: { type: 'SystemAssigned' },
    });
    const denied = await finished(app.name, (await schedule(app.name, task.id)).runId!);
    expect(denied.status).toBe('Failed');
    expect(denied.runErrorMessage).toMatch(/^failed to resolve secret 'username': Forbidden/);
    expect(denied.runErrorMessage).not.toContain('hub-password');
    await grant(task.principalId!, ROLES.secretsUser, vault.id!);
    const ok = await finished(app.name, (await schedule(app.name, task.id)).runId!);
    expect(ok.status).toBe('Succeeded');
    expect(ok.outputImages).toEqual([
      expect.objectContaining({ registry: 'docker.io', repository: 'hubuser/hubrepo', tag: ok.runId }),
    ]);
  });

  it('reads Dockerfile-like FROM lines, build arguments and v1.1.0 aliases of an encoded task', async () => {
    const yaml = [
      'version: v1.1.0',
      'alias:',
      '  values:',
      '    repo: apps/web',
      'steps:',
      '  - build: -t $Registry/$repo:$ID -f Dockerfile --build-arg BASE_REGISTRY={{.Values.baseRegistry}} .',
      '  - push:',
      '    - $Registry/$repo:$ID',
      'FROM ${BASE_REGISTRY}/baseimages/node:15-alpine AS build',
      'FROM build',
      'FROM scratch',
    ].join('\n');
    const task = await createTask(app.name, {
      location: 'eastus',
      platform: { os: 'Linux' },
      step: {
        type: 'EncodedTask',
        encodedTaskContent: b64(yaml),
        values: [{ name: 'baseRegistry', value: base.loginServer }],
      },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [uai.id]: {} } },
      credentials: viaUai(),
    });
    const run = await finished(app.name, (await schedule(app.name, task.id)).runId!);
    expect(run.status).toBe('Succeeded');
    expect(run.outputImages).toEqual([
      expect.objectContaining({ registry: app.loginServer, repository: 'apps/web', tag: run.runId }),
    ]);
    const details = await client.tasks.getDetails(RG, app.name, task.name);
    expect(details.step?.baseImageDependencies).toEqual([
      {
        type: 'RunTime',
        registry: base.loginServer,
        repository: 'baseimages/node',
        tag: '15-alpine',
        digest: base.digest,
      },
    ]);
  });

  it('runs EncodedTaskRunRequest and DockerBuildRequest as quick runs pushing to the registry', async () => {
    const yaml =
      'version: v1.1.0\nsteps:\n  - build: -t {{.Run.Registry}}/quick:{{.Run.ID}} .\n  - push: ["{{.Run.Registry}}/quick:{{.Run.ID}}"]\n';
    const queued = await client.registries.beginScheduleRunAndWait(RG, app.name, {
      type: 'EncodedTaskRunRequest',
      encodedTaskContent: b64(yaml),
      platform: { os: 'Linux' },
    });
    // A 200 ms run is Queued for its first 20 ms: after the 202 and its polls it may already be Running.
    expect(queued.runType).toBe('QuickRun');
    expect(['Queued', 'Running']).toContain(queued.status);
    expect(queued.task).toBeUndefined();
    const run = await finished(app.name, queued.runId!);
    expect(run.outputImages).toEqual([
      expect.objectContaining({ registry: app.loginServer, repository: 'quick', tag: run.runId }),
    ]);
    const build = await client.registries.beginScheduleRunAndWait(RG, app.name, {
      type: 'DockerBuildRequest',
      dockerFilePath: 'Dockerfile',
      imageNames: ['quickbuild:{{.Run.ID}}'],
      platform: { os: 'Linux' },
    });
    expect(build.runType).toBe('QuickBuild');
    const built = await finished(app.name, build.runId!);
    expect(built.outputImages).toEqual([
      expect.objectContaining({ registry: app.loginServer, repository: 'quickbuild', tag: build.runId }),
    ]);
  });

  it('refuses runs of unknown tasks and of tasks of another registry, and callers without scheduleRun/action', async () => {
    await expect(
      client.registries.beginScheduleRunAndWait(RG, app.name, {
        type: 'TaskRunRequest',
        taskId: `${app.id}/tasks/nosuchtask`,
      }),
    ).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    const task = await createTask(base.name, helloTask(viaUai()));
    await expect(
      client.registries.beginScheduleRunAndWait(RG, app.name, { type: 'TaskRunRequest', taskId: task.id }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    const asApp = new ContainerRegistryManagementClient(t.app, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    await expect(
      asApp.registries.beginScheduleRunAndWait(RG, base.name, { type: 'TaskRunRequest', taskId: task.id }),
    ).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });
});

describe('runs: list, cancel, logs, fail-next', () => {
  let registryName: string;
  let taskA: { name: string; id: string };
  let taskB: { name: string; id: string };
  const ids: string[] = [];
  beforeAll(async () => {
    registryName = (await registry(unique('listreg'))).name;
    taskA = await createTask(registryName, helloTask(viaUai()), 'task-alpha');
    taskB = await createTask(registryName, helloTask(viaUai()), 'task-beta');
    ids.push((await schedule(registryName, taskA.id)).runId!);
    await finished(registryName, ids[0]!);
    await t.admin('POST', '/acr/tasks/fail-next', { taskId: taskB.id, count: 1 });
    ids.push((await schedule(registryName, taskB.id)).runId!);
    await finished(registryName, ids[1]!);
    ids.push((await schedule(registryName, taskA.id)).runId!); // stays Queued
  });

  const list = async (filter?: string, top?: number) => {
    const out: Run[] = [];
    for await (const r of client.runs.list(RG, registryName, {
      ...(filter ? { filter } : {}),
      ...(top ? { top } : {}),
    }))
      out.push(r);
    return out.map((r) => r.runId);
  };

  it('lists runs newest first and filters them by TaskName, Status, RunId, outputs and CreateTime', async () => {
    expect(await list()).toEqual([ids[2], ids[1], ids[0]]);
    expect(await list(`TaskName eq 'task-alpha'`)).toEqual([ids[2], ids[0]]);
    expect(await list(`Status eq 'Succeeded'`)).toEqual([ids[0]]);
    expect(await list(`TaskName eq 'task-beta' and Status eq 'Failed'`)).toEqual([ids[1]]);
    expect(await list(`RunId eq '${ids[1]}' or RunId eq '${ids[0]}'`)).toEqual([ids[1], ids[0]]);
    const succeeded = await client.runs.get(RG, registryName, ids[0]!);
    const manifest = `hello-world@${succeeded.outputImages![0]!.digest}`;
    expect(await list(`contains(OutputImageManifests, '${manifest}')`)).toEqual([ids[0]]);
    const created = succeeded.createTime!.toISOString();
    expect(await list(`CreateTime ge ${created} and TaskName eq 'task-alpha'`)).toEqual([ids[2], ids[0]]);
    expect(await list(`CreateTime gt ${new Date(Date.parse(created) + 3_600_000).toISOString()}`)).toEqual([]);
    expect(await list(`TaskName eq 'task-alpha'`, 1)).toEqual([ids[2]]);
    await expect(list(`Bogus eq 'x'`)).rejects.toMatchObject({ statusCode: 400 });
  });

  it('forces the next runs of a task to fail with the given status and message', async () => {
    const forced = await client.runs.get(RG, registryName, ids[1]!);
    expect(forced.status).toBe('Failed');
    expect(forced.runErrorMessage).toContain('injected');
    expect(
      (
        await t.admin('POST', '/acr/tasks/fail-next', {
          taskId: taskB.id,
          count: 2,
          status: 'Error',
          message: 'agent lost',
        })
      ).status,
    ).toBe(200);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const run = await finished(registryName, (await schedule(registryName, taskB.id)).runId!);
      statuses.push([run.status, run.runErrorMessage]);
    }
    expect(statuses).toEqual([
      ['Error', 'agent lost'],
      ['Error', 'agent lost'],
      ['Succeeded', undefined],
    ]);
    const bad = await t.admin('POST', '/acr/tasks/fail-next', { taskId: taskB.id, status: 'Timeout' });
    expect(bad.status).toBe(400);
  });

  it('cancels a queued run and leaves a finished run as it is', async () => {
    await t.admin('PUT', '/acr/runs/config', { durationMs: 100_000 });
    const queued = await schedule(registryName, taskA.id);
    await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 });
    await client.runs.beginCancelAndWait(RG, registryName, queued.runId!);
    const canceled = await client.runs.get(RG, registryName, queued.runId!);
    expect(canceled.status).toBe('Canceled');
    expect(canceled.finishTime).toBeInstanceOf(Date);
    await t.admin('POST', '/clock/advance', { seconds: 200 });
    expect((await client.runs.get(RG, registryName, queued.runId!)).status).toBe('Canceled');
    await client.runs.beginCancelAndWait(RG, registryName, ids[0]!);
    expect((await client.runs.get(RG, registryName, ids[0]!)).status).toBe('Succeeded');
  });

  it('serves the run log through the link from listLogSasUrl, marked complete once the run is terminal', async () => {
    const { logLink } = await client.runs.getLogSasUrl(RG, registryName, ids[0]!);
    const res = await fetch(logLink!);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ms-meta-complete')).toBe('succeeded');
    const text = await res.text();
    expect(text).toContain(`Logging in to registry: ${base.loginServer}`);
    expect(text).toContain(`Run ID: ${ids[0]} was successful`);
    const ranged = await fetch(logLink!, { headers: { range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.text()).length).toBe(10);
    const tampered = logLink!.replace(/sig=[^&]+/, 'sig=forged');
    expect((await fetch(tampered)).status).toBe(403);
  });

  it('updates isArchiveEnabled and reports a missing run as ResourceNotFound', async () => {
    const updated = await client.runs.beginUpdateAndWait(RG, registryName, ids[0]!, { isArchiveEnabled: true });
    expect(updated.isArchiveEnabled).toBe(true);
    await expect(client.runs.get(RG, registryName, 'zz999')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });
});

describe('runs: the batched watch query and the run-duration mix', () => {
  const listIds = async (registryName: string, filter: string) => {
    const out: string[] = [];
    for await (const r of client.runs.list(RG, registryName, { filter })) out.push(r.runId!);
    return out;
  };

  it('lists the runs still in flight plus those finished since a time in one query, refusing not', async () => {
    const registryName = (await registry(unique('watchreg'))).name;
    const task = await createTask(registryName, helloTask(viaUai()), 'watched');
    const early = (await schedule(registryName, task.id)).runId!;
    await finished(registryName, early);
    const since = new Date(t.emu.nowMs()).toISOString();
    await t.admin('POST', '/clock/advance', { seconds: 5 });
    const done = (await schedule(registryName, task.id)).runId!;
    await finished(registryName, done);
    await t.admin('PUT', '/acr/runs/config', { durationMs: 100_000 });
    const inFlight = (await schedule(registryName, task.id)).runId!;
    await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 });
    const watch = `Status eq 'Queued' or Status eq 'Started' or Status eq 'Running' or FinishTime ge ${since}`;
    // The early run finished before `since`: only the caller that missed it falls back to runs.get.
    expect(await listIds(registryName, watch)).toEqual([inFlight, done]);
    await expect(listIds(registryName, `not (Status eq 'Running')`)).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadRequest',
    });
    await client.runs.beginCancelAndWait(RG, registryName, inFlight);
  });

  it('gives each run a duration between durationMs and durationMaxMs, fixed per run', async () => {
    const registryName = (await registry(unique('mixreg'))).name;
    const task = await createTask(registryName, helloTask(viaUai()), 'mixed');
    const set = await t.admin('PUT', '/acr/runs/config', { durationMs: 20_000, durationMaxMs: 120_000 });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ durationMs: 20_000, durationMaxMs: 120_000 });
    try {
      const runs = await Promise.all(Array.from({ length: 12 }, () => schedule(registryName, task.id)));
      // Step the emulator clock 10 s at a time and note when each run is first seen finished.
      const doneAt = new Map<string, number>();
      for (let elapsed = 10; elapsed <= 130; elapsed += 10) {
        await t.admin('POST', '/clock/advance', { seconds: 10 });
        for (const r of runs) {
          if (doneAt.has(r.runId!)) continue;
          if ((await client.runs.get(RG, registryName, r.runId!)).status === 'Succeeded') doneAt.set(r.runId!, elapsed);
        }
      }
      const steps = [...doneAt.values()];
      expect(steps).toHaveLength(runs.length);
      for (const s of steps) {
        expect(s).toBeGreaterThanOrEqual(20);
        expect(s).toBeLessThanOrEqual(130);
      }
      expect(new Set(steps).size).toBeGreaterThanOrEqual(4);
      const refused = await t.admin('PUT', '/acr/runs/config', { durationMs: 5000, durationMaxMs: 10 });
      expect(refused.status).toBe(400);
    } finally {
      await t.admin('PUT', '/acr/runs/config', { durationMs: 1000 });
    }
    expect(await (await t.admin('GET', '/acr/runs/config')).json()).toEqual({ durationMs: 1000, durationMaxMs: 1000 });
  });
});

describe('persistence', () => {
  it('keeps registries, images and runs across a restart and finishes a run that was in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'acr-persist-'));
    const tlsDir = join(process.cwd(), '.local', 'tls');
    try {
      let emu = await startEmulator({ persistDir: dir, tlsDir });
      const cred = () =>
        new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader, operatorPrincipal(emu).clientId);
      const sdk = () =>
        new ContainerRegistryManagementClient(cred(), emu.subscriptionId, { endpoint: emu.armEndpoint, ...ARM });
      let runId: string;
      let endpoint: string;
      try {
        const { token } = (await cred().getToken(ARM.credentialScopes))!;
        await fetch(
          `${emu.armEndpoint}/subscriptions/${emu.subscriptionId}/resourcegroups/rg-p?api-version=2021-04-01`,
          {
            method: 'PUT',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ location: 'eastus' }),
          },
        );
        const reg = await sdk().registries.beginCreateAndWait('rg-p', 'persistreg', {
          location: 'eastus',
          sku: { name: 'Basic' },
        });
        emu.services.registryData!.pushSyntheticImage('persistreg', 'lib/base', '1');
        const yaml = `steps:\n  - build: -t {{.Run.Registry}}/out:{{.Run.ID}} . --build-arg B=${reg.loginServer}/lib/base:1\n  - push: ["{{.Run.Registry}}/out:{{.Run.ID}}"]\n`;
        const task = await sdk().tasks.beginCreateAndWait('rg-p', 'persistreg', 'persisted', {
          location: 'eastus',
          platform: { os: 'Linux' },
          step: { type: 'EncodedTask', encodedTaskContent: b64(yaml) },
        });
        const res = await fetch(`${emu.armEndpoint}/_emulator/acr/runs/config`, {
          method: 'PUT',
          body: JSON.stringify({ durationMs: 60_000 }),
        });
        expect(res.status).toBe(200);
        runId = (
          await sdk().registries.beginScheduleRunAndWait('rg-p', 'persistreg', {
            type: 'TaskRunRequest',
            taskId: task.id!,
          })
        ).runId!;
        endpoint = emu.store.getResource<{
          id: string;
          name: string;
          type: string;
          properties: { dataEndpoint: string };
        }>(reg.id!)!.properties.dataEndpoint;
      } finally {
        await emu.stop();
      }
      emu = await startEmulator({ persistDir: dir, tlsDir });
      try {
        expect(emu.services.registryData!.resolveImage('persistreg.azurecr.io', 'lib/base', '1')).toBeDefined();
        expect((await sdk().runs.get('rg-p', 'persistreg', runId)).status).toBe('Queued');
        emu.advanceClock(61);
        const run = await sdk().runs.get('rg-p', 'persistreg', runId);
        expect(run.status).toBe('Succeeded');
        expect(run.outputImages?.[0]).toMatchObject({ repository: 'out', tag: runId });
        const current = emu.store.getResource<{
          id: string;
          name: string;
          type: string;
          properties: { dataEndpoint: string };
        }>(
          `/subscriptions/${emu.subscriptionId}/resourceGroups/rg-p/providers/Microsoft.ContainerRegistry/registries/persistreg`,
        )!.properties.dataEndpoint;
        expect((await fetch(`${current}/v2/out/tags/list`)).status).toBe(200);
        expect(typeof endpoint).toBe('string');
      } finally {
        await emu.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
