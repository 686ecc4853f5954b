import { describe, expect, it } from 'vitest';
import { logger, parseLine, replaySafeLogger, type LogTarget } from '../../src/telemetry/log.js';

function sink(): LogTarget & { lines: [string, string][] } {
  const lines: [string, string][] = [];
  return {
    lines,
    info: (m: unknown) => void lines.push(['information', String(m)]),
    warn: (m: unknown) => void lines.push(['warning', String(m)]),
    error: (m: unknown) => void lines.push(['error', String(m)]),
  };
}

describe('structured log', () => {
  it('writes readable text followed by a JSON record carrying the correlation ids', () => {
    const s = sink();
    logger(s, { cascadeId: 'rebuild-1', eventId: 'ev-1' })
      .with({ taskId: '/subscriptions/x/tasks/t', runId: 'ca1' })
      .warn('run.failed', 'run ca1 failed', { reason: 'Timeout', attempts: 2 });
    expect(s.lines).toHaveLength(1);
    const [level, line] = s.lines[0]!;
    expect(level).toBe('warning');
    expect(line.startsWith('run ca1 failed {')).toBe(true);
    expect(parseLine(line)).toEqual({
      event: 'run.failed',
      cascadeId: 'rebuild-1',
      eventId: 'ev-1',
      taskId: '/subscriptions/x/tasks/t',
      runId: 'ca1',
      reason: 'Timeout',
      attempts: 2,
    });
  });

  it('does not let extras overwrite a dimension, and caps long values', () => {
    const s = sink();
    logger(s, { cascadeId: 'c' }).info('x', 'm', { cascadeId: 'other', note: 'y'.repeat(1000) });
    const rec = parseLine(s.lines[0]![1])!;
    expect(rec.cascadeId).toBe('c');
    expect(String(rec.note).length).toBe(301);
  });

  it('writes nothing from an orchestrator while it replays', () => {
    const s = sink();
    const ctx = { ...s, df: { isReplaying: true } };
    const log = replaySafeLogger(ctx, { checkId: 'k' });
    log.info('check.started', 'replayed');
    ctx.df.isReplaying = false;
    log.info('check.started', 'first execution');
    expect(s.lines.map(([, l]) => parseLine(l)?.checkId)).toEqual(['k']);
    expect(s.lines[0]![1]).toMatch(/^first execution /);
  });

  it('returns undefined for a line it did not write', () => {
    expect(parseLine('plain text')).toBeUndefined();
    expect(parseLine('text {"event": broken')).toBeUndefined();
  });
});
