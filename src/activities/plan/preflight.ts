// Preflight: will each task's run be able to pull its bases and read its Key Vault credentials? Reads what the pure
// domain rule (`preflightTask`) needs — registries, role assignments at and above each registry/vault, role
// definitions, vaults, secret PROPERTIES — through one reader whose caches live for one activity call, so 100 tasks
// sharing a base registry cost one role-assignment list, not 100.
//
// Verdicts from current facts: the task itself comes from the index, which may be hours behind a credential edit
// (masked GETs hide those). So a verdict that would block the task, or print a fix, is re-checked against the task
// read now (`tasks.getDetails` for that task only) before it is reported, and what was read is written through to
// the index — a fix the user applied shows in the very next plan and push. Ready tasks with nothing to fix cost
// nothing extra.
import {
  normalizeId,
  normalizeLoginServer,
  parseResourceId,
  preflightTask,
  reasons as reasonBuilders,
  resolveIdentity,
  secretKey,
  tryParseImageRef,
  unixSeconds,
  vaultSecretsOf,
  type NamedIdentity,
  type Reason,
  type RegistryInfo,
  type RoleAssignmentInfo,
  type SecretProperties,
  type SecretRef,
  type TaskInfo,
  type VaultInfo,
} from '../../domain/index.js';
import { AzureError, AzureNotFoundError, toTaskInfo, type ArmAdapters } from '../../azure/adapters.js';
import type { PlanEntry, PreflightOutput, PreflightVerdict } from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import type { IndexSnapshot, StoredTask } from './indexStore.js';
import { mapLimit, memoAsync } from '../shared/async.js';
import { AzureReadCache } from '../shared/readCache.js';

const CONCURRENCY = 16;

/** Per-call caches over the adapters (see AzureReadCache), plus the task and login-server lookups over the index. */
export class PreflightReader extends AzureReadCache {
  private readonly details: (taskId: string) => Promise<TaskInfo | undefined>;
  /** Tasks read in full during this call, to write through to the index. */
  readonly read = new Map<string, StoredTask>();
  private identitiesIn: ((rg: string) => Promise<NamedIdentity[]>) | undefined;
  private watchedByLoginServer: Promise<Map<string, string>> | undefined;

  constructor(
    private readonly deps: Deps,
    arm: ArmAdapters,
    private readonly index: IndexSnapshot,
  ) {
    super(arm, {
      watchedVaults: deps.settings.watchedVaults,
      // Only a missing watched vault is skipped; any other failure fails the lookup.
      skipWatchedError: (err) => err instanceof AzureNotFoundError,
      // Not found among the watched vaults: search the subscriptions of the managed scopes, vaults and registries.
      subscriptions: () => {
        const subs = new Set<string>();
        for (const s of deps.settings.managedScopes) subs.add((parseResourceId(s).subscriptionId ?? '').toLowerCase());
        for (const id of deps.settings.watchedVaults)
          subs.add((parseResourceId(id).subscriptionId ?? '').toLowerCase());
        for (const r of index.registries.values()) subs.add((parseResourceId(r.id).subscriptionId ?? '').toLowerCase());
        subs.delete('');
        return [...subs];
      },
    });
    this.details = memoAsync(async (taskId) => {
      const stored = this.index.tasks.get(normalizeId(taskId));
      if (!stored) return undefined;
      const registry = this.index.registries.get(normalizeId(stored.registryId));
      if (!registry) return stored.info;
      let details;
      try {
        details = await arm.getTaskDetails(stored.taskId);
      } catch (err) {
        // Deleted since the index saw it: say so rather than judge what is no longer there.
        if (err instanceof AzureNotFoundError) return undefined;
        throw err;
      }
      const problems: string[] = [];
      const info = toTaskInfo(details, registry, { details, problems });
      this.read.set(normalizeId(taskId), {
        ...stored,
        info,
        problems,
        detailsReadAt: this.deps.now().toISOString(),
        needsDetails: Object.keys(details.credentials?.customRegistries ?? {}).length > 0 || stored.needsDetails,
      });
      return info;
    });
    this.identitiesIn = memoAsync(async (resourceGroupId: string) => {
      const p = parseResourceId(resourceGroupId);
      try {
        return await arm.listUserAssignedIdentities(p.subscriptionId as string, p.resourceGroup as string);
      } catch (err) {
        // Naming the identity is a courtesy: without read access to it, the fix names the client id instead.
        if (err instanceof AzureError) return [];
        throw err;
      }
    });
  }

