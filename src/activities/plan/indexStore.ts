// The dependency index in Table Storage (`CascadeIndex`) plus an in-process copy keyed by the index version, so a
// plan costs one small meta read instead of reading every task entity.
//
// Schema (one table, three partitions; RowKeys are lower-cased ARM ids with '/' → '~', since '/' is not allowed):
//   PartitionKey 'meta'     RowKey 'index'   version, refreshedAt, scopes (JSON), registries, tasks, pending,
//                                             lastRefresh (JSON RefreshIndexOutput)
//   PartitionKey 'registry' RowKey <id>      registryId, info (JSON RegistryInfo)
//   PartitionKey 'task'     RowKey <id>      taskId, registryId, hash (masked GET), detailsHash (GET without
//                                             base-image digests), detailsReadAt (ISO; '' = credentials not read yet),
//                                             needsDetails (the masked view shows something listDetails adds; absent
//                                             on rows written before it existed = true), info (JSON TaskInfo:
//                                             credential references only, never values), problems (JSON string[])
//
// Writers: the refresh, and write-through of task details read elsewhere (preflight re-checks, credential checks).
// The meta entity is replaced with its ETag, so two writers never publish the same version number for different
// content: the loser re-reads meta and takes the next number.
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { buildGraph, normalizeId, type DependencyGraph, type RegistryInfo, type TaskInfo } from '../../domain/index.js';
import type { RefreshIndexOutput } from '../../contracts/index.js';
import { canonicalJson } from './util.js';

export const INDEX_TABLE = 'CascadeIndex';

export interface StoredTask {
  taskId: string;
  registryId: string;
  hash: string;
  detailsHash: string;
  /**
   * ISO time of the last `getDetails` read — or of the refresh that found nothing for it to add (`needsDetails`
   * false); '' when the credentials were never read.
   */
  detailsReadAt: string;
  /** The masked view shows something listDetails would add (custom registry credentials, hidden task content). */
  needsDetails: boolean;
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
  needsDetails?: boolean;
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
  /** ETag of the meta entity per version this process read or wrote (the version a writer starts from). */
  private readonly etags = new Map<number, string>();
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
    return (await this.readMetaEntity())?.meta;
  }

  private async readMetaEntity(): Promise<{ meta: IndexMeta; etag: string } | undefined> {
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
      return { meta, etag: e.etag };
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
    const read = await this.readMetaEntity();
    this.checkedAt = Date.now();
    if (!read) return undefined;
    const { meta, etag } = read;
    this.etags.set(meta.version, etag);
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
          needsDetails: t.needsDetails !== false,
          info: JSON.parse(t.info) as TaskInfo,
          problems: JSON.parse(t.problems ?? '[]') as string[],
        });
      }
    }
    this.cached = snapshot(meta, tasks, registries);
    this.etags.set(meta.version, etag);
    return this.cached;
  }

  /** Writes the changes (batched per partition) and then the meta entity, and updates the in-process copy. */
  async save(base: IndexSnapshot | undefined, changes: IndexChanges, wanted: IndexMeta): Promise<IndexSnapshot> {
    let meta = wanted;
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
          needsDetails: t.needsDetails,
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
    const published = await this.publishMeta(base, meta);
    if (published.version !== meta.version) {
      // Another writer published in between: our rows are written, but this process's copy would miss theirs.
      this.cached = undefined;
      this.checkedAt = 0;
      return (await this.load({ fresh: true })) as IndexSnapshot;
    }
    meta = published;
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

  /**
   * Write-through: task entries read outside a refresh (a preflight re-check, a credential check) replace what the
   * index holds, so the next plan starts from them. Entries equal to the stored ones (credentials, identity,
   * problems) write nothing; a task the index has never seen is added only when its registry is indexed. Returns
   * how many entries changed. Nothing is written before the index is first built.
   */
  async recordTasks(fresh: readonly StoredTask[]): Promise<number> {
    if (fresh.length === 0) return 0;
    const base = await this.load({ fresh: true });
    if (!base) return 0;
    const changed: StoredTask[] = [];
    for (const t of fresh) {
      const key = normalizeId(t.taskId);
      const stored = base.tasks.get(key);
      if (!stored && !base.registries.has(normalizeId(t.registryId))) continue;
      // Keep the masked-view hashes the refresh compares: write-through changes what the details said, not the list.
      const next: StoredTask = stored ? { ...t, hash: stored.hash, detailsHash: stored.detailsHash } : t;
      if (
        stored &&
        stored.detailsReadAt !== '' &&
        canonicalJson(stored.info) === canonicalJson(next.info) &&
        canonicalJson(stored.problems) === canonicalJson(next.problems)
      ) {
        continue;
      }
      changed.push(next);
    }
    if (changed.length === 0) return 0;
    const added = changed.filter((t) => !base.tasks.has(normalizeId(t.taskId))).length;
    const pending = changed.filter((t) => base.tasks.get(normalizeId(t.taskId))?.detailsReadAt === '').length;
    await this.save(
      base,
      { upsertTasks: changed, deleteTasks: [], upsertRegistries: [], deleteRegistries: [] },
      {
        ...base.meta,
        version: base.meta.version + 1,
        tasks: base.meta.tasks + added,
        pending: Math.max(0, base.meta.pending - pending),
      },
    );
    return changed.length;
  }

  /**
   * Replaces the meta entity if it is still the one `base` was read from (ETag), else re-reads it and publishes the
   * next version number instead (the rows are already written, so the newer version includes them).
   */
  private async publishMeta(base: IndexSnapshot | undefined, wanted: IndexMeta): Promise<IndexMeta> {
    let meta = wanted;
    let etag = base ? this.etags.get(base.meta.version) : undefined;
    for (let attempt = 0; ; attempt++) {
      const entity: MetaEntity = {
        partitionKey: 'meta',
        rowKey: 'index',
        version: meta.version,
        refreshedAt: meta.refreshedAt,
        scopes: JSON.stringify(meta.scopes),
        registries: meta.registries,
        tasks: meta.tasks,
        pending: meta.pending,
        lastRefresh: meta.lastRefresh ? JSON.stringify(meta.lastRefresh) : '',
      };
      try {
        const res =
          etag !== undefined
            ? await this.table.updateEntity(entity, 'Replace', { etag })
            : base === undefined
              ? await this.table.createEntity(entity)
              : await this.table.upsertEntity(entity, 'Replace');
        if (res.etag) this.etags.set(meta.version, res.etag);
        return meta;
      } catch (err) {
        if (!(isStatus(err, 412) || isStatus(err, 409)) || attempt >= 5) throw err;
        const current = await this.readMetaEntity();
        if (!current) throw err;
        etag = current.etag;
        meta = { ...meta, version: Math.max(meta.version, current.meta.version) + 1 };
      }
    }
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
