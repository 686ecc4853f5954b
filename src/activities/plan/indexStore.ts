// The dependency index in Table Storage (`CascadeIndex`) plus an in-process copy keyed by the index version, so a
// plan costs one small meta read instead of reading every task entity.
//
// Schema (one table, three partitions; RowKeys are lower-cased ARM ids with '/' → '~', since '/' is not allowed):
//   PartitionKey 'meta'     RowKey 'index'   version, refreshedAt, scopes (JSON), registries, tasks, pending,
//                                             lastRefresh (JSON RefreshIndexOutput)
//   PartitionKey 'registry' RowKey <id>      registryId, info (JSON RegistryInfo)
//   PartitionKey 'task'     RowKey <id>      taskId, registryId, hash (masked GET), detailsHash (GET without
//                                             base-image digests), detailsReadAt (ISO; '' = credentials not read yet),
//                                             info (JSON TaskInfo: credential references only, never values),
//                                             problems (JSON string[])
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { buildGraph, normalizeId, type DependencyGraph, type RegistryInfo, type TaskInfo } from '../../domain/index.js';
import type { RefreshIndexOutput } from '../../contracts/index.js';

export const INDEX_TABLE = 'CascadeIndex';

export interface StoredTask {
  taskId: string;
  registryId: string;
  hash: string;
  detailsHash: string;
  /** ISO time of the last `getDetails` read; '' when the credentials were never read. */
  detailsReadAt: string;
  info: TaskInfo;
  problems: string[];
}

export interface IndexMeta {
  version: number;
  refreshedAt: string;
  scopes: string[];
  registries: number;
  tasks: number;
  pending: number;
  lastRefresh?: RefreshIndexOutput;
}

/** One consistent in-memory copy of the index. `graph` is built on first use. */
export interface IndexSnapshot {
  meta: IndexMeta;
  /** By normalizeId(task id). */
  tasks: Map<string, StoredTask>;
  /** By normalizeId(registry id). */
  registries: Map<string, RegistryInfo>;
  graph(): DependencyGraph;
}

