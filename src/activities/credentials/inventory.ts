// Inventory: every Key Vault-backed credential of the managed tasks in scope, as secret URIs (never values).
// Which tasks: see tasksInScope. Their credentials are always read fresh with `tasks.getDetails` (the index keeps
// them up to a day old, and a check must see a pin or an identity change made an hour ago).
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
 * - secret: from the dependency index, the tasks whose credentials use that secret, plus tasks whose credentials the
 *   index has not read yet (a targeted check must stay cheap; the daily full check covers what the index missed).
 */
export async function tasksInScope(
  deps: Deps,
  arm: ArmAdapters,
  index: () => Promise<IndexSnapshot>,
  scope: InventoryCredentialsInput['scope'],
  errors: InventoryCredentialsOutput['errors'],
): Promise<TaskToRead[]> {
  if (scope.kind === 'all') {
    const registries = new Map<string, RegistryInfo>();
    for (const s of deps.settings.managedScopes) {
      try {
        for (const r of await arm.listRegistries(s)) registries.set(normalizeId(r.id), r);
      } catch (err) {
        if (!(err instanceof AzureError)) throw err;
        if (!(err instanceof AzureNotFoundError)) errors.push({ task: s, code: err.code, message: err.message });
      }
    }
    const perRegistry = await mapLimit([...registries.values()], CONCURRENCY, async (registry) => {
      try {
        return (await arm.listTasks(registry.id)).map((t) => ({ taskId: t.id as string, registry }));
      } catch (err) {
        if (!(err instanceof AzureError)) throw err;
        errors.push({ task: registry.id, code: err.code, message: err.message });
        return [];
      }
    });
    return perRegistry.flat().filter((t) => typeof t.taskId === 'string');
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
  const snap = await index();
  const key = versionlessKey(parseSecretUri(`${scope.vaultUrl}/secrets/${scope.name}`));
  const out: TaskToRead[] = [];
  for (const t of snap.tasks.values()) {
    if (t.detailsReadAt !== '' && !usesSecret(t, key)) continue;
    const registry = snap.registries.get(normalizeId(t.registryId));
    out.push(registry ? { taskId: t.taskId, registry } : { taskId: t.taskId });
  }
  return out;
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

export async function inventoryCredentials(
  deps: Deps,
  arm: ArmAdapters,
  index: () => Promise<IndexSnapshot>,
  input: InventoryCredentialsInput,
): Promise<InventoryCredentialsOutput> {
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
  return { credentials: perTask.flat(), tasks: tasks.length, errors };
}
