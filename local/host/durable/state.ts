// One orchestration instance's durable state and the journal records that change it. The same reducer runs when a
// record is written and when the journal is read back after a restart, so memory and disk cannot disagree.
import type { OutMessage } from './messages.js';
import { EventType, type HistoryEvent, type RetryOptionsWire, type RuntimeStatus, isTerminal } from './protocol.js';

export interface ParentRef {
  instanceId: string;
  executionId: string;
  /** The parent's task id for this sub-orchestration. */
  taskId: number;
  name: string;
}

/** A message waiting to be delivered to the orchestrator (a future history event). */
export interface Message {
  seq: number;
  ev: HistoryEvent;
  /** Completions belong to one execution; raised events and control messages do not. */
  exec?: string;
}

/** What the orchestrator scheduled at one position of its (flattened) action list. */
export interface ActionRecord {
  type: number;
  name?: string;
  taskId?: number;
}

export interface RetryState {
  kind: 'activity' | 'subOrchestration';
  name: string;
  inputJson?: string;
  /** Child instance id given by the orchestrator (sub-orchestrations only). */
  instanceId?: string;
  options: RetryOptionsWire;
  attempt: number;
  firstAttemptAt: string;
}

export interface InstanceSnapshot {
  instanceId: string;
  name: string;
  executionId: string;
  inputJson?: string;
  parent?: ParentRef;
  status: RuntimeStatus;
  customStatusJson?: string;
  outputJson?: string;
  createdTime: string;
  lastUpdatedTime: string;
  history: HistoryEvent[];
  inbox: Message[];
  msgSeq: number;
  nextSeq: number;
  actions: ActionRecord[];
  retries: Record<string, RetryState>;
  canceledTimers: number[];
  /** Entity messages written but not yet handed to their receiver (absent in journals from before entities). */
  outbox?: OutMessage[];
}

/** An episode (or a control message) applied: messages taken into history plus what it scheduled. */
export interface EpisodeRecord {
  t: 'ep';
  take: number[];
  /** OrchestratorStarted timestamp, when the orchestrator ran. */
  started?: string;
  add?: HistoryEvent[];
  acts?: ActionRecord[];
  nextSeq?: number;
  retrySet?: Record<string, RetryState>;
  retryDel?: number[];
  cancel?: number[];
  /** Entity messages this episode sends (delivered after the record is durable). */
  send?: OutMessage[];
  st: RuntimeStatus;
  /** Custom status JSON; absent = null. */
  cs?: string;
  out?: string;
  up: string;
}

export type JournalRecord =
  | { t: 'init'; s: InstanceSnapshot }
  | { t: 'msg'; m: Message }
  | EpisodeRecord
  /** Outbox messages the receiver has journaled. */
  | { t: 'sent'; ids: string[] };

export type PendingWork =
  | { kind: 'activity'; taskId: number; name: string; inputJson?: string }
  | { kind: 'timer'; taskId: number; fireAt: string }
  | { kind: 'subOrchestration'; taskId: number; name: string; instanceId: string; inputJson?: string };

/** The task id a completion event completes, if it is one. */
export function completedTaskId(ev: HistoryEvent): number | undefined {
  switch (ev.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return ev.TaskScheduledId;
    case EventType.TimerFired:
      return ev.TimerId;
    default:
      return undefined;
  }
}

export function isControlEvent(ev: HistoryEvent): boolean {
  return (
    ev.EventType === EventType.ExecutionTerminated ||
    ev.EventType === EventType.ExecutionSuspended ||
    ev.EventType === EventType.ExecutionResumed
  );
}

function pendingFrom(ev: HistoryEvent): PendingWork | undefined {
  switch (ev.EventType) {
    case EventType.TaskScheduled:
      return {
        kind: 'activity',
        taskId: ev.EventId,
        name: ev.Name ?? '',
        ...(ev.Input !== undefined ? { inputJson: ev.Input } : {}),
      };
    case EventType.TimerCreated:
      return { kind: 'timer', taskId: ev.EventId, fireAt: ev.FireAt ?? ev.Timestamp };
    case EventType.SubOrchestrationInstanceCreated:
      return {
        kind: 'subOrchestration',
        taskId: ev.EventId,
        name: ev.Name ?? '',
        instanceId: ev.InstanceId ?? '',
        ...(ev.Input !== undefined ? { inputJson: ev.Input } : {}),
      };
    default:
      return undefined;
  }
}

export class InstanceState implements InstanceSnapshot {
  instanceId = '';
  name = '';
  executionId = '';
  inputJson?: string;
  parent?: ParentRef;
  status: RuntimeStatus = 'Pending';
  customStatusJson?: string;
  outputJson?: string;
  createdTime = '';
  lastUpdatedTime = '';
  history: HistoryEvent[] = [];
  inbox: Message[] = [];
  msgSeq = 0;
  nextSeq = 0;
  actions: ActionRecord[] = [];
  retries: Record<string, RetryState> = {};
  canceledTimers: number[] = [];
  outbox: OutMessage[] = [];
  /** Derived: request ids of entity calls of the current execution still waiting for their response. */
  readonly openCalls = new Set<string>();
  /** Derived: scheduled work of the current execution that has no completion yet (in history or inbox). */
  readonly pending = new Map<number, PendingWork>();
  /** Derived: timestamp (ms) of the last OrchestratorStarted, to keep episode times monotonic. */
  lastStartedMs = 0;

