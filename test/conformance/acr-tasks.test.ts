// ACR tasks (2019-06-01-preview) through @azure/arm-containerregistry@11: CRUD, masking vs listDetails, PATCH merge
// rules, identities, validation and the 404 taxonomy.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient, type Task } from '@azure/arm-containerregistry';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';

const ARM = { credentialScopes: ['https://management.azure.com/.default'] };
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const TASK_API = 'api-version=2019-06-01-preview';

let t: TestEmulator;
let client: ContainerRegistryManagementClient;
let registryId: string;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

beforeAll(async () => {
  t = await startTestEmulator();
  client = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, {
    endpoint: t.emu.armEndpoint,
    ...ARM,
  });
  await armFetch('PUT', `/subscriptions/${t.emu.subscriptionId}/resourcegroups/rg-tasks?api-version=2021-04-01`, {
    location: 'eastus',
  });
  const reg = await client.registries.beginCreateAndWait('rg-tasks', 'taskregistry', {
    location: 'eastus',
    sku: { name: 'Standard' },
  });
  registryId = reg.id!;
});
afterAll(async () => {
  await t?.stop();
});

/** An ARM answer as sent on the wire (error envelope or resource). */
type WireBody = { error: { code: string; message: string } } & Record<string, unknown>;

async function armFetch(method: string, path: string, body?: unknown, cred = t.operator) {
  const { token } = (await cred.getToken('https://management.azure.com/.default'))!;
  const res = await fetch(`${t.emu.armEndpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as WireBody) : undefined };
}

const dockerTask = (): Task => ({
  location: 'eastus',
  platform: { os: 'Linux', architecture: 'amd64' },
  step: {
    type: 'Docker',
    dockerFilePath: 'Dockerfile',
    contextPath: 'https://github.com/Azure-Samples/acr-build-helloworld-node.git',
    contextAccessToken: 'ghp_context_token',
    imageNames: ['hello-world:{{.Run.ID}}'],
    arguments: [
      { name: 'PUBLIC', value: 'visible' },
      { name: 'NPM_TOKEN', value: 'npm-secret-value', isSecret: true },
    ],
  },
  trigger: {
    timerTriggers: [{ name: 'nightly', schedule: '0 2 * * *' }],
    baseImageTrigger: {
      name: 'base',
      baseImageTriggerType: 'Runtime',
      updateTriggerEndpoint: 'https://example.invalid/hook?token=abc',
    },
  },
  credentials: {
    sourceRegistry: { loginMode: 'Default' },
    customRegistries: {
      'mybaseregistry.azurecr.io': { identity: '[system]' },
      'docker.io': {
        userName: { type: 'Vaultsecret', value: 'https://mykeyvault.vault.azure.net/secrets/UserName' },
        password: { type: 'Vaultsecret', value: 'https://mykeyvault.vault.azure.net/secrets/Password' },
        identity: '[system]',
      },
    },
  },
  identity: { type: 'SystemAssigned' },
});

describe('tasks (2019-06-01-preview)', () => {
  it('masks secret arguments, tokens and credentials on PUT and GET, and returns them from getDetails', async () => {
    const name = unique('masked');
    const created = await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    const get = await client.tasks.get('rg-tasks', 'taskregistry', name);
    for (const shown of [created, get]) {
      expect(shown).toMatchObject({ provisioningState: 'Succeeded', status: 'Enabled', timeout: 3600 });
      expect(shown.step).toMatchObject({ type: 'Docker', imageNames: ['hello-world:{{.Run.ID}}'] });
      expect((shown.step as { arguments: unknown[] }).arguments).toEqual([
        { name: 'PUBLIC', value: 'visible', isSecret: false },
      ]);
      expect(shown.step?.contextAccessToken).toBeUndefined();
      expect(shown.trigger?.baseImageTrigger?.updateTriggerEndpoint).toBeNull();
      expect(shown.credentials).toEqual({
        sourceRegistry: null,
        customRegistries: { 'mybaseregistry.azurecr.io': null, 'docker.io': null },
      });
    }
    const details = await client.tasks.getDetails('rg-tasks', 'taskregistry', name);
    expect((details.step as { arguments: unknown[] }).arguments).toContainEqual({
      name: 'NPM_TOKEN',
      value: 'npm-secret-value',
      isSecret: true,
    });
    expect(details.step?.contextAccessToken).toBe('ghp_context_token');
    expect(details.trigger?.baseImageTrigger?.updateTriggerEndpoint).toBe('https://example.invalid/hook?token=abc');
    expect(details.credentials?.customRegistries?.['docker.io']).toMatchObject({
      userName: { type: 'Vaultsecret', value: 'https://mykeyvault.vault.azure.net/secrets/UserName' },
      identity: '[system]',
    });
    expect(details.identity).toMatchObject({ type: 'SystemAssigned', tenantId: t.emu.tenantId });
    expect(details.identity!.principalId).toBe(get.identity!.principalId);
  });

  it('lists tasks masked', async () => {
    const name = unique('listed');
    await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    const all: Task[] = [];
    for await (const task of client.tasks.list('rg-tasks', 'taskregistry')) all.push(task);
    const mine = all.find((x) => x.name === name)!;
    expect(mine.credentials?.customRegistries).toEqual({ 'mybaseregistry.azurecr.io': null, 'docker.io': null });
  });

  it('fills principalId and clientId of a user-assigned identity and resolves it case-insensitively', async () => {
    const msi = new ManagedServiceIdentityClient(t.operator, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    const uai = await msi.userAssignedIdentities.createOrUpdate('rg-tasks', 'myACRTasksId', { location: 'eastus' });
    const name = unique('uai');
    const yaml = [
      'version: v1.1.0',
      'steps:',
      '  - build: -t $Registry/hello-world:$ID https://github.com/Azure-Samples/acr-build-helloworld-node.git -f Dockerfile-app --build-arg REGISTRY_NAME=mybaseregistry.azurecr.io',
      '  - push: ["$Registry/hello-world:$ID"]',
    ].join('\n');
    const created = await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, {
      location: 'eastus',
      platform: { os: 'linux' },
      step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64') },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [uai.id!.toUpperCase()]: {} } },
    });
    expect(created.platform).toEqual({ os: 'Linux' });
    expect(created.identity?.type).toBe('UserAssigned');
    expect(Object.values(created.identity!.userAssignedIdentities!)).toEqual([
      { principalId: uai.principalId, clientId: uai.clientId },
    ]);
    expect(created.identity?.principalId).toBeUndefined();
  });

  it('creates the system principal of a task and removes it when the identity changes or the task is deleted', async () => {
    const name = unique('sysid');
    const created = await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    const first = created.identity!.principalId!;
    expect(t.emu.identities.get(first)).toMatchObject({ kind: 'system', resourceId: created.id });
    await client.tasks.beginUpdateAndWait('rg-tasks', 'taskregistry', name, { identity: { type: 'None' } });
    expect(t.emu.identities.get(first)).toBeUndefined();
    const again = await client.tasks.beginUpdateAndWait('rg-tasks', 'taskregistry', name, {
      identity: { type: 'SystemAssigned' },
    });
    const second = again.identity!.principalId!;
    expect(second).not.toBe(first);
    await client.tasks.beginDeleteAndWait('rg-tasks', 'taskregistry', name);
    expect(t.emu.identities.get(second)).toBeUndefined();
    await expect(client.tasks.get('rg-tasks', 'taskregistry', name)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('merges triggers by name and custom registries by login server on PATCH, where a null entry removes one', async () => {
    const name = unique('patched');
    await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    await client.tasks.beginUpdateAndWait('rg-tasks', 'taskregistry', name, {
      timeout: 600,
      tags: { owner: 'platform' },
      trigger: {
        timerTriggers: [
          { name: 'nightly', schedule: '0 3 * * *' },
          { name: 'weekly', schedule: '0 4 * * 0' },
        ],
      },
      credentials: {
        customRegistries: {
          'MyBaseRegistry.azurecr.io': { identity: 'some-client-id' },
          'ghcr.io': { userName: { type: 'Opaque', value: 'bot' }, password: { type: 'Opaque', value: 'pat' } },
        },
      },
    });
    // A null entry cannot be expressed through the SDK's typed model, so it goes over the wire directly.
    const path = `${registryId}/tasks/${name}?${TASK_API}`;
    const removed = await armFetch('PATCH', path, {
      properties: { credentials: { customRegistries: { 'docker.io': null } } },
    });
    // Accepted as in Azure (202 + Azure-AsyncOperation); the change is visible at once.
    expect(removed.status).toBe(202);
    const details = await client.tasks.getDetails('rg-tasks', 'taskregistry', name);
    expect(details.timeout).toBe(600);
    expect(details.tags).toEqual({ owner: 'platform' });
    expect(details.trigger?.timerTriggers).toEqual([
      { name: 'nightly', schedule: '0 3 * * *', status: 'Enabled' },
      { name: 'weekly', schedule: '0 4 * * 0', status: 'Enabled' },
    ]);
    expect(details.trigger?.baseImageTrigger?.name).toBe('base');
    expect(Object.keys(details.credentials!.customRegistries!).sort()).toEqual([
      'MyBaseRegistry.azurecr.io',
      'ghcr.io',
    ]);
    expect(details.credentials!.customRegistries!['MyBaseRegistry.azurecr.io']).toEqual({ identity: 'some-client-id' });
    expect(details.credentials!.sourceRegistry).toEqual({ loginMode: 'Default' });
    expect((details.step as { arguments: unknown[] }).arguments).toHaveLength(2);
  });

  it('keeps a PATCHed step of the same type and replaces a step of another type', async () => {
    const name = unique('steps');
    await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    const same = await client.tasks.beginUpdateAndWait('rg-tasks', 'taskregistry', name, {
      step: { type: 'Docker', imageNames: ['other:latest'] },
    });
    expect(same.step).toMatchObject({ type: 'Docker', dockerFilePath: 'Dockerfile', imageNames: ['other:latest'] });
    const other = await client.tasks.beginUpdateAndWait('rg-tasks', 'taskregistry', name, {
      step: { type: 'FileTask', taskFilePath: 'acb.yaml' },
    });
    expect(other.step).toEqual({ type: 'FileTask', taskFilePath: 'acb.yaml', values: [] });
  });

  it('validates platform.os, the step type, required step fields and timeout bounds', async () => {
    const path = (n: string) => `${registryId}/tasks/${n}?${TASK_API}`;
    const step = { type: 'Docker', dockerFilePath: 'Dockerfile' };
    const cases: [unknown, string][] = [
      [{ location: 'eastus', properties: { platform: {}, step } }, 'platform.os'],
      [{ location: 'eastus', properties: { step } }, 'platform'],
      [{ location: 'eastus', properties: { platform: { os: 'Linux' }, step: { type: 'Bogus' } } }, 'step type'],
      [{ location: 'eastus', properties: { platform: { os: 'Linux' }, step: { type: 'Docker' } } }, 'dockerFilePath'],
      [{ location: 'eastus', properties: { platform: { os: 'Linux' }, step, timeout: 299 } }, 'timeout'],
      [{ location: 'eastus', properties: { platform: { os: 'Linux' }, step, timeout: 28801 } }, 'timeout'],
      [{ properties: { platform: { os: 'Linux' }, step } }, 'location'],
    ];
    for (const [body, mentions] of cases) {
      const res = await armFetch('PUT', path(unique('invalid')), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body?.error.message).toContain(mentions);
    }
    const badName = await armFetch('PUT', path('abc'), {
      location: 'eastus',
      properties: { platform: { os: 'Linux' }, step },
    });
    expect(badName).toMatchObject({ status: 400, body: { error: { code: 'InvalidResourceName' } } });
    const ok = await armFetch('PUT', path(unique('edges')), {
      location: 'eastus',
      properties: { platform: { os: 'Linux' }, step, timeout: 28800 },
    });
    expect(ok.status).toBe(201);
  });

  it('accepts a system task without platform or step', async () => {
    const name = unique('quicktask');
    const created = await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, {
      location: 'eastus',
      isSystemTask: true,
      status: 'Enabled',
      logTemplate: 'acr/tasks:{{.Run.OS}}',
    });
    expect(created).toMatchObject({ isSystemTask: true, logTemplate: 'acr/tasks:{{.Run.OS}}' });
    expect(created.step).toBeUndefined();
  });

  it('refuses a user-assigned identity that does not exist', async () => {
    const missing = `/subscriptions/${t.emu.subscriptionId}/resourceGroups/rg-tasks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost`;
    await expect(
      client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', unique('ghost'), {
        ...dockerTask(),
        identity: { type: 'UserAssigned', userAssignedIdentities: { [missing]: {} } },
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'FailedIdentityOperation' });
  });

  it('reports ResourceGroupNotFound, then ParentResourceNotFound, then ResourceNotFound', async () => {
    await expect(client.tasks.get('no-such-rg', 'taskregistry', 'sometask')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
    await expect(client.tasks.get('rg-tasks', 'noregistry', 'sometask')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ParentResourceNotFound',
    });
    await expect(client.tasks.get('rg-tasks', 'taskregistry', 'sometask')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    await expect(client.tasks.getDetails('rg-tasks', 'taskregistry', 'sometask')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });

  it('lets a Reader get a task but not its details', async () => {
    const name = unique('rbac');
    await client.tasks.beginCreateAndWait('rg-tasks', 'taskregistry', name, dockerTask());
    const authz = new AuthorizationManagementClient(t.operator, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    await authz.roleAssignments.create(registryId, randomUUID(), {
      roleDefinitionId: `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
      principalId: t.stack().identity.appPrincipalId,
      principalType: 'ServicePrincipal',
    });
    const asApp = new ContainerRegistryManagementClient(t.app, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    expect((await asApp.tasks.get('rg-tasks', 'taskregistry', name)).name).toBe(name);
    await expect(asApp.tasks.getDetails('rg-tasks', 'taskregistry', name)).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: expect.stringContaining('Microsoft.ContainerRegistry/registries/tasks/listDetails/action'),
    });
  });
});
