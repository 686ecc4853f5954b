// Operator-side fixtures for the credential tests (integration and e2e): an ACR repository-scoped token whose name and
// password live in Key Vault secrets tagged for rotation, a task that logs in to the base registry with them, the
// rotation rights of the app identity (as infra/ grants them), task runs, and data-plane basic auth.
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';

const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
const ARM_SCOPE = 'https://management.azure.com/.default';

export interface Operator {
  sub: string;
  tenantId: string;
  rg: string;
  acr: ContainerRegistryManagementClient;
  authz: AuthorizationManagementClient;
  kvm: KeyVaultManagementClient;
  secrets: SecretClient;
  vaultBase: string;
}

export function operatorClients(
  armEndpoint: string,
  credential: TokenCredential,
  sub: string,
  tenantId: string,
  seed: SeedResult,
): Operator {
  const arm = { endpoint: armEndpoint, credentialScopes: [ARM_SCOPE] };
  const vaultBase = seed.vaultUri.replace(/\/+$/, '');
  return {
    sub,
    tenantId,
    rg: SEED.resourceGroup,
    acr: new ContainerRegistryManagementClient(credential, sub, arm),
    authz: new AuthorizationManagementClient(credential, sub, arm),
    // The new-generation Key Vault client reads `credentials.scopes`, not credentialScopes.
    kvm: new KeyVaultManagementClient(credential, sub, { endpoint: armEndpoint, credentials: { scopes: [ARM_SCOPE] } }),
    secrets: new SecretClient(vaultBase, credential, { disableChallengeResourceVerification: true }),
    vaultBase,
  };
}

export const ROTATOR_ROLE_NAME = 'ACR Cascade Credential Rotator';

/** The custom role infra/shared/roles.bicep defines for rotation (tokens/read + generateCredentials + setSecret). */
export async function ensureRotatorRole(op: Operator): Promise<string> {
  const scope = `/subscriptions/${op.sub}`;
  const guid = guidFrom('acr-cascade-credential-rotator');
  const def = await op.authz.roleDefinitions.createOrUpdate(scope, guid, {
    roleName: ROTATOR_ROLE_NAME,
    description: 'acr-cascade: generate ACR token passwords and store them as new secret versions.',
    roleType: 'CustomRole',
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/tokens/read',
          'Microsoft.ContainerRegistry/registries/generateCredentials/action',
        ],
        dataActions: [
          'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
          'Microsoft.KeyVault/vaults/secrets/setSecret/action',
        ],
      },
    ],
    assignableScopes: [scope],
  });
  return def.id!;
}

/** Rotation rights for the app: the rotator role on the registry, and `set` (+ extra) on the access-policy vault. */
export async function grantRotation(
  op: Operator,
  appPrincipalId: string,
  registryId: string,
  secretPermissions: string[] = ['list', 'set'],
): Promise<void> {
  const roleId = await ensureRotatorRole(op);
  await op.authz.roleAssignments.create(registryId, guidFrom(`rotator|${registryId}|${appPrincipalId}`), {
    roleDefinitionId: roleId,
    principalId: appPrincipalId,
    principalType: 'ServicePrincipal',
  });
  await setVaultPolicy(op, appPrincipalId, secretPermissions);
}

/** Replaces a principal's secret permissions on the seed vault (empty list = removes its policy). */
export async function setVaultPolicy(op: Operator, objectId: string, secrets: string[]): Promise<void> {
  await op.kvm.vaults.updateAccessPolicy(op.rg, SEED.vault, secrets.length ? 'replace' : 'remove', {
    properties: { accessPolicies: [{ tenantId: op.tenantId, objectId, permissions: { secrets } }] },
  });
}

export interface TokenTask {
  name: string;
  taskId: string;
  principalId: string;
  tokenId: string;
  tokenName: string;
  userSecret: string;
  passwordSecret: string;
  /** The password the secret holds now (tests compare, never log). */
  password: string;
}

export interface TokenTaskOptions {
  /** Days until the password (and its secret version) expire. */
  expiresInDays: number;
  /** Tag the password secret with the slot it came from (cascade.passwordName). */
  tagSlot?: boolean;
  /** Pin the task's password reference to the secret's current version. */
  pinned?: boolean;
}

/**
 * A repository-scoped token on the base registry (pull baseimages/node), its name and password1 in two tagged secrets,
 * and a task in the app registry that logs in to the base registry with them (system identity with `get`).
 */