  snapshot(): InstanceSnapshot {
    const s: InstanceSnapshot = {
      instanceId: this.instanceId,
      name: this.name,
      executionId: this.executionId,
      status: this.status,
      createdTime: this.createdTime,
      lastUpdatedTime: this.lastUpdatedTime,
      history: this.history,
      inbox: this.inbox,
      msgSeq: this.msgSeq,
      nextSeq: this.nextSeq,
      actions: this.actions,
      retries: this.retries,
      canceledTimers: this.canceledTimers,
      outbox: this.outbox,
    };
    if (this.inputJson !== undefined) s.inputJson = this.inputJson;
    if (this.parent !== undefined) s.parent = this.parent;
    if (this.customStatusJson !== undefined) s.customStatusJson = this.customStatusJson;
    if (this.outputJson !== undefined) s.outputJson = this.outputJson;
    return s;
  }

  apply(rec: JournalRecord): void {
    switch (rec.t) {
      case 'init':
        this.#init(rec.s);
        return;
      case 'msg':
        this.#message(rec.m);
        return;
      case 'ep':
        this.#episode(rec);
        return;
      case 'sent': {
        const ids = new Set(rec.ids);
        this.outbox = this.outbox.filter((m) => !ids.has(m.id));
        return;
      }
    }
  }

  #init(s: InstanceSnapshot): void {
    this.instanceId = s.instanceId;
    this.name = s.name;
    this.executionId = s.executionId;
    this.inputJson = s.inputJson;
    this.parent = s.parent;
    this.status = s.status;
    this.customStatusJson = s.customStatusJson;
    this.outputJson = s.outputJson;
    this.createdTime = s.createdTime;
    this.lastUpdatedTime = s.lastUpdatedTime;
    this.history = [...s.history];
    this.inbox = [...s.inbox];
    this.msgSeq = s.msgSeq;
    this.nextSeq = s.nextSeq;
    this.actions = [...s.actions];
    this.retries = { ...s.retries };
    this.canceledTimers = [...s.canceledTimers];
    this.outbox = [...(s.outbox ?? [])];
    this.pending.clear();
    this.openCalls.clear();
    this.lastStartedMs = 0;
    if (isTerminal(this.status)) return;
    for (const ev of this.history) this.#track(ev);
    for (const m of this.inbox) this.#trackMessage(m);
    for (const id of this.canceledTimers) this.pending.delete(id);
  }

  #track(ev: HistoryEvent): void {
    if (ev.EventType === EventType.OrchestratorStarted) {
      this.lastStartedMs = Math.max(this.lastStartedMs, Date.parse(ev.Timestamp));
      return;
    }
    if (ev.EventType === EventType.EventSent) {
      const request = entityRequestOf(ev);
      if (request && !request.signal) this.openCalls.add(request.id);
      return;
    }
    if (ev.EventType === EventType.EventRaised && ev.Name !== undefined) this.openCalls.delete(ev.Name);
    const work = pendingFrom(ev);
    if (work) {
      this.pending.set(work.taskId, work);
      return;
    }
    const done = completedTaskId(ev);
    if (done !== undefined) this.pending.delete(done);
  }

  #trackMessage(m: Message): void {
    if (m.ev.EventType === EventType.EventRaised && m.ev.Name !== undefined) this.openCalls.delete(m.ev.Name);
    const done = completedTaskId(m.ev);
    if (done !== undefined && (m.exec === undefined || m.exec === this.executionId)) this.pending.delete(done);
  }

  #message(m: Message): void {
    this.inbox.push(m);
    this.msgSeq = Math.max(this.msgSeq, m.seq + 1);
    this.#trackMessage(m);
  }

  #episode(rec: EpisodeRecord): void {
    const wanted = new Set(rec.take);
    const bySeq = new Map<number, Message>();
    this.inbox = this.inbox.filter((m) => {
      if (!wanted.has(m.seq)) return true;
      bySeq.set(m.seq, m);
      return false;
    });
    const taken = rec.take.map((seq) => {
      const m = bySeq.get(seq);
      if (!m) throw new Error(`journal of '${this.instanceId}' takes message ${seq}, which is not in its inbox`);
      return m;
    });
    if (rec.started !== undefined) {
      const started: HistoryEvent = { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: rec.started };
      this.history.push(started);
      this.#track(started);
    }
    for (const m of taken) this.history.push({ ...m.ev, IsPlayed: true });
    for (const ev of rec.add ?? []) {
      this.history.push({ ...ev, IsPlayed: true });
      this.#track(ev);
    }
    if (rec.acts) this.actions.push(...rec.acts);
    if (rec.send) this.outbox.push(...rec.send);
    if (rec.nextSeq !== undefined) this.nextSeq = rec.nextSeq;
    for (const id of rec.retryDel ?? []) delete this.retries[String(id)];
    Object.assign(this.retries, rec.retrySet ?? {});
    for (const id of rec.cancel ?? []) {
      this.pending.delete(id);
      this.canceledTimers.push(id);
    }
    this.status = rec.st;
    this.customStatusJson = rec.cs;
    if (rec.out !== undefined) this.outputJson = rec.out;
    this.lastUpdatedTime = rec.up;
    if (isTerminal(this.status)) {
      this.pending.clear();
      this.openCalls.clear();
    }
  }
}

/** The request an EventSent history event records (its Input is the request message JSON). */
export function entityRequestOf(ev: HistoryEvent): { id: string; signal: boolean } | undefined {
  try {
    const m = JSON.parse(ev.Input ?? '') as { id?: unknown; signal?: unknown };
    return typeof m.id === 'string' ? { id: m.id, signal: m.signal === true } : undefined;
  } catch {
    return undefined;
  }
}
