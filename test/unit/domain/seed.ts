// The scenario of the seed documents as domain data: `helloworldtask` (user-assigned identity myACRId, pulls from
// mybaseregistry) and `dockerhubtask` (system identity, Docker Hub credentials in mykeyvault), both in myregistry.
import {
  builtInRoleDefinitions,
  parseCustomRegistries,
  registryId,
  ROLE_IDS,
  taskId,
  vaultId,
  type RegistryInfo,
  type RoleAssignmentInfo,
  type SecretProperties,
  type TaskInfo,
  type VaultInfo,
} from '../../../src/domain/index.js';

export const SUB = '11111111-2222-3333-4444-555555555555';
export const RG = 'myResourceGroup';
export const MYREGISTRY_ID = registryId(SUB, RG, 'myregistry');
export const BASEREGISTRY_ID = registryId(SUB, RG, 'mybaseregistry');
export const VAULT_ID = vaultId(SUB, RG, 'mykeyvault');
export const VAULT_URL = 'https://mykeyvault.vault.azure.net';

export const MY_ACR_ID = {
  // MSI echoes `resourcegroups` in lower case; nothing may depend on the casing.
  resourceId: `/subscriptions/${SUB}/resourcegroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myACRId`,
  principalId: 'aaaaaaaa-0000-0000-0000-000000000001',
  clientId: 'cccccccc-0000-0000-0000-000000000001',
};
export const DOCKERHUB_SYSTEM_PRINCIPAL = 'bbbbbbbb-0000-0000-0000-000000000002';

export const NODE_DIGEST = `sha256:${'e8'.repeat(32)}`;
export const NEW_DIGEST = `sha256:${'1a'.repeat(32)}`;
export const HELLO_DIGEST = `sha256:${'4d'.repeat(32)}`;
/** 2024-01-01T00:00:00Z */
export const NOW = 1704067200;
export const DAY = 86400;

export const myregistry: RegistryInfo = {
  id: MYREGISTRY_ID,
  name: 'myregistry',
  loginServer: 'myregistry.azurecr.io',
  roleAssignmentMode: 'LegacyRegistryPermissions',
  anonymousPullEnabled: false,
};

export const mybaseregistry: RegistryInfo = {
  id: BASEREGISTRY_ID,
  name: 'mybaseregistry',
  loginServer: 'mybaseregistry.azurecr.io',
  roleAssignmentMode: 'LegacyRegistryPermissions',
  anonymousPullEnabled: false,
};

export function helloworldtask(over: Partial<TaskInfo> = {}): TaskInfo {
  return {
    id: taskId(MYREGISTRY_ID, 'helloworldtask'),
    name: 'helloworldtask',
    registryId: MYREGISTRY_ID,
    loginServer: 'myregistry.azurecr.io',
    status: 'Enabled',
    timeoutSeconds: 3600,
    identity: { userAssigned: [{ ...MY_ACR_ID }] },
    baseImages: [
      {
        ref: 'mybaseregistry.azurecr.io/baseimages/node:15-alpine',
        digest: NODE_DIGEST,
        source: 'recorded',
        type: 'RunTime',
      },
    ],
    outputImages: ['myregistry.azurecr.io/hello-world:{{.Run.ID}}'],
    credentials: parseCustomRegistries({ 'mybaseregistry.azurecr.io': { identity: MY_ACR_ID.clientId } }),
    tags: {},
    ...over,
  };
}

export function dockerhubtask(over: Partial<TaskInfo> = {}): TaskInfo {
  return {
    id: taskId(MYREGISTRY_ID, 'dockerhubtask'),
    name: 'dockerhubtask',
    registryId: MYREGISTRY_ID,
    loginServer: 'myregistry.azurecr.io',
    status: 'Enabled',
    timeoutSeconds: 3600,
    identity: { systemPrincipalId: DOCKERHUB_SYSTEM_PRINCIPAL, userAssigned: [] },
    baseImages: [{ ref: 'docker.io/library/hello-world:latest', digest: HELLO_DIGEST, source: 'recorded' }],
    outputImages: ['docker.io/hubuser/hubrepo:{{.Run.ID}}'],
    credentials: parseCustomRegistries({
      'docker.io': {
        userName: { type: 'Vaultsecret', value: `${VAULT_URL}/secrets/UserName` },
        password: { type: 'Vaultsecret', value: `${VAULT_URL}/secrets/Password` },
        identity: '[system]',
      },
    }),
    tags: {},
    ...over,
  };
}

export function mykeyvault(over: Partial<VaultInfo> = {}): VaultInfo {
  return {
    id: VAULT_ID,
    name: 'mykeyvault',
    vaultUri: `${VAULT_URL}/`,
    enableRbacAuthorization: false,
    accessPolicies: [{ objectId: DOCKERHUB_SYSTEM_PRINCIPAL, secrets: ['Get'] }],
    ...over,
  };
}

export function secret(name: string, over: Partial<SecretProperties> = {}): SecretProperties {
  const version = over.version ?? `${name.toLowerCase().padEnd(8, 'x')}${'0'.repeat(24)}`.slice(0, 32);
  return {
    uri: `${VAULT_URL}/secrets/${name}/${version}`,
    vaultUrl: VAULT_URL,
    name,
    version,
    enabled: true,
    expiresOn: NOW + 365 * DAY,
    tags: {},
    ...over,
  };
}

let assignmentCounter = 0;
/** A role assignment with a unique GUID-like name, using the subscription-qualified role definition id ARM returns. */
export function assignment(
  scope: string,
  role: keyof typeof ROLE_IDS | string,
  principalId: string,
  condition?: string,
): RoleAssignmentInfo {
  const n = ++assignmentCounter;
  const guid = role in ROLE_IDS ? ROLE_IDS[role as keyof typeof ROLE_IDS] : role;
  const name = `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
  return {
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    scope,
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
    principalId,
    ...(condition ? { condition } : {}),
  };
}

export const definitions = builtInRoleDefinitions();
