import { describe, expect, it } from 'vitest';
import {
  MAX_WRITE_WAIT_MS,
  REMAINING_READS_HEADER,
  REMAINING_WRITES_HEADER,
  SHARED_RETRY_AFTER_MS,
  comeBackAfter,
  WRITE_BURST,
  WRITE_REFILL_PER_SECOND,
  WritePacer,
  observeArmResponse,
  retryAfterSecondsOf,
  subscriptionOfUrl,
  writePacerPolicy,
} from '../../src/azure/writePacer.js';
import { createHttpHeaders, createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { sharedBurstOf, type BudgetTake, type SharedWriteBudget } from '../../src/azure/writeBudget.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const URL = `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/scheduleRun?api-version=2019-06-01-preview`;

/** A pacer on a fake clock whose sleep advances the clock (no real waiting). */
function pacerAt(start = 1_000_000, options: { burst?: number; perSecond?: number } = {}) {
  const clock = { ms: start, slept: [] as number[] };
  const pacer = new WritePacer({
    ...options,
    now: () => clock.ms,
    sleep: async (ms) => {
      clock.slept.push(ms);
      clock.ms += ms;
    },
  });
  return { pacer, clock };
}

function headers(h: Record<string, string>) {
  return { get: (name: string) => h[name.toLowerCase()] };
}

describe('WritePacer', () => {
  it('defaults to ARM’s write bucket: 200 burst, 10 per second, 10 s longest wait', () => {
    const pacer = new WritePacer();
    expect([pacer.burst, pacer.perSecond, pacer.maxWaitMs]).toEqual([200, 10, 10_000]);
    expect([WRITE_BURST, WRITE_REFILL_PER_SECOND, MAX_WRITE_WAIT_MS]).toEqual([200, 10, 10_000]);
    expect(pacer.estimate(SUB)).toBe(200);
  });

  it('grants the burst without waiting, then spaces writes at the refill rate', async () => {
    const { pacer, clock } = pacerAt(0, { burst: 3, perSecond: 10 });
    for (let i = 0; i < 3; i++) expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 0 });
    expect(clock.slept).toEqual([]);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 100 });
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 100 });
    expect(clock.slept).toEqual([100, 100]);
    expect(clock.ms).toBe(200);
  });

  it('queues concurrent callers behind each other’s reserved tokens', () => {
    const { pacer } = pacerAt(0, { burst: 1, perSecond: 10 });
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 0 });
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 100 });
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 200 });
    expect(pacer.estimate(SUB)).toBe(-2);
  });

  it('refills with elapsed time and never beyond the burst', () => {
    const { pacer, clock } = pacerAt(0, { burst: 5, perSecond: 10 });
    for (let i = 0; i < 5; i++) pacer.reserve(SUB);
    expect(pacer.estimate(SUB)).toBe(0);
    clock.ms += 250;
    expect(pacer.estimate(SUB)).toBeCloseTo(2.5);
    clock.ms += 60_000;
    expect(pacer.estimate(SUB)).toBe(5);
  });

  it('keeps one estimate per subscription, case-insensitively', () => {
    const { pacer } = pacerAt(0, { burst: 2 });
    pacer.reserve(SUB.toUpperCase());
    expect(pacer.estimate(SUB)).toBe(1);
    expect(pacer.estimate('other-subscription')).toBe(2);
  });

  it('answers throttled with the seconds rounded down, reserving nothing, when the wait would exceed the cap', () => {
    const { pacer } = pacerAt(0);
    pacer.observeRemaining(SUB, 0);
    // 100 callers fill the next 10 s of refill; the 101st would wait 10.1 s: back after 10 s, before its token.
    for (let i = 0; i < 100; i++) expect(pacer.reserve(SUB)).toEqual({ waitMs: (i + 1) * 100 });
    expect(pacer.reserve(SUB)).toEqual({ retryAfterSeconds: 10 });
    expect(pacer.estimate(SUB)).toBe(-100);
  });

  it('acquire answers throttled without sleeping when the wait would exceed the cap', async () => {
    const { pacer, clock } = pacerAt(0);
    pacer.observeThrottled(SUB, 30);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'throttled', retryAfterSeconds: 30 });
    expect(clock.slept).toEqual([]);
  });
});

