import { describe, expect, it } from 'vitest';
import { formatLine, logger, parseLine, recordOf, replaySafeLogger, type LogTarget } from '../../src/telemetry/log.js';
import { dimensionsOfInput } from '../../src/telemetry/dimensions.js';
import { invocationDimensions, invocationLog, runInInvocation } from '../../src/telemetry/invocation.js';
import { withLogDimensions } from '../../src/orchestrations/calls.js';
import { observeArmResponse, WritePacer } from '../../src/azure/writePacer.js';

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

describe('invocation dimensions', () => {
  it('reads the ids an activity input names, its own fields over the caller-attached `log`', () => {
    expect(
      dimensionsOfInput({
        cascadeId: 'c1',
        task: '/subscriptions/s/tasks/t',
        attempt: 1,
        log: { cascadeId: 'ignored', eventId: 'ev', runId: 42 },
      }),
    ).toEqual({ cascadeId: 'c1', taskId: '/subscriptions/s/tasks/t', eventId: 'ev' });
    expect(dimensionsOfInput({ taskId: 'explicit', task: 'arm-id' })).toEqual({ taskId: 'explicit' });
    expect(dimensionsOfInput({ image: { ref: 'r', eventId: 'ev-9' }, log: { cascadeId: 'c2' } })).toEqual({
      cascadeId: 'c2',
      eventId: 'ev-9',
    });
    expect(dimensionsOfInput(['c1'])).toEqual({});
    expect(dimensionsOfInput(null)).toEqual({});
    expect(dimensionsOfInput('cascadeId')).toEqual({});
  });

  it('turns an activity line into a record with the invocation ids, keeping a record line own ids and facts', () => {
    const s = sink();
    const ctx = { ...s, functionName: 'scheduleRun' };
    runInInvocation(
      ctx,
      () => {
        invocationLog('plain text');
        invocationLog(formatLine('run r1', recordOf('run.scheduled', { runId: 'r1', taskId: 'own' }, { attempt: 2 })));
      },
      { cascadeId: 'c1', taskId: 'from-input' },
    );
    expect(s.lines.map(([, l]) => parseLine(l))).toEqual([
      { event: 'scheduleRun', cascadeId: 'c1', taskId: 'from-input' },
      { event: 'run.scheduled', cascadeId: 'c1', taskId: 'own', runId: 'r1', attempt: 2 },
    ]);
    expect(s.lines[1]![1]).toMatch(/^run r1 \{"event":"run.scheduled"/);
    expect(invocationDimensions()).toEqual({});
  });

  it('attaches `log` ids to an object input only when the caller names some', () => {
    const input = { task: 't' };
    expect(withLogDimensions(input, undefined)).toBe(input);
    expect(withLogDimensions(input, {})).toBe(input);
    expect(withLogDimensions(input, { cascadeId: 'c' })).toEqual({ task: 't', log: { cascadeId: 'c' } });
    expect(withLogDimensions(['a'], { cascadeId: 'c' })).toEqual(['a']);
  });
});

describe('throttling records', () => {
  it('logs every 429 ARM answers as arm.throttled with the wait and the invocation ids, and nothing for a 200', () => {
    const s = sink();
    const pacer = new WritePacer();
    const url = 'https://management.azure.com/subscriptions/sub-1/resourceGroups/rg/providers/x?api-version=1';
    const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] });
    runInInvocation(
      { ...s, functionName: 'scheduleRun' },
      () => {
        observeArmResponse(pacer, { method: 'post', url }, { status: 200, headers: headers({}) });
        observeArmResponse(pacer, { method: 'post', url }, { status: 429, headers: headers({ 'retry-after': '7' }) });
      },
      { cascadeId: 'c1', taskId: 't1' },
    );
    expect(s.lines.map(([, l]) => parseLine(l))).toEqual([
      {
        event: 'arm.throttled',
        cascadeId: 'c1',
        taskId: 't1',
        source: 'arm',
        method: 'POST',
        retryAfterSeconds: 7,
      },
    ]);
  });
});
