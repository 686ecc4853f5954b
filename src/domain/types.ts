// Domain types the Azure adapters return. Shaped on what ARM and Key Vault give, trimmed to what the rules read.
// Plain JSON data only: these pass through durable orchestration history. No secret value ever appears here.

export type RoleAssignmentMode = 'LegacyRegistryPermissions' | 'AbacRepositoryPermissions';

export interface RegistryInfo {
  id: string;
  name: string;
  /** Lower-case login server, e.g. `mybaseregistry.azurecr.io`. */
  loginServer: string;
  roleAssignmentMode: RoleAssignmentMode;
  anonymousPullEnabled: boolean;
}

export interface UserAssignedIdentityRef {
  /** ARM id of the user-assigned identity (the key of `identity.userAssignedIdentities`). */
  resourceId: string;
  principalId: string;
  clientId: string;
}

export interface TaskIdentity {
  /** Object id of the system-assigned identity, when enabled. */
  systemPrincipalId?: string;
  userAssigned: UserAssignedIdentityRef[];
}

export type BaseImageSource = 'recorded' | 'declared';
export type BaseImageType = 'BuildTime' | 'RunTime';

export interface TaskBaseImage {
  /** Full image ref (`mybaseregistry.azurecr.io/baseimages/node:15-alpine`), see parseImageRef. */
  ref: string;
  /** Digest ACR recorded at the task's last run (recorded bases only). */
  digest?: string;
  source: BaseImageSource;
  type?: BaseImageType;
}

/** A Key Vault secret reference from a `Vaultsecret` task credential; the value is never held. */
export interface SecretRef {
  kind: 'vault';
  /** As written in the task (`https://mykeyvault.vault.azure.net/secrets/UserName`). */
  uri: string;
  /** scheme + host [+ port], lower-case, no trailing slash: `https://mykeyvault.vault.azure.net`. */
  vaultUrl: string;
  name: string;
  /** Pinned version, when the URI names one. */
  version?: string;
}

/** An `Opaque` (literal) credential value. The literal is deliberately not carried. */
export interface OpaqueCredential {
  kind: 'opaque';
}

export type CredentialValue = SecretRef | OpaqueCredential;

/** One `credentials.customRegistries` entry (from `tasks.getDetails`; GET masks them). */
export interface TaskCredential {
  /** Normalised login server (Docker Hub aliases → `docker.io`). */
  loginServer: string;
  /** `[system]` or the client id of a user-assigned identity on the task. */
  identity?: string;
  userName?: CredentialValue;
  password?: CredentialValue;
}

export type TaskStatus = 'Enabled' | 'Disabled';

export interface TaskInfo {
  id: string;
  name: string;
  registryId: string;
  /** Login server of the task's own registry. */
  loginServer: string;
  status: TaskStatus;
  timeoutSeconds: number;
  identity: TaskIdentity;
  baseImages: TaskBaseImage[];
  /** Full refs from `step.imageNames`, resolved against the task's own login server; template tags kept. */
  outputImages: string[];
  credentials: TaskCredential[];
  tags: Record<string, string>;
  /** ACR's own base-image trigger (`trigger.baseImageTrigger`), when the task has one. */
  nativeTrigger?: { status: TaskStatus; type: 'Runtime' | 'All' };
}

export interface RoleAssignmentInfo {
  id: string;
  scope: string;
  /** Either `/providers/Microsoft.Authorization/roleDefinitions/{guid}` or the subscription-qualified form. */
  roleDefinitionId: string;
  principalId: string;
  condition?: string;
}

export interface PermissionBlock {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinitionInfo {
  id: string;
  /** The role GUID. */
  name: string;
  roleName: string;
  permissions: PermissionBlock[];
}

export interface AccessPolicyInfo {
  objectId: string;
  /** Secret permissions as ARM returns them (`get`, `list`, `all`, any casing). */
  secrets: string[];
}

export interface VaultInfo {
  id: string;
  name: string;
  /** As ARM returns it (usually with a trailing slash); compare through normalizeVaultUrl. */
  vaultUri: string;
  enableRbacAuthorization: boolean;
  accessPolicies: AccessPolicyInfo[];
}

/** Secret attributes and tags — never the value. Times are Unix seconds. */
export interface SecretProperties {
  /** Versioned id: `https://v.vault.azure.net/secrets/n/{version}`. */
  uri: string;
  vaultUrl: string;
  name: string;
  version: string;
  enabled: boolean;
  notBefore?: number;
  expiresOn?: number;
  tags: Record<string, string>;
  contentType?: string;
}
