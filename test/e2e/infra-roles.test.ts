// Least privilege, checked against behaviour: deploy the compiled main.bicep's role model (custom roles and
// assignments) into the emulator before the app starts, give the app identity nothing else, run every scenario of the
// app — a cascade, an on-demand rebuild and its cancel, the index refresh, a credential check with a refresh and a
// token rotation, and auto-remediation — and compare the actions the emulator authorised for the app (its access log)
// with the compiled roles, both ways: nothing refused, and nothing granted that no scenario used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { compiled, deploy } from '../support/arm.js';
import { assignments, builtInRoleNames, customRoles, describeBicep } from '../support/infra.js';
import { createTokenTask, operatorClients, type Operator } from '../support/credentialFixtures.js';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { scopeCovers } from '../../local/azure/core/rbac.js';
import type { AccessRecord } from '../../local/azure/core/emulator.js';
import { keyOf, tokenOf } from '../../src/activities/runs/index.js';
import type { CredentialCheckResult } from '../../src/contracts/index.js';
import type { BeforeHostContext } from '../../local/stack/stack.js';
import { startCascadeStack, waitFor, withToken, type CascadeStack } from './cascadeStack.js';

const ARM_SCOPE = ['https://management.azure.com/.default'];
const ROLE = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
};

/**
 * Granted actions no local scenario can exercise, each with the reason. Keep this tiny: anything else a role grants
 * and no scenario uses is removed from infra/shared/roles.bicep.
 */
const NOT_REACHABLE_LOCALLY: Record<string, string> = {
  // The emulator lets any principal of the tenant read role definitions (contracts §4 [U]), so it never checks this
  // action; Azure documents it as the permission for GET roleDefinitions, which the pull preflight needs.
  'Microsoft.Authorization/roleDefinitions/read': 'not checked by the emulator (role definitions are tenant-readable)',
};

/**
 * Refusals the app expects and handles, each with the reason. Keep this tiny too.
 */
const EXPECTED_REFUSALS: Record<string, string> = {
  // Rotation reads the version it just wrote back when it may (`get` is an operator's opt-in for value checks);
  // refused, it verifies the version's properties instead (src/activities/credentials/rotate.ts).
  'Microsoft.KeyVault/vaults/secrets/getSecret/action': 'rotation read-back, verified by properties when refused',
};

let s: CascadeStack;
let op: Operator;
let app: string;
const granted: { role: string; scope: string; actions: string[] }[] = [];
let counter = 0;
const label = (what: string) => `infra-roles-${what}-${++counter}`;

/**
 * Deploys the compiled main.bicep's role model for the app identity, and switches the vault to Azure RBAC. Runs before
 * the Functions host starts, as `azd provision` precedes `azd deploy`: the app's index refresh timer fires on the
 * wall clock (every quarter hour), and a refresh run before the roles exist lists an empty subscription (ARM lists
 * only what the caller may read, without an error), which the app keeps as its index until the next refresh.
 */
