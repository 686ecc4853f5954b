// Report activities: the cascade history in Table Storage and outbound CloudEvents. Nothing here carries secret
// values: results hold task ids, reasons (with fixes naming secrets, never their values) and run summaries.
//
// Table `CascadeHistory`:
//   PartitionKey <cascadeId>   RowKey <inverted start time>|g<generation>     one row per execution (newest first):
//                                                                             summary columns + tasks (compact JSON,
//                                                                             split over tasks0..tasksN columns)
//   PartitionKey 'recent'      RowKey <inverted start time>|<cascadeId>|g<n> summary only, for "recent cascades"
import type { SendCloudEventInput } from '@azure/eventgrid';
import type { TableClient } from '@azure/data-tables';
import { fnv1a64 } from '../../domain/index.js';
import type {
  CascadeReason,
  CascadeResult,
  CascadeTotals,
  PublishNotificationsInput,
  PublishNotificationsOutput,
  RecordCascadeOutput,
  TaskResult,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { formatLine, recordOf } from '../../telemetry/log.js';

export const HISTORY_TABLE = 'CascadeHistory';
/** CloudEvents `source` of everything acr-cascade publishes. */
export const EVENT_SOURCE = 'acr-cascade';

/** One string column holds at most 32K UTF-16 characters; an entity at most 1 MiB. */
const CHUNK_CHARS = 30_000;
const MAX_CHUNKS = 14;
const EVENT_BATCH = 100;

export interface CascadeSummary {
  cascadeId: string;
  trigger: CascadeResult['trigger'];
  status: CascadeResult['status'];
  image?: { ref: string; digest: string };
  waves: number;
  totals: CascadeTotals;
  startedAt: string;
  finishedAt: string;
  generation: number;
  error?: string;
}

/** What the history keeps per task (the durable output keeps the full result while it exists). */
export interface CascadeRecordTask {
  task: string;
  taskName: string;
  wave: number;
  decision: TaskResult['decision'];
  outcome: TaskResult['outcome'];
  reasons: Pick<CascadeReason, 'code' | 'severity' | 'message' | 'fix'>[];
  run?: {
    runId: string;
    status: string;
    attempts: number;
    startTime?: string;
    finishTime?: string;
    outputImages: string[];
  };
}

export interface CascadeRecord extends CascadeSummary {
  tasks: CascadeRecordTask[];
  /** The task list did not fit in one Table entity and was cut. */
  tasksTruncated?: boolean;
}

export interface ReportActivities {
  recordCascade(result: CascadeResult): Promise<RecordCascadeOutput>;
  publishNotifications(input: PublishNotificationsInput): Promise<PublishNotificationsOutput>;
  /** The newest execution of a cascade from the history table; undefined when none was recorded. */
  getCascadeRecord(cascadeId: string): Promise<CascadeRecord | undefined>;
  /**
   * Recent ended cascades, newest first, one page of the `recent` partition (cost O(page), whatever else the table or
   * the task hub holds). `continuation` is the opaque token a previous page returned.
   */
  listCascades(options?: ListCascadesOptions): Promise<CascadePage>;
}

export interface ListCascadesOptions {
  top?: number;
  /** Result statuses to keep (case-insensitive), e.g. ['Canceled']; empty = all. */
  status?: readonly string[];
  continuation?: string;
}

export interface CascadePage {
  cascades: CascadeSummary[];
  /** Present when more rows may follow. */
  continuation?: string;
}

/** Thrown for a continuation token this API did not issue. */
export class ContinuationError extends Error {
  override name = 'ContinuationError';
}

const encodeToken = (rowKey: string) => Buffer.from(JSON.stringify({ after: rowKey }), 'utf8').toString('base64url');
/** A token for the first page of the history (every row key sorts after it): for a first page full of running ones. */
export const FIRST_HISTORY_PAGE = encodeToken('0000000000000|');

function decodeToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string' && /^[0-9]{13}\|[^']{0,300}$/.test(v.after)) return v.after;
  } catch {
    // fall through
  }
  throw new ContinuationError('continuation is not a token this API issued');
}

const STATUS_COLUMN = /^[A-Za-z]{1,20}$/;

const MAX_TIME = 9_999_999_999_999;

function inverted(iso: string): string {
  const t = Date.parse(iso);
  return String(MAX_TIME - (Number.isNaN(t) ? 0 : t)).padStart(13, '0');
}

