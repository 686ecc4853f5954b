// Table `CascadeDedupe`: what makes runs happen once and lets triggers recognise our own pushes.
//
//   PartitionKey                  RowKey                      what
//   claim|<runKey>                attempt-<n>                 exactly-once claim of (task, base digest | request,
//                                                             attempt): cascadeId, task, registryId, claimedAt,
//                                                             token (run correlation), runId once ARM accepted it
//   cancel                        <cascadeId>|<startedAt>     a cascade execution was canceled (canceledAt)
//   output-<fnv(repository)>      <registry>|<runId>          a run we scheduled that pushes to that repository
//
// Keys avoid '/', '\', '#', '?' (forbidden in Table keys): run keys come from domain `runKey`, repositories are hashed.
import { RestError, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { fnv1a64 } from '../../domain/index.js';

export const DEDUPE_TABLE = 'CascadeDedupe';

export interface ClaimEntity {
  partitionKey: string;
  rowKey: string;
  cascadeId: string;
  task: string;
  registryId: string;
  claimedAt: string;
  token: string;
  attempt: number;
  baseRef?: string;
  baseDigest?: string;
  runId?: string;
  scheduledAt?: string;
}

export interface OutputRow {
  repository: string;
  registryId: string;
  runId: string;
  task: string;
  cascadeId: string;
  scheduledAt: string;
}

type Etagged<T> = T & { etag: string };

function status(err: unknown): number | undefined {
  return err instanceof RestError ? err.statusCode : undefined;
}

/** Lower-case `loginServer/repository` (no tag, no digest). */
export function outputPartition(repository: string): string {
  return `output-${fnv1a64(repository.toLowerCase())}`;
}

export class DedupeStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly table: TableClient) {}

  private ensure(): Promise<void> {
    this.ready ??= this.table.createTable().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  // ---- claims ------------------------------------------------------------------------------------------------------

  /** Creates the claim; on 409 returns the existing row (with its ETag) instead. */
  async claim(
    entity: ClaimEntity,
  ): Promise<{ claimed: true; etag: string } | { claimed: false; existing: Etagged<ClaimEntity> }> {
    await this.ensure();
    try {
      const res = await this.table.createEntity(entity);
      return { claimed: true, etag: res.etag ?? '*' };
    } catch (err) {
      if (status(err) !== 409) throw err;
    }
    const existing = await this.getClaim(entity.partitionKey, entity.rowKey);
    if (!existing) {
      // Deleted between our create and read (a throttled claim was released): try once more.
      const res = await this.table.createEntity(entity);
      return { claimed: true, etag: res.etag ?? '*' };
    }
    return { claimed: false, existing };
  }

  async getClaim(partitionKey: string, rowKey: string): Promise<Etagged<ClaimEntity> | undefined> {
    await this.ensure();
    try {
      const e = await this.table.getEntity<ClaimEntity>(partitionKey, rowKey);
      return e as TableEntityResult<ClaimEntity> & { etag: string };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  /** Takes over a stale claim only if nobody changed it since we read it (ETag). */
  async takeOver(existing: Etagged<ClaimEntity>, claimedAt: string, cascadeId: string): Promise<string | undefined> {
    try {
      const res = await this.table.updateEntity(
        { partitionKey: existing.partitionKey, rowKey: existing.rowKey, claimedAt, cascadeId },
        'Merge',
        { etag: existing.etag },
      );
      return res.etag ?? '*';
    } catch (err) {
      if (status(err) === 412 || status(err) === 404) return undefined;
      throw err;
    }
  }

  async recordRun(partitionKey: string, rowKey: string, runId: string, scheduledAt: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey, rowKey, runId, scheduledAt }, 'Merge');
  }

  /** Gives a claim back (ARM refused the run); a row changed by someone else is left alone. */
  async release(partitionKey: string, rowKey: string, etag: string): Promise<void> {
    try {
      await this.table.deleteEntity(partitionKey, rowKey, { etag });
    } catch (err) {
      if (status(err) !== 404 && status(err) !== 412) throw err;
    }
  }

  // ---- cancel markers ----------------------------------------------------------------------------------------------

  async markCanceled(cascadeId: string, startedAt: string, canceledAt: string): Promise<void> {
    await this.ensure();
    await this.table.upsertEntity({ partitionKey: 'cancel', rowKey: `${cascadeId}|${startedAt}`, canceledAt }, 'Merge');
  }

  async isCanceled(cascadeId: string, startedAt: string): Promise<boolean> {
    await this.ensure();
    try {
      await this.table.getEntity('cancel', `${cascadeId}|${startedAt}`);
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw err;
    }
  }

  // ---- our runs' outputs -------------------------------------------------------------------------------------------

  async addOutputs(rows: OutputRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensure();
    for (const r of rows) {
      const registry = r.registryId.replace(/\/+$/, '').split('/').pop() ?? '';
      await this.table.upsertEntity(
        {
          partitionKey: outputPartition(r.repository),
          rowKey: `${registry.toLowerCase()}|${r.runId}`,
          ...r,
        },
        'Replace',
      );
    }
  }

  /** Our runs that push to `repository`, scheduled at or after `since` (ISO), newest first. */
  async listOutputs(repository: string, since: string): Promise<OutputRow[]> {
    await this.ensure();
    const out: OutputRow[] = [];
    const pk = outputPartition(repository);
    const pages = this.table.listEntities<OutputRow>({
      queryOptions: { filter: `PartitionKey eq '${pk}' and scheduledAt ge '${since}'` },
    });
    for await (const e of pages) {
      if (e.repository.toLowerCase() === repository.toLowerCase()) {
        out.push({
          repository: e.repository,
          registryId: e.registryId,
          runId: e.runId,
          task: e.task,
          cascadeId: e.cascadeId,
          scheduledAt: e.scheduledAt,
        });
      }
    }
    return out.sort((a, b) => b.scheduledAt.localeCompare(a.scheduledAt));
  }
}
