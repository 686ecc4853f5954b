// The roles infra/ grants are exactly enough: deploy the Bicep's role model (custom roles, assignments, access
// policies) into the emulator, give the app identity nothing else, and run the seed cascade end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { activeAssignments, deriveRoleModel, type RoleAssignmentSpec } from '../support/bicep.js';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { startCascadeStack, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;
const granted: { role: string; scope: string }[] = [];

const ARM_SCOPE = ['https://management.azure.com/.default'];

beforeAll(async () => {
  s = await startCascadeStack('infra-roles', {}, 200, { grantAppRoles: false });
  const { emu, seed, operator } = s.stack;
  const sub = emu.subscriptionId;
  const appPrincipalId = s.stack.description.identity.appPrincipalId;
  const model = deriveRoleModel('infra', {
    subscriptionId: sub,
    resourceGroup: SEED.resourceGroup,
    environmentName: 'local',
  });
  const assignments = activeAssignments(model, { autoRemediate: false, durableBackend: 'AzureStorage' });
  const authz = new AuthorizationManagementClient(operator, sub, {
    endpoint: emu.armEndpoint,
    credentialScopes: ARM_SCOPE,
  });

  // The stack's settings name these scopes; storage, scheduler and dead-letter scopes have no emulated resource.
  const scopesOf: Record<RoleAssignmentSpec['scopeKind'], string[]> = {
    managedScope: [s.stack.appSettings.CASCADE_MANAGED_SCOPES!],
    watchedRegistry: [seed!.registries[SEED.baseRegistry]!],
    watchedVault: [seed!.vaultId],
    rotationRegistry: [],
    rotationVault: [],
    topic: [seed!.notificationTopic.id],
    storage: [],
    scheduler: [],
    deadLetterContainer: [],
  };
  for (const role of model.customRoles.filter((r) => assignments.some((a) => a.customRoleKey === r.key))) {
    await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, role.id, {
      roleName: role.roleName,
      description: role.description,
      roleType: 'CustomRole',
      permissions: [
        {
          actions: role.actions,
          notActions: role.notActions,
          dataActions: role.dataActions,
          notDataActions: role.notDataActions,
        },
      ],
      assignableScopes: [`/subscriptions/${sub}`],
    });
  }
  for (const a of assignments.filter((x) => x.principal === 'app')) {
    for (const scope of scopesOf[a.scopeKind]) {
      await authz.roleAssignments.create(scope, guidFrom(`infra-${a.roleDefinitionId}-${scope}`), {
        roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionId}`,
        principalId: appPrincipalId,
        principalType: 'ServicePrincipal',
      });
      granted.push({ role: a.roleName, scope });
    }
  }
  // mykeyvault uses access policies: infra grants `list` (never `get`) on such vaults.
  const policy = model.accessPolicies.find((p) => p.scopeKind === 'accessPolicyVault')!;
  const kvm = new KeyVaultManagementClient(operator, sub, {
    endpoint: emu.armEndpoint,
    credentials: { scopes: ARM_SCOPE },
  });
  await kvm.vaults.updateAccessPolicy(SEED.resourceGroup, SEED.vault, 'add', {
    properties: {
      accessPolicies: [
        { tenantId: emu.tenantId, objectId: appPrincipalId, permissions: { secrets: policy.secrets as never[] } },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

describe('the app identity holding only the roles infra/ assigns', () => {
  it('holds the Bicep role model and nothing that would let it pull images or read secret values', () => {
    const { emu, seed } = s.stack;
    const app = s.stack.description.identity.appPrincipalId;
    expect(granted.map((g) => g.role)).toEqual(
      expect.arrayContaining(['ACR Cascade Operator', 'ACR Cascade Reader', 'EventGrid Data Sender']),
    );
    const base = seed!.registries[SEED.baseRegistry]!;
    expect(emu.authorize(app, base, { action: 'Microsoft.ContainerRegistry/registries/pull/read' })).toEqual({
      allowed: false,
    });
    expect(emu.authorize(app, base, { action: 'Microsoft.ContainerRegistry/registries/push/write' }).allowed).toBe(
      false,
    );
    expect(emu.authorize(app, base, { action: 'Microsoft.Authorization/roleAssignments/write' }).allowed).toBe(false);
    expect(
      emu.authorize(app, `${seed!.vaultId}/secrets/Password`, {
        dataAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action',
      }).allowed,
    ).toBe(false);
  });

  it('plans, preflights and rebuilds the seed scenario from a push', async () => {
    const digest = s.pushBase('infra-roles');
    const done = await s.waitDone(s.cascadeId(), digest);
    expect(done.runtimeStatus).toBe('Completed');
    const byName = Object.fromEntries(done.result!.tasks.map((t) => [t.taskName, t]));
    expect(byName[SEED.tasks.hello]).toMatchObject({ decision: 'rebuild', run: { status: 'Succeeded' } });
    expect(byName[SEED.tasks.dockerhub]).toMatchObject({ decision: 'rebuild', run: { status: 'Succeeded' } });
    // Nothing the app did was refused by ARM: every call it needed was granted.
    expect(s.logs.filter((l) => /AuthorizationFailed|ForbiddenByRbac|AccessDenied/.test(l))).toEqual([]);
  });
});
