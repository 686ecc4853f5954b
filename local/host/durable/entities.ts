// Durable entities the way the Durable Functions extension runs them for JavaScript: operations queue per entity;
// the host hands a batch of them to the app's entity function (`{self, exists, state, batch}`), and the library
// answers with the new state, one result per operation and the signals it sent. The batch's outcome, the responses
// to calling orchestrations and the outgoing signals are journaled in one record before anything is delivered, so
// an operation's effect on state happens exactly once even if the host dies mid-batch (the batch then runs again).
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { FunctionCatalog, FunctionInfo } from '../catalog.js';
import type { RpcParameterBinding } from '../functions-core.js';
import { type Invoker, type LogSink, shortMessage } from '../invoker.js';
import type { Semaphore } from '../semaphore.js';
import { DispatchGate } from './gate.js';
import { type EntityRecord, EntityInstanceState, type EntitySnapshot, type QueuedOperation } from './entity-state.js';
import { Journal, JournalClosedError, journalFileName, listJournals, readJournal } from './journal.js';
import { type EntityRequest, type EntityResponse, type OutMessage, parseSchedulerId, schedulerId } from './messages.js';
import { parseJsonText } from './protocol.js';
import { iso, resultJson } from './wire.js';
import path from 'node:path';

export interface EntityRuntimeOptions {
  /** Directory of this task hub's entity journals. */
  dir: string;
  catalog: FunctionCatalog;
  invoker: Invoker;
  log: LogSink;
  /** Shared with orchestration episodes: both are "orchestrator work" in the extension. */
  slots: Semaphore;
  /** The engine's dispatch gate (a test-only hold); default: one never held. */
  gate?: DispatchGate;
  /** Operations per invocation at most (the extension's maxEntityOperationBatchSize). */
  maxBatchSize: number;
  extraInputs: (fn: FunctionInfo) => RpcParameterBinding[];
  /** Hands a call's result to the orchestration that asked; resolves once that orchestration has journaled it. */
  respond: (r: EntityResponse) => Promise<void>;
}

export interface EntitySummary {
  entityId: { name: string; key: string };
  lastOperationTime: string;
  state?: unknown;
}

export interface EntityQuery {
  name?: string;
  lastOperationTimeFrom?: number;
  lastOperationTimeTo?: number;
}

/** What the library's Entity.handle returns (durable-functions EntityState). */
interface BatchAnswer {
  entityExists?: boolean;
  entityState?: string;
  results?: { isError?: boolean; result?: string }[];
  signals?: { target?: { name?: string; key?: string }; name?: string; input?: string }[];
}

interface BatchOutcome {
  exists: boolean;
  stateJson: string | undefined;
  results: { isError: boolean; result?: string }[];
  signals: EntityRequest[];
}

class Entity {
  readonly state = new EntityInstanceState();
  busy = false;
  pumpQueued = false;
  flushing = false;
  nextSeq = 0;
  /** Request ids being journaled right now, so a concurrent redelivery cannot slip in. */
  readonly accepting = new Set<string>();

  constructor(readonly journal: Journal<EntityRecord>) {}
}

export class EntityRuntime {
  readonly #o: EntityRuntimeOptions;
  readonly #gate: DispatchGate;
  readonly #entities = new Map<string, Entity>();
  readonly #inflight = new Set<Promise<unknown>>();
  #stopping = false;
  #closed = false;

  constructor(options: EntityRuntimeOptions) {
    this.#o = options;
    this.#gate = options.gate ?? new DispatchGate();
  }