async function deployRoles({ emu, seed, operator, appSettings, appPrincipalId }: BeforeHostContext): Promise<void> {
  const sub = emu.subscriptionId;
  const authz = new AuthorizationManagementClient(operator, sub, {
    endpoint: emu.armEndpoint,
    credentialScopes: ARM_SCOPE,
  });
  const grant = (scope: string, role: string, principalId: string) =>
    authz.roleAssignments.create(scope, guidFrom(`infra-roles|${role}|${scope}|${principalId}`), {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      principalId,
      principalType: 'ServicePrincipal',
    });
  // The vault on the Azure RBAC permission model (the default for new vaults), so the roles' Key Vault data
  // actions are what the app uses. The operator and the seed's task identities get what they need there.
  const kvm = new KeyVaultManagementClient(operator, sub, {
    endpoint: emu.armEndpoint,
    credentials: { scopes: ARM_SCOPE },
  });
  await kvm.vaults.update(SEED.resourceGroup, SEED.vault, { properties: { enableRbacAuthorization: true } });
  await grant(seed!.vaultId, ROLE.secretsOfficer, emu.identities.find((p) => p.kind === 'operator')!.objectId);
  await grant(seed!.vaultId, ROLE.secretsUser, seed!.dockerhubPrincipalId);

  // What the compiled main.bicep deploys with rotation and auto-remediation on, in the emulator's subscription.
  const baseRegistry = seed!.registries[SEED.baseRegistry]!;
  const deployment = deploy(
    compiled('main'),
    {
      environmentName: 'local',
      managedScopes: [appSettings.CASCADE_MANAGED_SCOPES!],
      watchedRegistries: [baseRegistry],
      watchedVaults: [seed!.vaultId],
      rotationRegistries: [baseRegistry],
      rotationVaults: [seed!.vaultId],
      autoRemediate: true,
    },
    { scope: { subscriptionId: sub, resourceGroup: SEED.resourceGroup }, tenantId: emu.tenantId },
  );
  const out = (name: string) => String((deployment.outputs[name] as { value: unknown }).value);
  const roles = customRoles(deployment);
  for (const role of roles) {
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
      ...(typeof a.condition === 'string' ? { condition: a.condition, conditionVersion: '2.0' } : {}),
    });
    const custom = roles.find((r) => r.guid === a.roleId);
    granted.push({ role: a.roleName, scope, actions: custom ? [...custom.actions, ...custom.dataActions] : [] });
  }
  expect(deployment.resources.filter((r) => r.type === 'Microsoft.KeyVault/vaults/accessPolicies')).toEqual([]);
}

/** What the app's dependency index holds (GET /api/index): the first thing to read when a plan misses a task. */
async function indexSummary(): Promise<unknown> {
  const res = await s.call('GET', '/api/index');
  if (res.status !== 200) return `GET /api/index: ${res.status} ${res.text}`;
  const { built, version, refreshedAt, registries, tasks, pending, lastRefresh } = res.json;
  const last = lastRefresh as { errors?: unknown[] } | undefined;
  return { built, version, refreshedAt, registries, tasks, pending, lastErrors: last?.errors };
}

