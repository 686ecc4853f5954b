// Paces ARM writes per subscription so a large cascade spends its requests on runs, not on 429s. ARM's write bucket
// (per principal + subscription) holds ~200 tokens and refills 10/s; we keep a local estimate of it, lower it from the
// `x-ms-ratelimit-remaining-subscription-writes` header of every response (other writers share the bucket), empty it
// on a 429 until its Retry-After has passed, and make callers wait for a token (or tell them how long to wait).
// One pacer per AzureClients (one credential = one principal), i.e. one per worker process in production; with a
// SharedWriteBudget (writeBudget.ts, a Table row) the pacers of every instance of the app draw from one bucket, as ARM
// counts it, instead of each spending the whole of it.
// The same class paces ARM's read bucket (250, 25/s; READ_* below): with ACR's 202 + Azure-AsyncOperation answers each
// scheduleRun is one write and two reads (the operation poll, then the run), so 200 writes at once are 400 reads at
// once. Unpaced, those polls earned 429s until the SDK's retries ran out; the write had been accepted, the activity saw
// a 429 and scheduled the run again. The pipeline policy therefore makes every GET wait for a read token.
import type { ContainerRegistryManagementClientOptionalParams } from '@azure/arm-containerregistry';
import { invocationLog } from '../telemetry/invocation.js';
import { formatLine, recordOf } from '../telemetry/log.js';
import type { BudgetTake, SharedWriteBudget } from './writeBudget.js';

/** ARM's per-principal subscription write bucket. */
export const WRITE_BURST = 200;
export const WRITE_REFILL_PER_SECOND = 10;
/** Longest a caller is kept waiting in-process; beyond it the caller is told to come back (a durable timer). */
export const MAX_WRITE_WAIT_MS = 10_000;
/** Most tokens one take from the shared budget asks for (the writers waiting in this process, up to this). */
export const MAX_SHARED_TAKE = 20;
/** After the shared budget failed (storage unreachable), pace this process alone for this long before trying it again. */
export const SHARED_RETRY_AFTER_MS = 30_000;
export const REMAINING_WRITES_HEADER = 'x-ms-ratelimit-remaining-subscription-writes';
/** ARM's per-principal subscription read bucket. */
export const READ_BURST = 250;
export const READ_REFILL_PER_SECOND = 25;
/** A read has no durable timer to go to: it waits in-process, up to this per acquire, then asks again. */
export const MAX_READ_WAIT_MS = 60_000;
export const REMAINING_READS_HEADER = 'x-ms-ratelimit-remaining-subscription-reads';

export interface WritePacerOptions {
  burst?: number;
  perSecond?: number;
  maxWaitMs?: number;
  /** Milliseconds clock (injectable for tests). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** The app-wide bucket shared with the other instances; without it the pacer paces this process alone. */
  shared?: SharedWriteBudget;
  /** The shared budget failed (storage down): this write is paced locally only. */
  onSharedError?: (err: unknown) => void;
}

/** `granted`: a token is reserved, send now. `throttled`: nothing reserved; try again after that many seconds. */
export type WritePermit = { kind: 'granted'; waitedMs: number } | { kind: 'throttled'; retryAfterSeconds: number };

interface Bucket {
  /** Estimated tokens at `at`; negative = tokens already promised to waiting callers. */
  tokens: number;
  /** Refill runs from here; after a 429 this is the end of its Retry-After (may lie in the future). */
  at: number;
}

export class WritePacer {
  readonly burst: number;
  readonly perSecond: number;
  readonly maxWaitMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly buckets = new Map<string, Bucket>();
  /** Per subscription: callers sleeping on a reserved token, and writes sent but not yet answered. */
  private readonly pending = new Map<string, { waiting: number; inFlight: number }>();
  private readonly shared: SharedWriteBudget | undefined;
  private readonly onSharedError: (err: unknown) => void;
  /** Per subscription: tokens acquire() granted whose write the pipeline policy has not sent yet. */
  private readonly held = new Map<string, number>();
  /** The shared budget failed: until then every acquire paces locally instead of waiting on a dead table again. */
  private sharedDownUntil = 0;
  /** Per subscription: tokens taken from the shared budget not yet used, writers waiting, the take in flight. */
  private readonly sharedState = new Map<string, { spare: number; wanting: number; taking?: Promise<BudgetTake> }>();

