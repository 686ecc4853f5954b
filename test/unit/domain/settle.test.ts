import { describe, expect, it } from 'vitest';
import {
  isNewerPush,
  cascadeInstanceId,
  eventKey,
  fnv1a64,
  newestPush,
  recordPush,
  runKey,
  type SeenPush,
} from '../../../src/domain/index.js';
import { BASEREGISTRY_ID, MYREGISTRY_ID, NEW_DIGEST, NODE_DIGEST } from './seed.js';

const TASK = `${MYREGISTRY_ID}/tasks/helloworldtask`;

describe('settle window', () => {
  it('picks the newest push by event time, whatever the arrival order', () => {
    let pushes: SeenPush[] = [];
    pushes = recordPush(pushes, { eventId: 'b', digest: NEW_DIGEST, eventTime: '2024-01-01T00:00:02Z' });
    pushes = recordPush(pushes, { eventId: 'a', digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01Z' });
    expect(newestPush(pushes)).toMatchObject({ eventId: 'b', digest: NEW_DIGEST, arrival: 0 });
  });

  it('breaks ties (same or missing time) by later arrival', () => {
    let pushes: SeenPush[] = [];
    pushes = recordPush(pushes, { eventId: 'a', digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01Z' });
    pushes = recordPush(pushes, { eventId: 'b', digest: NEW_DIGEST, eventTime: '2024-01-01T00:00:01.000Z' });
    expect(newestPush(pushes)?.eventId).toBe('b');
    const untimed = recordPush(recordPush([], { eventId: 'x', digest: NODE_DIGEST }), {
      eventId: 'y',
      digest: NEW_DIGEST,
    });
    expect(newestPush(untimed)?.eventId).toBe('y');
    expect(newestPush([])).toBeUndefined();
  });

  it("orders pushes within one millisecond by Event Grid's 7 fractional digits", () => {
    let pushes: SeenPush[] = [];
    pushes = recordPush(pushes, { eventId: 'b', digest: NEW_DIGEST, eventTime: '2024-01-01T00:00:01.1230002Z' });
    pushes = recordPush(pushes, { eventId: 'a', digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01.1230001Z' });
    expect(newestPush(pushes)?.eventId).toBe('b');
    expect(isNewerPush({ digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01.123Z' }, pushes[0]!)).toBe(false);
    expect(isNewerPush({ digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01.1230003Z' }, pushes[0]!)).toBe(true);
  });

  it('drops a redelivered event (same id)', () => {
    const once = recordPush([], { eventId: 'a', digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01Z' });
    const twice = recordPush(once, { eventId: 'a', digest: NODE_DIGEST, eventTime: '2024-01-01T00:00:01Z' });
    expect(twice).toEqual(once);
    expect(twice).not.toBe(once);
  });
});

describe('a push arriving after a cascade built another digest', () => {
  const built = { digest: NODE_DIGEST, eventTime: '2026-11-22T10:00:05Z' };
  it('supersedes it when later by event time (or at the same time: it arrived last)', () => {
    expect(isNewerPush({ digest: NEW_DIGEST, eventTime: '2026-11-22T10:00:06Z' }, built)).toBe(true);
    expect(isNewerPush({ digest: NEW_DIGEST, eventTime: '2026-11-22T10:00:05Z' }, built)).toBe(true);
  });
  it('does not when older, or the same digest, whatever the time', () => {
    expect(isNewerPush({ digest: NEW_DIGEST, eventTime: '2026-11-22T10:00:04Z' }, built)).toBe(false);
    expect(isNewerPush({ digest: NODE_DIGEST, eventTime: '2026-11-22T11:00:00Z' }, built)).toBe(false);
  });
  it('without an event time on the new push it is treated as older than a timed one', () => {
    expect(isNewerPush({ digest: NEW_DIGEST }, built)).toBe(false);
    expect(isNewerPush({ digest: NEW_DIGEST }, { digest: NODE_DIGEST })).toBe(true);
  });
});

describe('exactly-once keys', () => {
  it('gives one run key per (task, base digest), case-insensitive in the task id and free of / \\ # ?', () => {
    const k = runKey(TASK, NEW_DIGEST);
    expect(k).toBe(`11111111-2222-3333-4444-555555555555|myresourcegroup|myregistry|helloworldtask|${NEW_DIGEST}`);
    expect(runKey(TASK.toUpperCase(), NEW_DIGEST)).toBe(k);
    expect(runKey(TASK, NODE_DIGEST)).not.toBe(k);
    expect(k).not.toMatch(/[/\\#?]/);
  });

  it('derives a stable, valid cascade instance id per registry, repository and tag', () => {
    const id = cascadeInstanceId(BASEREGISTRY_ID, 'baseimages/node', '15-alpine');
    expect(id).toMatch(/^cascade-mybaseregistry-[0-9a-f]{16}$/);
    expect(cascadeInstanceId(BASEREGISTRY_ID.toLowerCase(), 'BaseImages/Node', '15-alpine')).toBe(id);
    expect(cascadeInstanceId(BASEREGISTRY_ID, 'baseimages/node', '15-Alpine')).not.toBe(id);
    expect(cascadeInstanceId(BASEREGISTRY_ID, 'baseimages/node', undefined)).not.toBe(id);
    expect(cascadeInstanceId(MYREGISTRY_ID, 'baseimages/node', '15-alpine')).not.toBe(id);
  });

  it('hashes with FNV-1a 64 (published test vectors)', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
    expect(fnv1a64('é')).not.toBe(fnv1a64('e'));
  });

  it('keys event deliveries by topic and id', () => {
    expect(eventKey(BASEREGISTRY_ID, 'e1')).toBe(eventKey(BASEREGISTRY_ID.toLowerCase(), 'e1'));
    expect(eventKey(BASEREGISTRY_ID, 'e1')).not.toBe(eventKey(MYREGISTRY_ID, 'e1'));
  });
});
