// ARM / Key Vault adapters against the emulator with the real SDK clients, as the app identity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretClient } from '@azure/keyvault-secrets';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { allowTokenEndpoint, type TestEmulator } from '../support/emulator.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import type { Settings } from '../../src/config/settings.js';
import { createAzureClients } from '../../src/azure/clients.js';
import {
  AzureForbiddenError,
  AzureNotFoundError,
  createArmAdapters,
  runFilterText,
  toTaskInfo,
  type ArmAdapters,
} from '../../src/azure/adapters.js';
import { ROLE_IDS } from '../../src/domain/index.js';

let harness: AppHarness<undefined>;
let t: TestEmulator;
let seed: SeedResult;
let settings: Settings;
let arm: ArmAdapters;
let sub: string;
let rgId: string;
let operatorSecrets: SecretClient;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;

beforeAll(async () => {
  // The adapters need no storage and ignore the managed scopes and watched resources.
  harness = await startAppHarness({ runDurationMs: 50, seed: { runTasksOnce: true }, azurite: false });
  ({ t, seed, settings } = harness);
  sub = t.emu.subscriptionId;
  rgId = `/subscriptions/${sub}/resourceGroups/${SEED.resourceGroup}`;
  arm = createArmAdapters(harness.deps.clients);
  operatorSecrets = new SecretClient(seed.vaultUri.replace(/\/+$/, ''), t.operator, {
    disableChallengeResourceVerification: true,
  });
});

afterAll(async () => {
  await harness?.stop();
});

const baseId = () => seed.registries[SEED.baseRegistry]!;
const appRegId = () => seed.registries[SEED.appRegistry]!;

