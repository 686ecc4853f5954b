// Coalescing and exactly-once rules of the cascade: which push of a tag wins inside the settle window, the key
// that makes a (task, base digest) run happen once, and the durable instance id of the cascade for one tag.

import { normalizeId, parseResourceId } from './resourceId.js';

export interface SeenPush {
  digest: string;
  eventId: string;
  /** Event time as the registry reported it (ISO); unparseable or absent sorts first. */
  eventTime?: string;
  /** Position in arrival order (assigned by recordPush). */
  arrival: number;
}

/** Adds a push unless its event id was already seen (Event Grid redelivers); returns a new list. */
export function recordPush(pushes: readonly SeenPush[], push: Omit<SeenPush, 'arrival'>): SeenPush[] {
  if (pushes.some((p) => p.eventId === push.eventId)) return [...pushes];
  const arrival = pushes.reduce((max, p) => Math.max(max, p.arrival), -1) + 1;
  return [...pushes, { ...push, arrival }];
}

/**
 * Event time as [epoch ms, 100 ns ticks within that ms]. Event Grid writes 7 fractional digits and pushes in quick
 * succession differ only there; Date.parse keeps 3. Unparseable or absent: [-Infinity, 0].
 */
function timeOf(p: SeenPush): [number, number] {
  const ms = p.eventTime === undefined ? NaN : Date.parse(p.eventTime);
  if (Number.isNaN(ms)) return [-Infinity, 0];
  const fraction = /\.(\d+)/.exec(p.eventTime as string)?.[1] ?? '';
  return [ms, Number(`${fraction.slice(3, 7)}0000`.slice(0, 4))];
}

/** < 0, 0, > 0 as `a` is older than, as old as, newer than `b`. */
function compareTimes(a: SeenPush, b: SeenPush): number {
  const [am, at] = timeOf(a);
  const [bm, bt] = timeOf(b);
  return am === bm ? at - bt : am - bm;
}

/** The push that wins: newest event time, ties (same time, or no time) broken by later arrival. */
export function newestPush(pushes: readonly SeenPush[]): SeenPush | undefined {
  let best: SeenPush | undefined;
  for (const p of pushes) {
    if (best === undefined) {
      best = p;
      continue;
    }
    const dt = compareTimes(p, best);
    if (dt > 0 || (dt === 0 && p.arrival > best.arrival)) best = p;
  }
  return best;
}

/**
 * Does a push arriving now supersede `than` (what a cascade already built or queued)? Another digest, and not older
 * by event time — the same rule as newestPush with the new push arriving last.
 */
export function isNewerPush(
  push: { digest: string; eventTime?: string },
  than: { digest: string; eventTime?: string },
): boolean {
  if (push.digest === than.digest) return false;
  const seen = (p: { digest: string; eventTime?: string }, eventId: string, arrival: number): SeenPush => ({
    digest: p.digest,
    eventId,
    arrival,
    ...(p.eventTime !== undefined ? { eventTime: p.eventTime } : {}),
  });
  return newestPush([seen(than, 'than', 0), seen(push, 'push', 1)])?.eventId === 'push';
}

/**
 * Exactly-once key of a run of `taskId` for base digest `digest`: readable, deterministic, case-insensitive in the
 * task id, and free of the characters Table Storage keys and durable instance ids forbid (`/ \ # ?`).
 */
export function runKey(taskId: string, baseDigest: string): string {
  const p = parseResourceId(taskId);
  const parts = [p.subscriptionId ?? '', p.resourceGroup ?? '', ...p.names].map((s) => s.toLowerCase());
  return `${parts.join('|')}|${baseDigest.toLowerCase()}`;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** UTF-8 bytes of a string, without TextEncoder (keeps the domain free of platform APIs). */
function utf8(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** FNV-1a, 64-bit, as 16 lower-case hex digits. Not cryptographic; used for stable ids. */
export function fnv1a64(text: string): string {
  let h = FNV64_OFFSET;
  for (const b of utf8(text)) h = ((h ^ BigInt(b)) * FNV64_PRIME) & MASK64;
  return h.toString(16).padStart(16, '0');
}

/**
 * Durable instance id of the cascade for one repository:tag of one registry: `cascade-{registry}-{hash}`. The
 * registry id and repository compare case-insensitively; tags are case-sensitive. A push by digest has no tag.
 */
export function cascadeInstanceId(registryId: string, repository: string, tag: string | undefined): string {
  const registry = parseResourceId(registryId)
    .name.toLowerCase()
    .replace(/[^a-z0-9-]/g, '');
  const hash = fnv1a64(`${normalizeId(registryId)}\n${repository.toLowerCase()}\n${tag ?? '@'}`);
  return `cascade-${registry.slice(0, 50)}-${hash}`;
}

/** Dedupe key of an event delivery: Event Grid ids are unique per topic. */
export function eventKey(topic: string, eventId: string): string {
  return `${fnv1a64(normalizeId(topic))}-${eventId}`;
}