/** A notification as a log line: text, then the record the alert rules query (ids and the first reason only). */
export function noticeLine(n: PublishNotificationsInput['notifications'][number]): string {
  const d = n.data;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const reasons = Array.isArray(d.reasons) ? (d.reasons as { code?: unknown }[]) : [];
  const reason = str(reasons[0]?.code) ?? str(d.code);
  const rec = recordOf(
    n.type,
    {
      ...(str(d.cascadeId) ? { cascadeId: str(d.cascadeId) } : {}),
      ...(str(d.task) ? { taskId: str(d.task) } : {}),
      ...(str(d.runId) ? { runId: str(d.runId) } : {}),
      ...(str(d.checkId) ? { checkId: str(d.checkId) } : {}),
    },
    {
      ...(str(d.taskName) ? { taskName: str(d.taskName) } : {}),
      ...(reason ? { reason } : {}),
      ...(str(d.status) ? { status: str(d.status) } : {}),
      ...(typeof d.daysLeft === 'number' ? { daysLeft: d.daysLeft } : {}),
    },
  );
  return formatLine(`${n.type} ${n.subject}`, rec);
}

function summaryOf(r: CascadeResult): CascadeSummary {
  const s: CascadeSummary = {
    cascadeId: r.cascadeId,
    trigger: r.trigger,
    status: r.status,
    waves: r.waves,
    totals: r.totals,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    generation: r.generation ?? 0,
  };
  if (r.image) s.image = { ref: r.image.ref, digest: r.image.digest };
  if (r.error) s.error = r.error;
  return s;
}

function compactTask(t: TaskResult, withMessages: boolean): CascadeRecordTask {
  const out: CascadeRecordTask = {
    task: t.task,
    taskName: t.taskName,
    wave: t.wave,
    decision: t.decision,
    outcome: t.outcome,
    reasons: t.reasons.map((r) => ({
      code: r.code,
      severity: r.severity,
      message: withMessages ? r.message : '',
      ...(withMessages && r.fix ? { fix: r.fix } : {}),
    })),
  };
  if (t.run) {
    out.run = {
      runId: t.run.runId,
      status: t.run.status,
      attempts: t.run.attempts,
      outputImages: t.run.outputImages,
      ...(t.run.startTime ? { startTime: t.run.startTime } : {}),
      ...(t.run.finishTime ? { finishTime: t.run.finishTime } : {}),
    };
  }
  return out;
}

/** Tasks as JSON chunks that fit one entity: full reasons if possible, then codes only, then cut. */
function chunkTasks(tasks: TaskResult[]): { chunks: string[]; truncated: boolean } {
  const limit = CHUNK_CHARS * MAX_CHUNKS;
  for (const withMessages of [true, false]) {
    const json = JSON.stringify(tasks.map((t) => compactTask(t, withMessages)));
    if (json.length <= limit) return { chunks: split(json), truncated: false };
  }
  const kept: CascadeRecordTask[] = [];
  let size = 2;
  for (const t of tasks) {
    const c = compactTask(t, false);
    const n = JSON.stringify(c).length + 1;
    if (size + n > limit) break;
    kept.push(c);
    size += n;
  }
  return { chunks: split(JSON.stringify(kept)), truncated: true };
}

function split(json: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < json.length; i += CHUNK_CHARS) out.push(json.slice(i, i + CHUNK_CHARS));
  return out.length > 0 ? out : ['[]'];
}

type Row = Record<string, unknown> & { partitionKey: string; rowKey: string };

function summaryColumns(s: CascadeSummary): Record<string, string | number> {
  return {
    cascadeId: s.cascadeId,
    trigger: s.trigger,
    status: s.status,
    imageRef: s.image?.ref ?? '',
    imageDigest: s.image?.digest ?? '',
    waves: s.waves,
    totals: JSON.stringify(s.totals),
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    generation: s.generation,
    error: s.error ?? '',
  };
}

const RESULT_STATUSES = ['Completed', 'Canceled', 'Superseded', 'Failed'];
function canonicalStatus(x: string): string {
  return RESULT_STATUSES.find((r) => r.toLowerCase() === x.toLowerCase()) ?? x;
}

function summaryFrom(e: Record<string, unknown>): CascadeSummary {
  const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : '');
  const s: CascadeSummary = {
    cascadeId: str('cascadeId'),
    trigger: str('trigger') === 'http' ? 'http' : 'event',
    status: str('status') as CascadeSummary['status'],
    waves: Number(e.waves ?? 0),
    totals: JSON.parse(str('totals') || '{}') as CascadeTotals,
    startedAt: str('startedAt'),
    finishedAt: str('finishedAt'),
    generation: Number(e.generation ?? 0),
  };
  if (str('imageRef')) s.image = { ref: str('imageRef'), digest: str('imageDigest') };
  if (str('error')) s.error = str('error');
  return s;
}