  /** The task as indexed; tasks whose credentials the index has not read yet are read now (getDetails). */
  async task(taskId: string): Promise<TaskInfo | undefined> {
    const stored = this.index.tasks.get(normalizeId(taskId));
    if (!stored) return undefined;
    if (stored.detailsReadAt !== '') return stored.info;
    return this.details(taskId);
  }

  /** The task as it is now (getDetails, once per call), whatever the index holds. */
  async freshTask(taskId: string): Promise<TaskInfo | undefined> {
    return this.details(taskId);
  }

  /** Was this task read in full during this call? */
  isFresh(taskId: string): boolean {
    return this.read.has(normalizeId(taskId));
  }

  /** User-assigned identities in the task's resource group (to name the one an unknown client id belongs to). */
  async identitiesNear(task: TaskInfo): Promise<NamedIdentity[]> {
    const p = parseResourceId(task.registryId);
    if (!p.subscriptionId || !p.resourceGroup || !this.identitiesIn) return [];
    return this.identitiesIn(`/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroup}`);
  }

  /** Registry id for a login server: the index first, then the watched (base) registries, read once per call. */
  async registryIdFor(loginServer: string): Promise<string | undefined> {
    const ls = normalizeLoginServer(loginServer);
    for (const r of this.index.registries.values()) if (r.loginServer === ls) return r.id;
    this.watchedByLoginServer ??= (async () => {
      const map = new Map<string, string>();
      for (const id of this.deps.settings.watchedRegistries) {
        const r = await this.registry(id);
        if (r) map.set(r.loginServer, r.id);
      }
      return map;
    })();
    return (await this.watchedByLoginServer).get(ls);
  }
}

/** Base refs the run pulls: every base of the task (recorded and declared). */
function baseRefsOf(index: IndexSnapshot, taskKey: string): string[] {
  const node = index.graph().tasks[taskKey];
  return node ? node.bases.map((b) => b.ref) : [];
}

function unreadableSecret(task: TaskInfo, ref: SecretRef, err: AzureError): Reason {
  return {
    code: 'KeyVaultAccessDenied',
    severity: 'warning',
    message: `acr-cascade cannot read the properties of secret '${ref.name}' (${ref.vaultUrl}) used by task '${task.name}' (${err.code}), so its health is not verified; the run itself may still succeed.`,
    fix: `az keyvault set-policy --name ${ref.vaultUrl.replace(/^https:\/\//, '').split('.')[0]} --object-id <acr-cascade principal id> --secret-permissions list`,
  };
}

/** Worth a re-check against the task as it is now: it would block the run, or it prints a fix. */
function needsRecheck(verdict: PreflightVerdict): boolean {
  return verdict.reasons.some((r) => r.severity === 'blocking' || r.fix !== undefined);
}

export async function preflightOne(
  deps: Deps,
  reader: PreflightReader,
  index: IndexSnapshot,
  taskId: string,
): Promise<PreflightVerdict> {
  const verdict = await preflightFrom(deps, reader, index, taskId, await reader.task(taskId));
  if (reader.isFresh(taskId) || !index.tasks.has(normalizeId(taskId)) || !needsRecheck(verdict)) return verdict;
  return preflightFrom(deps, reader, index, taskId, await reader.freshTask(taskId));
}

