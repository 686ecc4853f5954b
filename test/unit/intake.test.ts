// The tag entity's rules (src/domain/intake.ts): what a push, a take and a cascade's end do to the tag's state.
import { describe, expect, it } from 'vitest';
import {
  acceptPush,
  cascadeEnded,
  emptyTagState,
  MAX_SEEN_EVENT_IDS,
  takeNewest,
  type TagPush,
  type TagState,
} from '../../src/domain/index.js';

const REF = 'mybaseregistry.azurecr.io/baseimages/node:15-alpine';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const push = (c: string, eventId: string, second: number): TagPush => ({
  ref: REF,
  digest: digest(c),
  registryId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/mybaseregistry',
  eventId,
  eventTime: `2024-01-01T00:00:${String(second).padStart(2, '0')}Z`,
});

function started(): TagState {
  return acceptPush(emptyTagState(), push('a', 'e1', 0), 'owner-1').state;
}

describe('tag intake', () => {
  it('starts a cascade for the first push of an idle tag, owned by the asking intake', () => {
    const out = acceptPush(emptyTagState(), push('a', 'e1', 0), 'owner-1');
    expect(out.decision).toEqual({ start: true, image: push('a', 'e1', 0), generation: 0 });
    expect(out.state.running).toEqual({ owner: 'owner-1', image: push('a', 'e1', 0), generation: 0 });
  });

  it('absorbs redeliveries, repeated digests and older pushes without starting anything', () => {
    let s = started();
    for (let i = 0; i < 5; i++) {
      const out = acceptPush(s, push('a', 'e1', 0), `owner-r${i}`);
      expect(out.decision).toEqual({ start: false, reason: 'redelivery of event e1' });
      s = out.state;
    }
    expect(acceptPush(s, push('a', 'e2', 5), 'o').decision).toMatchObject({ start: false, reason: /being built/ });
    const newer = acceptPush(s, push('b', 'e3', 9), 'o').state;
    expect(acceptPush(newer, push('c', 'e4', 7), 'o').decision).toMatchObject({ start: false, reason: /older than/ });
    expect(s.running?.owner).toBe('owner-1');
  });

  it('queues the newest of a burst behind the running cascade; take hands it to that cascade', () => {
    let s = started();
    for (let i = 1; i <= 10; i++) {
      const out = acceptPush(s, push(String.fromCharCode(97 + i), `e${i + 1}`, i), `owner-${i + 1}`);
      expect(out.decision).toMatchObject({ start: false, queued: true });
      s = out.state;
    }
    const taken = takeNewest(s);
    expect(taken.image?.digest).toBe(digest('k'));
    expect(taken.state.pending).toBeUndefined();
    expect(taken.state.running).toMatchObject({ owner: 'owner-1', image: { digest: digest('k') } });
    // Nothing left to follow up: the cascade ends and the tag goes idle.
    const ended = cascadeEnded(taken.state, 'owner-1');
    expect(ended.decision).toEqual({ start: false, reason: 'no push queued' });
    expect(ended.state.running).toBeUndefined();
    expect(ended.state.last?.digest).toBe(digest('k'));
  });

  it('hands a push queued after the take to the next cascade when the running one ends, whatever the ending', () => {
    const taken = takeNewest(acceptPush(started(), push('b', 'e2', 1), 'owner-2').state).state;
    const queued = acceptPush(taken, push('c', 'e3', 2), 'owner-3');
    expect(queued.decision).toMatchObject({ start: false, queued: true });
    const ended = cascadeEnded(queued.state, 'owner-1');
    expect(ended.decision).toEqual({ start: true, image: push('c', 'e3', 2), generation: 1 });
    expect(ended.state.running?.owner).toBe('owner-1');
    // Its redelivery is absorbed; the end of the follow-up leaves the tag idle.
    expect(acceptPush(ended.state, push('c', 'e3', 2), 'owner-4').decision).toMatchObject({ start: false });
    expect(cascadeEnded(ended.state, 'owner-1').decision).toMatchObject({ start: false });
  });

  it('runs the newer push queued behind a cascade that FAILED, once: its redeliveries are absorbed', () => {
    const queued = acceptPush(started(), push('b', 'e2', 1), 'owner-2').state;
    const ended = cascadeEnded(queued, 'owner-1', 'Failed');
    expect(ended.decision).toEqual({ start: true, image: push('b', 'e2', 1), generation: 1 });
    for (let i = 0; i < 3; i++) {
      expect(acceptPush(ended.state, push('b', 'e2', 1), `owner-r${i}`).decision).toMatchObject({ start: false });
    }
    const idle = cascadeEnded(ended.state, 'owner-1', 'Completed');
    expect(idle.decision).toMatchObject({ start: false, reason: 'no push queued' });
    expect(idle.state.last?.digest).toBe(digest('b'));
  });

  it('does not count a digest as built when its cascade failed: a fresh push of it starts a cascade', () => {
    const taken = takeNewest(acceptPush(started(), push('b', 'e2', 1), 'owner-2').state).state;
    const failed = cascadeEnded(taken, 'owner-1', 'Failed').state;
    expect(failed.running).toBeUndefined();
    expect(failed.last).toBeUndefined();
    expect(acceptPush(failed, push('b', 'e5', 40), 'owner-5').decision).toMatchObject({
      start: true,
      image: { digest: digest('b') },
    });
  });

  it('ignores an end reported by an intake that does not own the cascade', () => {
    const s = acceptPush(started(), push('b', 'e2', 1), 'owner-2').state;
    const out = cascadeEnded(s, 'owner-2');
    expect(out.decision).toMatchObject({ start: false, reason: "owner-2 does not own this tag's cascade" });
    expect(out.state).toBe(s);
  });

  it('starts nothing for a late push not newer than what the last cascade built', () => {
    const idle = cascadeEnded(takeNewest(started()).state, 'owner-1').state;
    const late = { ...push('z', 'e9', 0), eventTime: '2023-12-31T23:59:00Z' };
    expect(acceptPush(idle, late, 'o').decision).toMatchObject({ start: false, reason: /older than/ });
    expect(acceptPush(idle, push('b', 'e10', 30), 'o').decision).toMatchObject({ start: true, generation: 1 });
  });

  it('remembers at most MAX_SEEN_EVENT_IDS event ids', () => {
    let s = started();
    for (let i = 0; i < MAX_SEEN_EVENT_IDS + 20; i++) s = acceptPush(s, push('a', `x${i}`, 0), 'o').state;
    expect(s.seen).toHaveLength(MAX_SEEN_EVENT_IDS);
    expect(s.seen.at(-1)).toBe(`x${MAX_SEEN_EVENT_IDS + 19}`);
  });
});