describeBicep('the app identity holding only the roles infra/ assigns', () => {
  beforeAll(async () => {
    s = await startCascadeStack('infra-roles', { CASCADE_AUTO_REMEDIATE: 'true' }, 200, {
      grantAppRoles: false,
      beforeHost: deployRoles,
    });
    const { emu, seed, operator } = s.stack;
    app = s.stack.description.identity.appPrincipalId;
    op = operatorClients(emu.armEndpoint, operator, emu.subscriptionId, emu.tenantId, seed!);
    // Only what the scenarios below do counts.
    expect((await s.admin('DELETE', '/access')).status).toBe(204);
  }, 240_000);

  afterAll(async () => {
    await s?.stop();
  });

  it('holds the Bicep role model and nothing that would let it pull images or read secret values', () => {
    const { emu, seed } = s.stack;
    expect(granted.map((g) => g.role)).toEqual(
      expect.arrayContaining([
        'ACR Cascade Operator',
        'ACR Cascade Reader',
        'ACR Cascade Credential Rotator',
        'ACR Cascade Pull Granter',
        'EventGrid Data Sender',
      ]),
    );
    const base = seed!.registries[SEED.baseRegistry]!;
    expect(emu.authorize(app, base, { action: 'Microsoft.ContainerRegistry/registries/pull/read' })).toEqual({
      allowed: false,
    });
    expect(emu.authorize(app, base, { action: 'Microsoft.ContainerRegistry/registries/push/write' }).allowed).toBe(
      false,
    );
    expect(
      emu.authorize(app, `${seed!.vaultId}/secrets/Password`, {
        dataAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action',
      }).allowed,
    ).toBe(false);
  });

  describe('scenarios', () => {
    it('plans, preflights and rebuilds the seed scenario from a push', async () => {
      const digest = s.pushBase(label('push'));
      const done = await s.waitDone(s.cascadeId(), digest);
      expect(done.runtimeStatus).toBe('Completed');
      const byName = Object.fromEntries(done.result!.tasks.map((t) => [t.taskName, t]));
      // The seed's tasks have ACR's own trigger on: with the Bicep's roles the app finds and adopts those runs.
      // A task missing here was missing from the plan: the message carries the plan's notes and the index it used.
      const why = JSON.stringify({ tasks: done.result?.tasks, notes: done.result?.notes, index: await indexSummary() });
      expect(byName[SEED.tasks.hello], why).toMatchObject({
        decision: 'rebuild',
        run: { status: 'Succeeded', adopted: true },
      });
      expect(byName[SEED.tasks.dockerhub], why).toMatchObject({
        decision: 'rebuild',
        run: { status: 'Succeeded', adopted: true },
      });
      // Nothing the app did was refused by ARM: every call it needed was granted.
      expect(s.logs.filter((l) => /AuthorizationFailed|ForbiddenByRbac|AccessDenied/.test(l))).toEqual([]);
    });

    it('rebuilds a task on demand and cancels the run it started', async () => {
      const hello = s.stack.seed!.taskIds[SEED.tasks.hello]!;
      await s.admin('PUT', '/acr/runs/config', { durationMs: 120_000 });
      try {
        const res = await s.call('POST', '/api/rebuilds', { body: { tasks: [hello] } });
        expect(res.status).toBe(202);
        const id = res.json.id as string;
        await waitFor('the on-demand run', async () => {
          const mine = withToken(
            await s.runsOf(SEED.tasks.hello),
            tokenOf(keyOf({ task: hello, cascadeId: id, requestId: id }), 1),
          );
          if (mine[0]) return mine[0].runId;
          // A rebuild that ended without starting the run will not start it: say what it decided (a TaskNotFound or
          // blocked reason) and what the index knew, instead of waiting out the bound.
          const rebuild = await s.status(id);
          if (rebuild && ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(rebuild.status)) {
            throw new Error(
              `the rebuild ended without a run: ${JSON.stringify({ rebuild, index: await indexSummary() })}`,
            );
          }
          return undefined;
        });
        expect((await s.call('POST', `/api/rebuilds/${id}/cancel`)).status).toBe(202);
        const done = await s.waitDone(id);
        expect(done.result?.tasks.find((t) => t.task === hello)).toMatchObject({
          outcome: 'canceled',
          run: { status: 'Canceled' },
        });
      } finally {
        await s.admin('PUT', '/acr/runs/config', { durationMs: 200 });
      }
    });

    it('refreshes the dependency index', async () => {
      expect((await s.call('POST', '/api/index/refresh')).status).toBe(202);
      const status = await waitFor('the index refresh', async () => {
        const r = (await s.call('GET', '/api/index/refresh')).json;
        return ['Completed', 'Failed', 'Terminated'].includes(r.status as string) ? r : undefined;
      });
      expect(status).toMatchObject({ status: 'Completed', result: { result: { pending: 0 } } });
    });

    it('checks credentials: refreshes a pinned secret version and rotates an ACR token password near expiry', async () => {
      // A task pinned to an old version of a secret that has a newer one (refresh: tasks/write).
      const old = (await op.secrets.getSecret('Password')).properties.version!;
      const value = (await op.secrets.getSecret('Password')).value!;
      await op.secrets.setSecret('Password', value, { expiresOn: new Date(Date.now() + 365 * 86400_000) });
      const details = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
      const hub = details.credentials!.customRegistries!['docker.io']!;
      await op.acr.tasks.beginUpdateAndWait(op.rg, SEED.appRegistry, SEED.tasks.dockerhub, {
        credentials: {
          customRegistries: {
            'docker.io': {
              ...hub,
              password: { type: 'Vaultsecret', value: `${op.vaultBase}/secrets/Password/${old}` },
            },
          },
        },
      });
      // A token whose password expires in 5 days (rotation: tokens.get, generateCredentials, setSecret).
      const tok = await createTokenTask(op, s.stack.seed!, label('tok').replace(/-/g, ''), {
        expiresInDays: 5,
        // Untagged slot: the rotation reads the token (tokens/read) to find the free password slot.
        tagSlot: false,
      });
      await op.authz.roleAssignments.create(s.stack.seed!.vaultId, guidFrom(`infra-roles|tok|${tok.principalId}`), {
        roleDefinitionId: `/subscriptions/${op.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLE.secretsUser}`,
        principalId: tok.principalId,
        principalType: 'ServicePrincipal',
      });
      const version = async () => (await op.secrets.getSecret(`${tok.name}-password`)).properties.version;
      const before = await version();
      const res = await s.call('POST', '/api/credentials/check', {
        body: { tasks: [s.stack.seed!.taskIds[SEED.tasks.dockerhub]!, tok.taskId] },
      });
      expect(res.status).toBe(202);
      const f = s.stack.description.functions;
      const url = `${f.baseUrl}/runtime/webhooks/durabletask/instances/${res.json.id as string}?code=${f.masterKey}`;
      const out = await waitFor(
        'the credential check',
        async () => {
          const r = (await (await fetch(url)).json()) as { runtimeStatus: string; output: CredentialCheckResult };
          return ['Completed', 'Failed', 'Terminated'].includes(r.runtimeStatus) ? r : undefined;
        },
        90_000,
      );
      // A failed check's output is its error: the message says what failed.
      expect(out.runtimeStatus, JSON.stringify(out.output)).toBe('Completed');
      // Key Vault events of the new versions start targeted checks too: whichever check did it, the pin was
      // refreshed and the password rotated.
      await waitFor('the pinned version to be refreshed', async () => {
        const now = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
        const ref = now.credentials!.customRegistries!['docker.io']!.password!.value;
        return ref === `${op.vaultBase}/secrets/Password` ? ref : undefined;
      });
      await waitFor('the token password to be rotated', async () => ((await version()) !== before ? true : undefined));
    });

    it('auto-remediates a missing pull role assignment, then rebuilds the task', async () => {
      const assignmentId = s.stack.seed!.assignments['helloworldtask-acrpull']!;
      await op.authz.roleAssignments.deleteById(assignmentId);
      const digest = s.pushBase(label('remediate'));
      const done = await s.waitDone(s.cascadeId(), digest, 90_000);
      const hello = done.result!.tasks.find((t) => t.taskName === SEED.tasks.hello)!;
      expect(hello).toMatchObject({ run: { status: 'Succeeded' } });
      expect(hello.remediated).toEqual([expect.objectContaining({ scope: s.baseRegistryId })]);
    });
  });

  it('was refused nothing, and used every action of every custom role it holds', async () => {
    const log = (await (await s.admin('GET', `/access?principalId=${app}`)).json()) as { value: AccessRecord[] };
    const name = (r: AccessRecord) => r.action ?? r.dataAction ?? `accessPolicy:${r.accessPolicy}`;
    // Nothing missing: no request of the app was refused.
    const refused = log.value.filter((r) => !r.allowed && !(name(r) in EXPECTED_REFUSALS));
    expect(
      refused.map((r) => `${name(r)} @ ${r.scope}`),
      'requests of the app the emulator refused',
    ).toEqual([]);
    // Nothing extra: every action of each custom role was used at a scope one of its assignments covers. (A role
    // serves registries and vaults alike, so its Key Vault actions are used at vaults, its ACR actions at registries.)
    const byRole = new Map<string, { actions: string[]; scopes: string[] }>();
    for (const g of granted) {
      const r = byRole.get(g.role) ?? { actions: g.actions, scopes: [] };
      r.scopes.push(g.scope);
      byRole.set(g.role, r);
    }
    const unused = [...byRole].flatMap(([role, g]) =>
      g.actions
        .filter((a) => !(a in NOT_REACHABLE_LOCALLY))
        .filter(
          (a) =>
            !log.value.some(
              (r) =>
                r.allowed &&
                name(r).toLowerCase() === a.toLowerCase() &&
                g.scopes.some((scope) => scopeCovers(scope, r.scope)),
            ),
        )
        .map((a) => `${role}: ${a}`),
    );
    // (An action listed here whose scenario failed above is a consequence of that failure, not an extra grant.)
    expect(unused, 'granted actions no scenario used').toEqual([]);
    // The built-in role the emulator models (the topic's data sender) was used too.
    expect(log.value.map(name)).toContain('Microsoft.EventGrid/events/send/action');
    // The allow-list names only actions the compiled roles grant.
    const all = new Set(granted.flatMap((g) => g.actions));
    for (const a of Object.keys(NOT_REACHABLE_LOCALLY)) expect(all.has(a), a).toBe(true);
  });
});
