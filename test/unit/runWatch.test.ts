// The poll grid of rebuildTask: polls of tasks that started at different moments meet on the same instants, so one
// runs.list per registry answers them all.
import { describe, expect, it } from 'vitest';
import { nextPollAt, watchGridSeconds, watchSlot } from '../../src/orchestrations/runWatch.js';

const at = (iso: string) => new Date(iso);
const far = at('2030-01-01T00:00:00.000Z');

describe('the watch grid', () => {
  it('is half the poll cap, at least the first delay and at least a second', () => {
    expect(watchGridSeconds(10, 60)).toBe(30);
    expect(watchGridSeconds(45, 60)).toBe(45);
    expect(watchGridSeconds(1, 1)).toBe(1);
    expect(watchGridSeconds(2, 10)).toBe(5);
  });

  it('lands the polls of tasks scheduled seconds apart on the same instant', () => {
    const a = nextPollAt(at('2024-01-01T00:00:03.250Z'), 10, 30, far);
    const b = nextPollAt(at('2024-01-01T00:00:11.900Z'), 10, 30, far);
    expect(a.toISOString()).toBe('2024-01-01T00:00:30.000Z');
    expect(b).toEqual(a);
    expect(watchSlot(a, 60, 30)).toEqual(watchSlot(b, 60, 30));
  });

  it('waits at least the backoff delay and never past the deadline', () => {
    expect(nextPollAt(at('2024-01-01T00:00:25.000Z'), 10, 30, far).toISOString()).toBe('2024-01-01T00:01:00.000Z');
    expect(nextPollAt(at('2024-01-01T00:00:30.000Z'), 30, 30, far).toISOString()).toBe('2024-01-01T00:01:00.000Z');
    const deadline = at('2024-01-01T00:00:40.000Z');
    expect(nextPollAt(at('2024-01-01T00:00:30.000Z'), 30, 30, deadline)).toEqual(deadline);
  });

  it('looks back over the longest gap between two polls of a task plus the clock margin', () => {
    // Cap 60 s + two grid steps + 60 s skew margin = 3 min.
    expect(watchSlot(at('2024-01-01T00:10:00.000Z'), 60, 30)).toEqual({
      at: '2024-01-01T00:10:00.000Z',
      finishedSince: '2024-01-01T00:07:00.000Z',
    });
  });
});
