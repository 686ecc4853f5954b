// ARM's token buckets (per principal + subscription + operation kind), fault injection and request counters.

export type OpKind = 'read' | 'write' | 'delete';

export interface BucketSpec {
  burst: number;
  perSecond: number;
}

export interface ThrottleConfig {
  enabled: boolean;
  read: BucketSpec;
  write: BucketSpec;
  delete: BucketSpec;
}

export interface FaultConfig {
  /** Fraction (0..1) of matching requests answered 429 with Retry-After. */
  rate429: number;
  /** Fraction (0..1) of matching requests answered 500/503. */
  rate5xx: number;
  /** Added latency per request in ms. */
  latencyMs: number;
  /** Only operations whose name matches this regex (case-insensitive); empty = all. */
  match: string;
}

export const DEFAULT_THROTTLE: ThrottleConfig = {
  enabled: true,
  read: { burst: 250, perSecond: 25 },
  write: { burst: 200, perSecond: 10 },
  delete: { burst: 200, perSecond: 10 },
};

export const NO_FAULTS: FaultConfig = { rate429: 0, rate5xx: 0, latencyMs: 0, match: '' };

interface Bucket {
  tokens: number;
  at: number;
}

export class Throttle {
  config: ThrottleConfig = structuredClone(DEFAULT_THROTTLE);
  faults: FaultConfig = { ...NO_FAULTS };
  private readonly buckets = new Map<string, Bucket>();
  /** Requests per operation name, and per kind, since the last reset. */
  readonly counts = new Map<string, number>();
  /** Requests answered 429 by a bucket (not injected faults), per operation name and per kind, since the last reset. */
  readonly throttled = new Map<string, number>();
  private faultCounter = 0;

  count(operation: string, kind: OpKind): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
    this.counts.set(`*${kind}`, (this.counts.get(`*${kind}`) ?? 0) + 1);
  }

  resetCounts(): void {
    this.counts.clear();
    this.throttled.clear();
  }

  /** Takes one token; returns remaining tokens, or the seconds to wait when empty (counted under `operation`). */
  take(
    principal: string,
    subscription: string,
    kind: OpKind,
    nowMs: number,
    operation = '',
  ): { remaining: number } | { retryAfter: number } {
    const spec = this.config[kind];
    if (!this.config.enabled) return { remaining: spec.burst };
    const k = `${principal}|${subscription.toLowerCase()}|${kind}`;
    const b = this.buckets.get(k) ?? { tokens: spec.burst, at: nowMs };
    b.tokens = Math.min(spec.burst, b.tokens + ((nowMs - b.at) / 1000) * spec.perSecond);
    b.at = nowMs;
    this.buckets.set(k, b);
    if (b.tokens < 1) {
      if (operation) this.throttled.set(operation, (this.throttled.get(operation) ?? 0) + 1);
      this.throttled.set(`*${kind}`, (this.throttled.get(`*${kind}`) ?? 0) + 1);
      return { retryAfter: Math.max(1, Math.ceil((1 - b.tokens) / spec.perSecond)) };
    }
    b.tokens -= 1;
    return { remaining: Math.floor(b.tokens) };
  }

  resetBuckets(): void {
    this.buckets.clear();
  }

  /** Deterministic fault selection (every k-th matching request) so tests and benchmarks are repeatable. */
  fault(operation: string): 429 | 500 | 503 | undefined {
    const f = this.faults;
    if (f.rate429 <= 0 && f.rate5xx <= 0) return undefined;
    if (f.match && !new RegExp(f.match, 'i').test(operation)) return undefined;
    this.faultCounter++;
    const every = (rate: number) => (rate > 0 ? Math.max(1, Math.round(1 / rate)) : 0);
    const e429 = every(f.rate429);
    const e5xx = every(f.rate5xx);
    if (e429 && this.faultCounter % e429 === 0) return 429;
    if (e5xx && this.faultCounter % e5xx === 0) return this.faultCounter % 2 ? 500 : 503;
    return undefined;
  }
}
