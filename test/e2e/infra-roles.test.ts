// The roles infra/ grants are exactly enough: deploy the Bicep's role model (custom roles, assignments, access
// policies) into the emulator, give the app identity nothing else, and run the seed cascade end to end.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { compiled, deploy } from '../support/arm.js';
import { assignments, builtInRoleNames, customRoles, describeBicep } from '../support/infra.js';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { startCascadeStack, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;
const granted: { role: string; scope: string }[] = [];

const ARM_SCOPE = ['https://management.azure.com/.default'];

describeBicep('the app identity holding only the roles infra/ assigns', () => {
  beforeAll(async () => {
    s = await startCascadeStack('infra-roles', {}, 200, { grantAppRoles: false });
    const { emu, seed, operator } = s.stack;
    const sub = emu.subscriptionId;
    const appPrincipalId = s.stack.description.identity.appPrincipalId;
    // What the compiled main.bicep deploys for this stack's settings, in the emulator's subscription.
    const deployment = deploy(
      compiled('main'),
      {
        environmentName: 'local',
        managedScopes: [s.stack.appSettings.CASCADE_MANAGED_SCOPES!],
        watchedRegistries: [seed!.registries[SEED.baseRegistry]!],
        watchedVaults: [seed!.vaultId],
        // mykeyvault uses access policies: infra grants `list` (never `get`) on such vaults.
        accessPolicyVaults: [seed!.vaultId],
      },
      { scope: { subscriptionId: sub, resourceGroup: SEED.resourceGroup }, tenantId: emu.tenantId },
    );
    const out = (name: string) => String((deployment.outputs[name] as { value: unknown }).value);
    const authz = new AuthorizationManagementClient(operator, sub, {
      endpoint: emu.armEndpoint,
      credentialScopes: ARM_SCOPE,
    });
    for (const role of customRoles(deployment)) {
      await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, role.guid, {
        roleName: role.roleName,
        roleType: 'CustomRole',
        permissions: [
          {
            actions: role.actions,
            notActions: role.notActions,
            dataActions: role.dataActions,
            notDataActions: role.notDataActions,
          },
        ],
        assignableScopes: role.scopes,
      });
    }
    // The deployed topic is the seed's notification topic here; storage and Application Insights are not emulated.
    const emulatedScope = (scope: string) =>
      scope === out('CASCADE_NOTIFICATION_TOPIC_ID')
        ? seed!.notificationTopic.id
        : /\/providers\/Microsoft\.(Storage|Insights)\//.test(scope)
          ? undefined
          : scope;
    for (const a of assignments(deployment, builtInRoleNames())) {
      expect(a.principalId).toBe(out('CASCADE_APP_PRINCIPAL_ID'));
      const scope = emulatedScope(a.scope);
      if (!scope) continue;
      await authz.roleAssignments.create(scope, guidFrom(`infra-${a.roleId}-${scope}`), {
        roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${a.roleId}`,
        principalId: appPrincipalId,
        principalType: 'ServicePrincipal',
      });
      granted.push({ role: a.roleName, scope });
    }
    const policies = deployment.resources.filter((r) => r.type === 'Microsoft.KeyVault/vaults/accessPolicies');
    expect(policies.map((p) => p.id)).toEqual([`${seed!.vaultId}/accessPolicies/add`]);
    const [policy] = (policies[0]!.properties as { accessPolicies: { permissions: { secrets: string[] } }[] })
      .accessPolicies;
    const kvm = new KeyVaultManagementClient(operator, sub, {
      endpoint: emu.armEndpoint,
      credentials: { scopes: ARM_SCOPE },
    });
    await kvm.vaults.updateAccessPolicy(SEED.resourceGroup, SEED.vault, 'add', {
      properties: {
        accessPolicies: [
          {
            tenantId: emu.tenantId,
            objectId: appPrincipalId,
            permissions: { secrets: policy!.permissions.secrets as never[] },
          },
        ],
      },
    });
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
  });

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
    // The seed's tasks have ACR's own trigger on: with the Bicep's roles the app finds and adopts those runs.
    expect(byName[SEED.tasks.hello]).toMatchObject({
      decision: 'rebuild',
      run: { status: 'Succeeded', adopted: true },
    });
    expect(byName[SEED.tasks.dockerhub]).toMatchObject({
      decision: 'rebuild',
      run: { status: 'Succeeded', adopted: true },
    });
    // Nothing the app did was refused by ARM: every call it needed was granted.
    expect(s.logs.filter((l) => /AuthorizationFailed|ForbiddenByRbac|AccessDenied/.test(l))).toEqual([]);
  });
});
