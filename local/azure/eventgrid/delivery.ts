// Event Grid's delivery engine: at-least-once WebHook delivery with Azure's retry schedule (scaled for tests),
// no-retry statuses, max attempts / TTL, dead-lettering, no ordering guarantee and optional deliberate duplicates.
// Every delivery runs on its own timers, never inside the caller's stack (emitters and publishers return first).
import { randomUUID } from 'node:crypto';
import type { Emulator } from '../core/emulator.js';
import {
  renderCloudEvent,
  renderEventGrid,
  type CanonicalEvent,
  type DeliverySchema,
  type EventSubscriptionResource,
} from './model.js';

export interface EventGridSettings {
  /** Multiplies Azure's retry schedule (10 s, 30 s, 1 m, 5 m, ...); tests use e.g. 0.001 so retries take ms. */
  retryScale: number;
  /** Fraction (0..1) of successful first deliveries sent once more (same event id), to exercise dedupe. */
  duplicateRate: number;
  /** Up to this many ms of random delay before each first attempt, to shuffle arrival order. */
  jitterMs: number;
  /** Per-attempt timeout (Azure: 30 s). */
  attemptTimeoutMs: number;
  /** Published events kept per custom topic for `GET /_emulator/eventgrid/topics/{name}/events`. */
  recentEventsPerTopic: number;
}

export const DEFAULT_SETTINGS: EventGridSettings = {
  retryScale: 1,
  duplicateRate: 0,
  jitterMs: 0,
  attemptTimeoutMs: 30_000,
  recentEventsPerTopic: 100,
};

/** Azure's documented schedule (best effort, un-jittered here), in seconds; then every 12 h. */
const RETRY_SCHEDULE_S = [10, 30, 60, 300, 600, 1800, 3600, 10800, 21600];
const RETRY_TAIL_S = 43200;
/** WebHook statuses Azure does not retry (dead-letter or drop). */
const NO_RETRY = new Set([400, 401, 413]);
const MAX_LOG = 5000;
const MAX_HISTORY = 2000;

export interface DeliveryAttempt {
  /** Value sent in `aeg-delivery-count` (0-based). */
  deliveryCount: number;
  at: string;
  status?: number;
  error?: string;
  durationMs: number;
}

export type DeliveryOutcome = 'pending' | 'delivered' | 'dropped' | 'deadLettered' | 'cancelled';

export interface DeliveryLogEntry {
  id: string;
  /** ARM id of the event subscription. */
  subscription: string;
  subscriptionName: string;
  endpointBaseUrl: string;
  schema: DeliverySchema;
  kind: 'original' | 'duplicate' | 'redelivery';
  eventIds: string[];
  eventTypes: string[];
  subjects: string[];
  publishTime: string;
  attempts: DeliveryAttempt[];
  outcome: DeliveryOutcome;
  /** Why delivery ended without success: NonRetryableStatusCode, MaxDeliveryAttemptsExceeded, TimeToLiveExceeded... */
  reason?: string;
}

export interface DeadLetteredEvent {
  subscription: string;
  deadLetterDestination: unknown;
  event: Record<string, unknown>;
  deadLetterReason: string;
  deliveryAttempts: number;
  lastDeliveryOutcome: string;
  lastHttpStatusCode: number;
  publishTime: string;
  lastDeliveryAttemptTime: string;
}

interface Delivery extends DeliveryLogEntry {
  events: CanonicalEvent[];
  publishMs: number;
}

export interface DeliveryFilter {
  /** Subscription name or ARM id (case-insensitive). */
  subscription?: string;
  eventId?: string;
  outcome?: string;
}

export class DeliveryEngine {
  settings: EventGridSettings = { ...DEFAULT_SETTINGS };
  private readonly deliveries: Delivery[] = [];
  private readonly queues = new Map<string, CanonicalEvent[]>();
  private flushScheduled = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  /** Events already routed, with the subscriptions they went to (for admin redelivery). */
  private readonly history = new Map<string, { event: CanonicalEvent; subscriptions: Set<string> }>();
  private readonly deadLetters: DeadLetteredEvent[] = [];
  private readonly recent = new Map<string, unknown[]>();
  private waiters: (() => void)[] = [];
  private duplicateCredit = 0;
  private seq = 0;
  private stopped = false;

