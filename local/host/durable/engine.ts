// The durable runtime: drives orchestrations by replay through the app's registered orchestration handlers, runs
// activities (bounded), fires durable timers on the wall clock, creates sub-orchestrations, and persists every
// state change to a per-instance journal before acting on it. After a restart it resumes in-flight instances:
// timers are re-armed (overdue ones fire at once) and activities that were scheduled but never completed run again
// (at-least-once, as on Azure); an activity whose completion reached the journal never runs twice.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { FunctionCatalog, FunctionInfo } from '../catalog.js';
import type { RpcParameterBinding } from '../functions-core.js';
import { type Invoker, type LogSink, shortMessage } from '../invoker.js';
import { Semaphore } from '../semaphore.js';
import { DispatchGate } from './gate.js';
import { type EpisodeResult, pickBatch, planEpisode, retryTimedOut } from './episode.js';
import { type EntityQuery, EntityRuntime, type EntitySummary } from './entities.js';
import { DurableApiError } from './errors.js';
import { Journal, JournalClosedError, journalFileName, listJournals, readJournal } from './journal.js';
import {
  activityFailed,
  formatHistory,
  iso,
  parseOrchestratorResult,
  resultJson,
  statusTime,
  subOrchestrationFailed,
  taskFailed,
} from './wire.js';
import { type EntityRequest, type EntityResponse, responsePayload, schedulerId } from './messages.js';
import {
  EventType,
  type HistoryEvent,
  REPLAY_SCHEMA_V4,
  type RuntimeStatus,
  isTerminal,
  parseJsonText,
} from './protocol.js';
import {
  type EpisodeRecord,
  InstanceState,
  type InstanceSnapshot,
  type Message,
  type ParentRef,
  type PendingWork,
  completedTaskId,
} from './state.js';

/** Large enough that the library never splits timers into "long timer" chunks; the host handles any length. */
const MAXIMUM_SHORT_TIMER_DURATION = '3650.00:00:00';
const LONG_RUNNING_TIMER_INTERVAL = '3.00:00:00';
const MAX_TIMEOUT_MS = 2 ** 30;
/** The extension's default maxEntityOperationBatchSize outside the Consumption plan. */
const DEFAULT_ENTITY_BATCH_SIZE = 5000;

export interface DurableEngineOptions {
  /** Directory of this task hub's journals. */
  dir: string;
  hubName: string;
  catalog: FunctionCatalog;
  invoker: Invoker;
  log: LogSink;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** Entity operations per entity function invocation at most. */
  maxEntityBatchSize?: number;
  /** Extra input bindings (durable client data) for a function. */
  extraInputs: (fn: FunctionInfo) => RpcParameterBinding[];
  /** Every orchestrator episode, activity and entity batch passes it (a test-only hold; see gate.ts). */
  gate?: DispatchGate;
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

export interface InstanceQuery {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: number;
  createdTimeTo?: number;
  instanceIdPrefix?: string;
}

export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

class Instance {
  readonly state = new InstanceState();
  busy = false;
  pumpQueued = false;
  removed = false;
  nextMsgSeq = 0;
  /** `${executionId}:${taskId}` of activities in flight and sub-orchestrations already created. */
  readonly running = new Set<string>();
  /** Completions being journaled, so a duplicate cannot slip in meanwhile. */
  readonly completing = new Set<string>();
  readonly timers = new Map<string, NodeJS.Timeout>();
  /** The outbox is being delivered. */
  flushing = false;

  constructor(readonly journal: Journal) {}
}

/** Guid.ToString("N"), as the extension generates instance and execution ids. */
const newInstanceId = (): string => randomUUID().replace(/-/g, '');
const newExecutionId = newInstanceId;

export class DurableEngine {
  readonly #o: DurableEngineOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #creating = new Set<string>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #activitySlots: Semaphore;
  readonly #orchestratorSlots: Semaphore;
  readonly #entities: EntityRuntime;
  readonly #gate: DispatchGate;
  #stopping = false;
  #closed = false;

