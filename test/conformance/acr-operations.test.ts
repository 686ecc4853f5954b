// ACR's asynchronous operations as Azure answers them: scheduleRun, runs cancel, tasks update and generateCredentials
// reply 202 with `Azure-AsyncOperation` at `.../registries/{r}/operationStatuses/{id}`, and the official client's
// poller (`begin…AndWait`) reads the status — which needs `registries/operationStatuses/read` — then the result.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRegistryManagementClient, type TaskRunRequest } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { FullOperationResponse } from '@azure/core-client';
import type { TokenCredential } from '@azure/identity';
import { startTestEmulator, type TestEmulator } from '../support/emulator.js';

const ARM = { credentialScopes: ['https://management.azure.com/.default'] };
const RG = 'rg-ops';
const REGISTRY = 'opsregistry';
const STATUS_URL =
  /\/resourceGroups\/rg-ops\/providers\/Microsoft\.ContainerRegistry\/registries\/opsregistry\/operationStatuses\/[0-9a-f-]{36}\?api-version=/;

let t: TestEmulator;
let client: ContainerRegistryManagementClient;
let authz: AuthorizationManagementClient;
let registryId: string;
let taskId: string;
let tokenId: string;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

/** The raw responses a client call went through (initial request, status polls, final GET). */
function recorder() {
  const seen: FullOperationResponse[] = [];
  return { seen, options: { onResponse: (r: FullOperationResponse) => void seen.push(r) } };
}

const taskRun = (): TaskRunRequest => ({ type: 'TaskRunRequest', taskId });

beforeAll(async () => {
  t = await startTestEmulator();
  const opts = { endpoint: t.emu.armEndpoint, ...ARM };
  client = new ContainerRegistryManagementClient(t.operator, t.emu.subscriptionId, opts);
  authz = new AuthorizationManagementClient(t.operator, t.emu.subscriptionId, opts);
  const { token } = (await t.operator.getToken(ARM.credentialScopes))!;
  const rg = await fetch(
    `${t.emu.armEndpoint}/subscriptions/${t.emu.subscriptionId}/resourcegroups/${RG}?api-version=2021-04-01`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: 'eastus' }),
    },
  );
  expect(rg.status).toBe(201);
  registryId = (
    await client.registries.beginCreateAndWait(RG, REGISTRY, { location: 'eastus', sku: { name: 'Standard' } })
  ).id!;
  const task = await client.tasks.beginCreateAndWait(RG, REGISTRY, 'build', {
    location: 'eastus',
    platform: { os: 'Linux' },
    step: {
      type: 'EncodedTask',
      encodedTaskContent: Buffer.from('version: v1.1.0\nsteps:\n  - cmd: hello-world\n').toString('base64'),
    },
  });
  taskId = task.id!;
  const scopeMap = await client.scopeMaps.beginCreateAndWait(RG, REGISTRY, 'pull-only', {
    actions: ['repositories/base/content/read'],
  });
  tokenId = (await client.tokens.beginCreateAndWait(RG, REGISTRY, 'puller', { scopeMapId: scopeMap.id! })).id!;
  expect((await t.admin('PUT', '/acr/runs/config', { durationMs: 60_000 })).status).toBe(200);
});
afterAll(async () => {
  await t?.stop();
});
afterEach(async () => {
  expect((await t.admin('PUT', '/acr/operations', {})).status).toBe(200);
});

