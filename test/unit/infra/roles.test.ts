// The role model as the compiled templates deploy it: which role each principal gets at which scope, that it is least
// privilege, and that docs/deploy.md claims exactly what is assigned. Reads the real compiler's ARM JSON.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { compiled, templateVariable } from '../../support/arm.js';
import {
  assignments,
  customRoles,
  deployEvents,
  deployMain,
  describeBicep,
  FULL_PARAMETERS,
  id,
  RG,
  SUB,
} from '../../support/infra.js';

const root = resolve(__dirname, '../../..');
const docs = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');

// Built-in roles this project may use (GUIDs are the same in every tenant).
const BUILT_IN: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  'd5a91429-5739-47e2-a06b-3470a27159e7': 'EventGrid Data Sender',
  '0ad04412-c4d5-4796-b79c-f76d14c8d402': 'Durable Task Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '76199698-9eea-4c19-bc75-cec21354c6b6': 'Storage Table Data Reader',
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
};
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
const REPOSITORY_READER = 'b93aa761-3e63-49ed-ac28-beffa264f7ac';
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

const storage = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${name}`;

describeBicep('role assignments of the compiled main.bicep', () => {
  const d = deployMain();
  const all = assignments(d, BUILT_IN);
  const app = String((d.outputs.CASCADE_APP_PRINCIPAL_ID as { value: unknown }).value);
  const roles = customRoles(d);
  const role = (name: string) => roles.find((r) => r.roleName === name);
  const at = (scope: string) =>
    all
      .filter((a) => a.scope.toLowerCase() === scope.toLowerCase())
      .map((a) => a.roleName)
      .sort();
  const storageAccount = String((d.outputs.CASCADE_STORAGE_ACCOUNT_NAME as { value: unknown }).value);

  it('gives every assignment to the app identity, as a service principal', () => {
    expect(app).toMatch(/Microsoft\.Web\/sites\/func-acr-cascade-\w+.*principalId/);
    expect(all.length).toBeGreaterThan(0);
    for (const a of all) expect(a, a.symbol).toMatchObject({ principalId: app, principalType: 'ServicePrincipal' });
  });

  it('assigns, scope by scope, exactly the model (default switches: no auto-remediation, Azure Storage backend)', () => {
    const [subScope, rgScope, registryScope] = FULL_PARAMETERS.managedScopes as [string, string, string];
    // Rotation is on in FULL_PARAMETERS (and credential refresh by default): tasks/write is granted.
    expect(at(subScope)).toEqual(['ACR Cascade Operator', 'ACR Cascade Task Writer']);
    expect(at(rgScope)).toEqual(['ACR Cascade Operator', 'ACR Cascade Task Writer']);
    expect(at(registryScope)).toEqual(['ACR Cascade Operator', 'ACR Cascade Task Writer']);
    expect(at(id.registry('rg-base', 'base'))).toEqual(['ACR Cascade Reader']);
    expect(at(id.registry('rg-apps', 'apps'))).toEqual(['ACR Cascade Credential Rotator']);
    expect(at(id.vault('rg-kv', 'kv'))).toEqual(['ACR Cascade Credential Rotator', 'ACR Cascade Reader']);
    expect(at(storage(storageAccount))).toEqual([
      'Storage Blob Data Owner',
      'Storage Queue Data Contributor',
      'Storage Table Data Contributor',
    ]);
    const topic = String((d.outputs.CASCADE_NOTIFICATION_TOPIC_ID as { value: unknown }).value);
    expect(at(topic)).toEqual(['EventGrid Data Sender']);
    const component = d.resources.find((r) => r.type === 'Microsoft.Insights/components')!;
    expect(at(component.id)).toEqual(['Monitoring Metrics Publisher']);
    expect(all).toHaveLength(15);
    expect(all.filter((a) => a.condition !== null || a.conditionVersion !== null)).toEqual([]);
  });

  it('gives the app, at each managed scope, exactly what finding, scheduling and refreshing tasks needs', () => {
    expect(role('ACR Cascade Operator')?.actions.sort()).toEqual(
      [
        'Microsoft.Authorization/roleAssignments/read',
        'Microsoft.Authorization/roleDefinitions/read',
        'Microsoft.ContainerRegistry/registries/read',
        'Microsoft.ContainerRegistry/registries/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/runs/cancel/action',
        'Microsoft.ContainerRegistry/registries/runs/read',
        'Microsoft.ContainerRegistry/registries/scheduleRun/action',
        'Microsoft.ContainerRegistry/registries/tasks/listDetails/action',
        'Microsoft.ContainerRegistry/registries/tasks/read',
      ].sort(),
    );
    expect(role('ACR Cascade Operator')?.dataActions).toEqual([]);
    expect(role('ACR Cascade Task Writer')).toMatchObject({
      actions: [
        'Microsoft.ContainerRegistry/registries/tasks/write',
        'Microsoft.ContainerRegistry/registries/operationStatuses/read',
      ],
      dataActions: [],
    });
  });

  it('lets the app read, but never pull from, watched registries and never read secret values', () => {
    expect(role('ACR Cascade Reader')?.actions).not.toContain('Microsoft.ContainerRegistry/registries/pull/read');
    expect(role('ACR Cascade Reader')?.dataActions).toEqual(['Microsoft.KeyVault/vaults/secrets/readMetadata/action']);
  });

  it('keeps every custom role free of wildcards, deletes and secret reads, assignable where it is assigned', () => {
    for (const r of roles) {
      const actions = [...r.actions, ...r.dataActions];
      expect(
        actions.filter((a) => /\*|delete|secrets\/getSecret/i.test(a)),
        r.roleName,
      ).toEqual([]);
      expect(r.scopes, r.roleName).toEqual([`/subscriptions/${SUB}`]);
      expect(r.id, r.roleName).toMatch(
        new RegExp(`^/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/`),
      );
    }
  });

  it('grants rotation (token passwords, new secret versions) only at the rotation registries and vaults', () => {
    expect(role('ACR Cascade Credential Rotator')).toMatchObject({
      actions: [
        'Microsoft.ContainerRegistry/registries/tokens/read',
        'Microsoft.ContainerRegistry/registries/generateCredentials/action',
        'Microsoft.ContainerRegistry/registries/operationStatuses/read',
      ],
      dataActions: [
        'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
        'Microsoft.KeyVault/vaults/secrets/setSecret/action',
      ],
    });
  });

  it('defines no custom role it does not assign, and assigns none it does not define', () => {
    const assignedCustom = new Set(all.filter((a) => a.roleName.startsWith('ACR Cascade')).map((a) => a.roleId));
    expect(roles.filter((r) => !assignedCustom.has(r.guid) && r.roleName !== 'ACR Cascade Pull Granter')).toEqual([]);
    expect(all.filter((a) => a.roleName.startsWith('unknown role'))).toEqual([]);
  });

  it("lets each system topic's identity write only the dead-letter container", () => {
    const events = assignments(deployEvents(d), BUILT_IN);
    expect(events).toHaveLength(2);
    for (const a of events) {
      expect(a).toMatchObject({ roleName: 'Storage Blob Data Contributor', principalType: 'ServicePrincipal' });
      expect(a.scope).toBe(`${storage(storageAccount)}/blobServices/default/containers/eventgrid-deadletter`);
      expect(a.principalId).toMatch(/systemTopics.*identity\.principalId/);
    }
  });
});

describeBicep('role switches of the compiled main.bicep', () => {
  it('grants auto-remediation only when switched on, only on watched registries, only the two pull roles', () => {
    const off = assignments(deployMain(FULL_PARAMETERS), BUILT_IN);
    expect(off.map((a) => a.roleName)).not.toContain('ACR Cascade Pull Granter');
    const on = assignments(deployMain({ ...FULL_PARAMETERS, autoRemediate: true }), BUILT_IN);
    const grants = on.filter((a) => a.roleName === 'ACR Cascade Pull Granter');
    expect(grants.map((a) => a.scope)).toEqual([id.registry('rg-base', 'base')]);
    const [grant] = grants;
    expect(grant?.conditionVersion).toBe('2.0');
    const condition = String(grant?.condition);
    expect(condition).toContain("!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})");
    expect(condition).toContain(
      "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}",
    );
    expect([...new Set(condition.match(GUID))].sort()).toEqual([ACR_PULL, REPOSITORY_READER].sort());
    expect(
      customRoles(deployMain(FULL_PARAMETERS)).find((r) => r.roleName === 'ACR Cascade Pull Granter')?.actions,
    ).toEqual(['Microsoft.Authorization/roleAssignments/write']);
  });

  it('uses the Durable Task Scheduler role instead of queues when that backend is chosen', () => {
    const names = assignments(deployMain({ ...FULL_PARAMETERS, durableBackend: 'DurableTaskScheduler' }), BUILT_IN).map(
      (a) => a.roleName,
    );
    expect(names).toContain('Durable Task Data Contributor');
    expect(names).not.toContain('Storage Queue Data Contributor');
  });

  it('uses access policies with list (and set for rotation) on access-policy vaults, never get', () => {
    const vault = id.vault('rg-kv', 'policy-kv');
    const rotating = id.vault('rg-kv', 'kv');
    const d = deployMain({ ...FULL_PARAMETERS, accessPolicyVaults: [vault, rotating] });
    const policies = d.resources
      .filter((r) => r.type === 'Microsoft.KeyVault/vaults/accessPolicies')
      .map((r) => ({ id: r.id, policies: r.properties.accessPolicies }));
    expect(policies).toMatchObject([
      { id: `${vault}/accessPolicies/add`, policies: [{ permissions: { secrets: ['list'] } }] },
      { id: `${rotating}/accessPolicies/add`, policies: [{ permissions: { secrets: ['list', 'set'] } }] },
    ]);
  });
});

describeBicep('tasks/write, the operators group and the order of role deployments', () => {
  const taskWriters = (parameters: Record<string, unknown>) =>
    assignments(deployMain({ ...FULL_PARAMETERS, ...parameters }), BUILT_IN).filter(
      (a) => a.roleName === 'ACR Cascade Task Writer',
    );

  it('grants tasks/write only with credential refresh, token rotation or native triggers switched off', () => {
    const none = { credentialRefresh: false, rotationRegistries: [], rotationVaults: [], nativeTriggers: 'adopt' };
    expect(taskWriters(none)).toEqual([]);
    const managed = (FULL_PARAMETERS.managedScopes as string[]).slice().sort();
    for (const on of [
      { credentialRefresh: true },
      { rotationRegistries: [id.registry('rg-apps', 'apps')] },
      { nativeTriggers: 'disable' },
    ]) {
      expect(
        taskWriters({ ...none, ...on })
          .map((a) => a.scope)
          .sort(),
        JSON.stringify(on),
      ).toEqual(managed);
    }
    // Without it no custom role the app holds can write tasks.
    const d = deployMain({ ...FULL_PARAMETERS, ...none });
    const held = new Set(assignments(d, BUILT_IN).map((a) => a.roleId));
    const writing = customRoles(d).filter(
      (r) => held.has(r.guid) && r.actions.includes('Microsoft.ContainerRegistry/registries/tasks/write'),
    );
    expect(writing).toEqual([]);
  });

  it("gives an operators' group read on the app tables and the dead-letter container, only when one is named", () => {
    const group = '99999999-9999-4999-8999-999999999999';
    expect(assignments(deployMain(FULL_PARAMETERS), BUILT_IN).filter((a) => a.principalId === group)).toEqual([]);
    const d = deployMain({ ...FULL_PARAMETERS, operatorsGroupPrincipalId: group });
    const account = storage(String((d.outputs.CASCADE_STORAGE_ACCOUNT_NAME as { value: unknown }).value));
    const ops = assignments(d, BUILT_IN)
      .filter((a) => a.principalId === group)
      .map((a) => ({ role: a.roleName, scope: a.scope, type: a.principalType }));
    expect(ops).toEqual([
      { role: 'Storage Table Data Reader', scope: account, type: 'Group' },
      {
        role: 'Storage Blob Data Reader',
        scope: `${account}/blobServices/default/containers/eventgrid-deadletter`,
        type: 'Group',
      },
    ]);
  });

  it('deploys the custom role definitions before every deployment that assigns them', () => {
    const template = compiled('main') as { resources: Record<string, { type: string; dependsOn?: string[] }> };
    const modules = Object.entries(template.resources).filter(([, r]) => r.type === 'Microsoft.Resources/deployments');
    expect(modules.map(([name]) => name)).toContain('customRoles');
    // Which modules assign a custom role: those whose deployed assignments use one.
    const d = deployMain({ ...FULL_PARAMETERS, autoRemediate: true });
    const custom = new Set(customRoles(d).map((r) => r.guid));
    const assigning = new Set(
      assignments(d, BUILT_IN)
        .filter((a) => custom.has(a.roleId))
        .map((a) => a.symbol.split(/[[/]/)[0]!),
    );
    expect(assigning.size).toBeGreaterThan(0);
    for (const name of assigning) expect(template.resources[name]?.dependsOn, name).toContain('customRoles');
  });
});

describeBicep('docs/deploy.md against the compiled roles', () => {
  const main = compiled('main');
  const builtIn = templateVariable(main, 'builtInRoles') as Record<string, { id: string; name: string }>;
  const d = deployMain({
    ...FULL_PARAMETERS,
    autoRemediate: true,
    durableBackend: 'DurableTaskScheduler',
    operatorsGroupPrincipalId: '99999999-9999-4999-8999-999999999999',
  });
  const all = [...assignments(d, BUILT_IN), ...assignments(deployMain(FULL_PARAMETERS), BUILT_IN)];
  const assigned = new Set(all.filter((a) => BUILT_IN[a.roleId]).map((a) => a.roleId));
  for (const a of assignments(deployEvents(d), BUILT_IN)) assigned.add(a.roleId);
  const condition = String(all.find((a) => a.roleName === 'ACR Cascade Pull Granter')?.condition);

  it('carries only known built-in roles under their real GUIDs', () => {
    for (const r of Object.values(builtIn)) expect(BUILT_IN[r.id], r.name).toBe(r.name);
  });

  it('mentions every built-in role GUID the templates assign, and no other but those in the remediation condition', () => {
    const mentioned = new Set(docs.match(GUID)?.map((g) => g.toLowerCase()));
    expect([...assigned].filter((g) => !mentioned.has(g))).toEqual([]);
    const inCondition = new Set(condition.match(GUID));
    expect([...mentioned].filter((g) => !assigned.has(g) && !inCondition.has(g))).toEqual([]);
  });

  it('names every custom role, and claims no custom role that is not defined', () => {
    const roles = customRoles(d);
    for (const r of roles) expect(docs).toContain(r.roleName);
    const claimed = new Set(docs.match(/ACR Cascade [A-Z][a-z]+(?: [A-Z][a-z]+)?/g));
    expect([...claimed].filter((name) => !roles.some((r) => r.roleName === name))).toEqual([]);
  });

  it('shows the auto-remediation condition exactly as deployed', () => {
    expect(docs).toContain(condition.trim());
  });
});