describe('registries and tasks', () => {
  it('lists registries by subscription, resource group and registry scope as domain RegistryInfo', async () => {
    const bySub = await arm.listRegistries(`/subscriptions/${sub}`);
    expect(bySub.map((r) => r.name).sort()).toEqual([SEED.baseRegistry, SEED.appRegistry]);
    expect(await arm.listRegistries(rgId)).toHaveLength(2);
    expect(await arm.listRegistries(baseId())).toEqual([
      {
        id: baseId(),
        name: SEED.baseRegistry,
        loginServer: 'mybaseregistry.azurecr.io',
        roleAssignmentMode: 'LegacyRegistryPermissions',
        anonymousPullEnabled: false,
      },
    ]);
  });

  it('maps a missing registry or task to AzureNotFoundError with the service code', async () => {
    const missing = `${rgId}/providers/Microsoft.ContainerRegistry/registries/nosuchregistry`;
    await expect(arm.getRegistry(missing)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    await expect(arm.getRegistry(missing)).rejects.toBeInstanceOf(AzureNotFoundError);
    await expect(arm.getTaskDetails(`${appRegId()}/tasks/nosuchtask`)).rejects.toBeInstanceOf(AzureNotFoundError);
  });

  it('maps a caller without permission to AzureForbiddenError (AuthorizationFailed)', async () => {
    const principal = t.emu.identities.find((p) => p.resourceId?.toLowerCase() === seed.identity.id.toLowerCase())!;
    allowTokenEndpoint(principal);
    const weak = createArmAdapters(createAzureClients(settings, t.credentialFor(principal)));
    const attempt = weak.listTasks(appRegId());
    await expect(attempt).rejects.toBeInstanceOf(AzureForbiddenError);
    await expect(weak.listTasks(appRegId())).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });

  it('reads credentials only through getDetails: the masked list yields a TaskInfo without them', async () => {
    const registry = await arm.getRegistry(appRegId());
    const listed = (await arm.listTasks(appRegId())).find((x) => x.name === SEED.tasks.dockerhub)!;
    expect(toTaskInfo(listed, registry).credentials).toEqual([]);
    const details = await arm.getTaskDetails(seed.taskIds[SEED.tasks.dockerhub]!);
    const info = toTaskInfo(details, registry, { details });
    expect(info).toMatchObject({
      name: SEED.tasks.dockerhub,
      registryId: appRegId(),
      loginServer: 'myregistry.azurecr.io',
      status: 'Enabled',
      timeoutSeconds: 600,
      identity: { systemPrincipalId: seed.dockerhubPrincipalId, userAssigned: [] },
    });
    expect(info.credentials).toContainEqual({
      loginServer: 'docker.io',
      identity: '[system]',
      userName: expect.objectContaining({ kind: 'vault', name: 'UserName' }),
      password: expect.objectContaining({ kind: 'vault', name: 'Password' }),
    });
    expect(info.baseImages).toContainEqual(expect.objectContaining({ ref: seed.baseImageRef }));
  });

  it('takes output images from the cascade.outputImages tag, resolved against the task registry', async () => {
    const registry = await arm.getRegistry(appRegId());
    const hello = (await arm.listTasks(appRegId())).find((x) => x.name === SEED.tasks.hello)!;
    expect(toTaskInfo(hello, registry).outputImages).toEqual(['myregistry.azurecr.io/hello-world:latest']);
    expect(toTaskInfo(hello, registry).identity.userAssigned).toEqual([
      {
        resourceId: expect.stringMatching(/myACRTasksId$/i),
        principalId: seed.identity.principalId,
        clientId: seed.identity.clientId,
      },
    ]);
  });

  it("derives an EncodedTask's outputs from the push steps of its masked YAML; the tag overrides them", async () => {
    const acr = new ContainerRegistryManagementClient(t.operator, sub, {
      endpoint: t.emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    const yaml = [
      'version: v1.1.0',
      'steps:',
      '  - build: -t {{.Run.Registry}}/yaml-out:{{.Run.ID}} -t $Registry/scratch:1 -f Dockerfile .',
      '  - push: ["{{.Run.Registry}}/yaml-out:{{.Run.ID}}", "{{.Run.RegistryName}}.azurecr.io/yaml-out:stable"]',
      '',
    ].join('\n');
    const body = (tags: Record<string, string>) => ({
      location: SEED.location,
      tags,
      platform: { os: 'Linux' },
      step: { type: 'EncodedTask' as const, encodedTaskContent: Buffer.from(yaml).toString('base64') },
    });
    const name = unique('yamlout');
    await acr.tasks.beginCreateAndWait(SEED.resourceGroup, SEED.appRegistry, name, body({}));
    const registry = await arm.getRegistry(appRegId());
    const listed = (await arm.listTasks(appRegId())).find((x) => x.name === name)!;
    const problems: string[] = [];
    expect(toTaskInfo(listed, registry, { problems }).outputImages).toEqual([
      'myregistry.azurecr.io/yaml-out:{{.Run.ID}}',
      'myregistry.azurecr.io/yaml-out:stable',
    ]);
    expect(problems).toEqual([]);
    const tagged = unique('yamltag');
    await acr.tasks.beginCreateAndWait(
      SEED.resourceGroup,
      SEED.appRegistry,
      tagged,
      body({ 'cascade.outputImages': 'override:1' }),
    );
    const overridden = (await arm.listTasks(appRegId())).find((x) => x.name === tagged)!;
    expect(toTaskInfo(overridden, registry).outputImages).toEqual(['myregistry.azurecr.io/override:1']);
  });

  it('lists runs with an OData filter built from the RunFilter', async () => {
    expect(runFilterText({ taskName: "o'brien", status: 'Succeeded' })).toBe(
      "TaskName eq 'o''brien' and Status eq 'Succeeded'",
    );
    const runs = await arm.listRuns(appRegId(), { taskName: SEED.tasks.hello });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.every((r) => r.task === SEED.tasks.hello && r.registryId === appRegId())).toBe(true);
    expect(runs[0]).toMatchObject({
      status: 'Succeeded',
      outputImages: [expect.stringMatching(/^myregistry\.azurecr\.io\/hello-world:/)],
    });
  });
});

describe('role assignments, definitions and identities', () => {
  it('lists assignments at and above a scope (atScope), and below it only when asked', async () => {
    const atRegistry = await arm.listRoleAssignmentsAtScope(baseId());
    const scopes = atRegistry.map((a) => a.scope.toLowerCase());
    expect(scopes).toContain(`/subscriptions/${sub}`.toLowerCase()); // operator Owner, app Reader: inherited
    expect(atRegistry.some((a) => a.principalId === seed.identity.principalId)).toBe(true);
    const atRg = await arm.listRoleAssignmentsAtScope(rgId);
    expect(atRg.some((a) => a.scope.toLowerCase() === baseId().toLowerCase())).toBe(false);
    const withBelow = await arm.listRoleAssignmentsAtScope(rgId, { includeBelow: true });
    expect(withBelow.some((a) => a.scope.toLowerCase() === baseId().toLowerCase())).toBe(true);
  });

  it('reads a role definition with its permission blocks', async () => {
    const def = await arm.getRoleDefinition(
      `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS.AcrPull}`,
    );
    expect(def).toMatchObject({
      name: ROLE_IDS.AcrPull,
      roleName: 'AcrPull',
      permissions: [
        {
          actions: ['Microsoft.ContainerRegistry/registries/pull/read'],
          notActions: [],
          dataActions: [],
          notDataActions: [],
        },
      ],
    });
  });

  it("lists a resource group's user-assigned identities with resource, principal and client ids", async () => {
    expect(await arm.listUserAssignedIdentities(sub, SEED.resourceGroup)).toContainEqual({
      resourceId: seed.identity.id,
      principalId: seed.identity.principalId,
      clientId: seed.identity.clientId,
    });
  });
});

describe('vaults and secret properties', () => {
  it('finds a vault by its URL with its access policies and permission model', async () => {
    const vault = await arm.getVaultByUrl(seed.vaultUri, [sub]);
    expect(vault).toMatchObject({ id: seed.vaultId, name: SEED.vault, enableRbacAuthorization: false });
    expect(vault!.accessPolicies).toContainEqual({ objectId: seed.dockerhubPrincipalId, secrets: ['get'] });
    expect(await arm.getVaultByUrl('https://nosuchvault.vault.azure.net', [sub])).toBeUndefined();
  });

  it('reads the latest, a pinned version and the newest enabled version from properties only', async () => {
    const name = unique('Rotating');
    const v1 = (await operatorSecrets.setSecret(name, 'first-value', { expiresOn: new Date(Date.now() + 86400_000) }))
      .properties.version!;
    const v2 = (await operatorSecrets.setSecret(name, 'second-value')).properties.version!;
    await operatorSecrets.updateSecretProperties(name, v2, { enabled: false });
    const vaultUrl = seed.vaultUri.replace(/\/+$/, '');

    const latest = await arm.getSecretProperties(`${vaultUrl}/secrets/${name}`);
    expect(latest.props).toMatchObject({ name, version: v2, enabled: false });
    expect(latest.latestEnabledVersion).toBe(v1);
    expect(latest.allVersions.map((v) => v.version)).toEqual([v1, v2]);

    const pinned = await arm.getSecretProperties(`${vaultUrl}/secrets/${name}/${v1}`);
    expect(pinned.props).toMatchObject({ version: v1, enabled: true, expiresOn: expect.any(Number) });
    expect(JSON.stringify([latest, pinned])).not.toMatch(/first-value|second-value/);

    const missing = await arm.getSecretProperties(`${vaultUrl}/secrets/${unique('Missing')}`);
    expect(missing.props).toBeUndefined();
    expect(missing.allVersions).toEqual([]);
  });

  it('refuses role-assignment writes for an app without an RBAC administration role (403, reported not thrown later)', async () => {
    await expect(
      arm.createRoleAssignment({
        scope: baseId(),
        name: guidFrom(unique('denied')),
        roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS.AcrPull}`,
        principalId: seed.identity.principalId,
      }),
    ).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });
});

describe('request counting', () => {
  it('counts one ARM read per page and one Key Vault read per versions page', async () => {
    const counted = createArmAdapters(createAzureClients(settings, t.app));
    await counted.listTasks(appRegId());
    await counted.getRegistry(baseId());
    await counted.getSecretProperties(`${seed.vaultUri.replace(/\/+$/, '')}/secrets/Password`);
    expect(counted.counts).toEqual({ armReads: 2, armWrites: 0, keyVaultReads: 1 });
  });
});
