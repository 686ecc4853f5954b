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
import type { CredentialRef, InventoryCredentialsInput, InventoryCredentialsOutput } from '../contracts.js';
import type { Deps } from '../deps.js';
import type { IndexSnapshot, StoredTask } from '../plan/index.js';
import { mapLimit } from '../shared/async.js';

const CONCURRENCY = 8;

const versionlessKey = (ref: SecretRef): string => secretKey({ ...ref, version: undefined });

/** The Key Vault-backed credentials of one task (identity-only logins carry no secret and are not listed). */
export function credentialRefsOf(task: TaskInfo): CredentialRef[] {
  const out: CredentialRef[] = [];
  for (const cred of task.credentials) {
    const resolved = resolveIdentity(task, cred.identity);
    for (const { role, ref } of vaultSecretsOf(cred)) {
      const c: CredentialRef = {
        task: task.id,
        taskName: task.name,
        loginServer: normalizeLoginServer(cred.loginServer),
        field: role === 'userName' ? 'username' : 'password',
        secret: ref.uri,
      };
      if (cred.identity) c.identity = cred.identity;
      if (resolved.ok) {
        const id = resolved.identity;
        c.principal = {
          kind: id.kind,
          principalId: id.principalId,
          ...(id.clientId ? { clientId: id.clientId } : {}),
          ...(id.resourceId ? { resourceId: id.resourceId } : {}),
        };
      } else {
        c.identityProblem = resolved.problem;
      }
      out.push(c);
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
  const perTask = await mapLimit(tasks, CONCURRENCY, async (t): Promise<CredentialRef[]> => {
    try {
      const details = await arm.getTaskDetails(t.taskId);
      const registryId = registryIdOf(t.taskId);
      // toTaskInfo wants the registry only for wording and output refs; credentials do not depend on it.
      const registry = t.registry ?? fallbackRegistry(registryId);
      const refs = credentialRefsOf(toTaskInfo(details, registry, { details }));
      return wanted ? refs.filter((r) => versionlessKey(parseSecretUri(r.secret)) === wanted) : refs;
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