  constructor(private readonly emu: Emulator) {
    emu.onStop(() => this.stop());
  }

  /** Routes events to one subscription; deliveries are batched per subscription within the current tick. */
  enqueue(subscriptionId: string, events: CanonicalEvent[]): void {
    if (this.stopped || events.length === 0) return;
    const key = subscriptionId.toLowerCase();
    const q = this.queues.get(key) ?? [];
    q.push(...events);
    this.queues.set(key, q);
    for (const e of events) this.remember(e, subscriptionId);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends an already routed event `times` more times to the subscriptions that got it (or only `subscription`). */
  redeliver(eventId: string, times: number, subscription?: string): string[] | undefined {
    const h = this.history.get(eventId.toLowerCase());
    if (!h) return undefined;
    const ids: string[] = [];
    for (const subId of h.subscriptions) {
      const sub = this.emu.store.getResource<EventSubscriptionResource>(subId);
      if (!sub || (subscription && !matchesSubscription(subscription, sub.id, sub.name))) continue;
      for (let i = 0; i < times; i++) {
        const d = this.newDelivery(sub, [{ ...h.event, publishMs: this.emu.nowMs() }], 'redelivery');
        ids.push(d.id);
        this.start(d);
      }
    }
    return ids;
  }

  list(filter: DeliveryFilter = {}): DeliveryLogEntry[] {
    return this.deliveries
      .filter(
        (d) =>
          (!filter.subscription || matchesSubscription(filter.subscription, d.subscription, d.subscriptionName)) &&
          (!filter.eventId || d.eventIds.some((id) => id.toLowerCase() === filter.eventId!.toLowerCase())) &&
          (!filter.outcome || d.outcome === filter.outcome),
      )
      .map(publicEntry);
  }

  /** Forgets finished deliveries and dead letters (pending ones keep running). */
  reset(): void {
    const pending = this.deliveries.filter((d) => d.outcome === 'pending');
    this.deliveries.length = 0;
    this.deliveries.push(...pending);
    this.deadLetters.length = 0;
  }

  listDeadLetters(): DeadLetteredEvent[] {
    return [...this.deadLetters];
  }

  recordPublished(topicId: string, events: unknown[]): void {
    const key = topicId.toLowerCase();
    const list = this.recent.get(key) ?? [];
    list.push(...events);
    if (list.length > this.settings.recentEventsPerTopic)
      list.splice(0, list.length - this.settings.recentEventsPerTopic);
    this.recent.set(key, list);
  }

  recentEvents(topicId: string): unknown[] {
    return [...(this.recent.get(topicId.toLowerCase()) ?? [])];
  }

  forgetTopic(topicId: string): void {
    this.recent.delete(topicId.toLowerCase());
  }

  /** Resolves when nothing is queued or pending (retries included). */
  idle(): Promise<void> {
    if (this.pendingCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  pendingCount(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n + this.deliveries.filter((d) => d.outcome === 'pending').length;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.inflight) ac.abort();
    this.queues.clear();
    for (const d of this.deliveries) if (d.outcome === 'pending') this.finish(d, 'cancelled', 'EmulatorStopped');
    this.checkIdle();
  }

  // ----------------------------------------------------------------------------------------------------------------

  private remember(e: CanonicalEvent, subscriptionId: string): void {
    const key = e.id.toLowerCase();
    let h = this.history.get(key);
    if (!h) {
      h = { event: e, subscriptions: new Set() };
      this.history.set(key, h);
      if (this.history.size > MAX_HISTORY) this.history.delete(this.history.keys().next().value!);
    }
    h.subscriptions.add(subscriptionId);
  }

  private flush(): void {
    this.flushScheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    for (const [subKey, events] of queues) {
      const sub = this.emu.store.getResource<EventSubscriptionResource>(subKey);
      if (!sub) continue;
      const { maxEventsPerBatch, preferredBatchSizeInKilobytes } = sub.properties.destination.properties;
      const maxBytes = preferredBatchSizeInKilobytes * 1024;
      let batch: CanonicalEvent[] = [];
      let bytes = 0;
      for (const e of events) {
        const size = Buffer.byteLength(JSON.stringify(e.data ?? null)) + 200;
        if (batch.length > 0 && (batch.length >= maxEventsPerBatch || bytes + size > maxBytes)) {
          this.start(this.newDelivery(sub, batch, 'original'));
          batch = [];
          bytes = 0;
        }
        batch.push(e);
        bytes += size;
      }
      if (batch.length > 0) this.start(this.newDelivery(sub, batch, 'original'));
    }
    this.checkIdle();
  }

  private newDelivery(sub: EventSubscriptionResource, events: CanonicalEvent[], kind: Delivery['kind']): Delivery {
    return {
      id: `d${++this.seq}`,
      subscription: sub.id,
      subscriptionName: sub.name,
      endpointBaseUrl: sub.properties.destination.properties.endpointBaseUrl,
      schema: sub.properties.eventDeliverySchema,
      kind,
      eventIds: events.map((e) => e.id),
      eventTypes: events.map((e) => e.type),
      subjects: events.map((e) => e.subject),
      publishTime: new Date(Math.min(...events.map((e) => e.publishMs))).toISOString(),
      publishMs: Math.min(...events.map((e) => e.publishMs)),
      attempts: [],
      outcome: 'pending',
      events,
    };
  }

  private start(d: Delivery): void {
    this.deliveries.push(d);
    if (this.deliveries.length > MAX_LOG) {
      const i = this.deliveries.findIndex((x) => x.outcome !== 'pending');
      if (i >= 0) this.deliveries.splice(i, 1);
    }
    // Independent timers per delivery: no ordering guarantee, as in Azure; jitter makes that visible.
    const jitter = this.settings.jitterMs > 0 ? Math.floor(Math.random() * this.settings.jitterMs) : 0;
    this.later(jitter, () => void this.attempt(d));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private async attempt(d: Delivery): Promise<void> {
    if (this.stopped) return;
    const sub = this.emu.store.getResource<EventSubscriptionResource>(d.subscription);
    if (!sub || sub.properties.provisioningState !== 'Succeeded') {
      return this.finish(d, 'cancelled', 'SubscriptionDeleted');
    }
    const { retryPolicy, eventDeliverySchema: schema } = sub.properties;
    // TTL is only checked when a retry comes due (contracts §7.5).
    if (d.attempts.length > 0 && this.emu.nowMs() - d.publishMs > retryPolicy.eventTimeToLiveInMinutes * 60_000) {
      return this.giveUp(d, sub, 'TimeToLiveExceeded');
    }
    const dest = sub.properties.destination.properties;
    const deliveryCount = d.attempts.length;
    const single = schema === 'CloudEventSchemaV1_0' && dest.maxEventsPerBatch === 1;
    const payload =
      schema === 'CloudEventSchemaV1_0'
        ? single
          ? renderCloudEvent(d.events[0]!)
          : d.events.map(renderCloudEvent)
        : d.events.map(renderEventGrid);
    const headers: Record<string, string> = {
      'content-type':
        schema === 'CloudEventSchemaV1_0'
          ? single
            ? 'application/cloudevents+json; charset=utf-8'
            : 'application/cloudevents-batch+json; charset=utf-8'
          : 'application/json; charset=utf-8',
      'aeg-event-type': 'Notification',
      'aeg-subscription-name': sub.name.toUpperCase(),
      'aeg-delivery-count': String(deliveryCount),
      'aeg-metadata-version': '1',
    };
    const dataVersion = d.events[0]!.dataVersion;
    if (dataVersion) headers['aeg-data-version'] = dataVersion;

    const started = Date.now();
    const attempt: DeliveryAttempt = { deliveryCount, at: this.emu.nowIso(), durationMs: 0 };
    const ac = new AbortController();
    const timeout = setTimeout(() => ac.abort(), this.settings.attemptTimeoutMs);
    this.inflight.add(ac);
    try {
      const res = await fetch(dest.endpointUrl!, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        signal: ac.signal,
        redirect: 'manual',
      });
      attempt.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      attempt.error = ac.signal.aborted
        ? this.stopped
          ? 'aborted: emulator stopped'
          : `timed out after ${this.settings.attemptTimeoutMs} ms`
        : describeError(err);
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(ac);
    }
    attempt.durationMs = Date.now() - started;
    d.attempts.push(attempt);
    if (this.stopped) return;

    const status = attempt.status;
    if (status !== undefined && status >= 200 && status <= 204) {
      // Start the duplicate before finishing, so idle() never resolves between the two.
      if (d.kind === 'original') this.maybeDuplicate(sub, d);
      return this.finish(d, 'delivered');
    }
    if (status !== undefined && NO_RETRY.has(status)) return this.giveUp(d, sub, 'NonRetryableStatusCode');
    if (d.attempts.length >= retryPolicy.maxDeliveryAttempts) return this.giveUp(d, sub, 'MaxDeliveryAttemptsExceeded');
    const i = d.attempts.length - 1;
    const seconds = i < RETRY_SCHEDULE_S.length ? RETRY_SCHEDULE_S[i]! : RETRY_TAIL_S;
    this.later(Math.round(seconds * 1000 * this.settings.retryScale), () => void this.attempt(d));
  }

  private maybeDuplicate(sub: EventSubscriptionResource, d: Delivery): void {
    if (this.settings.duplicateRate <= 0) return;
    // Deterministic: every 1/rate-th successful delivery is duplicated, so tests can rely on it.
    this.duplicateCredit += this.settings.duplicateRate;
    if (this.duplicateCredit < 1 - 1e-9) return;
    this.duplicateCredit -= 1;
    this.start(this.newDelivery(sub, d.events, 'duplicate'));
  }

  private giveUp(d: Delivery, sub: EventSubscriptionResource, reason: string): void {
    const dl = sub.properties.deadLetterDestination;
    if (dl) {
      const last = d.attempts[d.attempts.length - 1];
      for (const e of d.events) {
        this.deadLetters.push({
          subscription: sub.id,
          deadLetterDestination: dl,
          event:
            sub.properties.eventDeliverySchema === 'CloudEventSchemaV1_0' ? renderCloudEvent(e) : renderEventGrid(e),
          deadLetterReason: reason,
          deliveryAttempts: d.attempts.length,
          lastDeliveryOutcome: outcomeName(last),
          lastHttpStatusCode: last?.status ?? 0,
          publishTime: new Date(e.publishMs).toISOString(),
          lastDeliveryAttemptTime: last?.at ?? this.emu.nowIso(),
        });
      }
    }
    this.finish(d, dl ? 'deadLettered' : 'dropped', reason);
  }

  private finish(d: Delivery, outcome: DeliveryOutcome, reason?: string): void {
    d.outcome = outcome;
    if (reason) d.reason = reason;
    const last = d.attempts[d.attempts.length - 1];
    this.emu.log(
      `[eventgrid] ${d.id} ${d.subscriptionName} ${outcome}${reason ? ` (${reason})` : ''} after ${d.attempts.length} attempt(s)${last?.status ? `, last ${last.status}` : ''}`,
    );
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.waiters.length === 0 || (!this.stopped && this.pendingCount() > 0)) return;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

function publicEntry(d: Delivery): DeliveryLogEntry {
  const { events: _events, publishMs: _publishMs, ...rest } = d;
  return structuredClone(rest);
}

function matchesSubscription(wanted: string, id: string, name: string): boolean {
  const w = wanted.toLowerCase().replace(/\/+$/, '');
  return w === name.toLowerCase() || w === id.toLowerCase();
}

function outcomeName(a: DeliveryAttempt | undefined): string {
  if (!a) return 'GenericError';
  if (a.error?.startsWith('timed out')) return 'TimedOut';
  switch (a.status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 413:
      return 'PayloadTooLarge';
    case 503:
      return 'Busy';
    default:
      return 'GenericError';
  }
}

function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** A fresh event id (Azure assigns one per system event; ACR reuses its data.id). */
export function newEventId(): string {
  return randomUUID();
}