export function rowKeyOf(id: string): string {
  return normalizeId(id).replace(/\//g, '~');
}

interface TaskEntity {
  partitionKey: string;
  rowKey: string;
  taskId: string;
  registryId: string;
  hash: string;
  detailsHash: string;
  detailsReadAt: string;
  info: string;
  problems: string;
}

interface RegistryEntity {
  partitionKey: string;
  rowKey: string;
  registryId: string;
  info: string;
}

interface MetaEntity {
  partitionKey: string;
  rowKey: string;
  version: number;
  refreshedAt: string;
  scopes: string;
  registries: number;
  tasks: number;
  pending: number;
  lastRefresh: string;
}

function snapshot(
  meta: IndexMeta,
  tasks: Map<string, StoredTask>,
  registries: Map<string, RegistryInfo>,
  previous?: IndexSnapshot,
): IndexSnapshot {
  // Same content (same maps) → same graph: a new refresh time must not cost a graph rebuild.
  if (previous && previous.tasks === tasks) return { meta, tasks, registries, graph: previous.graph };
  let graph: DependencyGraph | undefined;
  return {
    meta,
    tasks,
    registries,
    graph: () => (graph ??= buildGraph([...tasks.values()].map((t) => t.info))),
  };
}

function isStatus(err: unknown, status: number): boolean {
  return typeof err === 'object' && err !== null && (err as { statusCode?: number }).statusCode === status;
}

export interface IndexChanges {
  upsertTasks: StoredTask[];
  deleteTasks: string[];
  upsertRegistries: RegistryInfo[];
  deleteRegistries: string[];
}

/** How long a process trusts its copy before re-reading the meta entity (a point read costs ~10 ms on Azurite). */
export const DEFAULT_INDEX_CHECK_INTERVAL_MS = 2000;

export class IndexStore {
  private cached: IndexSnapshot | undefined;
  private checkedAt = 0;
  private tableReady: Promise<void> | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly checkIntervalMs = DEFAULT_INDEX_CHECK_INTERVAL_MS,
  ) {}

  private ensureTable(): Promise<void> {
    this.tableReady ??= this.table.createTable().catch((err: unknown) => {
      this.tableReady = undefined;
      throw err;
    });
    return this.tableReady;
  }

  /** The meta entity, or undefined when the index was never built. One point read. */
  async readMeta(): Promise<IndexMeta | undefined> {
    await this.ensureTable();
    try {
      const e = await this.table.getEntity<MetaEntity>('meta', 'index');
      const meta: IndexMeta = {
        version: Number(e.version),
        refreshedAt: e.refreshedAt,
        scopes: JSON.parse(e.scopes) as string[],
        registries: Number(e.registries),
        tasks: Number(e.tasks),
        pending: Number(e.pending ?? 0),
      };
      if (e.lastRefresh) meta.lastRefresh = JSON.parse(e.lastRefresh) as RefreshIndexOutput;
      return meta;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * The current index: the in-process copy when checked within the last `checkIntervalMs` or when its version is
   * still the stored one, else a full read. `fresh` always checks the stored version (refreshes start from it).
   * Undefined when the index was never built.
   */
  async load(options: { fresh?: boolean } = {}): Promise<IndexSnapshot | undefined> {
    if (!options.fresh && this.cached && Date.now() - this.checkedAt < this.checkIntervalMs) return this.cached;
    const meta = await this.readMeta();
    this.checkedAt = Date.now();
    if (!meta) return undefined;
    if (this.cached && this.cached.meta.version === meta.version) {
      // Same content; refresh time and counters may have moved on.
      this.cached = snapshot(meta, this.cached.tasks, this.cached.registries, this.cached);
      return this.cached;
    }
    const tasks = new Map<string, StoredTask>();
    const registries = new Map<string, RegistryInfo>();
    const entities = this.table.listEntities<TaskEntity | RegistryEntity>({
      queryOptions: { filter: `PartitionKey eq 'task' or PartitionKey eq 'registry'` },
    });
    for await (const e of entities as AsyncIterable<TableEntityResult<TaskEntity | RegistryEntity>>) {
      if (e.partitionKey === 'registry') {
        const r = e as RegistryEntity;
        registries.set(normalizeId(r.registryId), JSON.parse(r.info) as RegistryInfo);
      } else {
        const t = e as TaskEntity;
        tasks.set(normalizeId(t.taskId), {
          taskId: t.taskId,
          registryId: t.registryId,
          hash: t.hash,
          detailsHash: t.detailsHash,
          detailsReadAt: t.detailsReadAt ?? '',
          info: JSON.parse(t.info) as TaskInfo,
          problems: JSON.parse(t.problems ?? '[]') as string[],
        });
      }
    }
    this.cached = snapshot(meta, tasks, registries);
    return this.cached;
  }

  /** Writes the changes (batched per partition) and then the meta entity, and updates the in-process copy. */
  async save(base: IndexSnapshot | undefined, changes: IndexChanges, meta: IndexMeta): Promise<IndexSnapshot> {
    await this.ensureTable();
    const taskActions: TransactionAction[] = [
      ...changes.upsertTasks.map((t): TransactionAction => [
        'upsert',
        {
          partitionKey: 'task',
          rowKey: rowKeyOf(t.taskId),
          taskId: t.taskId,
          registryId: t.registryId,
          hash: t.hash,
          detailsHash: t.detailsHash,
          detailsReadAt: t.detailsReadAt,
          info: JSON.stringify(t.info),
          problems: JSON.stringify(t.problems),
        },
        'Replace',
      ]),
      ...changes.deleteTasks.map((id): TransactionAction => ['delete', { partitionKey: 'task', rowKey: rowKeyOf(id) }]),
    ];
    const registryActions: TransactionAction[] = [
      ...changes.upsertRegistries.map((r): TransactionAction => [
        'upsert',
        { partitionKey: 'registry', rowKey: rowKeyOf(r.id), registryId: r.id, info: JSON.stringify(r) },
        'Replace',
      ]),
      ...changes.deleteRegistries.map((id): TransactionAction => [
        'delete',
        { partitionKey: 'registry', rowKey: rowKeyOf(id) },
      ]),
    ];
    await this.submit(taskActions);
    await this.submit(registryActions);
    // Meta last: readers switch to the new version only once everything it describes is written.
    await this.table.upsertEntity<MetaEntity>(
      {
        partitionKey: 'meta',
        rowKey: 'index',
        version: meta.version,
        refreshedAt: meta.refreshedAt,
        scopes: JSON.stringify(meta.scopes),
        registries: meta.registries,
        tasks: meta.tasks,
        pending: meta.pending,
        lastRefresh: meta.lastRefresh ? JSON.stringify(meta.lastRefresh) : '',
      },
      'Replace',
    );
    const tasks = new Map(base?.tasks ?? []);
    const registries = new Map(base?.registries ?? []);
    for (const t of changes.upsertTasks) tasks.set(normalizeId(t.taskId), t);
    for (const id of changes.deleteTasks) tasks.delete(normalizeId(id));
    for (const r of changes.upsertRegistries) registries.set(normalizeId(r.id), r);
    for (const id of changes.deleteRegistries) registries.delete(normalizeId(id));
    const sameContent =
      base !== undefined &&
      base.meta.version === meta.version &&
      changes.upsertTasks.length + changes.deleteTasks.length === 0 &&
      changes.upsertRegistries.length + changes.deleteRegistries.length === 0;
    this.cached = sameContent ? snapshot(meta, base.tasks, base.registries, base) : snapshot(meta, tasks, registries);
    return this.cached;
  }

  /** Entity group transactions: one partition, at most 100 actions each. A delete of a missing row is fine. */
  private async submit(actions: TransactionAction[]): Promise<void> {
    for (let i = 0; i < actions.length; i += 100) {
      const chunk = actions.slice(i, i + 100);
      try {
        await this.table.submitTransaction(chunk);
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
        // A batch fails as a whole when one delete targets a missing row: replay it action by action.
        for (const [kind, entity] of chunk) {
          if (kind === 'delete') {
            await this.table.deleteEntity(entity.partitionKey, entity.rowKey).catch((e: unknown) => {
              if (!isStatus(e, 404)) throw e;
            });
          } else {
            await this.table.upsertEntity(entity, 'Replace');
          }
        }
      }
    }
  }
}
