// The role model: what the app identity holds, that it is least privilege, that the templates really place every
// entry, and that docs/deploy.md claims exactly what is assigned.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  activeAssignments,
  declaration,
  declarationsOf,
  deriveRoleModel,
  evaluateLiteral,
  listBicepFiles,
  loadBicep,
  property,
} from '../../support/bicep.js';

const root = resolve(__dirname, '../../..');
const infra = join(root, 'infra');
const model = deriveRoleModel(infra);
const docs = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');

// Built-in roles this project may use, by name (GUIDs are the same in every tenant).
const KNOWN_BUILT_IN_ROLES: Record<string, string> = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'EventGrid Data Sender': 'd5a91429-5739-47e2-a06b-3470a27159e7',
  'Durable Task Data Contributor': '0ad04412-c4d5-4796-b79c-f76d14c8d402',
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  'Container Registry Repository Reader': 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
};

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const custom = (key: string) => model.customRoles.find((r) => r.key === key);
const where = (scopeKind: string) => model.assignments.filter((a) => a.scopeKind === scopeKind);

describe('role model (infra/shared/roles.bicep)', () => {
  it('uses only known built-in roles, under their real GUIDs, and custom roles defined in infra/', () => {
    for (const a of model.assignments) {
      if (a.builtIn) expect(KNOWN_BUILT_IN_ROLES[a.roleName], a.roleName).toBe(a.roleDefinitionId);
      else expect(model.customRoles.map((r) => r.id)).toContain(a.roleDefinitionId);
    }
  });

  it('uses every custom role it defines', () => {
    const used = new Set(model.assignments.map((a) => a.customRoleKey));
    expect(model.customRoles.filter((r) => !used.has(r.key)).map((r) => r.key)).toEqual([]);
  });

  it('gives the app, at each managed scope, exactly what finding, scheduling and refreshing tasks needs', () => {
    expect(where('managedScope').map((a) => a.customRoleKey)).toEqual(['operator']);
    expect(custom('operator')?.actions.sort()).toEqual(
      [
        'Microsoft.Authorization/roleAssignments/read',
        'Microsoft.Authorization/roleDefinitions/read',
        'Microsoft.ContainerRegistry/registries/read',
        'Microsoft.ContainerRegistry/registries/runs/cancel/action',
        'Microsoft.ContainerRegistry/registries/runs/read',
        'Microsoft.ContainerRegistry/registries/scheduleRun/action',
        'Microsoft.ContainerRegistry/registries/tasks/listDetails/action',
        'Microsoft.ContainerRegistry/registries/tasks/read',
        'Microsoft.ContainerRegistry/registries/tasks/write',
        'Microsoft.ManagedIdentity/userAssignedIdentities/read',
      ].sort(),
    );
    expect(custom('operator')?.dataActions).toEqual([]);
  });

  it('lets the app read, but never pull from, watched registries and never read secret values', () => {
    const reader = custom('reader');
    expect(
      where('watchedRegistry')
        .filter((a) => a.when === 'always')
        .map((a) => a.customRoleKey),
    ).toEqual(['reader']);
    expect(where('watchedVault').map((a) => a.customRoleKey)).toEqual(['reader']);
    expect(reader?.actions).not.toContain('Microsoft.ContainerRegistry/registries/pull/read');
    expect(reader?.dataActions).toEqual(['Microsoft.KeyVault/vaults/secrets/readMetadata/action']);
  });

  it('keeps every custom role free of wildcards, deletes and secret reads', () => {
    for (const role of model.customRoles) {
      const all = [...role.actions, ...role.dataActions];
      expect(
        all.filter((a) => a.includes('*')),
        role.key,
      ).toEqual([]);
      expect(
        all.filter((a) => /delete/i.test(a)),
        role.key,
      ).toEqual([]);
      expect(
        all.filter((a) => /secrets\/getSecret/i.test(a)),
        role.key,
      ).toEqual([]);
    }
  });

  it('grants rotation (token passwords, new secret versions) only at the rotation registries and vaults', () => {
    expect(where('rotationRegistry').map((a) => a.customRoleKey)).toEqual(['credentialRotator']);
    expect(where('rotationVault').map((a) => a.customRoleKey)).toEqual(['credentialRotator']);
    expect(custom('credentialRotator')).toMatchObject({
      actions: [
        'Microsoft.ContainerRegistry/registries/tokens/read',
        'Microsoft.ContainerRegistry/registries/generateCredentials/action',
      ],
      dataActions: [
        'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
        'Microsoft.KeyVault/vaults/secrets/setSecret/action',
      ],
    });
  });

  it('grants auto-remediation only when switched on, only on watched registries, only the two pull roles to service principals', () => {
    const remediation = model.assignments.filter((a) => a.when === 'autoRemediate');
    expect(remediation).toHaveLength(1);
    const [grant] = remediation;
    expect(grant).toMatchObject({
      customRoleKey: 'pullGranter',
      scopeKind: 'watchedRegistry',
      conditionVersion: '2.0',
    });
    expect(custom('pullGranter')?.actions).toEqual(['Microsoft.Authorization/roleAssignments/write']);
    const condition = grant?.condition ?? '';
    expect(condition).toContain("!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})");
    expect(condition).toContain(
      '@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals',
    );
    expect(condition).toContain(
      "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}",
    );
    expect([...new Set(condition.match(GUID))].sort()).toEqual(
      [KNOWN_BUILT_IN_ROLES.AcrPull, KNOWN_BUILT_IN_ROLES['Container Registry Repository Reader']].sort(),
    );
    const roles = loadBicep(join(infra, 'shared', 'roles.bicep'));
    expect(evaluateLiteral(roles, declaration(roles, 'var', 'remediationGrantableRoles')?.value)).toEqual({
      acrPull: KNOWN_BUILT_IN_ROLES.AcrPull,
      containerRegistryRepositoryReader: KNOWN_BUILT_IN_ROLES['Container Registry Repository Reader'],
    });
  });

  it('gives the app tables, host storage, Durable backend and topic publishing on its own resources', () => {
    const names = (opts: Parameters<typeof activeAssignments>[1]) =>
      activeAssignments(model, opts).map((a) => `${a.roleName} @ ${a.scopeKind}`);
    expect(names({ autoRemediate: false, durableBackend: 'AzureStorage' })).toEqual([
      'ACR Cascade Operator @ managedScope',
      'ACR Cascade Reader @ watchedRegistry',
      'ACR Cascade Reader @ watchedVault',
      'ACR Cascade Credential Rotator @ rotationRegistry',
      'ACR Cascade Credential Rotator @ rotationVault',
      'Storage Blob Data Owner @ storage',
      'Storage Table Data Contributor @ storage',
      'Storage Queue Data Contributor @ storage',
      'EventGrid Data Sender @ topic',
    ]);
    const scheduler = names({ autoRemediate: true, durableBackend: 'DurableTaskScheduler' });
    expect(scheduler).toContain('Durable Task Data Contributor @ scheduler');
    expect(scheduler).toContain('ACR Cascade Pull Granter @ watchedRegistry');
    expect(scheduler).not.toContain('Storage Queue Data Contributor @ storage');
  });

  it("lets each system topic's identity write only the dead-letter container", () => {
    expect(
      activeAssignments(model, { autoRemediate: true, durableBackend: 'AzureStorage', principal: 'systemTopic' }),
    ).toMatchObject([{ roleName: 'Storage Blob Data Contributor', scopeKind: 'deadLetterContainer' }]);
  });

  it('uses access policies with list (and set for rotation) on access-policy vaults, never get', () => {
    expect(model.accessPolicies).toMatchObject([
      { scopeKind: 'accessPolicyVault', secrets: ['list'] },
      { scopeKind: 'rotationAccessPolicyVault', secrets: ['list', 'set'] },
    ]);
  });
});