export async function createTokenTask(
  op: Operator,
  seed: SeedResult,
  name: string,
  options: TokenTaskOptions,
): Promise<TokenTask> {
  const base = SEED.baseRegistry;
  const scopeMap = await op.acr.scopeMaps.beginCreateAndWait(op.rg, base, `${name}-pull`, {
    actions: ['repositories/baseimages/node/content/read', 'repositories/baseimages/node/metadata/read'],
  });
  const token = await op.acr.tokens.beginCreateAndWait(op.rg, base, name, {
    scopeMapId: scopeMap.id!,
    status: 'enabled',
  });
  const expiry = new Date(Date.now() + options.expiresInDays * 86400_000 + 3600_000);
  const generated = await op.acr.registries.beginGenerateCredentialsAndWait(op.rg, base, {
    tokenId: token.id!,
    name: 'password1',
    expiry,
  });
  const password = generated.passwords!.find((p) => p.name === 'password1')!.value!;
  const tags = { 'cascade.tokenId': token.id! };
  await op.secrets.setSecret(`${name}-user`, name, {
    expiresOn: new Date(Date.now() + 365 * 86400_000),
    tags: { ...tags, 'cascade.role': 'username' },
  });
  const pass = await op.secrets.setSecret(`${name}-password`, password, {
    expiresOn: expiry,
    tags: {
      ...tags,
      'cascade.role': 'password',
      ...(options.tagSlot === false ? {} : { 'cascade.passwordName': 'password1' }),
    },
  });
  const userSecret = `${op.vaultBase}/secrets/${name}-user`;
  const passwordSecret = `${op.vaultBase}/secrets/${name}-password${options.pinned ? `/${pass.properties.version}` : ''}`;
  const baseLogin = `${base}.azurecr.io`;
  const yaml = [
    'version: v1.1.0',
    'steps:',
    `  - build: -t $Registry/${name}:$ID https://github.com/Azure-Samples/acr-build-helloworld-node.git -f Dockerfile-app --build-arg REGISTRY_NAME=${baseLogin}`,
    `  - push: ["$Registry/${name}:$ID"]`,
    '',
  ].join('\n');
  const task = await op.acr.tasks.beginCreateAndWait(op.rg, SEED.appRegistry, name, {
    location: SEED.location,
    tags: { 'cascade.baseImages': seed.baseImageRef },
    identity: { type: 'SystemAssigned' },
    platform: { os: 'Linux' },
    step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64'), contextPath: '/dev/null' },
    credentials: {
      customRegistries: {
        [baseLogin]: {
          userName: { type: 'Vaultsecret', value: userSecret },
          password: { type: 'Vaultsecret', value: passwordSecret },
          identity: '[system]',
        },
      },
    },
    timeout: 600,
  });
  const principalId = task.identity!.principalId!;
  await op.kvm.vaults.updateAccessPolicy(op.rg, SEED.vault, 'add', {
    properties: {
      accessPolicies: [{ tenantId: op.tenantId, objectId: principalId, permissions: { secrets: ['get'] } }],
    },
  });
  return {
    name,
    taskId: task.id!,
    principalId,
    tokenId: token.id!,
    tokenName: name,
    userSecret,
    passwordSecret,
    password,
  };
}

/** Schedules a run as the operator and waits for the emulator's verdict. */
export async function runTask(op: Operator, taskId: string): Promise<{ status: string; runErrorMessage?: string }> {
  const registry = taskId.split('/')[8]!;
  const run = await op.acr.registries.beginScheduleRunAndWait(op.rg, registry, { type: 'TaskRunRequest', taskId });
  let current = run;
  for (let i = 0; i < 2000 && !TERMINAL.includes(current.status ?? ''); i++) {
    await new Promise((r) => setTimeout(r, 20));
    current = await op.acr.runs.get(op.rg, registry, run.runId!);
  }
  return { status: current.status!, ...(current.runErrorMessage ? { runErrorMessage: current.runErrorMessage } : {}) };
}

/** HTTP status of `GET /v2/` on a registry's data plane with basic credentials (200 = accepted, 401 = refused). */
export async function basicAuthStatus(dataEndpoint: string, username: string, password: string): Promise<number> {
  const res = await fetch(`${dataEndpoint.replace(/\/+$/, '')}/v2/`, {
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  });
  await res.arrayBuffer();
  return res.status;
}