  private pendingOf(subscriptionId: string): { waiting: number; inFlight: number } {
    const key = subscriptionId.toLowerCase();
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { waiting: 0, inFlight: 0 }));
    return p;
  }

  /** The pipeline policy brackets every request it sends, so a header can be read net of requests still on the way. */
  beginRequest(subscriptionId: string): void {
    this.pendingOf(subscriptionId).inFlight++;
  }

  endRequest(subscriptionId: string): void {
    const p = this.pendingOf(subscriptionId);
    p.inFlight = Math.max(0, p.inFlight - 1);
  }

  constructor(options: WritePacerOptions = {}) {
    this.burst = options.burst ?? WRITE_BURST;
    this.perSecond = options.perSecond ?? WRITE_REFILL_PER_SECOND;
    this.maxWaitMs = options.maxWaitMs ?? MAX_WRITE_WAIT_MS;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.shared = options.shared;
    this.onSharedError = options.onSharedError ?? (() => {});
  }

  private bucket(subscriptionId: string): Bucket {
    const key = subscriptionId.toLowerCase();
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    return b;
  }

  /** Estimated tokens now (negative while callers wait for promised tokens; 0 until a Retry-After has passed). */
  estimate(subscriptionId: string): number {
    return this.bucket(subscriptionId).tokens;
  }

  /**
   * Reserves one write token without sleeping: `waitMs` until it is there (0 = now), or, when that would exceed
   * maxWaitMs, reserves nothing and answers the seconds to come back after.
   */
  reserve(subscriptionId: string): { waitMs: number } | { retryAfterSeconds: number } {
    const b = this.bucket(subscriptionId);
    const now = this.now();
    const blockedMs = Math.max(0, b.at - now);
    const waitMs = blockedMs + Math.max(0, ((1 - b.tokens) / this.perSecond) * 1000);
    if (waitMs > this.maxWaitMs) return { retryAfterSeconds: comeBackAfter(waitMs) };
    b.tokens -= 1;
    return { waitMs: Math.ceil(waitMs) };
  }

  /**
   * One token of the shared budget, taken for every writer of this process waiting at that moment in one update;
   * sleeps while the shared bucket is empty, or answers when to come back if that would exceed maxWaitMs.
   */
  private async takeShared(
    shared: SharedWriteBudget,
    subscriptionId: string,
  ): Promise<{ waitedMs: number } | { retryAfterSeconds: number }> {
    const key = subscriptionId.toLowerCase();
    let st = this.sharedState.get(key);
    if (!st) this.sharedState.set(key, (st = { spare: 0, wanting: 0 }));
    const state = st;
    const started = this.now();
    state.wanting++;
    try {
      for (;;) {
        if (state.spare > 0) {
          state.spare--;
          return { waitedMs: this.now() - started };
        }
        let taken: BudgetTake;
        try {
          // One take in flight per subscription, for every writer of this process waiting at that moment.
          state.taking ??= shared
            .take(subscriptionId, Math.min(MAX_SHARED_TAKE, Math.max(1, state.wanting - state.spare)))
            .then((t) => {
              state.spare += t.granted;
              return t;
            })
            .finally(() => {
              state.taking = undefined;
            });
          taken = await state.taking;
        } catch (err) {
          if (this.now() >= this.sharedDownUntil) this.onSharedError(err);
          this.sharedDownUntil = this.now() + SHARED_RETRY_AFTER_MS;
          return { waitedMs: this.now() - started };
        }
        // Granted, but to writers ahead of us: ask again at once (with everyone still waiting).
        if (state.spare > 0 || taken.granted > 0) continue;
        const waited = this.now() - started;
        if (waited + taken.waitMs > this.maxWaitMs) {
          return { retryAfterSeconds: comeBackAfter(taken.waitMs) };
        }
        await this.sleep(Math.max(1, taken.waitMs));
      }
    } finally {
      state.wanting--;
    }
  }

  /** Waits (at most maxWaitMs) for a write token of the subscription: the app's shared one, then this process's. */
  async acquire(subscriptionId: string): Promise<WritePermit> {
    let sharedWaitMs: number | undefined;
    if (this.shared && this.now() >= this.sharedDownUntil) {
      const s = await this.takeShared(this.shared, subscriptionId);
      if ('retryAfterSeconds' in s) return { kind: 'throttled', retryAfterSeconds: s.retryAfterSeconds };
      sharedWaitMs = s.waitedMs;
    }
    const r = this.reserve(subscriptionId);
    if ('retryAfterSeconds' in r) {
      // ARM's headers say less is left than the shared row (writes nobody paced): the shared token goes to the next
      // writer of this process rather than being lost to every instance.
      if (sharedWaitMs !== undefined) {
        const st = this.sharedState.get(subscriptionId.toLowerCase());
        if (st) st.spare++;
      }
      return { kind: 'throttled', retryAfterSeconds: r.retryAfterSeconds };
    }
    if (r.waitMs > 0) {
      const p = this.pendingOf(subscriptionId);
      p.waiting++;
      try {
        await this.sleep(r.waitMs);
      } finally {
        p.waiting--;
      }
    }
    const key = subscriptionId.toLowerCase();
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    return { kind: 'granted', waitedMs: (sharedWaitMs ?? 0) + r.waitMs };
  }

  /** The pipeline sends a write: true when acquire() already granted its token (spent now), false when it must wait. */
  spendHeld(subscriptionId: string): boolean {
    const key = subscriptionId.toLowerCase();
    const n = this.held.get(key) ?? 0;
    if (n <= 0) return false;
    this.held.set(key, n - 1);
    return true;
  }

  /**
   * ARM reported `remaining` writes left. Fewer than we estimate → take ARM's count (someone else writes too). More
   * than we estimate even after subtracting our sleeping and unanswered writes (which ARM may not have counted yet)
   * → raise to that (a bigger or reset bucket).
   */
  observeRemaining(subscriptionId: string, remaining: number): void {
    if (!Number.isFinite(remaining) || remaining < 0) return;
    const b = this.bucket(subscriptionId);
    const p = this.pendingOf(subscriptionId);
    const net = remaining - p.waiting - p.inFlight;
    if (remaining < b.tokens) b.tokens = remaining;
    else if (net > b.tokens && this.now() >= b.at) b.tokens = Math.min(this.burst, net);
  }

  /** ARM answered a write 429: the bucket is empty and refills only after Retry-After. */
  observeThrottled(subscriptionId: string, retryAfterSeconds: number): void {
    const b = this.bucket(subscriptionId);
    b.tokens = Math.min(b.tokens, 0);
    const until = this.now() + Math.max(0, retryAfterSeconds) * 1000;
    if (until > b.at) b.at = until;
    // The other instances must stop too: ARM's bucket is theirs as well.
    this.shared?.block(subscriptionId, until).catch((err: unknown) => this.onSharedError(err));
  }
}

