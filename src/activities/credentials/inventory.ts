// Inventory: every Key Vault-backed credential of the managed tasks in scope, as secret URIs (never values).
// Which tasks: see tasksInScope. Their credentials are always read fresh with `tasks.getDetails` (the index may be
// behind: masked GETs hide credential edits), and what was read is written through to the dependency index, so the
// next plan sees the same credentials the check judged.
import {
  isAncestorOrSelf,
  normalizeId,
  normalizeLoginServer,
  parseSecretUri,
  registryIdOf,
  resolveIdentity,
  ResourceIdError,
  secretKey,
  SecretUriError,
  vaultSecretsOf,
  type RegistryInfo,
  type SecretRef,
  type TaskInfo,
} from '../../domain/index.js';
import type { Task } from '@azure/arm-containerregistry';
import { AzureError, AzureNotFoundError, toTaskInfo, type ArmAdapters } from '../../azure/adapters.js';
import {
  isSecretCredential,
  type CredentialRef,
  type InventoryCredentialsInput,
  type InventoryCredentialsOutput,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import type { IndexSnapshot, StoredTask } from '../plan/index.js';
import { mapLimit } from '../shared/async.js';

const CONCURRENCY = 8;

const versionlessKey = (ref: SecretRef): string => secretKey({ ...ref, version: undefined });

/**
 * The registry logins of one task: every Key Vault-backed user name and password, and every identity-only login
 * (`--use-identity` without secrets; its registry id is filled in by the inventory when it can be resolved).
 */
export function credentialRefsOf(task: TaskInfo): CredentialRef[] {
  const out: CredentialRef[] = [];
  // By login server, so reports read the same whatever order ARM returns the task's credentials in.
  const byLoginServer = [...task.credentials].sort((a, b) =>
    normalizeLoginServer(a.loginServer) < normalizeLoginServer(b.loginServer) ? -1 : 1,
  );
  for (const cred of byLoginServer) {
    const resolved = resolveIdentity(task, cred.identity);
    const who: Pick<CredentialRef, 'identity' | 'principal' | 'identityProblem'> = {};
    if (cred.identity) who.identity = cred.identity;
    if (resolved.ok) {
      const id = resolved.identity;
      who.principal = {
        kind: id.kind,
        principalId: id.principalId,
        ...(id.clientId ? { clientId: id.clientId } : {}),
        ...(id.resourceId ? { resourceId: id.resourceId } : {}),
      };
    } else {
      who.identityProblem = resolved.problem;
    }
    const base = { task: task.id, taskName: task.name, loginServer: normalizeLoginServer(cred.loginServer) };
    const secrets = vaultSecretsOf(cred);
    for (const { role, ref } of secrets) {
      out.push({ ...base, field: role === 'userName' ? 'username' : 'password', secret: ref.uri, ...who });
    }
    // A plain user name/password pair (not from Key Vault) is neither: nothing to check without reading a value.
    if (secrets.length === 0 && cred.identity && !cred.userName && !cred.password) {
      out.push({ ...base, field: 'identity', ...who });
    }
  }
  return out;
}

function usesSecret(task: StoredTask, key: string): boolean {
  return task.info.credentials.some((c) => vaultSecretsOf(c).some(({ ref }) => versionlessKey(ref) === key));
}

/** A task from a masked list with custom registry credentials (only those can use a Key Vault secret). */
function hasCredentials(task: Task): boolean {
  return Object.keys(task.credentials?.customRegistries ?? {}).length > 0;
}

/** A task to read: its id and registry (when known). */
export interface TaskToRead {
  taskId: string;
  registry?: RegistryInfo;
}

/**
 * The tasks a scope covers.
 * - all: listed from ARM (registries of the managed scopes, then their tasks) — the authoritative set, a few list
 *   calls, and a task created a minute ago is included;
 * - tasks: the given ids (ids outside the managed scopes are reported, not read);
 * - secret: every task that may use that secret NOW: listed from ARM like `all`, keeping the tasks whose masked
 *   view shows custom registry credentials — which includes tasks created since the last index refresh and tasks
 *   whose credential was edited since (a masked GET cannot show which secret an entry reads, so the index cannot
 *   be trusted to know). Where a registry cannot be listed, the index's users of the secret stand in.
 */
export async function tasksInScope(
  deps: Deps,
  arm: ArmAdapters,
  index: () => Promise<IndexSnapshot>,
  scope: InventoryCredentialsInput['scope'],
  errors: InventoryCredentialsOutput['errors'],
): Promise<TaskToRead[]> {
  if (scope.kind === 'all' || scope.kind === 'secret') {
    const registries = new Map<string, RegistryInfo>();
    for (const s of deps.settings.managedScopes) {
      try {
        for (const r of await arm.listRegistries(s)) registries.set(normalizeId(r.id), r);
      } catch (err) {
        if (!(err instanceof AzureError)) throw err;
        if (!(err instanceof AzureNotFoundError)) errors.push({ task: s, code: err.code, message: err.message });
      }
    }
    const unlisted: string[] = [];
    const perRegistry = await mapLimit([...registries.values()], CONCURRENCY, async (registry) => {
      try {
        const tasks = await arm.listTasks(registry.id);
        return tasks
          .filter((t) => scope.kind === 'all' || hasCredentials(t))
          .map((t) => ({ taskId: t.id as string, registry }));
      } catch (err) {
        if (!(err instanceof AzureError)) throw err;
        errors.push({ task: registry.id, code: err.code, message: err.message });
        unlisted.push(normalizeId(registry.id));
        return [];
      }
    });
    const out: TaskToRead[] = perRegistry.flat().filter((t) => typeof t.taskId === 'string');
    if (scope.kind === 'secret' && (unlisted.length > 0 || registries.size === 0)) {
      // Fall back to what the index knows for registries that could not be listed.
      const known = new Set(out.map((t) => normalizeId(t.taskId)));
      const snap = await index();
      const key = versionlessKey(parseSecretUri(`${scope.vaultUrl}/secrets/${scope.name}`));
      for (const t of snap.tasks.values()) {
        const rk = normalizeId(t.registryId);
        if (known.has(normalizeId(t.taskId)) || (registries.size > 0 && !unlisted.includes(rk))) continue;
        if (t.detailsReadAt !== '' && !usesSecret(t, key)) continue;
        const registry = snap.registries.get(rk);
        out.push(registry ? { taskId: t.taskId, registry } : { taskId: t.taskId });
      }
    }
    return out;
  }
  if (scope.kind === 'tasks') {
    const out: TaskToRead[] = [];
    for (const id of new Set(scope.tasks)) {
      let managed = false;
      try {
        managed = deps.settings.managedScopes.some((s) => isAncestorOrSelf(s, id));
      } catch (err) {
        if (!(err instanceof ResourceIdError)) throw err;
      }
      if (managed) out.push({ taskId: id });
      else errors.push({ task: id, code: 'NotManaged', message: `task ${id} is outside the managed scopes` });
    }
    return out;
  }
  return [];
}

function fallbackRegistry(registryId: string): RegistryInfo {
  const name = registryId.split('/').pop() ?? registryId;
  return {
    id: registryId,
    name,
    loginServer: `${name.toLowerCase()}.azurecr.io`,
    roleAssignmentMode: 'LegacyRegistryPermissions',
    anonymousPullEnabled: false,
  };
}

/** Write-through of the task details a check read (PlanActivities.recordTaskDetails). */
export type RecordTaskDetails = (reads: { details: Task; readAt: string }[]) => Promise<unknown>;

export async function inventoryCredentials(
  deps: Deps,
  arm: ArmAdapters,
  index: () => Promise<IndexSnapshot>,
  input: InventoryCredentialsInput,
  record?: RecordTaskDetails,
): Promise<InventoryCredentialsOutput> {
  const reads: { details: Task; readAt: string }[] = [];
  const errors: InventoryCredentialsOutput['errors'] = [];
  const tasks = await tasksInScope(deps, arm, index, input.scope, errors);
  const wanted =
    input.scope.kind === 'secret'
      ? versionlessKey(parseSecretUri(`${input.scope.vaultUrl}/secrets/${input.scope.name}`))
      : undefined;
  // Login server → registry id for identity logins to another registry: the registries listed for this check, the
  // watched (base) registries — the usual case, a few reads once — and only then the dependency index.
  const known = new Map<string, string>();
  for (const t of tasks) if (t.registry) known.set(normalizeLoginServer(t.registry.loginServer), t.registry.id);
  let watched: Promise<void> | undefined;
  let indexed: Promise<void> | undefined;
  const registryIdFor = async (loginServer: string): Promise<string | undefined> => {
    if (!known.has(loginServer)) {
      watched ??= (async () => {
        for (const id of deps.settings.watchedRegistries) {
          try {
            const r = await arm.getRegistry(id);
            known.set(normalizeLoginServer(r.loginServer), r.id);
          } catch (err) {
            if (!(err instanceof AzureError)) throw err;
          }
        }
      })();
      await watched;
    }
    if (!known.has(loginServer)) {
      indexed ??= (async () => {
        for (const r of (await index()).registries.values()) known.set(normalizeLoginServer(r.loginServer), r.id);
      })();
      await indexed;
    }
    return known.get(loginServer);
  };
  const perTask = await mapLimit(tasks, CONCURRENCY, async (t): Promise<CredentialRef[]> => {
    try {
      const details = await arm.getTaskDetails(t.taskId);
      reads.push({ details, readAt: deps.now().toISOString() });
      const registryId = registryIdOf(t.taskId);
      // toTaskInfo wants the registry only for wording and output refs; credentials do not depend on it.
      const registry = t.registry ?? fallbackRegistry(registryId);
      const task = toTaskInfo(details, registry, { details });
      const refs = credentialRefsOf(task);
      if (wanted) {
        return refs.filter((r) => isSecretCredential(r) && versionlessKey(parseSecretUri(r.secret)) === wanted);
      }
      for (const r of refs) {
        if (r.field !== 'identity') continue;
        const id =
          r.loginServer === normalizeLoginServer(task.loginServer) ? registryId : await registryIdFor(r.loginServer);
        if (id) r.registryId = id;
      }
      return refs;
    } catch (err) {
      if (err instanceof AzureNotFoundError) {
        errors.push({ task: t.taskId, code: 'TaskNotFound', message: 'the task no longer exists' });
      } else if (err instanceof AzureError) {
        errors.push({ task: t.taskId, code: err.code, message: err.message });
      } else if (err instanceof TypeError || err instanceof SecretUriError) {
        // A credential entry the domain cannot parse (bad secret URI, unknown type): report, keep going.
        errors.push({ task: t.taskId, code: 'InvalidCredential', message: err.message });
      } else {
        throw err;
      }
      return [];
    }
  });
  if (record && reads.length > 0) {
    try {
      await record(reads);
    } catch (err) {
      // The check's verdicts stand without it; the next refresh or plan re-check catches the index up.
      deps.log(`inventoryCredentials: index write-through failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { credentials: perTask.flat(), tasks: tasks.length, errors };
}