describe('WritePacer learning from ARM', () => {
  it('lowers its estimate to the remaining writes ARM reports', () => {
    const { pacer } = pacerAt();
    pacer.observeRemaining(SUB, 42);
    expect(pacer.estimate(SUB)).toBe(42);
  });

  it('raises its estimate from a header only net of its own unanswered writes', () => {
    const { pacer } = pacerAt(0, { burst: 10 });
    for (let i = 0; i < 8; i++) pacer.reserve(SUB);
    for (let i = 0; i < 8; i++) pacer.beginRequest(SUB);
    pacer.observeRemaining(SUB, 9);
    expect(pacer.estimate(SUB)).toBe(2);
    for (let i = 0; i < 8; i++) pacer.endRequest(SUB);
    pacer.observeRemaining(SUB, 9);
    expect(pacer.estimate(SUB)).toBe(9);
  });

  it('on a 429 empties the estimate and refills only after Retry-After', () => {
    const { pacer, clock } = pacerAt(0);
    pacer.observeThrottled(SUB, 2);
    expect(pacer.estimate(SUB)).toBe(0);
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 2100 });
    clock.ms += 2000;
    expect(pacer.estimate(SUB)).toBe(-1);
    clock.ms += 1000;
    expect(pacer.estimate(SUB)).toBeCloseTo(9);
  });

  it('reads the remaining-writes header of a response to a request on a subscription', () => {
    const { pacer } = pacerAt();
    observeArmResponse(
      pacer,
      { method: 'POST', url: URL },
      { status: 200, headers: headers({ [REMAINING_WRITES_HEADER]: '17' }) },
    );
    expect(pacer.estimate(SUB)).toBe(17);
  });

  it('treats a 429 to a write as an empty bucket for its Retry-After', () => {
    const { pacer } = pacerAt(0);
    observeArmResponse(pacer, { method: 'POST', url: URL }, { status: 429, headers: headers({ 'retry-after': '3' }) });
    expect(pacer.estimate(SUB)).toBe(0);
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 3100 });
  });

  it('ignores a 429 to a read and responses outside a subscription', () => {
    const { pacer } = pacerAt();
    observeArmResponse(pacer, { method: 'GET', url: URL }, { status: 429, headers: headers({ 'retry-after': '3' }) });
    observeArmResponse(
      pacer,
      { method: 'POST', url: 'https://login.example/token' },
      { status: 200, headers: headers({ [REMAINING_WRITES_HEADER]: '0' }) },
    );
    expect(pacer.estimate(SUB)).toBe(200);
  });

  it('feeds the remaining-reads header and a 429 to a read to the read pacer, not the write pacer', () => {
    const { pacer } = pacerAt(0);
    const { pacer: reads } = pacerAt(0, { burst: 250, perSecond: 25 });
    observeArmResponse(
      pacer,
      { method: 'GET', url: URL },
      { status: 200, headers: headers({ [REMAINING_READS_HEADER]: '40' }) },
      reads,
    );
    expect([pacer.estimate(SUB), reads.estimate(SUB)]).toEqual([200, 40]);
    observeArmResponse(
      pacer,
      { method: 'GET', url: URL },
      { status: 429, headers: headers({ 'retry-after': '2' }) },
      reads,
    );
    expect([pacer.estimate(SUB), reads.estimate(SUB)]).toEqual([200, 0]);
    expect(reads.reserve(SUB)).toEqual({ waitMs: 2040 });
  });

  it('treats a 429 to a write as empty until Retry-After even when it carries a remaining count', () => {
    const { pacer } = pacerAt(0);
    observeArmResponse(
      pacer,
      { method: 'PUT', url: URL },
      { status: 429, headers: headers({ 'retry-after': '4', [REMAINING_WRITES_HEADER]: '0' }) },
    );
    expect(pacer.reserve(SUB)).toEqual({ waitMs: 4100 });
  });

  it('makes every GET on a subscription wait for a read token', async () => {
    const { pacer } = pacerAt(0);
    const { pacer: reads, clock } = pacerAt(0, { burst: 1, perSecond: 10 });
    const { policy } = writePacerPolicy(pacer, reads);
    const sent: string[] = [];
    const next = async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => {
      sent.push(`${request.method}@${clock.ms}`);
      return { request, status: 200, headers: createHttpHeaders({ [REMAINING_READS_HEADER]: '0' }) };
    };
    const get = () => createPipelineRequest({ url: URL, method: 'GET' });
    await policy.sendRequest(get(), next);
    await policy.sendRequest(get(), next);
    // The first read took the one token; ARM then said none were left, so the second waited 100 ms for the refill.
    expect(sent).toEqual(['GET@0', 'GET@100']);
    expect(clock.slept).toEqual([100]);
  });

  it('sends a write on the token its caller acquired, and makes a write nobody acquired for wait for one', async () => {
    const { pacer, clock } = pacerAt(0, { burst: 1, perSecond: 10 });
    const { policy } = writePacerPolicy(pacer);
    const sent: string[] = [];
    const next = async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => {
      sent.push(`${request.method}@${clock.ms}`);
      return { request, status: 202, headers: createHttpHeaders({}) };
    };
    const post = () => createPipelineRequest({ url: URL, method: 'POST' });
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 0 });
    await policy.sendRequest(post(), next);
    // A listDetails-style write: no acquire before it, so it waits here for the next token.
    await policy.sendRequest(post(), next);
    expect(sent).toEqual(['POST@0', 'POST@100']);
    expect(clock.slept).toEqual([100]);
    expect(pacer.spendHeld(SUB)).toBe(false);
  });

  it('parses Retry-After in seconds, milliseconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterSecondsOf(headers({ 'retry-after': '7' }).get, now)).toBe(7);
    expect(retryAfterSecondsOf(headers({ 'retry-after-ms': '1500' }).get, now)).toBe(1.5);
    expect(retryAfterSecondsOf(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:04 GMT' }).get, now)).toBe(4);
    expect(retryAfterSecondsOf(headers({}).get, now)).toBeUndefined();
    expect(retryAfterSecondsOf(headers({ 'retry-after': 'soon' }).get, now)).toBeUndefined();
  });

  it('finds the subscription of an ARM URL', () => {
    expect(subscriptionOfUrl(URL)).toBe(SUB);
    expect(subscriptionOfUrl('https://management.azure.com/providers/Microsoft.ContainerRegistry/operations')).toBe(
      undefined,
    );
  });
});

