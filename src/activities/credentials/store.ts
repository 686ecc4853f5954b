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
} from '../contracts.js';
import { normalizeId } from '../../domain/index.js';
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
    for (let i = 0; i < unique.length; i += BATCH) {
      await this.table.submitTransaction(
        unique.slice(i, i + BATCH).map((e): TransactionAction => ['upsert', { ...e }, 'Replace']),
      );
    }
    let removed = 0;
    if (input.scope.kind === 'all') {
      // A full check saw every credential that exists: older rows describe removed tasks or credentials, except for
      // tasks whose credentials could not be read this time (kept as they were).
      const keep = new Set((input.keepTasks ?? []).map((t) => normalizeId(t)));
      const stale: HealthEntity[] = [];
      const all = this.table.listEntities<HealthEntity>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } });
      for await (const e of all as AsyncIterable<TableEntityResult<HealthEntity>>) {
        if (e.checkId !== input.checkId && !keep.has(normalizeId(e.task))) stale.push(e);
      }
      for (let i = 0; i < stale.length; i += BATCH) {
        await this.table.submitTransaction(
          stale
            .slice(i, i + BATCH)
            .map((e): TransactionAction => ['delete', { partitionKey: PARTITION, rowKey: e.rowKey }]),
        );
      }
      removed = stale.length;
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
    return { written: unique.length, removed };
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
