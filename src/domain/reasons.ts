// Every decision acr-cascade reports carries a stable code, a message a person can read (names, not only GUIDs)
// and, where one exists, the exact `az` command that fixes it. All wording lives here.

import { ROLE_IDS, repositoryReadCondition } from './builtInRoles.js';
import { SYSTEM_IDENTITY, vaultNameFromUrl } from './credentials.js';
import { describeIdentity, type ResolvedIdentity, suggestedIdentity } from './identity.js';
import { DOCKER_HUB } from './imageRef.js';
import { secretScope } from './resourceId.js';
import type { NearMiss } from './rbac.js';
import type { RegistryInfo, SecretRef, TaskInfo, VaultInfo } from './types.js';

export type ReasonCode =
  | 'UpToDate'
  | 'TaskDisabled'
  | 'TaskNotFound'
  | 'BaseNotFound'
  | 'Cycle'
  | 'MissingRegistryCredential'
  | 'UnknownIdentity'
  | 'MissingPullPermission'
  | 'RegistryNotManaged'
  | 'SourceRegistryAbac'
  | 'VaultNotFound'
  | 'KeyVaultAccessDenied'
  | 'SecretMissing'
  | 'SecretDisabled'
  | 'SecretNotYetValid'
  | 'SecretExpired'
  | 'SecretExpiring'
  | 'SecretVersionOutdated'
  | 'NativeTriggerEnabled';

/** blocking: the run would fail, so it is not scheduled. warning: reported, run goes ahead. info: a skip/no-op. */
export type Severity = 'blocking' | 'warning' | 'info';

/** What auto-remediation may create (only ever a role assignment). */
export interface RoleAssignmentRemediation {
  kind: 'roleAssignment';
  scope: string;
  principalId: string;
  /** Built-in role GUID. */
  roleDefinitionGuid: string;
  roleName: string;
  condition?: string;
  conditionVersion?: '2.0';
}

export interface Reason {
  code: ReasonCode;
  severity: Severity;
  message: string;
  /** Exact command(s), one per line. */
  fix?: string;
  remediation?: RoleAssignmentRemediation;
}

/** What a reason needs of a task; `identity` lets fixes suggest the right `--use-identity`. */
export type TaskRef = Pick<TaskInfo, 'id' | 'name' | 'registryId'> & Partial<Pick<TaskInfo, 'identity'>>;

function nameOf(id: string): string {
  return id.replace(/\/+$/, '').split('/').pop() ?? id;
}