describe('WritePacer with the app-wide shared budget', () => {
  /** The shared bucket of every instance, in memory: `tokens` left, each take recorded. */
  class MemoryBudget implements SharedWriteBudget {
    readonly takes: number[] = [];
    blockedUntil = 0;
    constructor(
      public tokens: number,
      private readonly clock: { ms: number },
      public fail = false,
    ) {}
    async take(_sub: string, want: number): Promise<BudgetTake> {
      await Promise.resolve();
      if (this.fail) throw new Error('table unavailable');
      this.takes.push(want);
      if (this.clock.ms < this.blockedUntil) return { granted: 0, waitMs: this.blockedUntil - this.clock.ms };
      const granted = Math.min(want, this.tokens);
      this.tokens -= granted;
      return granted > 0 ? { granted, waitMs: 0 } : { granted: 0, waitMs: 100 };
    }
    async block(_sub: string, untilMs: number): Promise<void> {
      this.blockedUntil = untilMs;
      await Promise.resolve();
    }
  }

  function shared(tokens: number, fail = false) {
    const clock = { ms: 1_000_000, slept: [] as number[] };
    const budget = new MemoryBudget(tokens, clock, fail);
    const errors: unknown[] = [];
    const pacer = new WritePacer({
      shared: budget,
      onSharedError: (e) => errors.push(e),
      now: () => clock.ms,
      sleep: async (ms) => {
        clock.slept.push(ms);
        clock.ms += ms;
        // Another instance's writes do not refill the bucket; time does (1 token per 100 ms here).
        budget.tokens += Math.floor(ms / 100);
      },
    });
    return { pacer, budget, clock, errors };
  }

  it('takes the tokens of writers waiting together in one take from the shared bucket', async () => {
    const { pacer, budget } = shared(50);
    const permits = await Promise.all(Array.from({ length: 12 }, () => pacer.acquire(SUB)));
    expect(permits.every((p) => p.kind === 'granted')).toBe(true);
    expect(budget.tokens).toBe(38);
    // The first writer's take asked for 1; the 11 that queued behind it were served by one more take.
    expect(budget.takes).toEqual([1, 11]);
  });

  it('waits while the shared bucket is empty and tells the caller to come back when that is too long', async () => {
    const { pacer, budget, clock } = shared(0);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 100 });
    expect(clock.slept).toEqual([100]);
    pacer.observeThrottled(SUB, 30);
    await Promise.resolve();
    expect(budget.blockedUntil).toBe(clock.ms + 30_000);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'throttled', retryAfterSeconds: 30 });
  });

  it('paces the instance alone when the shared table fails, says so once, and tries the table again later', async () => {
    const { pacer, budget, errors, clock } = shared(0, true);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 0 });
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 0 });
    // The second acquire did not wait on the dead table again (the first failure is remembered).
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('table unavailable');
    clock.ms += SHARED_RETRY_AFTER_MS;
    budget.fail = false;
    budget.tokens = 3;
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'granted', waitedMs: 0 });
    expect(budget.tokens).toBe(2);
  });

  it('gives a shared token the local estimate turned away to the next writer of the process, not back to the table', async () => {
    const { pacer, budget } = shared(5);
    // ARM says nothing is left (writes the pacer did not pace): 10 s of refill promised already, then one more writer.
    pacer.observeRemaining(SUB, 0);
    for (let i = 0; i < 100; i++) pacer.reserve(SUB);
    expect(await pacer.acquire(SUB)).toEqual({ kind: 'throttled', retryAfterSeconds: 10 });
    expect([budget.tokens, budget.takes]).toEqual([4, [1]]);
    // The next writer is served from that token once ARM has room again, without taking from the table.
    pacer.observeRemaining(SUB, 50);
    expect(await pacer.acquire(SUB)).toMatchObject({ kind: 'granted' });
    expect([budget.tokens, budget.takes]).toEqual([4, [1]]);
  });

  it('tells a writer to come back no later than its token is there (rounded down, at least 1 s)', () => {
    expect([comeBackAfter(100), comeBackAfter(1_999), comeBackAfter(10_100), comeBackAfter(31_000)]).toEqual([
      1, 1, 10, 31,
    ]);
  });

  it('holds one second of refill less than ARM’s bucket in the shared row (at least 5 tokens)', () => {
    expect(sharedBurstOf(200, 10)).toBe(190);
    expect(sharedBurstOf(250, 25)).toBe(225);
    expect(sharedBurstOf(50, 2)).toBe(45);
    expect(sharedBurstOf(3, 10)).toBe(1);
  });
});