/**
 * Whole seconds a writer is told to come back after, for a token `waitMs` away: rounded down, so it is back (through a
 * durable timer, which fires late rather than early) before the token is there and waits the rest in-process. Back
 * late, the bucket refills with nobody to spend it; back early costs one more short wait.
 */
export function comeBackAfter(waitMs: number): number {
  return Math.max(1, Math.floor(waitMs / 1000));
}

/** Seconds of a Retry-After style header set (`retry-after-ms`, `x-ms-retry-after-ms`, `retry-after` seconds/date). */
export function retryAfterSecondsOf(get: (name: string) => string | undefined, nowMs = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = get(name);
    if (ms !== undefined && ms.trim() !== '' && Number(ms) >= 0) return Number(ms) / 1000;
  }
  const raw = get('retry-after');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(n) && n >= 0) return n;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : Math.max(0, (t - nowMs) / 1000);
}

/** The subscription of an ARM request URL, if it names one. */
export function subscriptionOfUrl(url: string): string | undefined {
  return /\/subscriptions\/([^/?#]+)/i.exec(url)?.[1];
}

const WRITE_METHODS = /^(PUT|POST|PATCH)$/i;
const READ_METHODS = /^(GET|HEAD)$/i;

/** Feeds one ARM response to the pacers (writes; reads when given); what the pipeline policy does for every attempt. */
export function observeArmResponse(
  pacer: WritePacer,
  request: { method: string; url: string },
  response: { status: number; headers: { get(name: string): string | undefined } },
  reads?: WritePacer,
): void {
  const sub = subscriptionOfUrl(request.url);
  if (!sub) return;
  if (response.status === 429) {
    // Every 429 the SDK sees (it retries them itself) is one throttling wait in the telemetry.
    const wait = retryAfterSecondsOf((n) => response.headers.get(n)) ?? 0;
    invocationLog(
      formatLine(
        `ARM answered 429 to ${request.method}; retry after ${wait}s`,
        recordOf('arm.throttled', {}, { source: 'arm', method: request.method.toUpperCase(), retryAfterSeconds: wait }),
      ),
    );
  }
  if (response.status === 429) {
    // The bucket of the request's kind is empty until Retry-After, whatever a remaining-count header says.
    const throttled = WRITE_METHODS.test(request.method)
      ? pacer
      : READ_METHODS.test(request.method)
        ? reads
        : undefined;
    throttled?.observeThrottled(sub, retryAfterSecondsOf((n) => response.headers.get(n)) ?? 0);
  }
  const remainingOf = (name: string): number | undefined => {
    const raw = response.headers.get(name);
    return raw !== undefined && raw.trim() !== '' ? Number(raw) : undefined;
  };
  const writes = remainingOf(REMAINING_WRITES_HEADER);
  if (writes !== undefined) pacer.observeRemaining(sub, writes);
  const left = remainingOf(REMAINING_READS_HEADER);
  if (left !== undefined) reads?.observeRemaining(sub, left);
}

/** Waits for a token in the pipeline (no durable timer to go to there); a long block is waited out in steps. */
async function waitForToken(pacer: WritePacer, subscriptionId: string): Promise<void> {
  for (;;) {
    const permit = await pacer.acquire(subscriptionId);
    if (permit.kind === 'granted') {
      pacer.spendHeld(subscriptionId);
      return;
    }
    await new Promise((r) => setTimeout(r, permit.retryAfterSeconds * 1000));
  }
}

type AdditionalPolicy = NonNullable<ContainerRegistryManagementClientOptionalParams['additionalPolicies']>[number];

/**
 * Pipeline policy (per retry, so every 429 the SDK retries is seen) that teaches the pacers from ARM's headers and
 * makes every request on a subscription spend a token: a write the one its caller acquired (scheduleRun acquires first,
 * where a long wait can still become a durable timer), or else waits for one here (the index build's listDetails,
 * credential and task updates, an SDK retry of a 429'd write: ARM charges them all to the same bucket); with a read
 * pacer, every GET (LRO polls included) waits for a read token.
 */
export function writePacerPolicy(pacer: WritePacer, reads?: WritePacer): AdditionalPolicy {
  return {
    position: 'perRetry',
    policy: {
      name: 'acrCascadeWritePacer',
      async sendRequest(request, next) {
        const sub = subscriptionOfUrl(request.url);
        const isRead = READ_METHODS.test(request.method);
        const bracket = !sub ? undefined : WRITE_METHODS.test(request.method) ? pacer : isRead ? reads : undefined;
        if (sub && isRead && reads) await waitForToken(reads, sub);
        else if (sub && bracket === pacer && !pacer.spendHeld(sub)) await waitForToken(pacer, sub);
        if (sub) bracket?.beginRequest(sub);
        let response;
        try {
          response = await next(request);
        } finally {
          if (sub) bracket?.endRequest(sub);
        }
        observeArmResponse(pacer, request, response, reads);
        return response;
      },
    },
  };
}