describe('asynchronous ACR operations (default: as Azure answers them)', () => {
  it('answers scheduleRun 202 with an operation status URL under the registry, and the poller returns the queued run', async () => {
    const r = recorder();
    const run = await client.registries.beginScheduleRunAndWait(RG, REGISTRY, taskRun(), r.options);
    const [initial, status, final] = r.seen;
    expect(initial!.status).toBe(202);
    expect(initial!.headers.get('azure-asyncoperation')).toMatch(STATUS_URL);
    expect(initial!.bodyAsText ?? '').toBe('');
    expect(status!.request.url).toBe(initial!.headers.get('azure-asyncoperation'));
    expect(status!.parsedBody).toMatchObject({ status: 'Succeeded', startTime: expect.any(String) });
    // The final result is read from the Location: the run just queued.
    expect(final!.request.url).toBe(initial!.headers.get('location'));
    expect(run).toMatchObject({ status: 'Queued', task: 'build', provisioningState: 'Succeeded' });
    expect(final!.request.url).toContain(`${registryId}/runs/${run.runId}?`);
  });

  it('keeps polling while the operation is InProgress', async () => {
    await t.admin('PUT', '/acr/operations', { pendingPolls: 2 });
    const r = recorder();
    const run = await client.registries.beginScheduleRunAndWait(RG, REGISTRY, taskRun(), {
      ...r.options,
      updateIntervalInMs: 10,
    });
    const statuses = r.seen
      .filter((s) => /\/operationStatuses\//.test(s.request.url))
      .map((s) => (s.parsedBody as { status: string }).status);
    expect(statuses).toEqual(['InProgress', 'InProgress', 'Succeeded']);
    expect(run.runId).toBeTruthy();
  });

  it('cancels a run through 202 + polling', async () => {
    const run = await client.registries.beginScheduleRunAndWait(RG, REGISTRY, taskRun());
    const r = recorder();
    await client.runs.beginCancelAndWait(RG, REGISTRY, run.runId!, r.options);
    expect(r.seen[0]!.status).toBe(202);
    expect(r.seen[0]!.headers.get('azure-asyncoperation')).toMatch(STATUS_URL);
    expect((await client.runs.get(RG, REGISTRY, run.runId!)).status).toBe('Canceled');
  });

  it('updates a task through 202 + polling and returns the task read back', async () => {
    const r = recorder();
    const task = await client.tasks.beginUpdateAndWait(RG, REGISTRY, 'build', { timeout: 1200 }, r.options);
    expect(r.seen[0]!.status).toBe(202);
    expect(r.seen.at(-1)!.request.url).toContain(`${taskId}?`);
    expect(task).toMatchObject({ id: taskId, timeout: 1200 });
  });

  it('generates token credentials through 202 + polling, the passwords read from the Location', async () => {
    const r = recorder();
    const result = await client.registries.beginGenerateCredentialsAndWait(
      RG,
      REGISTRY,
      { tokenId, name: 'password1' },
      r.options,
    );
    expect(r.seen[0]!.status).toBe(202);
    expect(r.seen[0]!.headers.get('location')).toMatch(STATUS_URL);
    expect(result).toMatchObject({ username: 'puller', passwords: [{ name: 'password1', value: expect.any(String) }] });
  });

  it('refuses the status to a caller without registries/operationStatuses/read, after the run was queued', async () => {
    // Everything scheduleRun needs except operationStatuses/read.
    const roleId = randomUUID();
    await authz.roleDefinitions.createOrUpdate(registryId, roleId, {
      roleName: unique('scheduler-without-status-'),
      roleType: 'CustomRole',
      permissions: [
        {
          actions: [
            'Microsoft.ContainerRegistry/registries/scheduleRun/action',
            'Microsoft.ContainerRegistry/registries/runs/read',
          ],
        },
      ],
      assignableScopes: [registryId],
    });
    const p = t.emu.newPrincipal('userAssigned', unique('scheduler-'), undefined, true);
    await authz.roleAssignments.create(registryId, randomUUID(), {
      roleDefinitionId: `/subscriptions/${t.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
      principalId: p.objectId,
      principalType: 'ServicePrincipal',
    });
    const cred: TokenCredential = t.credentialFor(p);
    const limited = new ContainerRegistryManagementClient(cred, t.emu.subscriptionId, {
      endpoint: t.emu.armEndpoint,
      ...ARM,
    });
    const count = async () => {
      let n = 0;
      for await (const _ of client.runs.list(RG, REGISTRY)) n++;
      return n;
    };
    const runs = await count();
    await expect(limited.registries.beginScheduleRunAndWait(RG, REGISTRY, taskRun())).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: expect.stringContaining('Microsoft.ContainerRegistry/registries/operationStatuses/read'),
    });
    // The work was done: as in Azure, only the report of the operation was refused.
    expect(await count()).toBe(runs + 1);
    // The emulator's access log says what the principal was granted and what it was refused, as RBAC names.
    const log = (await (await t.admin('GET', `/access?principalId=${p.objectId}`)).json()) as {
      value: { action?: string; scope: string; allowed: boolean }[];
    };
    expect(log.value.map((r) => [r.action, r.allowed])).toEqual(
      expect.arrayContaining([
        ['Microsoft.ContainerRegistry/registries/scheduleRun/action', true],
        ['Microsoft.ContainerRegistry/registries/operationStatuses/read', false],
      ]),
    );
    expect(log.value.find((r) => !r.allowed)!.scope).toMatch(
      /\/registries\/opsregistry\/operationStatuses\/[0-9a-f-]{36}$/,
    );
  });

  it('answers 404 OperationNotFound for an unknown operation id', async () => {
    const { token } = (await t.operator.getToken(ARM.credentialScopes))!;
    const res = await fetch(
      `${t.emu.armEndpoint}${registryId}/operationStatuses/${randomUUID()}?api-version=2019-06-01-preview`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'OperationNotFound' } });
  });

  it("answers 200 with the result at once in 'sync' mode", async () => {
    expect((await t.admin('PUT', '/acr/operations', { mode: 'sync' })).status).toBe(200);
    const r = recorder();
    const run = await client.registries.beginScheduleRunAndWait(RG, REGISTRY, taskRun(), r.options);
    expect(r.seen.map((s) => s.status)).toEqual([200]);
    expect(run.status).toBe('Queued');
  });

  it('rejects an invalid configuration with the field named', async () => {
    const res = await t.admin('PUT', '/acr/operations', { pendingPolls: -1 });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { message: expect.stringContaining('pendingPolls') } });
  });
});
