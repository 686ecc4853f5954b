// The app-wide ARM write budget: on Flex Consumption several instances schedule runs at once, each with its own
// WritePacer, while ARM keeps ONE write bucket per principal and subscription. Each pacer would spend the whole bucket
// (200 at once) and together they would earn hundreds of 429s. So the bucket is also kept in Table storage, shared by
// every instance: row `writes`/`<subscription>` = { tokens, at } (a token bucket refilled from `at`), taken with
// optimistic concurrency (ETag). A pacer takes tokens for all its waiting writers in one update, so the cost is one
// table round trip per burst of writes, not per write; a 429 empties the shared bucket until its Retry-After passed.
// ARM's read bucket is shared the same way (partition `reads`): with ACR's 202 answers every scheduleRun costs two
// reads (the Azure-AsyncOperation poll and the run), so a burst of writes is a bigger burst of reads.
import { RestError, type TableClient } from '@azure/data-tables';

export const PACING_TABLE = 'CascadePacing';
/** Partition of ARM's write bucket; ARM's read bucket is `READS_PARTITION`. Row key: the subscription. */
export const WRITES_PARTITION = 'writes';
export const READS_PARTITION = 'reads';
/**
 * The row holds fewer tokens than ARM's bucket: one second of refill (at least 5). A grant comes before ARM counts the
 * request, by its latency; while ARM's bucket is full it gains nothing in that time, but the row, already drawn, does
 * refill. So each burst sent into a full bucket puts the row ahead of ARM by `perSecond × latency` (measured without
 * the margin: 1–3 write 429s and as many read 429s per 300 scheduleRuns of two instances on a loaded 2-core machine).
 * An SDK retry of a 429'd request also spends a token nobody took. The margin costs one second of ARM's refill once
 * per full bucket, not per write.
 */
export function sharedBurstOf(burst: number, perSecond: number): number {
  return Math.max(1, burst - Math.max(5, Math.ceil(perSecond)));
}
/** Concurrent updates of the row: give up (the caller waits and asks again) after this many lost races. */
const MAX_RACES = 8;

/** What one take got: `granted` tokens now, or none and how long until one is there. */
export interface BudgetTake {
  granted: number;
  waitMs: number;
}

/** The shared bucket a WritePacer draws from (a Table row in production; tests may share one in memory). */
export interface SharedWriteBudget {
  take(subscriptionId: string, want: number): Promise<BudgetTake>;
  /** ARM answered 429: nobody writes until `untilMs`. */
  block(subscriptionId: string, untilMs: number): Promise<void>;
}

export interface TableWriteBudgetOptions {
  /** ARM's burst; the row holds sharedBurstOf(burst, perSecond). */
  burst: number;
  perSecond: number;
  /** Which of ARM's buckets the row holds (default `writes`). */
  partition?: string;
  now?: () => number;
}

interface Row {
  tokens: number;
  at: number;
}

function status(err: unknown): number | undefined {
  return err instanceof RestError ? err.statusCode : undefined;
}

export class TableWriteBudget implements SharedWriteBudget {
  private ready: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly partition: string;
  private readonly burst: number;

  constructor(
    private readonly table: TableClient,
    private readonly options: TableWriteBudgetOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.partition = options.partition ?? WRITES_PARTITION;
    this.burst = sharedBurstOf(options.burst, options.perSecond);
  }

  private ensure(): Promise<void> {
    this.ready ??= this.table.createTable().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async read(rowKey: string): Promise<(Row & { etag: string }) | undefined> {
    try {
      const e = await this.table.getEntity<Row>(this.partition, rowKey);
      return { tokens: Number(e.tokens), at: Number(e.at), etag: e.etag };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  /** Writes the row if nobody did since `etag` (undefined = must not exist yet); false on a lost race. */
  private async write(rowKey: string, row: Row, etag: string | undefined): Promise<boolean> {
    const entity = { partitionKey: this.partition, rowKey, tokens: row.tokens, at: row.at };
    try {
      if (etag === undefined) await this.table.createEntity(entity);
      else await this.table.updateEntity(entity, 'Replace', { etag });
      return true;
    } catch (err) {
      if (status(err) === 409 || status(err) === 412) return false;
      throw err;
    }
  }

  /** The bucket refilled up to now (tokens may be fractional; `at` in the future = blocked by a 429 until then). */
  private refill(row: Row | undefined, now: number): Row {
    if (!row) return { tokens: this.burst, at: now };
    if (now <= row.at) return row;
    return {
      tokens: Math.min(this.burst, row.tokens + ((now - row.at) / 1000) * this.options.perSecond),
      at: now,
    };
  }

  async take(subscriptionId: string, want: number): Promise<BudgetTake> {
    if (!Number.isInteger(want) || want < 1) throw new RangeError(`want: '${String(want)}' is not an integer >= 1`);
    await this.ensure();
    const rowKey = subscriptionId.toLowerCase();
    for (let race = 0; race < MAX_RACES; race++) {
      const now = this.now();
      const stored = await this.read(rowKey);
      const row = this.refill(stored, now);
      const granted = now < row.at ? 0 : Math.min(want, Math.floor(row.tokens));
      if (granted === 0) {
        const blockedMs = Math.max(0, row.at - now);
        return { granted: 0, waitMs: Math.ceil(blockedMs + ((1 - row.tokens) / this.options.perSecond) * 1000) };
      }
      if (await this.write(rowKey, { tokens: row.tokens - granted, at: row.at }, stored?.etag)) {
        return { granted, waitMs: 0 };
      }
    }
    // Many instances raced for the row: come back after about one refill step.
    return { granted: 0, waitMs: Math.ceil(1000 / this.options.perSecond) };
  }

  async block(subscriptionId: string, untilMs: number): Promise<void> {
    await this.ensure();
    const rowKey = subscriptionId.toLowerCase();
    for (let race = 0; race < MAX_RACES; race++) {
      const stored = await this.read(rowKey);
      const row = this.refill(stored, this.now());
      if (row.at >= untilMs && row.tokens <= 0) return;
      if (await this.write(rowKey, { tokens: Math.min(0, row.tokens), at: Math.max(row.at, untilMs) }, stored?.etag))
        return;
    }
  }
}
