// Built-in role definitions the rules name (GUIDs and permissions as Azure documents them). Used for fix texts and
// remediation, and as ready-made definitions for the emulator and tests.

import type { PermissionBlock, RoleDefinitionInfo } from './types.js';

export const ROLE_IDS = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  AcrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  ContainerRegistryRepositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  ContainerRegistryRepositoryWriter: '2a1e307c-b015-4ebd-883e-5b7698a07328',
  ContainerRegistryRepositoryContributor: '2efddaa5-3f1f-4df3-97df-af3f13818f4c',
  KeyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  KeyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
} as const;

export type BuiltInRoleKey = keyof typeof ROLE_IDS;

export const ACR_PULL_ACTION = 'Microsoft.ContainerRegistry/registries/pull/read';
export const ACR_CONTENT_READ = 'Microsoft.ContainerRegistry/registries/repositories/content/read';
export const ACR_METADATA_READ = 'Microsoft.ContainerRegistry/registries/repositories/metadata/read';
export const KV_GET_SECRET = 'Microsoft.KeyVault/vaults/secrets/getSecret/action';
export const KV_READ_SECRET_METADATA = 'Microsoft.KeyVault/vaults/secrets/readMetadata/action';
/** The ABAC condition attribute ACR evaluates: the repository name of the request. */
export const ACR_REPOSITORY_ATTRIBUTE = 'Microsoft.ContainerRegistry/registries/repositories:name';

const REPO = 'Microsoft.ContainerRegistry/registries/repositories';

function block(p: Partial<PermissionBlock>): PermissionBlock {
  return { actions: [], notActions: [], dataActions: [], notDataActions: [], ...p };
}

const DEFINITIONS: Record<BuiltInRoleKey, { roleName: string; permissions: PermissionBlock }> = {
  Owner: { roleName: 'Owner', permissions: block({ actions: ['*'] }) },
  Contributor: {
    roleName: 'Contributor',
    permissions: block({
      actions: ['*'],
      notActions: [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
        'Microsoft.Blueprint/blueprintAssignments/write',
        'Microsoft.Blueprint/blueprintAssignments/delete',
        'Microsoft.Compute/galleries/share/action',
        'Microsoft.Purview/consents/write',
        'Microsoft.Purview/consents/delete',
        'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
        'Microsoft.Subscription/cancel/action',
        'Microsoft.Subscription/enable/action',
      ],
    }),
  },
  Reader: { roleName: 'Reader', permissions: block({ actions: ['*/read'] }) },
  AcrPull: { roleName: 'AcrPull', permissions: block({ actions: [ACR_PULL_ACTION] }) },
  AcrPush: {
    roleName: 'AcrPush',
    permissions: block({ actions: [ACR_PULL_ACTION, 'Microsoft.ContainerRegistry/registries/push/write'] }),
  },
  ContainerRegistryRepositoryReader: {
    roleName: 'Container Registry Repository Reader',
    permissions: block({ dataActions: [ACR_METADATA_READ, ACR_CONTENT_READ] }),
  },
  ContainerRegistryRepositoryWriter: {
    roleName: 'Container Registry Repository Writer',
    permissions: block({
      dataActions: [ACR_METADATA_READ, ACR_CONTENT_READ, `${REPO}/metadata/write`, `${REPO}/content/write`],
    }),
  },
  ContainerRegistryRepositoryContributor: {
    roleName: 'Container Registry Repository Contributor',
    permissions: block({
      dataActions: [
        ACR_METADATA_READ,
        ACR_CONTENT_READ,
        `${REPO}/metadata/write`,
        `${REPO}/content/write`,
        `${REPO}/metadata/delete`,
        `${REPO}/content/delete`,
      ],
    }),
  },
  KeyVaultSecretsUser: {
    roleName: 'Key Vault Secrets User',
    permissions: block({ dataActions: [KV_GET_SECRET, KV_READ_SECRET_METADATA] }),
  },
  KeyVaultSecretsOfficer: {
    roleName: 'Key Vault Secrets Officer',
    permissions: block({
      actions: [
        'Microsoft.Authorization/*/read',
        'Microsoft.Insights/alertRules/*',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.Support/*',
        'Microsoft.KeyVault/checkNameAvailability/read',
        'Microsoft.KeyVault/deletedVaults/read',
        'Microsoft.KeyVault/locations/*/read',
        'Microsoft.KeyVault/vaults/*/read',
        'Microsoft.KeyVault/operations/read',
      ],
      dataActions: ['Microsoft.KeyVault/vaults/secrets/*'],
    }),
  },
};

/** Tenant-level id of a built-in role: `/providers/Microsoft.Authorization/roleDefinitions/{guid}`. */
export function builtInRoleDefinitionId(key: BuiltInRoleKey): string {
  return `/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS[key]}`;
}

export function builtInRoleDefinition(key: BuiltInRoleKey): RoleDefinitionInfo {
  const d = DEFINITIONS[key];
  const p = d.permissions;
  return {
    id: builtInRoleDefinitionId(key),
    name: ROLE_IDS[key],
    roleName: d.roleName,
    permissions: [
      {
        actions: [...p.actions],
        notActions: [...p.notActions],
        dataActions: [...p.dataActions],
        notDataActions: [...p.notDataActions],
      },
    ],
  };
}

/** Every built-in definition above (fresh copies). */
export function builtInRoleDefinitions(): RoleDefinitionInfo[] {
  return (Object.keys(DEFINITIONS) as BuiltInRoleKey[]).map(builtInRoleDefinition);
}

/** The ABAC condition `az role assignment create --condition` needs to scope a read role to one repository. */
export function repositoryReadCondition(repository: string): string {
  return (
    `((!(ActionMatches{'${ACR_CONTENT_READ}'}) AND !(ActionMatches{'${ACR_METADATA_READ}'})) ` +
    `OR (@Request[${ACR_REPOSITORY_ATTRIBUTE}] StringEqualsIgnoreCase '${repository}'))`
  );
}