  /** Loads the journals; call `resume` once the orchestrations are loaded too (responses need them). */
  async load(): Promise<number> {
    await mkdir(this.#o.dir, { recursive: true });
    for (const file of await listJournals(this.#o.dir)) {
      const records = await readJournal<EntityRecord>(file);
      if (records[0]?.t !== 'init') throw new Error(`${file}: entity journal does not start with an entity record`);
      const e = new Entity(new Journal<EntityRecord>(file));
      for (const rec of records) e.state.apply(rec);
      e.nextSeq = e.state.msgSeq;
      this.#entities.set(e.state.id, e);
    }
    return this.#entities.size;
  }

  /** Delivers what was journaled but not delivered, and processes queued operations. */
  resume(): void {
    for (const e of this.#entities.values()) {
      this.#flush(e);
      this.#schedulePump(e);
    }
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    await Promise.all([...this.#entities.values()].map((e) => e.journal.close()));
  }

  /**
   * Queues an operation for its entity; resolves once it is journaled (durable). A request the entity already has
   * (a redelivery) is dropped. Throws JournalClosedError while the host stops, so the sender keeps it.
   */
  async deliver(req: EntityRequest): Promise<void> {
    const target = parseSchedulerId(req.target);
    if (!target) {
      this.#o.log(`[host] durable: dropped an operation for '${req.target}': not an entity id (@name@key)`);
      return;
    }
    if (this.#closed) throw new JournalClosedError(req.target);
    const e = this.#getOrCreate(req.target, target.name, target.key);
    if (e.state.hasRequest(req.id) || e.accepting.has(req.id)) return;
    e.accepting.add(req.id);
    try {
      const queued: QueuedOperation = { ...req, seq: e.nextSeq++, time: iso() };
      await e.journal.append({ t: 'msg', r: queued }, (rec) => e.state.apply(rec));
    } finally {
      e.accepting.delete(req.id);
    }
    this.#schedulePump(e);
  }

  /** The entity's state, or undefined when it does not exist (never created, or deleted). */
  read(name: string, key: string): { stateJson: string | undefined } | undefined {
    const e = this.#entities.get(schedulerId(name, key));
    return e?.state.exists ? { stateJson: e.state.stateJson } : undefined;
  }

  /** Existing entities matching the query, by name then key. */
  list(q: EntityQuery, fetchState: boolean): EntitySummary[] {
    const name = q.name?.toLowerCase();
    return [...this.#entities.values()]
      .map((e) => e.state)
      .filter((s) => {
        const t = Date.parse(s.lastOperationTime);
        if (!s.exists || (name !== undefined && s.name !== name)) return false;
        if (q.lastOperationTimeFrom !== undefined && t < q.lastOperationTimeFrom) return false;
        if (q.lastOperationTimeTo !== undefined && t > q.lastOperationTimeTo) return false;
        return true;
      })
      .sort((a, b) => a.name.localeCompare(b.name) || a.key.localeCompare(b.key))
      .map((s) => ({
        entityId: { name: s.name, key: s.key },
        lastOperationTime: s.lastOperationTime,
        ...(fetchState ? { state: parseJsonText(s.stateJson) } : {}),
      }));
  }

  // ---- internals ----

  #getOrCreate(id: string, name: string, key: string): Entity {
    let e = this.#entities.get(id);
    if (e) return e;
    const created = new Entity(new Journal<EntityRecord>(path.join(this.#o.dir, journalFileName(id))));
    const snapshot: EntitySnapshot = {
      id,
      name: name.toLowerCase(),
      key,
      exists: false,
      inbox: [],
      msgSeq: 0,
      recent: [],
      outbox: [],
      lastOperationTime: iso(),
    };
    // The journal runs writes in order, so the operation appended next lands after this record.
    this.#track(
      created.journal.replace(
        () => ({ t: 'init', e: snapshot }),
        (rec) => created.state.apply(rec),
      ),
    );
    e = created;
    this.#entities.set(id, e);
    return e;
  }

  #track(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => {
      if (err instanceof JournalClosedError || this.#closed) return;
      this.#o.log(`[host] durable: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #schedulePump(e: Entity): void {
    if (e.pumpQueued || this.#stopping) return;
    e.pumpQueued = true;
    setImmediate(() => {
      e.pumpQueued = false;
      this.#track(this.#pump(e));
    });
  }

  /** One batch per entity at a time, so its operations run one after another in arrival order. */
  async #pump(e: Entity): Promise<void> {
    if (e.busy || this.#stopping || e.state.inbox.length === 0) return;
    e.busy = true;
    try {
      const release = await this.#o.slots.acquire();
      try {
        // The batch is taken after the gate: operations queued during a hold go in one batch.
        await this.#gate.run(async () => {
          if (!this.#stopping) await this.#runBatch(e, e.state.inbox.slice(0, this.#o.maxBatchSize));
        });
      } finally {
        release();
      }
    } finally {
      e.busy = false;
    }
    this.#schedulePump(e);
  }

  async #runBatch(e: Entity, ops: QueuedOperation[]): Promise<void> {
    const s = e.state;
    const fn = this.#o.catalog.getOfType(s.name, 'entityTrigger');
    const outcome = fn
      ? await this.#invoke(fn, s, ops)
      : this.#failAll(s, ops, `The function '${s.name}' doesn't exist, is disabled, or is not an entity function.`);
    const out: OutMessage[] = [];
    ops.forEach((op, i) => {
      const r = outcome.results[i] ?? { isError: false };
      if (op.signal || !op.parent) {
        if (r.isError)
          this.#o.log(`[host] durable: entity ${s.id} operation '${op.op}' (a signal) failed: ${r.result}`);
        return;
      }
      out.push({
        kind: 'response',
        id: op.id,
        to: op.parent.instanceId,
        exec: op.parent.executionId,
        ...(r.result !== undefined ? { result: r.result } : {}),
        ...(r.isError ? { error: true } : {}),
      });
    });
    out.push(...outcome.signals);
    await e.journal.append(
      {
        t: 'batch',
        take: ops.map((o) => o.seq),
        exists: outcome.exists,
        ...(outcome.stateJson !== undefined ? { st: outcome.stateJson } : {}),
        ...(out.length > 0 ? { out } : {}),
        up: iso(),
      },
      (rec) => e.state.apply(rec),
    );
    if (out.length > 0) this.#flush(e);
  }

  async #invoke(fn: FunctionInfo, s: EntityInstanceState, ops: QueuedOperation[]): Promise<BatchOutcome> {
    const trigger = {
      self: { name: s.name, key: s.key },
      exists: s.exists,
      ...(s.stateJson !== undefined ? { state: s.stateJson } : {}),
      batch: ops.map((o) => ({
        id: o.id,
        name: o.op,
        signal: o.signal,
        ...(o.input !== undefined ? { input: o.input } : {}),
      })),
    };
    const res = await this.#o.invoker.invoke(fn, [
      { name: fn.triggerBindingName, data: { json: JSON.stringify(trigger) } },
      ...this.#o.extraInputs(fn),
    ]);
    if (res.error) return this.#failAll(s, ops, `Entity function '${fn.name}' failed: ${shortMessage(res.error)}`);
    const answer = parseJsonText(resultJson(res.response?.returnValue)) as BatchAnswer | null;
    if (typeof answer !== 'object' || answer === null || !Array.isArray(answer.results)) {
      return this.#failAll(s, ops, `Entity function '${fn.name}' returned no entity batch result`);
    }
    const exists = answer.entityExists === true;
    return {
      exists,
      stateJson: exists && typeof answer.entityState === 'string' ? answer.entityState : undefined,
      results: answer.results.map((r) => ({
        isError: r?.isError === true,
        ...(typeof r?.result === 'string' ? { result: r.result } : {}),
      })),
      signals: (answer.signals ?? []).flatMap((sig) => {
        const name = sig.target?.name;
        const key = sig.target?.key;
        if (!name || !key || !sig.name) {
          this.#o.log(`[host] durable: entity ${s.id} sent a signal without a target or operation; dropped`);
          return [];
        }
        const req: EntityRequest = {
          kind: 'request',
          id: randomUUID(),
          target: schedulerId(name, key),
          op: sig.name,
          signal: true,
          ...(sig.input ? { input: sig.input } : {}),
        };
        return [req];
      }),
    };
  }

  /** Every operation fails and the state stays as it was (the function did not run, or failed as a whole). */
  #failAll(s: EntityInstanceState, ops: QueuedOperation[], message: string): BatchOutcome {
    this.#o.log(`[host] durable: entity ${s.id}: ${message}`);
    return {
      exists: s.exists,
      stateJson: s.stateJson,
      results: ops.map(() => ({ isError: true, result: JSON.stringify(message) })),
      signals: [],
    };
  }

  /** Delivers the outbox in order, then journals what was delivered; one flush per entity at a time. */
  #flush(e: Entity): void {
    if (e.flushing || this.#stopping) return;
    e.flushing = true;
    this.#track(
      (async () => {
        try {
          while (e.state.outbox.length > 0 && !this.#closed) {
            const batch = [...e.state.outbox];
            for (const m of batch) {
              if (m.kind === 'response') await this.#o.respond(m);
              else await this.deliver(m);
            }
            await e.journal.append({ t: 'sent', ids: batch.map((m) => m.id) }, (rec) => e.state.apply(rec));
          }
        } finally {
          e.flushing = false;
        }
      })(),
    );
  }
}
