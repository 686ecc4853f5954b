// Built-in role definitions the emulator knows (Azure's GUIDs and permissions for the roles this domain needs).

export interface Permission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinitionData {
  name: string; // GUID
  roleName: string;
  description: string;
  type: 'BuiltInRole' | 'CustomRole';
  assignableScopes: string[];
  permissions: Permission[];
}

const p = (
  actions: string[],
  notActions: string[] = [],
  dataActions: string[] = [],
  notDataActions: string[] = [],
): Permission => ({
  actions,
  notActions,
  dataActions,
  notDataActions,
});
const ACR = 'Microsoft.ContainerRegistry/registries';
const builtIn = (
  name: string,
  roleName: string,
  description: string,
  permissions: Permission[],
): RoleDefinitionData => ({
  name,
  roleName,
  description,
  type: 'BuiltInRole',
  assignableScopes: ['/'],
  permissions,
});

export const BUILT_IN_ROLES: RoleDefinitionData[] = [
  builtIn(
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'Owner',
    'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    [p(['*'])],
  ),
  builtIn(
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'Contributor',
    'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
    [
      p(
        ['*'],
        [
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
      ),
    ],
  ),
  builtIn(
    'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    'Reader',
    'View all resources, but does not allow you to make any changes.',
    [p(['*/read'])],
  ),
  builtIn(
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'User Access Administrator',
    'Lets you manage user access to Azure resources.',
    [p(['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'])],
  ),
  builtIn(
    'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    'Role Based Access Control Administrator',
    'Manage access to Azure resources by assigning roles using Azure RBAC.',
    [
      p([
        'Microsoft.Authorization/roleAssignments/write',
        'Microsoft.Authorization/roleAssignments/delete',
        '*/read',
        'Microsoft.Support/*',
      ]),
    ],
  ),
  builtIn('7f951dda-4ed3-4680-a7ca-43fe172d538d', 'AcrPull', 'acr pull', [p([`${ACR}/pull/read`])]),
  builtIn('8311e382-0749-4cb8-b61a-304f252e45ec', 'AcrPush', 'acr push', [
    p([`${ACR}/pull/read`, `${ACR}/push/write`]),
  ]),
  builtIn('c2f4ef07-c644-48eb-af81-4b1b4947fb11', 'AcrDelete', 'acr delete', [p([`${ACR}/artifacts/delete`])]),
  builtIn(
    'b93aa761-3e63-49ed-ac28-beffa264f7ac',
    'Container Registry Repository Reader',
    'Read repository content and metadata (ABAC).',
    [p([], [], [`${ACR}/repositories/metadata/read`, `${ACR}/repositories/content/read`])],
  ),
  builtIn(
    '2a1e307c-b015-4ebd-883e-5b7698a07328',
    'Container Registry Repository Writer',
    'Read and write repository content (ABAC).',
    [
      p(
        [],
        [],
        [
          `${ACR}/repositories/metadata/read`,
          `${ACR}/repositories/content/read`,
          `${ACR}/repositories/metadata/write`,
          `${ACR}/repositories/content/write`,
        ],
      ),
    ],
  ),
  builtIn(
    '2efddaa5-3f1f-4df3-97df-af3f13818f4c',
    'Container Registry Repository Contributor',
    'Read, write and delete repository content (ABAC).',
    [
      p(
        [],
        [],
        [
          `${ACR}/repositories/metadata/read`,
          `${ACR}/repositories/content/read`,
          `${ACR}/repositories/metadata/write`,
          `${ACR}/repositories/content/write`,
          `${ACR}/repositories/metadata/delete`,
          `${ACR}/repositories/content/delete`,
        ],
      ),
    ],
  ),
  builtIn(
    'bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7',
    'Container Registry Repository Catalog Lister',
    'List repositories (ABAC).',
    [p([], [], [`${ACR}/catalog/read`])],
  ),
  builtIn(
    'fb382eab-e894-4461-af04-94435c366c3f',
    'Container Registry Tasks Contributor',
    'Manage ACR tasks and runs.',
    [
      p([
        `${ACR}/tasks/read`,
        `${ACR}/tasks/write`,
        `${ACR}/tasks/delete`,
        `${ACR}/tasks/listDetails/action`,
        `${ACR}/scheduleRun/action`,
        `${ACR}/listBuildSourceUploadUrl/action`,
        `${ACR}/runs/read`,
        `${ACR}/runs/write`,
        `${ACR}/runs/listLogSasUrl/action`,
        `${ACR}/runs/cancel/action`,
        `${ACR}/taskruns/*`,
        `${ACR}/agentpools/*`,
        `${ACR}/read`,
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
      ]),
    ],
  ),
  builtIn(
    '3bc748fc-213d-45c1-8d91-9da5725539b9',
    'Container Registry Contributor and Data Access Configuration Administrator',
    'Manage registries, tokens and scope maps.',
    [
      p([
        `${ACR}/read`,
        `${ACR}/write`,
        `${ACR}/delete`,
        `${ACR}/listCredentials/action`,
        `${ACR}/regenerateCredential/action`,
        `${ACR}/generateCredentials/action`,
        `${ACR}/tokens/*`,
        `${ACR}/scopeMaps/*`,
        'Microsoft.Resources/subscriptions/resourceGroups/read',
      ]),
    ],
  ),
  builtIn(
    '69b07be0-09bf-439a-b9a6-e73de851bd59',
    'Container Registry Configuration Reader and Data Access Configuration Reader',
    'Read registries, tokens and scope maps.',
    [
      p([
        `${ACR}/read`,
        `${ACR}/tokens/read`,
        `${ACR}/scopeMaps/read`,
        'Microsoft.Resources/subscriptions/resourceGroups/read',
      ]),
    ],
  ),
  builtIn('4633458b-17de-408a-b874-0445c86b69e6', 'Key Vault Secrets User', 'Read secret contents.', [
    p(
      [],
      [],
      ['Microsoft.KeyVault/vaults/secrets/getSecret/action', 'Microsoft.KeyVault/vaults/secrets/readMetadata/action'],
    ),
  ]),
  builtIn(
    'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    'Key Vault Secrets Officer',
    'Perform any action on the secrets of a key vault.',
    [
      p(
        [
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
        [],
        ['Microsoft.KeyVault/vaults/secrets/*'],
      ),
    ],
  ),
  builtIn('d5a91429-5739-47e2-a06b-3470a27159e7', 'EventGrid Data Sender', 'Send events to Event Grid topics.', [
    p(
      [
        'Microsoft.EventGrid/topics/read',
        'Microsoft.EventGrid/domains/read',
        'Microsoft.EventGrid/partnerNamespaces/read',
      ],
      [],
      ['Microsoft.EventGrid/events/send/action'],
    ),
  ]),
  builtIn(
    '1e241071-0855-49ea-94dc-649edcd759de',
    'EventGrid EventSubscription Contributor',
    'Manage Event Grid event subscriptions.',
    [
      p([
        'Microsoft.EventGrid/eventSubscriptions/*',
        'Microsoft.EventGrid/systemTopics/eventSubscriptions/*',
        'Microsoft.EventGrid/*/read',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
      ]),
    ],
  ),
  builtIn(
    '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    'Storage Table Data Contributor',
    'Read, write and delete Azure Storage tables and entities.',
    [
      p(
        ['Microsoft.Storage/storageAccounts/tableServices/tables/*'],
        [],
        ['Microsoft.Storage/storageAccounts/tableServices/tables/entities/*'],
      ),
    ],
  ),
];