export function createReportActivities(deps: Deps): ReportActivities {
  const table: TableClient = deps.clients.table(HISTORY_TABLE);
  let ready: Promise<void> | undefined;
  const ensure = () =>
    (ready ??= table.createTable().catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));

  return {
    async recordCascade(result) {
      await ensure();
      const summary = summaryOf(result);
      const when = inverted(result.startedAt);
      const { chunks, truncated } = chunkTasks(result.tasks);
      const row: Row = {
        partitionKey: result.cascadeId,
        rowKey: `${when}|g${summary.generation}`,
        ...summaryColumns(summary),
        taskChunks: chunks.length,
        tasksTruncated: truncated,
      };
      chunks.forEach((c, i) => (row[`tasks${i}`] = c));
      // Upserts: a retried activity writes the same rows again.
      await table.upsertEntity(row, 'Replace');
      await table.upsertEntity(
        {
          partitionKey: 'recent',
          rowKey: `${when}|${result.cascadeId}|g${summary.generation}`,
          ...summaryColumns(summary),
        },
        'Replace',
      );
      // One `cascade.ended` per recorded cascade: the "cascades by outcome" metric (docs/operations.md).
      deps.log(
        formatLine(
          `recordCascade ${result.cascadeId}: ${result.status}, ${result.tasks.length} task(s)`,
          recordOf(
            'cascade.ended',
            { cascadeId: result.cascadeId },
            {
              outcome: result.status,
              tasks: result.tasks.length,
              failed: result.totals.failed,
              blocked: result.totals.blocked,
            },
          ),
        ),
      );
      return { table: HISTORY_TABLE, partitionKey: row.partitionKey, rowKey: row.rowKey };
    },

    async publishNotifications(input) {
      // Every notification is also one structured log record (event = its type, ids as dimensions), so alert rules
      // and KQL see blocked tasks, failed runs and expiring credentials whether or not a topic is configured.
      for (const n of input.notifications) deps.log(noticeLine(n));
      const publisher = deps.clients.publisher();
      if (!publisher) return { published: 0, topicConfigured: false };
      const events: SendCloudEventInput<unknown>[] = input.notifications.map((n) => ({
        type: n.type,
        source: EVENT_SOURCE,
        subject: n.subject,
        data: n.data,
        // Deterministic ids: a retried activity resends the same events, which subscribers can drop.
        id: `${n.type}-${fnv1a64(JSON.stringify(n))}`,
      }));
      for (let i = 0; i < events.length; i += EVENT_BATCH) await publisher.send(events.slice(i, i + EVENT_BATCH));
      // The batch belongs to one cascade or check: the summary line carries the ids its notifications share.
      const shared = (k: 'cascadeId' | 'checkId') => {
        const ids = new Set(input.notifications.map((n) => n.data[k]));
        const [only] = ids;
        return ids.size === 1 && typeof only === 'string' ? { [k]: only } : {};
      };
      deps.log(
        formatLine(
          `publishNotifications: sent ${events.length} event(s)`,
          recordOf(
            'notifications.published',
            { ...shared('cascadeId'), ...shared('checkId') },
            { events: events.length },
          ),
        ),
      );
      return { published: events.length, topicConfigured: true };
    },

    async getCascadeRecord(cascadeId) {
      await ensure();
      const safe = cascadeId.replace(/'/g, "''");
      const pages = table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq '${safe}'` },
      });
      for await (const e of pages) {
        const n = Number(e.taskChunks ?? 0);
        let json = '';
        for (let i = 0; i < n; i++) json += typeof e[`tasks${i}`] === 'string' ? (e[`tasks${i}`] as string) : '';
        const record: CascadeRecord = {
          ...summaryFrom(e),
          tasks: json ? (JSON.parse(json) as CascadeRecordTask[]) : [],
        };
        if (e.tasksTruncated === true) record.tasksTruncated = true;
        return record; // RowKeys sort newest first
      }
      return undefined;
    },

    async listCascades(options = {}) {
      await ensure();
      const top = Math.max(1, Math.min(options.top ?? 50, 1000));
      // Server-side filters: the partition, the page's start, the statuses (values validated: no quotes reach OData).
      const parts = [`PartitionKey eq 'recent'`];
      if (options.continuation) parts.push(`RowKey gt '${decodeToken(options.continuation)}'`);
      const statuses = (options.status ?? []).filter((x) => STATUS_COLUMN.test(x));
      if (statuses.length > 0) parts.push(`(${statuses.map((x) => `status eq '${canonicalStatus(x)}'`).join(' or ')})`);
      const cascades: CascadeSummary[] = [];
      let lastKey: string | undefined;
      const pages = table
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: parts.join(' and ') } })
        .byPage({ maxPageSize: top + 1 });
      for await (const page of pages) {
        for (const e of page) {
          if (cascades.length === top) {
            return { cascades, ...(lastKey ? { continuation: encodeToken(lastKey) } : {}) };
          }
          cascades.push(summaryFrom(e));
          lastKey = String(e.rowKey);
        }
      }
      return { cascades };
    },
  };
}