function q(value: string): string {
  return /^[A-Za-z0-9_./:@[\]-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

/** Unix seconds → `2024-01-02T03:04:05Z`. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function taskWords(task: TaskRef): string {
  return `task '${task.name}' (registry ${nameOf(task.registryId)})`;
}

function taskArgs(task: TaskRef): string {
  return `--name ${q(task.name)} --registry ${q(nameOf(task.registryId))}`;
}

function reason(code: ReasonCode, severity: Severity, message: string, fix?: string): Reason {
  return fix === undefined ? { code, severity, message } : { code, severity, message, fix };
}

export function upToDate(task: TaskRef, imageRef: string, digest: string): Reason {
  return reason('UpToDate', 'info', `${cap(taskWords(task))} was last built from ${imageRef}@${digest}; skipped.`);
}

export function taskDisabled(task: TaskRef): Reason {
  return reason(
    'TaskDisabled',
    'blocking',
    `${cap(taskWords(task))} is disabled, so it cannot run.`,
    `az acr task update ${taskArgs(task)} --status Enabled`,
  );
}

export function taskNotFound(taskId: string): Reason {
  return reason(
    'TaskNotFound',
    'blocking',
    `Task ${taskId} is not in the dependency index (not managed, or deleted).`,
    `az acr task show --ids ${q(taskId)}`,
  );
}

export function baseNotFound(imageRef: string): Reason {
  return reason('BaseNotFound', 'info', `No managed task depends on ${imageRef}.`);
}

/** One edge of a dependency loop: `producer` pushes `image`, which `consumer` builds from. */
export interface LoopEdge {
  producer: { id: string; name: string };
  image: string;
  consumer: { id: string; name: string };
  /** The consumer's base was declared with the `cascade.baseImages` tag (so the fix is a tag edit). */
  declared: boolean;
}

export function cycle(loop: LoopEdge[]): Reason {
  const names = loop.map((e) => e.producer.name);
  const path = [...names, names[0]].map((n) => `'${n}'`).join(' → ');
  const detail = loop.map((e) => `'${e.producer.name}' pushes ${e.image}, which '${e.consumer.name}' builds from`);
  const declared = loop.filter((e) => e.declared);
  const fix = declared.length
    ? declared
        .map(
          (e) =>
            `az tag update --resource-id ${q(e.consumer.id)} --operation Merge --tags "cascade.baseImages=<refs without ${e.image}>"`,
        )
        .join('\n')
    : `Break the loop: change the FROM or the pushed image name of one of ${names.map((n) => `'${n}'`).join(', ')}.`;
  return reason(
    'Cycle',
    'blocking',
    `Tasks ${path} form a dependency loop (${detail.join('; ')}); none of them is scheduled.`,
    fix,
  );
}

/** A task reachable only through a loop: not scheduled, because the image it waits for is never rebuilt. */
export function downstreamOfCycle(task: TaskRef, loopNames: string[]): Reason {
  return reason(
    'Cycle',
    'blocking',
    `${cap(taskWords(task))} is not scheduled: it builds from an image pushed inside the dependency loop ${loopNames
      .map((n) => `'${n}'`)
      .join(' → ')}.`,
  );
}

export function missingRegistryCredential(task: TaskRef, loginServer: string): Reason {
  const use = suggestedIdentity(task);
  const add = (id: string): string =>
    `az acr task credential add ${taskArgs(task)} --login-server ${q(loginServer)} --use-identity ${q(id)}`;
  const fix = use ? add(use) : `az acr task identity assign ${taskArgs(task)}\n${add(SYSTEM_IDENTITY)}`;
  return reason(
    'MissingRegistryCredential',
    'blocking',
    `${cap(taskWords(task))} pulls from ${loginServer} but has no credential for it, so the run cannot log in there.`,
    fix,
  );
}

/** A user-assigned identity resource found for a client id the task does not have attached. */
export interface NamedIdentity {
  resourceId: string;
  clientId: string;
}

/**
 * Alternative fixes as one pasteable text: each alternative is a `# …` comment line followed by its command(s).
 * One alternative is printed bare.
 */
function alternatives(options: { label: string; commands: string }[]): string {
  if (options.length === 1) return (options[0] as { commands: string }).commands;
  return options.map((o, i) => `# ${i === 0 ? '' : 'or '}${o.label}:\n${o.commands}`).join('\n');
}

export function unknownIdentity(
  task: TaskRef,
  loginServer: string,
  problem: 'noIdentity' | 'noSystemIdentity' | 'unknownClientId',
  value?: string,
  /** unknownClientId: the identity resource with that client id, when acr-cascade found it. */
  named?: NamedIdentity,
): Reason {
  const update = (id: string): string =>
    `az acr task credential update ${taskArgs(task)} --login-server ${q(loginServer)} --use-identity ${q(id)}`;
  const use = suggestedIdentity(task);
  const useAttached = use
    ? [
        {
          label: `use ${use === SYSTEM_IDENTITY ? 'the system-assigned identity' : `the attached identity ${use}`}`,
          commands: update(use),
        },
      ]
    : [];
  let message: string;
  let fix: string;
  if (problem === 'noSystemIdentity') {
    message = `The credential of ${taskWords(task)} for ${loginServer} uses [system], but the task has no system-assigned identity.`;
    fix = alternatives([
      { label: 'give the task a system-assigned identity', commands: `az acr task identity assign ${taskArgs(task)}` },
      ...useAttached.filter(() => use !== SYSTEM_IDENTITY),
    ]);
  } else if (problem === 'unknownClientId') {
    const identityName = named ? nameOf(named.resourceId) : undefined;
    message = `The credential of ${taskWords(task)} for ${loginServer} uses client id ${value}, which is not a user-assigned identity of the task${
      identityName ? ` (it is identity '${identityName}', ${named?.resourceId})` : ''
    }.`;
    fix = alternatives([
      {
        label: `attach ${identityName ? `identity '${identityName}'` : `the identity with client id ${value}`} to the task`,
        commands: `az acr task identity assign ${taskArgs(task)} --identities ${
          named ? q(named.resourceId) : `<resource id of the identity with client id ${value}>`
        }`,
      },
      ...useAttached,
    ]);
  } else {
    message = `The credential of ${taskWords(task)} for ${loginServer} reads Key Vault secrets but names no identity to read them with.`;
    fix = use ? update(use) : `az acr task identity assign ${taskArgs(task)}\n${update(SYSTEM_IDENTITY)}`;
  }
  return reason('UnknownIdentity', 'blocking', message, fix);
}

function nearMissWords(nearMiss: NearMiss | undefined): string {
  return nearMiss ? ` Closest: assignment ${nameOf(nearMiss.assignmentId)}: ${nearMiss.why}.` : '';
}

export function missingPullPermission(
  task: TaskRef,
  registry: RegistryInfo,
  repository: string,
  identity: ResolvedIdentity,
  considered: number,
  nearMiss?: NearMiss,
): Reason {
  const abac = registry.roleAssignmentMode === 'AbacRepositoryPermissions';
  const condition = abac ? repositoryReadCondition(repository) : undefined;
  const role = abac ? 'Container Registry Repository Reader' : 'acrpull';
  let fix = `az role assignment create --assignee ${identity.principalId} --scope ${q(registry.id)} --role ${q(role)}`;
  if (condition) fix += ` --condition ${q(condition)} --condition-version 2.0`;
  const why = abac
    ? `registry '${registry.name}' uses ABAC repository permissions, where AcrPull, AcrPush, Owner, Contributor and Reader grant no pull; it needs a Container Registry Repository role allowing '${repository}'`
    : `no role assignment on registry '${registry.name}' or above grants Microsoft.ContainerRegistry/registries/pull/read`;
  const r = reason(
    'MissingPullPermission',
    'blocking',
    `${cap(describeIdentity(identity))}, used by ${taskWords(task)} for ${registry.loginServer}, cannot pull '${repository}': ${why} (${considered} assignment${considered === 1 ? '' : 's'} considered).${nearMissWords(nearMiss)}`,
    fix,
  );
  r.remediation = {
    kind: 'roleAssignment',
    scope: registry.id,
    principalId: identity.principalId,
    roleDefinitionGuid: abac ? ROLE_IDS.ContainerRegistryRepositoryReader : ROLE_IDS.AcrPull,
    roleName: abac ? 'Container Registry Repository Reader' : 'AcrPull',
    ...(condition ? { condition, conditionVersion: '2.0' as const } : {}),
  };
  return r;
}

/**
 * An identity-only registry login (`--use-identity` without secrets) whose identity holds no registry-wide pull right.
 * Per-repository rights in ABAC registries are preflight's to judge (it knows which bases the task pulls).
 */
export function loginCannotPull(
  task: TaskRef,
  registry: RegistryInfo,
  identity: ResolvedIdentity,
  considered: number,
  nearMiss?: NearMiss,
): Reason {
  const abac = registry.roleAssignmentMode === 'AbacRepositoryPermissions';
  const role = abac ? 'Container Registry Repository Reader' : 'acrpull';
  const why = abac
    ? `registry '${registry.name}' uses ABAC repository permissions and no Container Registry Repository role there allows reading its repositories`
    : `no role assignment on registry '${registry.name}' or above grants Microsoft.ContainerRegistry/registries/pull/read`;
  return reason(
    'MissingPullPermission',
    'blocking',
    `${cap(describeIdentity(identity))}, the login of ${taskWords(task)} to ${registry.loginServer}, cannot pull from it: ${why} (${considered} assignment${considered === 1 ? '' : 's'} considered).${nearMissWords(nearMiss)}`,
    `az role assignment create --assignee ${identity.principalId} --scope ${q(registry.id)} --role ${q(role)}`,
  );
}

export function registryNotManaged(task: TaskRef, loginServer: string): Reason {
  return reason(
    'RegistryNotManaged',
    'warning',
    `${cap(taskWords(task))} pulls from ${loginServer}, an Azure registry acr-cascade cannot read, so its pull permission is not verified.`,
    `az role assignment create --assignee <acr-cascade principal id> --role Reader --scope $(az acr show --name ${
      loginServer.split('.')[0] ?? loginServer
    } --query id --output tsv)`,
  );
}

/**
 * The task has ACR's own base-image trigger on: ACR builds it by itself when its base changes. What acr-cascade does
 * about it depends on CASCADE_NATIVE_TRIGGERS (`adopt` | `disable` | `ignore`).
 */
export function nativeTriggerEnabled(
  task: TaskRef,
  triggerType: 'Runtime' | 'All',
  policy: 'adopt' | 'disable' | 'ignore',
): Reason {
  const what = `${cap(taskWords(task))} has ACR's base-image trigger enabled (${triggerType}): ACR starts its run itself when ${
    triggerType === 'All' ? 'any of its bases' : 'its runtime base'
  } is updated.`;
  const does =
    policy === 'adopt'
      ? ' acr-cascade adopts that run instead of scheduling one (CASCADE_NATIVE_TRIGGERS=adopt).'
      : policy === 'disable'
        ? ' acr-cascade will switch the trigger off when it rebuilds the task and schedule the run itself (CASCADE_NATIVE_TRIGGERS=disable).'
        : ' acr-cascade schedules a run as well (CASCADE_NATIVE_TRIGGERS=ignore): the task builds twice per push.';
  return reason(
    'NativeTriggerEnabled',
    policy === 'ignore' ? 'warning' : 'info',
    what + does,
    `az acr task update ${taskArgs(task)} --base-image-trigger-enabled false`,
  );
}

export function sourceRegistryAbac(task: TaskRef, registry: RegistryInfo): Reason {
  return reason(
    'SourceRegistryAbac',
    'warning',
    `${cap(taskWords(task))} pulls from its own registry '${registry.name}', which uses ABAC repository permissions: a run has no default access to it unless the task's source-registry identity holds a Container Registry Repository role. acr-cascade cannot read that setting, so it is not verified.`,
    `az acr task update ${taskArgs(task)} --source-acr-auth-id [system]`,
  );
}

export function vaultNotFound(task: TaskRef, loginServer: string, secret: SecretRef): Reason {
  return reason(
    'VaultNotFound',
    'blocking',
    `The credential of ${taskWords(task)} for ${loginServer} reads ${secret.uri}, but no Key Vault with URL ${secret.vaultUrl} is visible to acr-cascade.`,
    `az keyvault show --name ${q(vaultNameFromUrl(secret.vaultUrl))} --query properties.vaultUri --output tsv`,
  );
}

export function keyVaultAccessDenied(
  task: TaskRef,
  vault: VaultInfo,
  secret: SecretRef,
  identity: ResolvedIdentity,
): Reason {
  const r = reason(
    'KeyVaultAccessDenied',
    'blocking',
    `${cap(describeIdentity(identity))}, used by ${taskWords(task)}, cannot read secret '${secret.name}' in vault '${vault.name}' (${
      vault.enableRbacAuthorization
        ? 'RBAC vault: no assignment grants Microsoft.KeyVault/vaults/secrets/getSecret/action'
        : 'access-policy vault: no policy gives this principal secret get'
    }).`,
    vault.enableRbacAuthorization
      ? `az role assignment create --role "Key Vault Secrets User" --assignee ${identity.principalId} --scope ${q(
          secretScope(vault.id, secret.name),
        )}`
      : `az keyvault set-policy --name ${q(vault.name)} --object-id ${identity.principalId} --secret-permissions get`,
  );
  if (vault.enableRbacAuthorization) {
    r.remediation = {
      kind: 'roleAssignment',
      scope: secretScope(vault.id, secret.name),
      principalId: identity.principalId,
      roleDefinitionGuid: ROLE_IDS.KeyVaultSecretsUser,
      roleName: 'Key Vault Secrets User',
    };
  }
  return r;
}

/** Where a secret is used, for wording and for renewal advice. */
export interface SecretUse {
  secret: SecretRef;
  /** Vault name when known (else derived from the vault URL). */
  vaultName?: string;
  /** Version the checked properties belong to (latest when the task does not pin one). */
  version?: string;
  task?: TaskRef;
  loginServer?: string;
  /** Renewal advice when the secret is an ACR token password acr-cascade can rotate. */
  rotation?: { tokenName: string; registryName: string };
}

function secretWords(u: SecretUse): string {
  return `secret '${u.secret.name}' in vault '${u.vaultName ?? vaultNameFromUrl(u.secret.vaultUrl)}'${
    u.task ? ` (credential of ${taskWords(u.task)}${u.loginServer ? ` for ${u.loginServer}` : ''})` : ''
  }`;
}

function kvArgs(u: SecretUse, withVersion: boolean): string {
  const version = withVersion ? (u.secret.version ?? u.version) : undefined;
  return `--vault-name ${q(u.vaultName ?? vaultNameFromUrl(u.secret.vaultUrl))} --name ${q(u.secret.name)}${
    version ? ` --version ${version}` : ''
  }`;
}

/** How to put a fresh value into the secret: Docker Hub needs a new access token first; ACR tokens are regenerated. */
function renewFix(u: SecretUse, expires: string): string {
  const set = `az keyvault secret set ${kvArgs(u, false)} --value <new value> --expires ${expires}`;
  if (u.rotation) {
    return `az acr token credential generate --name ${q(u.rotation.tokenName)} --registry ${q(
      u.rotation.registryName,
    )} --password1 --expiration-in-days 90\n${set}`;
  }
  if (u.loginServer === DOCKER_HUB) {
    return `Create a new Docker Hub personal access token (hub.docker.com → Account settings → Personal access tokens), then:\n${set}`;
  }
  return set;
}

export function secretMissing(u: SecretUse): Reason {
  return reason(
    'SecretMissing',
    'blocking',
    `${cap(secretWords(u))} does not exist${u.secret.version ? ` in version ${u.secret.version}` : ''}.`,
    `az keyvault secret set ${kvArgs(u, false)} --value <value>`,
  );
}

export function secretDisabled(u: SecretUse): Reason {
  return reason(
    'SecretDisabled',
    'blocking',
    `${cap(secretWords(u))} is disabled, so the run cannot read it.`,
    `az keyvault secret set-attributes ${kvArgs(u, true)} --enabled true`,
  );
}

export function secretNotYetValid(u: SecretUse, notBefore: number, now: number): Reason {
  return reason(
    'SecretNotYetValid',
    'blocking',
    `${cap(secretWords(u))} is not valid before ${isoSeconds(notBefore)}.`,
    `az keyvault secret set-attributes ${kvArgs(u, true)} --not-before ${isoSeconds(now)}`,
  );
}

export function secretExpired(u: SecretUse, expiresOn: number, now: number): Reason {
  return reason(
    'SecretExpired',
    'blocking',
    `${cap(secretWords(u))} expired on ${isoSeconds(expiresOn)}.`,
    renewFix(u, isoSeconds(now + 90 * 86400)),
  );
}

export function secretExpiring(u: SecretUse, expiresOn: number, daysLeft: number): Reason {
  return reason(
    'SecretExpiring',
    'warning',
    `${cap(secretWords(u))} expires on ${isoSeconds(expiresOn)} (${daysLeft} day${daysLeft === 1 ? '' : 's'} left).`,
    renewFix(u, isoSeconds(expiresOn + 90 * 86400)),
  );
}

export function secretVersionOutdated(u: SecretUse, latestVersion: string, role: 'userName' | 'password'): Reason {
  const base = `${u.secret.vaultUrl}/secrets/${u.secret.name}`;
  const fix =
    u.task && u.loginServer
      ? `az acr task credential update ${taskArgs(u.task)} --login-server ${q(u.loginServer)} --${
          role === 'userName' ? 'username' : 'password'
        } ${base}`
      : undefined;
  return reason(
    'SecretVersionOutdated',
    'warning',
    `${cap(secretWords(u))} is pinned to version ${u.secret.version}, but the latest enabled version is ${latestVersion}.`,
    fix,
  );
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
