// Latest health per credential in Table Storage (`CredentialHealth`). Never holds a secret value: rows carry the
// secret URI, the verdict and its wording only.
//
// Schema:
//   PartitionKey 'credential'  RowKey sha256(task id | login server | field)   one row per credential, replaced by
//                                                                                every check that covers it
//   PartitionKey 'check'       RowKey 'latest'                                  the last check: id, trigger, scope,
//                                                                                time, totals (JSON)
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import type {
  CredentialCheckInput,
  CredentialHealth,
  CredentialStatus,
  RecordCredentialHealthInput,
  RecordCredentialHealthOutput,
} from '../../contracts/index.js';
import { normalizeId } from '../../domain/index.js';
import { mapLimit } from '../shared/async.js';
import { sha256 } from '../shared/hash.js';
import { credentialKey } from './health.js';

export const CREDENTIAL_HEALTH_TABLE = 'CredentialHealth';
const PARTITION = 'credential';

interface HealthEntity {
  partitionKey: string;
  rowKey: string;
  /** JSON CredentialHealth. */
  health: string;
  task: string;
  status: string;
  checkId: string;
  trigger: string;
  checkedAt: string;
}

interface CheckEntity {
  partitionKey: string;
  rowKey: string;
  checkId: string;
  trigger: string;
  scope: string;
  checkedAt: string;
  totals: string;
}

export interface LastCheck {
  checkId: string;
  trigger: CredentialCheckInput['trigger'];
  scope: CredentialCheckInput['scope'];
  checkedAt: string;
  totals: Partial<Record<CredentialStatus, number>>;
}

export interface CredentialListFilter {
  status?: CredentialStatus;
  /** Task id (case-insensitive). */
  task?: string;
}

export function rowKeyOf(c: CredentialHealth): string {
  return sha256(credentialKey(c));
}

function isStatus(err: unknown, status: number): boolean {
  return typeof err === 'object' && err !== null && (err as { statusCode?: number }).statusCode === status;
}

const BATCH = 100;
/** Point reads and conditional deletes in flight at once. */
const PARALLEL = 16;

interface StoredRow {
  etag: string;
  task: string;
  checkedAt: string;
}

function storedRow(e: TableEntityResult<HealthEntity>): StoredRow {
  return { etag: e.etag, task: e.task, checkedAt: e.checkedAt };
}

/** Whether the stored row holds a later verdict than `row` (ISO timestamps compare as strings). */
function isNewer(stored: StoredRow | undefined, row: HealthEntity): boolean {
  return stored !== undefined && stored.checkedAt > row.checkedAt;
}

export function totalsOf(list: readonly CredentialHealth[]): Partial<Record<CredentialStatus, number>> {
  const totals: Partial<Record<CredentialStatus, number>> = {};
  for (const c of list) totals[c.status] = (totals[c.status] ?? 0) + 1;
  return totals;
}

interface LockEntity {
  partitionKey: string;
  rowKey: string;
  owner: string;
  expiresAt: string;
}

