// The compiled templates deployed for a parameter set (test/support/arm.ts), read as the facts the tests assert on:
// role assignments (role, scope, principal), custom roles, app settings, event subscriptions, outputs.
import { describe } from 'vitest';
import { BICEP_HOWTO } from '../../scripts/bicep.js';
import {
  bicepAvailable,
  compiled,
  deploy,
  mustRunBicep,
  templateVariable,
  type DeployOptions,
  type Deployment,
} from './arm.js';

export const SUB = '11111111-1111-1111-1111-111111111111';
export const RG = 'rg-cascade';
export const id = {
  registry: (rg: string, name: string, sub = SUB) =>
    `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`,
  vault: (rg: string, name: string, sub = SUB) =>
    `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}`,
};

/** Parameters with something in every list, so every kind of assignment appears. */
export const FULL_PARAMETERS = {
  environmentName: 'dev',
  managedScopes: [`/subscriptions/${SUB}`, `/subscriptions/${SUB}/resourceGroups/rg-apps`, id.registry('rg-x', 'apps')],
  watchedRegistries: [id.registry('rg-base', 'base')],
  watchedVaults: [id.vault('rg-kv', 'kv')],
  rotationRegistries: [id.registry('rg-apps', 'apps')],
  rotationVaults: [id.vault('rg-kv', 'kv')],
};

/**
 * describe() for tests that need the real Bicep compiler: skipped with how to get it where `dotnet` is missing,
 * failing instead under CI (CI=true or CASCADE_REQUIRE_BICEP=1, which .ci/run sets).
 */
export const describeBicep: typeof describe = ((name: string, fn: () => void) => {
  if (bicepAvailable || mustRunBicep) return describe(name, fn);
  console.warn(`skipping "${name}": the Bicep compiler needs dotnet — ${BICEP_HOWTO}`);
  return describe.skip(name, fn);
}) as typeof describe;

export function deployMain(parameters: Record<string, unknown> = FULL_PARAMETERS, options?: DeployOptions) {
  return deploy(compiled('main'), parameters, options);
}

/** events.bicep with exactly the parameters main.bicep outputs for the postdeploy hook. */
export function deployEvents(main: Deployment, options?: DeployOptions) {
  const out = (main.outputs.CASCADE_EVENTS_PARAMETERS as { value: Record<string, { value: unknown }> }).value;
  return deploy(compiled('events'), Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value])), options);
}

export interface Assignment {
  symbol: string;
  scope: string;
  roleId: string;
  roleName: string;
  principalId: string;
  principalType: unknown;
  condition: unknown;
  conditionVersion: unknown;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function customRoles(d: Deployment) {
  return d.resources
    .filter((r) => r.type === 'Microsoft.Authorization/roleDefinitions')
    .map((r) => {
      const p = r.properties as {
        roleName: string;
        permissions: { actions: string[]; dataActions: string[]; notActions: string[]; notDataActions: string[] }[];
        assignableScopes: string[];
      };
      return {
        guid: r.name,
        id: r.id,
        roleName: p.roleName.replace(/ \(.*\)$/, ''),
        ...p.permissions[0]!,
        scopes: p.assignableScopes,
      };
    });
}

export function assignments(d: Deployment, builtIn: Record<string, string>): Assignment[] {
  const custom = new Map(customRoles(d).map((r) => [r.guid, r.roleName]));
  return d.resources
    .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')
    .map((r) => {
      const p = r.properties;
      const roleId = GUID.exec(String(p.roleDefinitionId))?.[0] ?? String(p.roleDefinitionId);
      return {
        symbol: r.symbol,
        scope: r.scope ?? '',
        roleId,
        roleName: custom.get(roleId) ?? builtIn[roleId] ?? `unknown role ${roleId}`,
        principalId: String(p.principalId),
        principalType: p.principalType,
        condition: p.condition,
        conditionVersion: p.conditionVersion,
      };
    });
}

export function site(d: Deployment) {
  const found = d.resources.find((r) => r.type === 'Microsoft.Web/sites');
  if (!found) throw new Error('no Microsoft.Web/sites in the deployment');
  return found;
}

export function appSettings(d: Deployment): Record<string, string> {
  const list = (site(d).properties.siteConfig as { appSettings: { name: string; value: string }[] }).appSettings;
  return Object.fromEntries(list.map((s) => [s.name, s.value]));
}

/** The built-in roles the compiled template names (shared/roles.bicep), as GUID → role name. */
export function builtInRoleNames(name: 'main' | 'events' = 'main'): Record<string, string> {
  const roles = templateVariable(compiled(name), 'builtInRoles') as Record<string, { id: string; name: string }>;
  return Object.fromEntries(Object.values(roles).map((r) => [r.id, r.name]));
}