async function preflightFrom(
  deps: Deps,
  reader: PreflightReader,
  index: IndexSnapshot,
  taskId: string,
  task: TaskInfo | undefined,
): Promise<PreflightVerdict> {
  if (!task) {
    return { task: taskId, decision: 'blocked', reasons: [reasonBuilders.taskNotFound(taskId)], identity: {} };
  }
  const baseImages = baseRefsOf(index, normalizeId(task.id));
  const ownLs = normalizeLoginServer(task.loginServer);

  // Registries the run pulls from, and the assignments at and above each one (skipped where nothing is evaluated).
  const registries: Record<string, RegistryInfo> = {};
  const assignments = new Map<string, RoleAssignmentInfo>();
  const addAssignments = (list: RoleAssignmentInfo[]) => {
    for (const a of list) assignments.set(a.id.toLowerCase(), a);
  };
  const loginServers = new Set<string>();
  for (const ref of baseImages) {
    const r = tryParseImageRef(ref);
    if (r) loginServers.add(r.loginServer);
  }
  for (const ls of loginServers) {
    const id = await reader.registryIdFor(ls);
    if (!id) continue;
    // The task's own registry in Legacy mode needs no evaluation (implicit source-registry access): the indexed
    // registry says so without a read. Every registry whose permissions are evaluated is read now.
    const indexed = index.registries.get(normalizeId(id));
    const ownLegacy =
      ls === ownLs && indexed?.roleAssignmentMode === 'LegacyRegistryPermissions' && !indexed.anonymousPullEnabled;
    const registry = ownLegacy ? indexed : await reader.registry(id);
    if (!registry) continue;
    registries[ls] = registry;
    const evaluated =
      !registry.anonymousPullEnabled && !(ls === ownLs && registry.roleAssignmentMode === 'LegacyRegistryPermissions');
    if (evaluated) addAssignments(await reader.assignments(registry.id, { includeBelow: false }));
  }

  // Vaults and secret properties of every Key Vault-backed credential.
  const vaults: Record<string, VaultInfo> = {};
  const secrets: Record<string, SecretProperties> = {};
  const latestVersions: Record<string, string> = {};
  const unreadable: { ref: SecretRef; err: AzureError }[] = [];
  for (const cred of task.credentials) {
    for (const { ref } of vaultSecretsOf(cred)) {
      const vault = await reader.vault(ref.vaultUrl);
      if (!vault) continue;
      vaults[ref.vaultUrl] = vault;
      // RBAC vaults: one list at the vault covers assignments at, above and below it (secret scopes included).
      if (vault.enableRbacAuthorization) addAssignments(await reader.assignments(vault.id, { includeBelow: true }));
      const versionless = secretKey({ ...ref, version: undefined });
      const lookup = await reader.secret(versionless);
      if ('error' in lookup) {
        unreadable.push({ ref, err: lookup.error });
        continue;
      }
      // The versionless lookup listed every version: a pinned one is found there (no second read).
      const chosen = ref.version ? lookup.allVersions.find((v) => v.version === ref.version) : lookup.props;
      if (chosen) secrets[secretKey(ref)] = chosen;
      if (lookup.latestEnabledVersion) latestVersions[versionless] = lookup.latestEnabledVersion;
    }
  }

  // Role definitions of every assignment that might apply.
  const definitions = await reader.definitions([...assignments.values()]);
  // An unknown client id: look for the identity it belongs to, so the fix can name it.
  const unknownClientId = task.credentials.some((c) => {
    const r = resolveIdentity(task, c.identity);
    return !r.ok && r.problem === 'unknownClientId';
  });
  const identities = unknownClientId ? await reader.identitiesNear(task) : [];

  const result = preflightTask({
    task,
    baseImages,
    registries,
    assignments: [...assignments.values()],
    definitions,
    vaults,
    secrets,
    latestVersions,
    identities,
    now: unixSeconds(deps.now()),
    warningDays: deps.settings.secretWarningDays,
  });
  let reasons = result.reasons;
  if (unreadable.length > 0) {
    // Not knowing is not "missing": replace the domain's SecretMissing for secrets we could not list.
    const names = new Set(unreadable.map((u) => u.ref.name.toLowerCase()));
    reasons = reasons.filter(
      (r) => !(r.code === 'SecretMissing' && [...names].some((n) => r.message.toLowerCase().includes(`'${n}'`))),
    );
    for (const u of unreadable) reasons.push(unreadableSecret(task, u.ref, u.err));
  }
  return {
    task: task.id,
    decision: reasons.some((r) => r.severity === 'blocking') ? 'blocked' : 'ready',
    reasons,
    identity: result.identity,
  };
}

/** Write-through of tasks read in full (IndexStore.recordTasks). */
export type RecordTasks = (tasks: StoredTask[]) => Promise<unknown>;

export async function preflightTasks(
  deps: Deps,
  arm: ArmAdapters,
  index: IndexSnapshot,
  taskIds: readonly string[],
  record?: RecordTasks,
): Promise<PreflightOutput> {
  const reader = new PreflightReader(deps, arm, index);
  const ids = [...new Set(taskIds)];
  const verdicts = await mapLimit(ids, CONCURRENCY, (id) => preflightOne(deps, reader, index, id));
  if (record && reader.read.size > 0) await record([...reader.read.values()]);
  // Keyed by the id as asked (ARM ids compare case-insensitively; callers look verdicts up by their own spelling).
  const out: PreflightOutput = {};
  ids.forEach((id, i) => (out[id] = verdicts[i] as PreflightVerdict));
  return out;
}

/** Identity per login server computed from the task alone (no I/O) — what a plan shows without preflight. */
export function identityOf(task: TaskInfo): PlanEntry['identity'] {
  const out: PlanEntry['identity'] = {};
  for (const c of task.credentials) {
    const r = resolveIdentity(task, c.identity);
    if (!r.ok) continue;
    out[normalizeLoginServer(c.loginServer)] = {
      kind: r.identity.kind,
      principalId: r.identity.principalId,
      ...(r.identity.clientId ? { clientId: r.identity.clientId } : {}),
    };
  }
  return out;
}
