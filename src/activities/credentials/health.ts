// Health of each credential: the domain's verdicts (secretHealth, canGetSecret, isRotatable) over what ARM and Key
// Vault say — vault permission model and access policies / RBAC assignments, and secret PROPERTIES listed with
// `listPropertiesOfSecretVersions`. Nothing here reads a secret value. Reads are shared per activity call, so a batch
// of credentials in one vault costs one vault lookup and one versions listing per secret.
import {
  unixSeconds,
  canGetSecret,
  canPull,
  isRotatable,
  normalizeId,
  parseResourceId,
  parseSecretUri,
  reasons,
  registryIdOf,
  secretHealth,
  secretKey,
  type Reason,
  type RoleAssignmentInfo,
  type RoleDefinitionInfo,
  type SecretProperties,
  type SecretRef,
  type TaskRef,
  type VaultInfo,
} from '../../domain/index.js';
import { AzureError, type ArmAdapters } from '../../azure/adapters.js';
import {
  isSecretCredential,
  type CheckCredentialsInput,
  type CredentialHealth,
  type CredentialRef,
  type CredentialStatus,
  type IdentityLoginRef,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { mapLimit } from '../shared/async.js';
import { AzureReadCache } from '../shared/readCache.js';

const CONCURRENCY = 8;

/**
 * Per-call caches (see AzureReadCache). A vault not among the watched ones is searched in the given subscriptions (the
 * managed scopes' and the tasks'); any Azure error reading a watched vault skips it.
 */
export class CredentialReader extends AzureReadCache {
  constructor(deps: Deps, arm: ArmAdapters, subscriptions: () => string[]) {
    super(arm, {
      watchedVaults: deps.settings.watchedVaults,
      skipWatchedError: (err) => err instanceof AzureError,
      subscriptions,
    });
  }

  /** Unfiltered: assignments at, above AND below the vault, so ones at a single secret's scope count too. */
  vaultAssignments(vaultId: string): Promise<RoleAssignmentInfo[]> {
    return this.assignments(vaultId, { includeBelow: true });
  }
}

/** Subscriptions of the managed scopes, the watched vaults and the given task ids (lower-case, unique). */
export function subscriptionsOf(deps: Deps, taskIds: readonly string[]): string[] {
  const subs = new Set<string>();
  for (const id of [...deps.settings.managedScopes, ...deps.settings.watchedVaults, ...taskIds]) {
    try {
      const s = parseResourceId(id).subscriptionId;
      if (s) subs.add(s.toLowerCase());
    } catch {
      // Settings are validated at start-up and task ids come from ARM: nothing to add for a malformed one.
    }
  }
  return [...subs];
}

const versionlessKey = (ref: SecretRef): string => secretKey({ ...ref, version: undefined });

function taskRefOf(c: CredentialRef): TaskRef {
  return { id: c.task, name: c.taskName, registryId: registryIdOf(c.task) };
}

function words(c: CredentialRef, ref: SecretRef, vaultName: string): string {
  return `Secret '${ref.name}' in vault '${vaultName}' (${c.field} of task '${c.taskName}' for ${c.loginServer})`;
}

/** acr-cascade's own identity cannot list the secret's versions: not knowing is not "missing". */
function unreadable(
  c: CredentialRef,
  ref: SecretRef,
  vault: VaultInfo,
  err: AzureError,
): { message: string; fix: string } {
  const fix = vault.enableRbacAuthorization
    ? `az role assignment create --role "Key Vault Reader" --assignee <acr-cascade principal id> --scope ${vault.id}/secrets/${ref.name}`
    : `az keyvault set-policy --name ${vault.name} --object-id <acr-cascade principal id> --secret-permissions list`;
  return {
    message: `acr-cascade cannot list the versions of ${words(c, ref, vault.name)} (${err.code}), so its health is not verified; the task's runs may still succeed.`,
    fix,
  };
}

type Verdict = (
  status: CredentialStatus,
  reason: Pick<Reason, 'message' | 'fix'> & { code?: string },
) => CredentialHealth;

/**
 * Health of an identity-only login: can the identity pull from that registry at all? Evaluated over the registry's
 * role assignments (Legacy or ABAC mode), never tried. Rights scoped to single repositories are preflight's to judge.
 */
async function checkIdentityLogin(reader: CredentialReader, c: IdentityLoginRef, done: Verdict) {
  const task = taskRefOf(c);
  if (!c.principal) {
    return done(
      'accessDenied',
      reasons.unknownIdentity(task, c.loginServer, c.identityProblem ?? 'noIdentity', c.identity),
    );
  }
  const registry = c.registryId ? await reader.registry(c.registryId) : undefined;
  if (!registry) return done('unknown', reasons.registryNotManaged(task, c.loginServer));
  const who = `The identity (${c.principal.kind}, principal ${c.principal.principalId}) of task '${c.taskName}'`;
  if (registry.anonymousPullEnabled) {
    return done('healthy', { message: `${who} logs in to ${c.loginServer}, which allows anonymous pull.` });
  }
  const assignments = await reader.assignments(registry.id, { includeBelow: false });
  const decision = canPull({
    registry,
    principalId: c.principal.principalId,
    assignments,
    definitions: await reader.definitions(assignments),
  });
  if (decision.allowed) {
    const by = decision.grantedBy;
    return done('healthy', {
      message: `${who} can pull from ${c.loginServer}${by ? ` (${by.roleName} at ${by.scope})` : ''}.`,
    });
  }
  if (registry.roleAssignmentMode === 'AbacRepositoryPermissions' && decision.considered > 0) {
    return done('unknown', {
      code: 'RepositoryScopedPull',
      message: `${who} holds role assignments on ${c.loginServer} (ABAC repository permissions) that grant no registry-wide pull; whether they cover the repositories the task pulls is checked by preflight for each base.`,
    });
  }
  return done(
    'accessDenied',
    reasons.loginCannotPull(task, registry, c.principal, decision.considered, decision.nearMiss),
  );
}

/** Health of one credential from what the reader returns. */
export async function checkOne(
  deps: Deps,
  reader: CredentialReader,
  c: CredentialRef,
  warningDays: number,
): Promise<CredentialHealth> {
  // One clock reading for the whole verdict: days left and checkedAt agree.
  const clock = deps.now();
  const now = unixSeconds(clock);
  const base: CredentialHealth = {
    ...c,
    status: 'unknown',
    rotatable: false,
    message: '',
    checkedAt: clock.toISOString(),
  };
  const done: Verdict = (status, reason) => {
    base.status = status;
    base.message = reason.message;
    if (reason.code) base.code = reason.code;
    if (reason.fix) base.fix = reason.fix;
    return base;
  };

  if (!isSecretCredential(c)) return checkIdentityLogin(reader, c, done);
  let ref: SecretRef;
  try {
    ref = parseSecretUri(c.secret);
  } catch (err) {
    return done('unknown', { code: 'InvalidSecretUri', message: err instanceof Error ? err.message : String(err) });
  }
  const task = taskRefOf(c);
  const vault = await reader.vault(ref.vaultUrl);
  if (!vault) return done('unknown', reasons.vaultNotFound(task, c.loginServer, ref));

  const lookup = await reader.secret(versionlessKey(ref));
  if ('error' in lookup)
    return done('unknown', { code: 'SecretUnreadable', ...unreadable(c, ref, vault, lookup.error) });
  const props: SecretProperties | undefined = ref.version
    ? lookup.allVersions.find((v) => v.version === ref.version)
    : lookup.props;
  if (props) {
    base.version = props.version;
    if (props.expiresOn !== undefined) base.expiresOn = reasons.isoSeconds(props.expiresOn);
  }
  if (lookup.latestEnabledVersion) base.latestVersion = lookup.latestEnabledVersion;
  const rotation = props ? isRotatable(props.tags, c.loginServer) : undefined;
  base.rotatable = rotation?.rotatable === true;

  // Can the identity the run uses `get` the secret? Evaluated over the vault's model, never tried.
  let accessAllowed = false;
  let denied: Reason | undefined;
  if (!c.principal) {
    denied = reasons.unknownIdentity(task, c.loginServer, c.identityProblem ?? 'noIdentity', c.identity);
  } else {
    let assignments: RoleAssignmentInfo[] = [];
    let definitions: RoleDefinitionInfo[] = [];
    if (vault.enableRbacAuthorization) {
      assignments = await reader.vaultAssignments(vault.id);
      definitions = await reader.definitions(assignments);
    }
    const access = canGetSecret({
      vault,
      principalId: c.principal.principalId,
      secretName: ref.name,
      assignments,
      definitions,
    });
    accessAllowed = access.allowed;
    if (!access.allowed) denied = reasons.keyVaultAccessDenied(task, vault, ref, c.principal);
  }

  const health = secretHealth({
    ...(props ? { props } : {}),
    ...(lookup.latestEnabledVersion ? { latestEnabledVersion: lookup.latestEnabledVersion } : {}),
    ...(ref.version ? { referencedVersion: ref.version } : {}),
    accessAllowed,
    now,
    warningDays,
    role: c.field === 'username' ? 'userName' : 'password',
    use: {
      secret: ref,
      vaultName: vault.name,
      task,
      loginServer: c.loginServer,
      ...(rotation?.rotatable
        ? { rotation: { tokenName: rotation.tokenName, registryName: rotation.registryName } }
        : {}),
    },
  });
  if (health.daysLeft !== undefined) base.daysLeft = health.daysLeft;
  if (health.status === 'accessDenied' && denied) return done('accessDenied', denied);
  if (health.status === 'healthy' || !health.reason) {
    const left = health.daysLeft !== undefined ? `${health.daysLeft} days left` : 'no expiry set';
    const pin = ref.version ? `pinned version ${ref.version} is the latest` : 'the task reads the latest version';
    return done(health.status, { message: `${words(c, ref, vault.name)} is healthy: ${left}; ${pin}.` });
  }
  return done(health.status, health.reason);
}

export async function checkCredentials(
  deps: Deps,
  arm: ArmAdapters,
  input: CheckCredentialsInput,
): Promise<CredentialHealth[]> {
  const subs = subscriptionsOf(
    deps,
    input.credentials.map((c) => c.task),
  );
  const reader = new CredentialReader(deps, arm, () => subs);
  return mapLimit(input.credentials, CONCURRENCY, async (c) => {
    try {
      return await checkOne(deps, reader, c, input.warningDays);
    } catch (err) {
      // One unreadable vault or definition must not sink the batch: report this credential as unverified.
      if (!(err instanceof AzureError)) throw err;
      return {
        ...c,
        status: 'unknown' as const,
        rotatable: false,
        code: err.code,
        message: `acr-cascade could not check this credential: ${err.message}`,
        checkedAt: deps.now().toISOString(),
      };
    }
  });
}

/** Normalised key of the task + login server + field a health row describes. */
export function credentialKey(c: Pick<CredentialRef, 'task' | 'loginServer' | 'field'>): string {
  return `${normalizeId(c.task)}|${c.loginServer.toLowerCase()}|${c.field}`;
}
