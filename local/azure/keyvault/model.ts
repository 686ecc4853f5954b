// Key Vault state shared by the ARM module (vaults.ts) and the data plane (secrets.ts), plus the Key Vault error
// bodies. Vault names are global in Azure (they are DNS names), so secrets are keyed by vault name.
import type { Emulator } from '../core/emulator.js';
import type { ArmResource } from '../core/state.js';
import { kvError } from '../core/errors.js';

export const VAULT_TYPE = 'Microsoft.KeyVault/vaults';
/** api-versions of Microsoft.KeyVault/vaults; `@azure/arm-keyvault` 5.x sends 2026-02-01. */
export const VAULT_API_VERSIONS = ['2023-07-01', '2024-11-01', '2026-02-01'];
/** Data-plane api-versions; `@azure/keyvault-secrets` 4.11 sends 2025-07-01. */
export const KV_DATA_API_VERSIONS = ['7.4', '7.5', '7.6', '2025-07-01'];

export interface AccessPolicyEntry {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: { keys?: string[]; secrets?: string[]; certificates?: string[]; storage?: string[] };
}

export interface VaultResource extends ArmResource {
  location: string;
  tags?: Record<string, string>;
  properties: {
    tenantId: string;
    sku: { family: string; name: string };
    accessPolicies: AccessPolicyEntry[];
    vaultUri: string;
    enableRbacAuthorization: boolean;
    enableSoftDelete: boolean;
    softDeleteRetentionInDays: number;
    enablePurgeProtection?: boolean;
    enabledForDeployment: boolean;
    enabledForDiskEncryption: boolean;
    enabledForTemplateDeployment: boolean;
    publicNetworkAccess: string;
    provisioningState: string;
    [extra: string]: unknown;
  };
}

export interface SecretVersion {
  /** 32 lower-case hex characters. */
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  /** The `exp` for which SecretNearExpiry / SecretExpired were emitted (once per version and expiry). */
  nearExpiryEmittedFor?: number;
  expiredEmittedFor?: number;
}

export interface SecretRecord {
  /** Vault name as stored on the vault resource. */
  vault: string;
  /** Secret name with the casing of its first version. */
  name: string;
  /** Oldest first; the last one is the current version. */
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate?: number };
}

export const SECRETS_BUCKET = 'keyvault.secrets';

export function secretKey(vault: string, name: string): string {
  return `${vault.toLowerCase()}/${name.toLowerCase()}`;
}

export function secretsBucket(emu: Emulator): Map<string, SecretRecord> {
  return emu.store.bucket<SecretRecord>(SECRETS_BUCKET);
}

export function findVaultByName(emu: Emulator, name: string): VaultResource | undefined {
  const n = name.toLowerCase();
  return emu.store.listResources<VaultResource>(VAULT_TYPE).find((v) => v.name.toLowerCase() === n);
}

/** Base URL of a vault's data plane, without the trailing slash. */
export function vaultBase(v: VaultResource): string {
  return v.properties.vaultUri.replace(/\/+$/, '');
}

export function recoveryLevel(v: VaultResource): string {
  const p = v.properties;
  if (!p.enableSoftDelete) return 'Purgeable';
  const custom = p.softDeleteRetentionInDays !== 90 ? 'Customized' : '';
  return p.enablePurgeProtection ? `${custom}Recoverable` : `${custom}Recoverable+Purgeable`;
}

// Key Vault error bodies (the ones the real service returns; contracts 6.2) --------------------------------------
export const kv = {
  missingToken: (tenantId: string) =>
    kvError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', undefined, challenge(tenantId)),
  badToken: (tenantId: string, message: string) =>
    kvError(401, 'Unauthorized', message, undefined, challenge(tenantId)),
  forbiddenByRbac: (caller: string, dataAction: string, resource: string, vault: VaultResource) =>
    kvError(
      403,
      'Forbidden',
      'Caller is not authorized to perform action on resource.\r\n' +
        'If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n' +
        `Caller: ${caller}\r\n` +
        `Action: '${dataAction}'\r\n` +
        `Resource: '${resource.toLowerCase()}'\r\n` +
        'Assignment: (not found)\r\n' +
        'DenyAssignmentId: null\r\n' +
        'DecisionReason: null \r\n' +
        `Vault: ${vault.name};location=${vault.location}\r\n`,
      'ForbiddenByRbac',
    ),
  accessDenied: (caller: string, permission: string, vault: VaultResource) =>
    kvError(
      403,
      'Forbidden',
      `The user, group or application '${caller}' does not have secrets ${permission} permission on key vault '${vault.name};location=${vault.location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
      'AccessDenied',
    ),
  secretDisabled: (operation = 'get') =>
    kvError(403, 'Forbidden', `Operation ${operation} is not allowed on a disabled secret.`, 'SecretDisabled'),
  secretNotFound: (nameOrId: string) =>
    kvError(
      404,
      'SecretNotFound',
      `A secret with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    ),
  deletedSecretNotFound: () => kvError(404, 'SecretNotFound', 'Deleted Secret not found'),
  deletedButRecoverable: (name: string) =>
    kvError(
      409,
      'Conflict',
      `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
      'ObjectIsDeletedButRecoverable',
    ),
  purgeProtected: () =>
    kvError(
      403,
      'Forbidden',
      'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.',
    ),
  badParameter: (message: string) => kvError(400, 'BadParameter', message),
  missingApiVersion: () => kvError(400, 'BadParameter', "The 'api-version' query parameter is missing."),
  badApiVersion: (v: string) =>
    kvError(
      400,
      'BadParameter',
      `The specified version (${v}) is not recognized. Consider using the latest supported version (${KV_DATA_API_VERSIONS[KV_DATA_API_VERSIONS.length - 1]}).`,
    ),
};

/** The challenge header the SDK parses: `authorization` URL whose path is the tenant, `resource` = the audience. */
export function challenge(tenantId: string): Record<string, string> {
  return {
    'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
  };
}