describe('role placement in the templates', () => {
  it('places every scope kind of the model through a module that receives exactly those roles', () => {
    const main = loadBicep(join(infra, 'main.bicep'));
    const events = loadBicep(join(infra, 'events.bicep'));
    const used = (file: typeof main, holder: string) =>
      new Set(
        declarationsOf(file, 'module').flatMap((m) => {
          const roles = property(property(m.body, 'params'), 'roles');
          const match = roles?.kind === 'expr' ? new RegExp(`^${holder}\\.(\\w+)$`).exec(roles.text) : null;
          return match?.[1] ? [match[1]] : [];
        }),
      );
    const app = [...new Set(model.assignments.filter((a) => a.principal === 'app').map((a) => a.scopeKind))];
    const topics = [...new Set(model.assignments.filter((a) => a.principal === 'systemTopic').map((a) => a.scopeKind))];
    expect(app.filter((kind) => !used(main, 'rolesFor').has(kind))).toEqual([]);
    expect(topics.filter((kind) => !used(events, 'topicRolesFor').has(kind))).toEqual([]);
    const rolesFor = declaration(main, 'var', 'rolesFor')?.value;
    expect(rolesFor?.kind === 'object' ? rolesFor.props.map((p) => p.key).sort() : []).toEqual([...app].sort());
  });

  it('assigns to managed scopes of all three depths (subscription, resource group, registry)', () => {
    const main = loadBicep(join(infra, 'main.bicep'));
    for (const [module, source] of [
      ['managedSubscriptionRoles', 'managedSubscriptionScopes'],
      ['managedResourceGroupRoles', 'managedResourceGroupScopes'],
      ['managedRegistryRoles', 'managedRegistryScopes'],
    ] as const) {
      const m = declaration(main, 'module', module);
      expect(m?.loop?.source.kind === 'expr' ? m.loop.source.text : '', module).toBe(source);
    }
    const depth = (name: string) => declaration(main, 'var', name)?.value;
    expect(depth('managedSubscriptionScopes')).toMatchObject({
      text: "filter(managedScopes, s => length(split(s, '/')) == 3)",
    });
    expect(depth('managedResourceGroupScopes')).toMatchObject({
      text: "filter(managedScopes, s => length(split(s, '/')) == 5)",
    });
    expect(depth('managedRegistryScopes')).toMatchObject({
      text: "filter(managedScopes, s => length(split(s, '/')) == 9)",
    });
  });

  it('creates every role assignment for a service principal, with conditionVersion 2.0 exactly when conditioned', () => {
    const modules = listBicepFiles(join(infra, 'modules', 'rbac'));
    expect(modules.length).toBeGreaterThan(0);
    for (const path of modules) {
      const file = loadBicep(path);
      const assignments = declarationsOf(file, 'resource').filter(
        (r) => r.type === 'Microsoft.Authorization/roleAssignments',
      );
      expect(assignments, path).toHaveLength(1);
      const properties = property(assignments[0]?.body, 'properties');
      expect(evaluateLiteral(file, property(properties, 'principalType')), path).toBe('ServicePrincipal');
      const version = property(properties, 'conditionVersion');
      expect(version?.kind === 'expr' ? version.text : '', path).toBe("empty(role.condition) ? null : '2.0'");
      const condition = property(properties, 'condition');
      expect(condition?.kind === 'expr' ? condition.text : '', path).toBe(
        'empty(role.condition) ? null : role.condition',
      );
    }
  });
});

