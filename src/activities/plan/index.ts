// Activities of the dependency index, plans and preflight, built over injected deps. One factory instance per process
// (functions/plan.ts uses `lazy`), so its in-process index copy is shared by every plan in the process.
import type { Task } from '@azure/arm-containerregistry';
import { normalizeId, registryIdOf, subgraph, type RegistryInfo, type Subgraph } from '../../domain/index.js';
import { createArmAdapters, toTaskInfo, type ArmAdapters } from '../../azure/adapters.js';
import type {
  BuildPlanInput,
  PlanView,
  PreflightInput,
  PreflightOutput,
  RefreshIndexInput,
  RefreshIndexOutput,
  RegistryLoginServerInput,
  RegistryLoginServerOutput,
  RemediateInput,
  RemediateOutput,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { buildPlan } from './buildPlan.js';
import { INDEX_TABLE, IndexStore, type IndexSnapshot, type StoredTask } from './indexStore.js';
import { preflightTasks } from './preflight.js';
import { needsDetails, refreshIndex } from './refresh.js';
import { remediatePull } from './remediate.js';

export { INDEX_TABLE, IndexStore } from './indexStore.js';
export type { IndexMeta, IndexSnapshot, StoredTask } from './indexStore.js';

export interface IndexSummary {
  built: boolean;
  version?: number;
  refreshedAt?: string;
  ageSeconds?: number;
  scopes: string[];
  registries: number;
  tasks: number;
  /** Tasks whose credentials the index has not read yet. */
  pending: number;
  lastRefresh?: RefreshIndexOutput;
}

export interface PlanActivities {
  buildPlan(input: BuildPlanInput): Promise<PlanView>;
  preflightTasks(input: PreflightInput): Promise<PreflightOutput>;
  remediatePull(input: RemediateInput): Promise<RemediateOutput>;
  refreshIndex(input: RefreshIndexInput): Promise<RefreshIndexOutput>;
  /** Dependency subgraph below an image (for /api/graph). Throws ImageRefError for a bad ref. */
  graph(ref: string): Promise<Subgraph & { indexRefreshedAt: string }>;
  indexSummary(): Promise<IndexSummary>;
  /** The index, built first when it was never built. */
  index(): Promise<IndexSnapshot>;
  /** A registry's login server: from the index when it knows the registry, else read from ARM. */
  registryLoginServer(input: RegistryLoginServerInput): Promise<RegistryLoginServerOutput>;
  /**
   * Write-through: tasks read in full elsewhere (`tasks.getDetails` answers, e.g. by a credential check) replace
   * their index entries; returns how many changed. Does nothing before the index is built.
   */
  recordTaskDetails(tasks: readonly TaskDetailsRead[]): Promise<number>;
}

/** One `tasks.getDetails` answer and when it was read. Never logged: it holds credential references. */
export interface TaskDetailsRead {
  details: Task;
  readAt: string;
}

export interface PlanActivitiesOptions {
  /** How long the in-process index copy is trusted before the meta entity is read again (default 2 s). */
  indexCheckIntervalMs?: number;
}

export function createPlanActivities(deps: Deps, options: PlanActivitiesOptions = {}): PlanActivities {
  const store = new IndexStore(deps.clients.table(INDEX_TABLE), options.indexCheckIntervalMs);
  const adapters = (): ArmAdapters => createArmAdapters(deps.clients);
  let building: Promise<RefreshIndexOutput> | undefined;

  // Refreshes in one process run one after another (each starts from the index the previous one wrote).
  let queue: Promise<unknown> = Promise.resolve();
  const refresh = (input: RefreshIndexInput): Promise<RefreshIndexOutput> => {
    const next = queue.then(() => refreshIndex(deps, store, adapters(), input));
    queue = next.catch(() => undefined);
    return next;
  };

  async function index(): Promise<IndexSnapshot> {
    const existing = await store.load();
    if (existing) return existing;
    // First use: build it (once per process, whoever asks first).
    building ??= refresh({ trigger: 'plan' }).finally(() => (building = undefined));
    await building;
    const built = await store.load();
    if (!built) throw new Error('the dependency index could not be built');
    return built;
  }

  const record = (tasks: StoredTask[]): Promise<number> => store.recordTasks(tasks);

  async function recordTaskDetails(reads: readonly TaskDetailsRead[]): Promise<number> {
    const snap = await store.load();
    if (!snap) return 0;
    const out: StoredTask[] = [];
    for (const { details, readAt } of reads) {
      if (!details.id) continue;
      const registryId = registryIdOf(details.id);
      const registry: RegistryInfo | undefined = snap.registries.get(normalizeId(registryId));
      if (!registry) continue;
      const problems: string[] = [];
      const info = toTaskInfo(details, registry, { details, problems });
      const stored = snap.tasks.get(normalizeId(details.id));
      out.push({
        taskId: info.id,
        registryId: registry.id,
        // A task new to the index gets no list hashes: the next refresh lists it and fills them in.
        hash: stored?.hash ?? '',
        detailsHash: stored?.detailsHash ?? '',
        detailsReadAt: readAt,
        needsDetails: needsDetails(details),
        info,
        problems,
      });
    }
    return store.recordTasks(out);
  }

  return {
    buildPlan: async (input) => buildPlan(deps, adapters(), await index(), input, record),
    preflightTasks: async (input) => preflightTasks(deps, adapters(), await index(), input.taskIds, record),
    remediatePull: (input) => remediatePull(deps, adapters(), input),
    refreshIndex: refresh,
    graph: async (ref) => {
      const snap = await index();
      return { ...subgraph(snap.graph(), ref), indexRefreshedAt: snap.meta.refreshedAt };
    },
    indexSummary: async () => {
      const meta = await store.readMeta();
      if (!meta) return { built: false, scopes: deps.settings.managedScopes, registries: 0, tasks: 0, pending: 0 };
      const summary: IndexSummary = {
        built: true,
        version: meta.version,
        refreshedAt: meta.refreshedAt,
        ageSeconds: Math.max(0, Math.round((deps.now().getTime() - Date.parse(meta.refreshedAt)) / 1000)),
        scopes: meta.scopes,
        registries: meta.registries,
        tasks: meta.tasks,
        pending: meta.pending,
      };
      if (meta.lastRefresh) summary.lastRefresh = meta.lastRefresh;
      return summary;
    },
    index,
    registryLoginServer: async ({ registryId }) => {
      if (typeof registryId !== 'string' || registryId === '') throw new TypeError('registryId is required');
      const indexed = (await index()).registries.get(normalizeId(registryId));
      const info = indexed ?? (await adapters().getRegistry(registryId));
      return { loginServer: info.loginServer.toLowerCase() };
    },
    recordTaskDetails,
  };
}
