// Index refresh: list registries and tasks in the managed scopes, and read credentials (`tasks.getDetails`, a POST
// that ARM charges to the write bucket) only where the cheap masked list says they exist and something changed.
// Algorithm, per refresh:
//   1. list registries per managed scope (1 paged list per subscription/resource group, 1 GET per registry scope);
//   2. list tasks per registry (1 paged list each) — masked GETs, hashed;
//   3. a task whose hash equals the stored one is unchanged: nothing read, nothing written;
//      a task whose hash changed only in `step.baseImageDependencies` (a run recorded new base digests) is rebuilt
//      from the list with its stored credentials; any other change (or a new task) is read in full only when
//      `needsDetails` says listDetails would add something (custom registry credentials, task content the masked
//      view leaves out) — every other task is indexed from the masked view alone, at no cost;
//   4. masked GETs hide credential edits inside an existing `customRegistries` entry, so credentials older than
//      DETAILS_MAX_AGE are re-read, at most ceil(tasks / VERIFY_SLICES) per refresh (oldest first), which spreads a
//      daily re-verification evenly over the default 15-minute schedule (tasks with credentials only). Verdicts do
//      not wait for it: preflight re-reads a task before reporting it blocked (preflight.ts), and credential checks
//      write what they read through to the index;
//   `input.tasks` / `input.registries` name tasks to re-read in full now (first, ahead of the budget);
//   5. tasks and registries gone from a successfully listed scope/registry are deleted; a scope or registry that
//      failed to list keeps its previous entries and is reported in `errors`;
//   6. changed entities are written in batches, then the meta entity; the version moves only when content changed.
import type { Task } from '@azure/arm-containerregistry';
import {
  isAncestorOrSelf,
  normalizeId,
  type RegistryInfo,
  type TaskCredential,
  type TaskInfo,
} from '../../domain/index.js';
import { AzureError, AzureNotFoundError, toTaskInfo, type ArmAdapters } from '../../azure/adapters.js';
import type { RefreshIndexInput, RefreshIndexOutput } from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import type { IndexChanges, IndexSnapshot, IndexStore, StoredTask } from './indexStore.js';
import { mapLimit } from '../shared/async.js';
import { sha256 } from '../shared/hash.js';
import { canonicalJson } from './util.js';

export const DETAILS_MAX_AGE_MS = 24 * 3600_000;
/** 96 = refreshes per day at the default 15-minute schedule. */
export const VERIFY_SLICES = 96;
/**
 * getDetails is a POST, so ARM counts it against the subscription WRITE bucket (200 burst, 10/s per principal) — the
 * same bucket scheduleRun uses. A modest budget per activity call keeps a first build from starving cascades.
 */
export const DEFAULT_MAX_DETAIL_READS = 500;
const CONCURRENCY = 16;

/**
 * Would `tasks.getDetails` add anything the index uses to this masked task? Credentials live only there (the masked
 * view shows each custom registry as `"<login server>": null`), and so does the YAML of an EncodedTask whose masked
 * view leaves `encodedTaskContent` out. Secret arguments and values are dropped from the masked view and the index
 * never uses them (outputs are derived from non-secret values only), so they need no read.
 */
export function needsDetails(task: Task): boolean {
  if (Object.keys(task.credentials?.customRegistries ?? {}).length > 0) return true;
  const step = task.step as { type?: string; encodedTaskContent?: string } | undefined;
  return step?.type === 'EncodedTask' && !step.encodedTaskContent;
}

export function taskHashes(task: Task): { hash: string; detailsHash: string } {
  const hash = sha256(canonicalJson(task));
  const step = task.step ? { ...task.step, baseImageDependencies: undefined } : undefined;
  const detailsHash = sha256(canonicalJson({ ...task, step }));
  return { hash, detailsHash };
}

interface Listed {
  registry: RegistryInfo;
  task: Task;
  hash: string;
  detailsHash: string;
  key: string;
  needsDetails: boolean;
}

function sameRegistry(a: RegistryInfo | undefined, b: RegistryInfo): boolean {
  return a !== undefined && canonicalJson(a) === canonicalJson(b);
}