export class CredentialHealthStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly table: TableClient) {}

  private ensureTable(): Promise<void> {
    this.ready ??= this.table.createTable().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * Stores a check's verdicts. Checks overlap (a Key Vault event starts a targeted check while the nightly one runs),
   * so a row is only replaced by a verdict at least as new as the stored one, at the ETag that was read, and a full
   * check removes only rows that are older than its own start and describe credentials it did not see.
   */
  async record(input: RecordCredentialHealthInput): Promise<RecordCredentialHealthOutput> {
    await this.ensureTable();
    const rows: HealthEntity[] = input.credentials.map((c) => ({
      partitionKey: PARTITION,
      rowKey: rowKeyOf(c),
      health: JSON.stringify(c),
      task: c.task,
      status: c.status,
      checkId: input.checkId,
      trigger: input.trigger,
      checkedAt: c.checkedAt ?? input.checkedAt,
    }));
    // Several credentials of one task share a row key only if they are the same credential: keep the last.
    const unique = [...new Map(rows.map((r) => [r.rowKey, r])).values()];
    const full = input.scope.kind === 'all';

    // What is stored now: the whole partition for a full check (which also finds the stale rows), point reads else.
    const stored = new Map<string, StoredRow>();
    if (full) {
      const all = this.table.listEntities<HealthEntity>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } });
      for await (const e of all as AsyncIterable<TableEntityResult<HealthEntity>>) stored.set(e.rowKey, storedRow(e));
    } else {
      await mapLimit(unique, PARALLEL, async (r) => {
        const e = await this.read(r.rowKey);
        if (e) stored.set(r.rowKey, e);
      });
    }

    let superseded = 0;
    const toWrite: HealthEntity[] = [];
    for (const r of unique) {
      if (isNewer(stored.get(r.rowKey), r)) superseded++;
      else toWrite.push(r);
    }
    let written = 0;
    for (let i = 0; i < toWrite.length; i += BATCH) {
      const batch = toWrite.slice(i, i + BATCH);
      try {
        await this.table.submitTransaction(
          batch.map((e): TransactionAction => {
            const at = stored.get(e.rowKey);
            return at ? ['update', { ...e }, 'Replace', { etag: at.etag }] : ['create', { ...e }];
          }),
        );
        written += batch.length;
      } catch (err) {
        // Another check wrote one of these rows since it was read: settle them one by one.
        if (!isStatus(err, 409) && !isStatus(err, 412)) throw err;
        for (const r of batch) {
          if (await this.writeOne(r)) written++;
          else superseded++;
        }
      }
    }

    let removed = 0;
    if (full) {
      // A full check saw every credential that exists: older rows describe removed tasks or credentials, except for
      // tasks whose credentials could not be read this time (kept as they were). Rows written since this check
      // started belong to a newer check and stay.
      const startedAt = input.startedAt ?? input.checkedAt;
      const seen = new Set(unique.map((r) => r.rowKey));
      const keep = new Set((input.keepTasks ?? []).map((t) => normalizeId(t)));
      const stale = [...stored.entries()].filter(
        ([rowKey, e]) => !seen.has(rowKey) && !keep.has(normalizeId(e.task)) && e.checkedAt < startedAt,
      );
      const deleted = await mapLimit(stale, PARALLEL, async ([rowKey, e]) => {
        try {
          await this.table.deleteEntity(PARTITION, rowKey, { etag: e.etag });
          return true;
        } catch (err) {
          // Gone already, or rewritten by a newer check meanwhile: not ours to remove.
          if (isStatus(err, 404) || isStatus(err, 412)) return false;
          throw err;
        }
      });
      removed = deleted.filter(Boolean).length;
    }
    await this.table.upsertEntity<CheckEntity>(
      {
        partitionKey: 'check',
        rowKey: 'latest',
        checkId: input.checkId,
        trigger: input.trigger,
        scope: JSON.stringify(input.scope),
        checkedAt: input.checkedAt,
        totals: JSON.stringify(totalsOf(input.credentials)),
      },
      'Replace',
    );
    return { written, removed, ...(superseded ? { superseded } : {}) };
  }

  private async read(rowKey: string): Promise<StoredRow | undefined> {
    try {
      return storedRow(await this.table.getEntity<HealthEntity>(PARTITION, rowKey));
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  /** Writes one row unless a newer verdict is stored; true if written. Retries the read-compare-write on a race. */
  private async writeOne(row: HealthEntity): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const at = await this.read(row.rowKey);
      if (isNewer(at, row)) return false;
      try {
        if (at) await this.table.updateEntity({ ...row }, 'Replace', { etag: at.etag });
        else await this.table.createEntity({ ...row });
        return true;
      } catch (err) {
        if (attempt >= 4 || (!isStatus(err, 409) && !isStatus(err, 412))) throw err;
      }
    }
  }

  /** Every credential's latest health, sorted by task id, login server, then user name before password. */
  async list(filter: CredentialListFilter = {}): Promise<CredentialHealth[]> {
    await this.ensureTable();
    const out: CredentialHealth[] = [];
    const entities = this.table.listEntities<HealthEntity>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
    });
    const task = filter.task ? normalizeId(filter.task) : undefined;
    for await (const e of entities as AsyncIterable<TableEntityResult<HealthEntity>>) {
      if (filter.status && e.status !== filter.status) continue;
      if (task && normalizeId(e.task) !== task) continue;
      out.push(JSON.parse(e.health) as CredentialHealth);
    }
    const order = (c: CredentialHealth) =>
      `${normalizeId(c.task)}\u0000${c.loginServer}\u0000${c.field === 'username' ? 0 : 1}`;
    return out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  }

  /**
   * A lease on `name` (one rotation of one secret at a time, across checks and hosts): created if absent, taken over
   * if expired (ETag-guarded), refused while another owner holds it.
   */
  async tryLock(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    await this.ensureTable();
    const rowKey = sha256(name);
    const entity: LockEntity = {
      partitionKey: 'lock',
      rowKey,
      owner,
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
    };
    try {
      await this.table.createEntity(entity);
      return true;
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
    const existing = await this.table.getEntity<LockEntity>('lock', rowKey);
    if (Date.parse(existing.expiresAt) > now.getTime()) return false;
    try {
      await this.table.updateEntity(entity, 'Replace', { etag: existing.etag });
      return true;
    } catch (err) {
      if (isStatus(err, 412)) return false;
      throw err;
    }
  }

  async unlock(name: string, owner: string): Promise<void> {
    const rowKey = sha256(name);
    try {
      const existing = await this.table.getEntity<LockEntity>('lock', rowKey);
      if (existing.owner === owner) await this.table.deleteEntity('lock', rowKey, { etag: existing.etag });
    } catch (err) {
      // Gone or taken over after expiry: nothing of ours to release.
      if (!isStatus(err, 404) && !isStatus(err, 412)) throw err;
    }
  }

  async lastCheck(): Promise<LastCheck | undefined> {
    await this.ensureTable();
    try {
      const e = await this.table.getEntity<CheckEntity>('check', 'latest');
      return {
        checkId: e.checkId,
        trigger: e.trigger as LastCheck['trigger'],
        scope: JSON.parse(e.scope) as LastCheck['scope'],
        checkedAt: e.checkedAt,
        totals: JSON.parse(e.totals) as LastCheck['totals'],
      };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }
}