  constructor(options: DurableEngineOptions) {
    this.#o = options;
    this.#activitySlots = new Semaphore(options.maxConcurrentActivities);
    this.#orchestratorSlots = new Semaphore(options.maxConcurrentOrchestrations);
    this.#gate = options.gate ?? new DispatchGate();
    this.#entities = new EntityRuntime({
      gate: this.#gate,
      dir: path.join(options.dir, 'entities'),
      catalog: options.catalog,
      invoker: options.invoker,
      log: options.log,
      slots: this.#orchestratorSlots,
      maxBatchSize: options.maxEntityBatchSize ?? DEFAULT_ENTITY_BATCH_SIZE,
      extraInputs: options.extraInputs,
      respond: (r) => this.#deliverResponse(r),
    });
  }

  get hubName(): string {
    return this.#o.hubName;
  }

  /** Loads every journal of the hub and resumes the instances that were in flight. */
  async start(): Promise<void> {
    const { dir } = this.#o;
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp')) await unlink(path.join(dir, name)).catch(() => {});
    }
    for (const file of await listJournals(dir)) {
      const records = await readJournal(file);
      if (records.length === 0) {
        await unlink(file).catch(() => {});
        continue;
      }
      if (records[0]!.t !== 'init') throw new Error(`${file}: journal does not start with an instance record`);
      const inst = new Instance(new Journal(file));
      for (const rec of records) inst.state.apply(rec);
      inst.nextMsgSeq = inst.state.msgSeq;
      this.#instances.set(inst.state.instanceId, inst);
    }
    const entities = await this.#entities.load();
    let resumed = 0;
    for (const inst of this.#instances.values()) {
      this.#flushOutbox(inst);
      if (isTerminal(inst.state.status)) continue;
      resumed++;
      this.#dispatch(inst);
      this.#schedulePump(inst);
    }
    this.#entities.resume();
    this.#o.log(
      `[host] durable: task hub '${this.#o.hubName}' in ${dir}: ${this.#instances.size} instance(s), ${resumed} resumed`,
    );
    if (entities > 0) this.#o.log(`[host] durable: ${entities} entit${entities === 1 ? 'y' : 'ies'}`);
  }

  /** Stops timers and new work, waits (up to graceMs) for in-flight invocations, then closes the journals. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    // Work waiting at a hold left on sees #stopping and returns, instead of outliving the grace period.
    this.#gate.release();
    for (const inst of this.#instances.values()) this.#clearTimers(inst);
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
    await this.#entities.stop(graceMs);
    this.#closed = true;
    await Promise.all([...this.#instances.values()].map((i) => i.journal.close()));
  }

  // ---- client operations (the Durable HTTP API) ----

  /** Starts an orchestration; 400 for an unknown orchestrator, 409 if a non-terminal instance has the id. */
  async startNew(name: string, inputJson: string | undefined, instanceId?: string): Promise<string> {
    const fn = this.#o.catalog.getOfType(name, 'orchestrationTrigger');
    if (!fn) {
      throw new DurableApiError(
        400,
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    }
    const id = instanceId ?? newInstanceId();
    validateInstanceId(id);
    await this.#create(fn.name, inputJson, id, undefined);
    return id;
  }

  has(instanceId: string): boolean {
    return this.#instances.has(instanceId);
  }

  status(instanceId: string, options: StatusOptions = {}): StatusPayload | undefined {
    const inst = this.#instances.get(instanceId);
    return inst ? this.#statusOf(inst, options) : undefined;
  }

  /** Instances matching the query, oldest first. */
  query(q: InstanceQuery, options: StatusOptions = {}): StatusPayload[] {
    return this.#matching(q).map((inst) => this.#statusOf(inst, options));
  }

  async raiseEvent(instanceId: string, eventName: string, dataJson: string | undefined): Promise<void> {
    const inst = this.#live(instanceId);
    await this.#enqueue(inst, {
      EventType: EventType.EventRaised,
      EventId: -1,
      Timestamp: iso(),
      Name: eventName,
      Input: dataJson ?? 'null',
    });
  }

  async terminate(instanceId: string, reason: string | undefined): Promise<void> {
    const inst = this.#live(instanceId);
    await this.#enqueue(inst, {
      EventType: EventType.ExecutionTerminated,
      EventId: -1,
      Timestamp: iso(),
      Input: JSON.stringify(reason ?? null),
    });
  }

  async suspend(instanceId: string, reason: string | undefined): Promise<void> {
    const inst = this.#live(instanceId);
    await this.#enqueue(inst, {
      EventType: EventType.ExecutionSuspended,
      EventId: -1,
      Timestamp: iso(),
      Reason: reason ?? '',
    });
  }

  async resume(instanceId: string, reason: string | undefined): Promise<void> {
    const inst = this.#live(instanceId);
    await this.#enqueue(inst, {
      EventType: EventType.ExecutionResumed,
      EventId: -1,
      Timestamp: iso(),
      Reason: reason ?? '',
    });
  }

  /** Deletes a terminal instance's state; 404 unknown, 412 not terminal. */
  async purge(instanceId: string): Promise<number> {
    const inst = this.#instances.get(instanceId);
    if (!inst) throw new DurableApiError(404, `No instance with ID '${instanceId}' found.`);
    if (!isTerminal(inst.state.status)) {
      throw new DurableApiError(
        412,
        `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${instanceId} has status ${inst.state.status}`,
      );
    }
    await this.#remove(inst);
    return 1;
  }

  /** Purges terminal instances matching the query; returns how many. */
  async purgeWhere(q: InstanceQuery): Promise<number> {
    const victims = this.#matching(q).filter((i) => isTerminal(i.state.status));
    for (const inst of victims) await this.#remove(inst);
    return victims.length;
  }

  // ---- entities (client side) ----

  /** Queues a signal for an entity; resolves once it is durable. 400 for a malformed entity id or operation. */
  async signalEntity(name: string, key: string, operation: string, inputJson: string | undefined): Promise<void> {
    validateEntityId(name, key);
    if (operation === '') throw new DurableApiError(400, "The operation name (query parameter 'op') is required.");
    const req: EntityRequest = {
      kind: 'request',
      id: randomUUID(),
      target: schedulerId(name, key),
      op: operation,
      signal: true,
      ...(inputJson !== undefined ? { input: inputJson } : {}),
    };
    await this.#entities.deliver(req);
  }

  readEntity(name: string, key: string): { stateJson: string | undefined } | undefined {
    validateEntityId(name, key);
    return this.#entities.read(name, key);
  }

  listEntities(q: EntityQuery, fetchState: boolean): EntitySummary[] {
    return this.#entities.list(q, fetchState);
  }

  // ---- internals ----

  #live(instanceId: string): Instance {
    const inst = this.#instances.get(instanceId);
    if (!inst) throw new DurableApiError(404, `No instance with ID '${instanceId}' found.`);
    if (isTerminal(inst.state.status)) {
      throw new DurableApiError(410, `The instance '${instanceId}' is ${inst.state.status}.`);
    }
    return inst;
  }

  #matching(q: InstanceQuery): Instance[] {
    const statuses = q.runtimeStatus && q.runtimeStatus.length > 0 ? new Set(q.runtimeStatus) : undefined;
    return [...this.#instances.values()]
      .filter((inst) => {
        const s = inst.state;
        const created = Date.parse(s.createdTime);
        if (statuses && !statuses.has(s.status)) return false;
        if (q.createdTimeFrom !== undefined && created < q.createdTimeFrom) return false;
        if (q.createdTimeTo !== undefined && created > q.createdTimeTo) return false;
        if (q.instanceIdPrefix !== undefined && !s.instanceId.startsWith(q.instanceIdPrefix)) return false;
        return true;
      })
      .sort(
        (a, b) =>
          a.state.createdTime.localeCompare(b.state.createdTime) ||
          a.state.instanceId.localeCompare(b.state.instanceId),
      );
  }

  async #remove(inst: Instance): Promise<void> {
    inst.removed = true;
    this.#clearTimers(inst);
    this.#instances.delete(inst.state.instanceId);
    await inst.journal.remove();
  }

  #track(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => {
      if (err instanceof JournalClosedError || this.#closed) return;
      this.#o.log(`[host] durable: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #create(
    name: string,
    inputJson: string | undefined,
    instanceId: string,
    parent: ParentRef | undefined,
  ): Promise<Instance> {
    const existing = this.#instances.get(instanceId);
    if (this.#creating.has(instanceId) || (existing && !isTerminal(existing.state.status))) {
      const status = existing?.state.status ?? 'Pending';
      throw new DurableApiError(
        409,
        `An orchestration instance with ID '${instanceId}' already exists and is ${status}.`,
      );
    }
    this.#creating.add(instanceId);
    try {
      const inst = existing ?? new Instance(new Journal(path.join(this.#o.dir, journalFileName(instanceId))));
      this.#clearTimers(inst);
      inst.running.clear();
      const executionId = newExecutionId();
      const now = iso();
      const started: HistoryEvent = {
        EventType: EventType.ExecutionStarted,
        EventId: -1,
        Timestamp: now,
        Name: name,
        ...(inputJson !== undefined ? { Input: inputJson } : {}),
        OrchestrationInstance: { InstanceId: instanceId, ExecutionId: executionId },
        ...(parent
          ? {
              ParentInstance: {
                Name: parent.name,
                TaskScheduleId: parent.taskId,
                OrchestrationInstance: { InstanceId: parent.instanceId },
              },
            }
          : {}),
      };
      const snapshot: InstanceSnapshot = {
        instanceId,
        name,
        executionId,
        ...(inputJson !== undefined ? { inputJson } : {}),
        ...(parent ? { parent } : {}),
        status: 'Pending',
        createdTime: now,
        lastUpdatedTime: now,
        history: [],
        inbox: [{ seq: 0, ev: started }],
        msgSeq: 1,
        nextSeq: 0,
        actions: [],
        retries: {},
        canceledTimers: [],
      };
      await inst.journal.replace(
        () => ({ t: 'init', s: snapshot }),
        (rec) => {
          inst.state.apply(rec);
          inst.nextMsgSeq = inst.state.msgSeq;
        },
      );
      inst.removed = false;
      this.#instances.set(instanceId, inst);
      this.#schedulePump(inst);
      return inst;
    } finally {
      this.#creating.delete(instanceId);
    }
  }

  /** Journals a message for an instance and wakes it. False when it no longer applies (stale or duplicate). */
  async #enqueue(inst: Instance, ev: HistoryEvent, exec?: string): Promise<boolean> {
    const s = inst.state;
    if (inst.removed || this.#closed || isTerminal(s.status)) return false;
    if (exec !== undefined && exec !== s.executionId) return false;
    const taskId = completedTaskId(ev);
    let key: string | undefined;
    if (taskId !== undefined) {
      key = `${s.executionId}:${taskId}`;
      if (!s.pending.has(taskId) || inst.completing.has(key)) return false;
      inst.completing.add(key);
    }
    const m: Message = { seq: inst.nextMsgSeq++, ev, ...(exec !== undefined ? { exec } : {}) };
    try {
      await inst.journal.append({ t: 'msg', m }, (rec) => inst.state.apply(rec));
    } finally {
      if (key) inst.completing.delete(key);
    }
    this.#schedulePump(inst);
    return true;
  }

  /** An entity's answer to a call: delivered once, to the execution that is still waiting for it. */
  async #deliverResponse(r: EntityResponse): Promise<void> {
    const inst = this.#instances.get(r.to);
    if (!inst || inst.removed || this.#closed) {
      if (this.#closed) throw new JournalClosedError(r.to);
      return;
    }
    const s = inst.state;
    const key = `call:${r.id}`;
    if (s.executionId !== r.exec || !s.openCalls.has(r.id) || inst.completing.has(key)) return;
    inst.completing.add(key);
    try {
      await this.#enqueue(
        inst,
        { EventType: EventType.EventRaised, EventId: -1, Timestamp: iso(), Name: r.id, Input: responsePayload(r) },
        r.exec,
      );
    } finally {
      inst.completing.delete(key);
    }
  }

  /** Delivers the orchestration's entity messages in order, then journals what was delivered. */
  #flushOutbox(inst: Instance): void {
    if (inst.flushing || this.#stopping || inst.state.outbox.length === 0) return;
    inst.flushing = true;
    this.#track(
      (async () => {
        try {
          while (inst.state.outbox.length > 0 && !inst.removed && !this.#closed) {
            const batch = [...inst.state.outbox];
            for (const m of batch) if (m.kind === 'request') await this.#entities.deliver(m);
            await inst.journal.append({ t: 'sent', ids: batch.map((m) => m.id) }, (rec) => inst.state.apply(rec));
          }
        } finally {
          inst.flushing = false;
        }
      })(),
    );
  }

  #schedulePump(inst: Instance): void {
    if (inst.pumpQueued || this.#stopping || inst.removed) return;
    inst.pumpQueued = true;
    setImmediate(() => {
      inst.pumpQueued = false;
      this.#track(this.#pump(inst));
    });
  }

  /** One episode per instance at a time; at most maxConcurrentOrchestrations episodes overall. */
  async #pump(inst: Instance): Promise<void> {
    if (inst.busy || this.#stopping || inst.removed) return;
    const batch = pickBatch(inst.state);
    if (!batch) return;
    inst.busy = true;
    try {
      if (batch.kind === 'control') {
        await this.#runControl(inst, batch.msg);
      } else {
        const release = await this.#orchestratorSlots.acquire();
        try {
          await this.#gate.run(async () => {
            if (!this.#stopping) await this.#runEpisode(inst, batch.msgs);
          });
        } finally {
          release();
        }
      }
    } finally {
      inst.busy = false;
    }
    // Only after success: a failing episode is not retried in a loop (the error is logged by #track).
    this.#schedulePump(inst);
  }

  async #commit(inst: Instance, rec: EpisodeRecord): Promise<void> {
    await inst.journal.append(rec, (r) => inst.state.apply(r));
  }

  async #runControl(inst: Instance, msg: Message): Promise<void> {
    const s = inst.state;
    const now = iso();
    const base = {
      t: 'ep' as const,
      take: [msg.seq],
      up: now,
      ...(s.customStatusJson !== undefined ? { cs: s.customStatusJson } : {}),
    };
    switch (msg.ev.EventType) {
      case EventType.ExecutionTerminated: {
        const out = msg.ev.Input ?? 'null';
        await this.#commit(inst, {
          ...base,
          add: [
            {
              EventType: EventType.ExecutionCompleted,
              EventId: -1,
              OrchestrationStatus: 'Terminated',
              Result: out,
              Timestamp: now,
            },
          ],
          st: 'Terminated',
          out,
        });
        this.#onTerminal(inst);
        return;
      }
      case EventType.ExecutionSuspended:
        await this.#commit(inst, { ...base, st: 'Suspended' });
        this.#o.log(`[host] durable: ${s.name} (${s.instanceId}) suspended`);
        return;
      default:
        await this.#commit(inst, { ...base, st: s.status === 'Suspended' ? 'Running' : s.status });
        this.#o.log(`[host] durable: ${s.name} (${s.instanceId}) resumed`);
    }
  }

  async #runEpisode(inst: Instance, msgs: Message[]): Promise<void> {
    const s = inst.state;
    // Monotonic episode time, never before a timer that is being delivered (currentUtcDateTime >= fireAt).
    let startedMs = Math.max(Date.now(), s.lastStartedMs);
    for (const m of msgs)
      if (m.ev.EventType === EventType.TimerFired && m.ev.FireAt)
        startedMs = Math.max(startedMs, Date.parse(m.ev.FireAt));

    const fn = this.#o.catalog.getOfType(s.name, 'orchestrationTrigger');
    let result: EpisodeResult;
    if (!fn) {
      result = { failure: `The function '${s.name}' doesn't exist, is disabled, or is not an orchestrator function.` };
    } else {
      const fresh: HistoryEvent[] = [
        { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: iso(startedMs) },
        ...msgs.map((m) => ({ ...m.ev, IsPlayed: false })),
      ];
      const payload = {
        history: [...s.history, ...fresh],
        input: s.inputJson === undefined ? undefined : parseJsonText(s.inputJson),
        instanceId: s.instanceId,
        isReplaying: s.history.length > 0,
        parentInstanceId: s.parent?.instanceId ?? '',
        upperSchemaVersion: REPLAY_SCHEMA_V4,
        upperSchemaVersionNew: REPLAY_SCHEMA_V4,
        maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
        longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL,
        defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
      };
      const res = await this.#o.invoker.invoke(
        fn,
        [{ name: fn.triggerBindingName, data: { json: JSON.stringify(payload) } }, ...this.#o.extraInputs(fn)],
        { replaySafeLogs: true },
      );
      result = parseOrchestratorResult(res);
    }

    const plan = planEpisode(s, msgs, startedMs, result);
    if (plan.nonDeterminism) this.#o.log(`[host] durable: ${plan.nonDeterminism.message}`);
    if (plan.continueAsNew) {
      const { inputJson, send } = plan.continueAsNew;
      await this.#continueAsNew(inst, msgs, inputJson, plan.record.cs, send);
      this.#flushOutbox(inst);
      return;
    }
    await this.#commit(inst, plan.record);
    this.#flushOutbox(inst);
    if (isTerminal(inst.state.status)) this.#onTerminal(inst);
    else this.#dispatch(inst);
  }

  async #continueAsNew(
    inst: Instance,
    taken: Message[],
    inputJson: string | undefined,
    cs: string | undefined,
    send: EntityRequest[],
  ): Promise<void> {
    const takenSeqs = new Set(taken.map((m) => m.seq));
    this.#clearTimers(inst);
    await inst.journal.replace(
      () => {
        const s = inst.state;
        const executionId = newExecutionId();
        const now = iso();
        // Raised events not yet delivered carry over; completions of the old execution do not.
        const carried = s.inbox.filter((m) => !takenSeqs.has(m.seq) && m.exec === undefined);
        const started: Message = {
          seq: inst.nextMsgSeq++,
          ev: {
            EventType: EventType.ExecutionStarted,
            EventId: -1,
            Timestamp: now,
            Name: s.name,
            ...(inputJson !== undefined ? { Input: inputJson } : {}),
            OrchestrationInstance: { InstanceId: s.instanceId, ExecutionId: executionId },
          },
        };
        const snapshot: InstanceSnapshot = {
          ...s.snapshot(),
          executionId,
          status: 'ContinuedAsNew',
          lastUpdatedTime: now,
          history: [],
          inbox: [started, ...carried],
          msgSeq: inst.nextMsgSeq,
          nextSeq: 0,
          actions: [],
          retries: {},
          canceledTimers: [],
          // Signals sent before continuing as new are still delivered.
          outbox: [...s.outbox, ...send],
        };
        if (inputJson !== undefined) snapshot.inputJson = inputJson;
        else delete snapshot.inputJson;
        if (cs !== undefined) snapshot.customStatusJson = cs;
        return { t: 'init', s: snapshot };
      },
      (rec) => inst.state.apply(rec),
    );
    inst.running.clear();
    this.#o.log(`[host] durable: ${inst.state.name} (${inst.state.instanceId}) continued as new`);
  }

  #onTerminal(inst: Instance): void {
    this.#clearTimers(inst);
    inst.running.clear();
    const s = inst.state;
    const detail = s.status === 'Completed' ? '' : `: ${shortMessage(new Error(String(parseJsonText(s.outputJson))))}`;
    this.#o.log(`[host] durable: ${s.name} (${s.instanceId}) ${s.status}${detail}`);
    if (s.parent) this.#track(this.#notifyParent(inst));
  }

  async #notifyParent(child: Instance): Promise<void> {
    const c = child.state;
    const p = c.parent;
    const parent = p ? this.#instances.get(p.instanceId) : undefined;
    if (!p || !parent) return;
    const ev: HistoryEvent =
      c.status === 'Completed'
        ? {
            EventType: EventType.SubOrchestrationInstanceCompleted,
            EventId: -1,
            Timestamp: iso(),
            TaskScheduledId: p.taskId,
            Result: c.outputJson ?? 'null',
          }
        : subOrchestrationFailed(
            p.taskId,
            `Sub-orchestration '${c.name}' (instance '${c.instanceId}') ${c.status === 'Terminated' ? 'was terminated' : 'failed'}: ${String(parseJsonText(c.outputJson))}`,
          );
    await this.#enqueue(parent, ev, p.executionId);
  }

  #clearTimers(inst: Instance): void {
    for (const t of inst.timers.values()) clearTimeout(t);
    inst.timers.clear();
  }

  /** Starts whatever scheduled work is not yet under way (all of it after a restart). */
  #dispatch(inst: Instance): void {
    const s = inst.state;
    if (this.#stopping || inst.removed || isTerminal(s.status)) return;
    const exec = s.executionId;
    for (const work of s.pending.values()) {
      const key = `${exec}:${work.taskId}`;
      if (work.kind === 'timer') {
        if (!inst.timers.has(key)) this.#armTimer(inst, exec, work, key);
      } else if (!inst.running.has(key)) {
        inst.running.add(key);
        this.#track(
          work.kind === 'activity' ? this.#runActivity(inst, exec, work, key) : this.#ensureChild(inst, exec, work),
        );
      }
    }
  }

  #armTimer(inst: Instance, exec: string, work: PendingWork & { kind: 'timer' }, key: string): void {
    const fireAtMs = Date.parse(work.fireAt);
    const arm = (): void => {
      const remaining = fireAtMs - Date.now();
      if (remaining > 0) {
        inst.timers.set(key, setTimeout(arm, Math.min(remaining, MAX_TIMEOUT_MS)));
        return;
      }
      inst.timers.delete(key);
      this.#track(
        this.#enqueue(
          inst,
          { EventType: EventType.TimerFired, EventId: -1, Timestamp: iso(), TimerId: work.taskId, FireAt: work.fireAt },
          exec,
        ),
      );
    };
    inst.timers.set(key, setTimeout(arm, Math.max(0, Math.min(fireAtMs - Date.now(), MAX_TIMEOUT_MS))));
  }

  async #runActivity(
    inst: Instance,
    exec: string,
    work: PendingWork & { kind: 'activity' },
    key: string,
  ): Promise<void> {
    const release = await this.#activitySlots.acquire();
    try {
      await this.#gate.run(async () => {
        const s = inst.state;
        // Not started while stopping: it stays scheduled in the journal and runs after the next start.
        if (this.#stopping || inst.removed || s.executionId !== exec || !s.pending.has(work.taskId)) return;
        const ev = await this.#executeActivity(inst, work);
        await this.#enqueue(inst, ev, exec);
      });
    } finally {
      release();
      inst.running.delete(key);
    }
  }

  async #executeActivity(inst: Instance, work: PendingWork & { kind: 'activity' }): Promise<HistoryEvent> {
    const retry = inst.state.retries[String(work.taskId)];
    if (retry && retryTimedOut(retry, Date.now())) {
      return taskFailed(
        work.taskId,
        `Activity function '${work.name}' was not run: retry timeout of ${retry.options.retryTimeoutInMilliseconds}ms exceeded`,
      );
    }
    const fn = this.#o.catalog.getOfType(work.name, 'activityTrigger');
    if (!fn) {
      return taskFailed(
        work.taskId,
        `The function '${work.name}' doesn't exist, is disabled, or is not an activity function.`,
      );
    }
    const res = await this.#o.invoker.invoke(fn, [
      { name: fn.triggerBindingName, data: work.inputJson === undefined ? null : { json: work.inputJson } },
      ...this.#o.extraInputs(fn),
    ]);
    if (res.error) return activityFailed(work.taskId, fn.name, res.error);
    return {
      EventType: EventType.TaskCompleted,
      EventId: -1,
      Timestamp: iso(),
      TaskScheduledId: work.taskId,
      Result: resultJson(res.response?.returnValue),
    };
  }

  async #ensureChild(parent: Instance, exec: string, work: PendingWork & { kind: 'subOrchestration' }): Promise<void> {
    const child = this.#instances.get(work.instanceId);
    const cp = child?.state.parent;
    if (
      child &&
      cp &&
      cp.instanceId === parent.state.instanceId &&
      cp.taskId === work.taskId &&
      cp.executionId === exec
    ) {
      // Created before a restart; if it already finished, its completion may not have reached the parent.
      if (isTerminal(child.state.status)) await this.#notifyParent(child);
      return;
    }
    if (child && !isTerminal(child.state.status)) {
      await this.#enqueue(
        parent,
        subOrchestrationFailed(
          work.taskId,
          `An orchestration with instance ID '${work.instanceId}' already exists and is ${child.state.status}.`,
        ),
        exec,
      );
      return;
    }
    const fn = this.#o.catalog.getOfType(work.name, 'orchestrationTrigger');
    if (!fn) {
      await this.#enqueue(
        parent,
        subOrchestrationFailed(
          work.taskId,
          `The function '${work.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        ),
        exec,
      );
      return;
    }
    const retry = parent.state.retries[String(work.taskId)];
    if (retry && retryTimedOut(retry, Date.now())) {
      await this.#enqueue(
        parent,
        subOrchestrationFailed(work.taskId, `Sub-orchestration '${work.name}' was not started: retry timeout exceeded`),
        exec,
      );
      return;
    }
    try {
      await this.#create(fn.name, work.inputJson, work.instanceId, {
        instanceId: parent.state.instanceId,
        executionId: exec,
        taskId: work.taskId,
        name: parent.state.name,
      });
    } catch (err) {
      // e.g. another parent is creating the same explicit instance id right now
      if (!(err instanceof DurableApiError)) throw err;
      await this.#enqueue(parent, subOrchestrationFailed(work.taskId, err.message), exec);
    }
  }

  #statusOf(inst: Instance, options: StatusOptions): StatusPayload {
    const s = inst.state;
    const payload: StatusPayload = {
      name: s.name,
      instanceId: s.instanceId,
      runtimeStatus: s.status,
      input: options.showInput === false ? null : parseJsonText(s.inputJson),
      customStatus: parseJsonText(s.customStatusJson),
      output: parseJsonText(s.outputJson),
      createdTime: statusTime(s.createdTime),
      lastUpdatedTime: statusTime(s.lastUpdatedTime),
    };
    if (options.showHistory) payload.historyEvents = formatHistory(s.history, options.showHistoryOutput === true);
    return payload;
  }
}

/** Entity names cannot contain '@' (it separates name and key in `@name@key`); neither may be empty. */
export function validateEntityId(name: string, key: string): void {
  if (name === '' || name.includes('@') || /[/\\#?]/.test(name)) {
    throw new DurableApiError(400, `Invalid entity name '${name}': it must be non-empty, without @ / \\ # or ?.`);
  }
  if (key === '') throw new DurableApiError(400, `Invalid entity key for '${name}': the key must be non-empty.`);
}

/** Instance ids follow DurableTask's rules: non-empty, at most 256 characters, no / \ # ? or control characters. */
export function validateInstanceId(id: string): void {
  // eslint-disable-next-line no-control-regex
  if (id === '' || id.length > 256 || /[/\\#?\u0000-\u001f\u007f]/.test(id)) {
    throw new DurableApiError(
      400,
      `Invalid instance ID '${id}': it must be 1-256 characters without / \\ # ? or control characters.`,
    );
  }
}