export async function refreshIndex(
  deps: Deps,
  store: IndexStore,
  arm: ArmAdapters,
  input: RefreshIndexInput,
): Promise<RefreshIndexOutput> {
  const started = Date.now();
  const readsBefore = arm.counts.armReads;
  const base = await store.load({ fresh: true });
  const scopes = [...new Map(deps.settings.managedScopes.map((s) => [normalizeId(s), s])).values()];
  const errors: RefreshIndexOutput['errors'] = [];
  const maxDetailReads = input.maxDetailReads ?? DEFAULT_MAX_DETAIL_READS;

  // 1. registries
  const registries = new Map<string, RegistryInfo>();
  const failedScopes: string[] = [];
  await mapLimit(scopes, CONCURRENCY, async (scope) => {
    try {
      for (const r of await arm.listRegistries(scope)) registries.set(normalizeId(r.id), r);
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      // A registry scope that is gone is simply empty; anything else keeps what we knew.
      if (err instanceof AzureNotFoundError) return;
      failedScopes.push(scope);
      errors.push({ scope, code: err.code, message: err.message });
    }
  });
  for (const [k, r] of base?.registries ?? []) {
    if (!registries.has(k) && failedScopes.some((s) => isAncestorOrSelf(s, r.id))) registries.set(k, r);
  }

  // 2. tasks per registry
  const listed: Listed[] = [];
  const failedRegistries = new Set<string>();
  await mapLimit([...registries.entries()], CONCURRENCY, async ([rk, registry]) => {
    if (failedScopes.some((s) => isAncestorOrSelf(s, registry.id))) {
      failedRegistries.add(rk);
      return;
    }
    try {
      for (const task of await arm.listTasks(registry.id)) {
        if (!task.id) continue;
        listed.push({
          registry,
          task,
          key: normalizeId(task.id),
          needsDetails: needsDetails(task),
          ...taskHashes(task),
        });
      }
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      if (err instanceof AzureNotFoundError) {
        registries.delete(rk);
        return;
      }
      failedRegistries.add(rk);
      errors.push({ scope: registry.id, code: err.code, message: err.message });
    }
  });

  // 3 + 4. decide what needs getDetails
  const now = deps.now();
  const readAt = now.toISOString();
  const forcedTasks = new Set((input.tasks ?? []).map((t) => normalizeId(t)));
  const forcedRegistries = new Set((input.registries ?? []).map((r) => normalizeId(r)));
  const forced = (l: Listed): boolean => forcedTasks.has(l.key) || forcedRegistries.has(normalizeId(l.registry.id));
  const upserts: StoredTask[] = [];
  const needDetails: Listed[] = [];
  const ageCandidates: { l: Listed; stored: StoredTask }[] = [];
  for (const l of listed) {
    const stored = base?.tasks.get(l.key);
    const known = stored !== undefined && stored.detailsReadAt !== '';
    if (forced(l)) {
      needDetails.unshift(l);
      continue;
    }
    if (known && stored.hash === l.hash) {
      if (stored.needsDetails) ageCandidates.push({ l, stored });
      continue;
    }
    if (known && stored.detailsHash === l.detailsHash) {
      const info = toTaskInfo(l.task, l.registry, { credentials: stored.info.credentials, problems: [] });
      upserts.push({ ...stored, hash: l.hash, info, registryId: l.registry.id });
      if (stored.needsDetails) ageCandidates.push({ l, stored });
      continue;
    }
    if (!l.needsDetails) {
      // Nothing listDetails would add: the masked view is the whole task.
      const problems: string[] = [];
      const info = toTaskInfo(l.task, l.registry, { credentials: [], problems });
      upserts.push({ ...stored, ...storedFrom(l, info, problems), detailsReadAt: readAt });
      continue;
    }
    needDetails.push(l);
  }
  const verifyBudget = Math.ceil(listed.length / VERIFY_SLICES);
  const stale = ageCandidates
    .filter(({ stored }) => now.getTime() - Date.parse(stored.detailsReadAt) >= DETAILS_MAX_AGE_MS)
    .sort((a, b) => Date.parse(a.stored.detailsReadAt) - Date.parse(b.stored.detailsReadAt))
    .slice(0, verifyBudget);
  needDetails.push(...stale.map((s) => s.l));

  const reading = needDetails.slice(0, maxDetailReads);
  const deferred = needDetails.slice(maxDetailReads);
  let detailReads = 0;
  await mapLimit(reading, CONCURRENCY, async (l) => {
    const stored = base?.tasks.get(l.key);
    try {
      detailReads++;
      // Credentials (secret URIs, identities) come only from getDetails; the object is never logged or stored whole.
      const details = await arm.getTaskDetails(l.task.id as string);
      const problems: string[] = [];
      const info = toTaskInfo(details, l.registry, { details, problems });
      upserts.push({ ...storedFrom(l, info, problems), detailsReadAt: readAt });
    } catch (err) {
      if (!(err instanceof AzureError || err instanceof TypeError)) throw err;
      if (err instanceof AzureNotFoundError) return; // deleted since the list: the next refresh drops it
      const code = err instanceof AzureError ? err.code : 'InvalidTask';
      errors.push({ scope: l.task.id as string, code, message: err.message });
      if (!stored) upserts.push(pendingTask(l, []));
    }
  });
  // Over budget: keep what we had; new tasks enter without credentials (preflight reads those live).
  for (const l of deferred) {
    const stored = base?.tasks.get(l.key);
    if (!stored || stored.detailsReadAt === '') upserts.push(pendingTask(l, stored?.info.credentials ?? []));
  }

  // 5. removals
  const listedKeys = new Set(listed.map((l) => l.key));
  const deleteTasks: string[] = [];
  for (const [k, t] of base?.tasks ?? []) {
    if (listedKeys.has(k)) continue;
    const rk = normalizeId(t.registryId);
    if (failedRegistries.has(rk) && registries.has(rk)) continue;
    deleteTasks.push(t.taskId);
  }
  const upsertRegistries = [...registries.entries()]
    .filter(([k, r]) => !sameRegistry(base?.registries.get(k), r))
    .map(([, r]) => r);
  const deleteRegistries = [...(base?.registries ?? [])].filter(([k]) => !registries.has(k)).map(([, r]) => r.id);

  // 6. write
  const changes: IndexChanges = { upsertTasks: upserts, deleteTasks, upsertRegistries, deleteRegistries };
  const changed =
    upserts.length + deleteTasks.length + upsertRegistries.length + deleteRegistries.length > 0 ||
    base === undefined ||
    canonicalJson(base.meta.scopes) !== canonicalJson(scopes);
  const added = upserts.filter((t) => !base?.tasks.has(normalizeId(t.taskId))).length;
  const taskCount = (base?.tasks.size ?? 0) + added - deleteTasks.length;
  const pending = countPending(base, changes, deferred);
  const output: RefreshIndexOutput = {
    refreshedAt: readAt,
    version: changed ? (base?.meta.version ?? 0) + 1 : (base?.meta.version ?? 1),
    scopes,
    registries: registries.size,
    tasks: taskCount,
    added,
    changed: upserts.length - added,
    removed: deleteTasks.length,
    pending,
    armReads: arm.counts.armReads - readsBefore,
    detailReads,
    durationMs: Date.now() - started,
    errors,
  };
  await store.save(base, changes, {
    version: output.version,
    refreshedAt: readAt,
    scopes,
    registries: registries.size,
    tasks: taskCount,
    pending,
    lastRefresh: output,
  });
  output.durationMs = Date.now() - started;
  if (errors.length > 0) {
    deps.log(
      `refreshIndex: ${errors.length} scope(s)/task(s) could not be read: ${errors.map((e) => e.code).join(', ')}`,
    );
  }
  return output;
}

function storedFrom(l: Listed, info: TaskInfo, problems: string[]): StoredTask {
  return {
    taskId: info.id,
    registryId: l.registry.id,
    hash: l.hash,
    detailsHash: l.detailsHash,
    detailsReadAt: '',
    needsDetails: l.needsDetails,
    info,
    problems,
  };
}

function pendingTask(l: Listed, credentials: TaskCredential[]): StoredTask {
  return storedFrom(l, toTaskInfo(l.task, l.registry, { credentials, problems: [] }), []);
}

function countPending(base: IndexSnapshot | undefined, changes: IndexChanges, deferred: readonly Listed[]): number {
  // Tasks that end this refresh still needing a getDetails read: never read, or deferred re-verifications.
  const upserted = new Map(changes.upsertTasks.map((t) => [normalizeId(t.taskId), t]));
  const deleted = new Set(changes.deleteTasks.map((id) => normalizeId(id)));
  const keys = new Set<string>();
  for (const [k, t] of upserted) if (t.detailsReadAt === '') keys.add(k);
  for (const [k, t] of base?.tasks ?? [])
    if (!upserted.has(k) && !deleted.has(k) && t.detailsReadAt === '') keys.add(k);
  for (const l of deferred) keys.add(l.key);
  return keys.size;
}
