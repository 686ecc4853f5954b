// refreshIndexOrchestration through the real durable-functions executor with hand-made histories.
import { describe, expect, it } from 'vitest';
import { ReplayDriver } from '../support/histories.js';
import { refreshIndexOrchestration, ROUND_PAUSE_SECONDS } from '../../src/orchestrations/refreshIndex.js';
import type { RefreshIndexInput, RefreshIndexOutput } from '../../src/contracts/index.js';

function round(overrides: Partial<RefreshIndexOutput>): RefreshIndexOutput {
  return {
    refreshedAt: '2024-01-01T00:00:00.000Z',
    version: 1,
    scopes: ['/subscriptions/s'],
    registries: 200,
    tasks: 10000,
    added: 0,
    changed: 0,
    removed: 0,
    pending: 0,
    armReads: 201,
    detailReads: 0,
    durationMs: 10,
    errors: [],
    ...overrides,
  };
}

const input: RefreshIndexInput = { trigger: 'timer' };

describe('refreshIndexOrchestration', () => {
  it('calls refreshIndex once and completes when nothing is pending', async () => {
    const d = new ReplayDriver(refreshIndexOrchestration as never, input);
    const first = await d.run();
    expect(first.scheduled).toEqual([expect.objectContaining({ kind: 'activity', name: 'refreshIndex', input })]);
    const done = await d.complete(first.scheduled[0]!.id, round({ armReads: 201 })).run();
    expect(done.scheduled).toEqual([]);
    expect(done.state.isDone).toBe(true);
    expect(done.state.output).toMatchObject({ rounds: 1, result: { armReads: 201, pending: 0 } });
  });

  it('calls refreshIndex again while credentials are pending and sums reads and changes over the rounds', async () => {
    const d = new ReplayDriver(refreshIndexOrchestration as never, { trigger: 'http' });
    const a = await d.run();
    const b = await d
      .complete(a.scheduled[0]!.id, round({ added: 2000, pending: 8000, detailReads: 2000, armReads: 2201 }))
      .run();
    // A pause first: getDetails spends ARM write tokens that scheduleRun needs as well.
    const resumeAt = new Date(Date.parse('2024-01-01T00:00:00Z') + ROUND_PAUSE_SECONDS * 1000).toISOString();
    expect(b.scheduled).toEqual([expect.objectContaining({ kind: 'timer', fireAt: resumeAt })]);
    expect(b.state.isDone).toBe(false);
    expect(d.customStatus).toEqual({ rounds: 1, pending: 8000 });
    const b2 = await d.advance(ROUND_PAUSE_SECONDS).fireTimer(b.scheduled[0]!.id).run();
    expect(b2.scheduled).toEqual([expect.objectContaining({ kind: 'activity', name: 'refreshIndex' })]);
    const c = await d
      .complete(b2.scheduled[0]!.id, round({ added: 8000, pending: 0, detailReads: 8000, armReads: 8201 }))
      .run();
    expect(c.state.output).toMatchObject({
      rounds: 2,
      result: { added: 10000, detailReads: 10000, armReads: 10402, pending: 0 },
    });
    // Replaying the whole history schedules nothing new.
    expect(d.all.filter((s) => s.name === 'refreshIndex')).toHaveLength(2);
  });

  it('stops when a round makes no progress instead of looping on reads that keep failing', async () => {
    const d = new ReplayDriver(refreshIndexOrchestration as never, input);
    const a = await d.run();
    const failed = round({
      pending: 3,
      detailReads: 0,
      errors: [{ scope: '/subscriptions/s/.../tasks/t', code: 'AuthorizationFailed', message: 'no' }],
    });
    const b = await d.complete(a.scheduled[0]!.id, failed).run();
    expect(b.scheduled).toEqual([]);
    expect(b.state.output).toMatchObject({
      rounds: 1,
      result: { pending: 3, errors: [expect.objectContaining({ code: 'AuthorizationFailed' })] },
    });
  });
});