describe('docs/deploy.md', () => {
  const assigned = new Set(model.assignments.filter((a) => a.builtIn).map((a) => a.roleDefinitionId));
  const inConditions = new Set(model.assignments.flatMap((a) => a.condition?.match(GUID) ?? []));

  it('mentions every built-in role GUID the templates assign', () => {
    const mentioned = new Set(docs.match(GUID)?.map((g) => g.toLowerCase()));
    expect([...assigned].filter((g) => !mentioned.has(g))).toEqual([]);
  });

  it('mentions no role GUID the templates do not assign (or name in the auto-remediation condition)', () => {
    const stray = [...new Set(docs.match(GUID) ?? [])].filter((g) => !assigned.has(g) && !inConditions.has(g));
    expect(stray).toEqual([]);
  });

  it('names every custom role, and claims no custom role that is not defined', () => {
    for (const role of model.customRoles) expect(docs).toContain(role.roleName);
    const claimed = new Set(docs.match(/ACR Cascade [A-Z][a-z]+(?: [A-Z][a-z]+)?/g));
    expect([...claimed].filter((name) => !model.customRoles.some((r) => r.roleName === name))).toEqual([]);
  });

  it('shows the auto-remediation condition exactly as deployed', () => {
    const condition = model.assignments.find((a) => a.when === 'autoRemediate')?.condition ?? '';
    expect(docs).toContain(condition.trim());
  });
});
