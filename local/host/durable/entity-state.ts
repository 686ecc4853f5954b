// One durable entity's journaled state: its current value, the operations queued for it, the ids of recently
// processed requests (to drop redelivered ones) and the messages its batches produced that are not yet delivered.
// The same reducer runs when a record is written and when the journal is read back after a restart.
import type { EntityRequest, OutMessage } from './messages.js';

/** How many processed request ids an entity remembers. Redelivery only happens right after a restart, before the
 * entity has processed anything new, so a short memory is enough. */
export const RECENT_REQUEST_IDS = 1000;

export interface QueuedOperation extends EntityRequest {
  seq: number;
  /** When the host journaled it. */
  time: string;
}

export interface EntitySnapshot {
  /** Scheduler id `@name@key`. */
  id: string;
  name: string;
  key: string;
  exists: boolean;
  /** The entity's state as JSON text; absent when it has none. */
  stateJson?: string;
  inbox: QueuedOperation[];
  msgSeq: number;
  recent: string[];
  outbox: OutMessage[];
  /** Time of the last processed batch (or of creation). */
  lastOperationTime: string;
}

export interface BatchRecord {
  t: 'batch';
  take: number[];
  exists: boolean;
  st?: string;
  out?: OutMessage[];
  up: string;
}

export type EntityRecord =
  { t: 'init'; e: EntitySnapshot } | { t: 'msg'; r: QueuedOperation } | BatchRecord | { t: 'sent'; ids: string[] };

export class EntityInstanceState implements EntitySnapshot {
  id = '';
  name = '';
  key = '';
  exists = false;
  stateJson?: string;
  inbox: QueuedOperation[] = [];
  msgSeq = 0;
  recent: string[] = [];
  outbox: OutMessage[] = [];
  lastOperationTime = '';

  /** Has this request already reached the entity (queued or recently processed)? */
  hasRequest(id: string): boolean {
    return this.inbox.some((o) => o.id === id) || this.recent.includes(id);
  }

  apply(rec: EntityRecord): void {
    switch (rec.t) {
      case 'init':
        Object.assign(this, {
          ...rec.e,
          inbox: [...rec.e.inbox],
          recent: [...rec.e.recent],
          outbox: [...rec.e.outbox],
        });
        return;
      case 'msg':
        this.inbox.push(rec.r);
        this.msgSeq = Math.max(this.msgSeq, rec.r.seq + 1);
        return;
      case 'batch': {
        const taken = new Set(rec.take);
        const done = this.inbox.filter((o) => taken.has(o.seq));
        if (done.length !== taken.size) {
          throw new Error(`journal of entity '${this.id}' processes operations that are not in its queue`);
        }
        this.inbox = this.inbox.filter((o) => !taken.has(o.seq));
        this.recent = [...this.recent, ...done.map((o) => o.id)].slice(-RECENT_REQUEST_IDS);
        this.exists = rec.exists;
        if (rec.st !== undefined) this.stateJson = rec.st;
        else delete this.stateJson;
        this.outbox.push(...(rec.out ?? []));
        this.lastOperationTime = rec.up;
        return;
      }
      case 'sent': {
        const ids = new Set(rec.ids);
        this.outbox = this.outbox.filter((m) => !ids.has(m.id));
        return;
      }
    }
  }
}
