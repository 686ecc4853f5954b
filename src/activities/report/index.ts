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
  /** Recent cascades, newest first. */
  listCascades(options?: { top?: number; status?: readonly string[] }): Promise<CascadeSummary[]>;
}

const MAX_TIME = 9_999_999_999_999;

function inverted(iso: string): string {
  const t = Date.parse(iso);
  return String(MAX_TIME - (Number.isNaN(t) ? 0 : t)).padStart(13, '0');
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
      deps.log(`recordCascade ${result.cascadeId}: ${result.status}, ${result.tasks.length} task(s)`);
      return { table: HISTORY_TABLE, partitionKey: row.partitionKey, rowKey: row.rowKey };
    },

    async publishNotifications(input) {
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
      deps.log(`publishNotifications: sent ${events.length} event(s)`);
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
      const wanted = new Set((options.status ?? []).map((s) => s.toLowerCase()));
      const out: CascadeSummary[] = [];
      const pages = table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq 'recent'` },
      });
      for await (const e of pages) {
        const s = summaryFrom(e);
        if (wanted.size > 0 && !wanted.has(s.status.toLowerCase())) continue;
        out.push(s);
        if (out.length >= top) break;
      }
      return out;
    },
  };
}
