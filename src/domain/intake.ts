// Push intake per (registry, repository, tag): the rules of the tag's aggregator entity, as pure functions over its
// state. The entity (src/entities/cascadeTag.ts) only stores what these return; every push of the tag passes
// through `acceptPush`, the running cascade reads the newest push with `takeNewest` after its settle window, and the
// cascade's owner reports every ending (success, failure, cancel, termination) with `cascadeEnded`, which hands a
// push that arrived meanwhile to the next cascade. Nothing here knows about durable-functions.
import { isNewerPush } from './settle.js';

/** A push as the entity keeps it (the contracts' PushedImage, restated so the domain stays self-contained). */
export interface TagPush {
  ref: string;
  digest: string;
  registryId: string;
  eventId?: string;
  eventTime?: string;
}

export interface TagState {
  /** Event ids seen, oldest first, at most MAX_SEEN_EVENT_IDS (redeliveries arrive within minutes). */
  seen: string[];
  /** The newest push not yet taken by a cascade. */
  pending?: TagPush;
  /** The cascade running for this tag: who owns it (the orchestration that reports its end) and what it builds. */
  running?: { owner: string; image: TagPush; generation: number };
  /** What the last ended cascade built (a late push not newer than it starts nothing). */
  last?: TagPush;
  /** Cascades started for this tag so far (the next one's generation). */
  cascades: number;
}

export const MAX_SEEN_EVENT_IDS = 100;

export function emptyTagState(): TagState {
  return { seen: [], cascades: 0 };
}

export type PushDecision =
  { start: true; image: TagPush; generation: number } | { start: false; reason: string; queued?: boolean };

function remember(seen: readonly string[], eventId: string | undefined): string[] {
  if (!eventId) return [...seen];
  return [...seen.filter((s) => s !== eventId), eventId].slice(-MAX_SEEN_EVENT_IDS);
}

/** What a newer push is compared with: the queued one, else the one being built, else the last one built. */
function current(state: TagState): { image: TagPush; what: string } | undefined {
  if (state.pending) return { image: state.pending, what: 'queued' };
  if (state.running) return { image: state.running.image, what: 'being built' };
  if (state.last) return { image: state.last, what: 'already built' };
  return undefined;
}

/**
 * A push of the tag arrives (from `owner`, the orchestration that would run its cascade). Redeliveries, repeated
 * digests and older pushes are absorbed; a newer push is queued behind a running cascade, or starts one when idle.
 */
export function acceptPush(state: TagState, push: TagPush, owner: string): { state: TagState; decision: PushDecision } {
  if (push.eventId && state.seen.includes(push.eventId)) {
    return { state, decision: { start: false, reason: `redelivery of event ${push.eventId}` } };
  }
  const next: TagState = { ...state, seen: remember(state.seen, push.eventId) };
  const now = current(state);
  if (now && now.image.digest === push.digest) {
    return { state: next, decision: { start: false, reason: `digest ${push.digest} is ${now.what}` } };
  }
  if (now && !isNewerPush(push, now.image)) {
    return {
      state: next,
      decision: { start: false, reason: `older than ${now.image.digest} (${now.what})` },
    };
  }
  if (state.running) {
    next.pending = push;
    return {
      state: next,
      decision: { start: false, queued: true, reason: `queued behind cascade of ${state.running.image.digest}` },
    };
  }
  delete next.pending;
  return startCascade(next, push, owner);
}

function startCascade(state: TagState, image: TagPush, owner: string): { state: TagState; decision: PushDecision } {
  const generation = state.cascades;
  return {
    state: { ...state, running: { owner, image, generation }, cascades: generation + 1 },
    decision: { start: true, image, generation },
  };
}

/**
 * The running cascade, its settle window over, asks what to build: the newest push queued since it started (which
 * it now builds), else what it was started with.
 */
export function takeNewest(state: TagState): { state: TagState; image: TagPush | undefined } {
  if (!state.running) return { state, image: state.pending };
  if (!state.pending) return { state, image: state.running.image };
  const { pending, ...rest } = state;
  return { state: { ...rest, running: { ...state.running, image: pending } }, image: pending };
}

/**
 * The cascade owned by `owner` ended (any way). A queued push becomes the next cascade, owned by the same owner.
 * A report from an owner that no longer owns the tag changes nothing. A cascade that Failed (or was terminated) is
 * not remembered as having built its digest, so a later push of that digest (not a redelivery) starts a cascade.
 */
export function cascadeEnded(
  state: TagState,
  owner: string,
  status?: string,
): { state: TagState; decision: PushDecision } {
  if (!state.running || state.running.owner !== owner) {
    return { state, decision: { start: false, reason: `${owner} does not own this tag's cascade` } };
  }
  const { running, pending, last, ...rest } = state;
  const built = status === 'Failed' ? last : running.image;
  const ended: TagState = { ...rest, ...(built ? { last: built } : {}) };
  if (!pending) return { state: ended, decision: { start: false, reason: 'no push queued' } };
  return startCascade(ended, pending, owner);
}
