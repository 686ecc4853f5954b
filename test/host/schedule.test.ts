import { describe, expect, it } from 'vitest';
import { HostConfigError, parseTimeSpan, resolveSettingRefs } from '../../local/host/config.js';
import { parseSchedule } from '../../local/host/timers.js';

describe('timer schedules', () => {
  it('requires day-of-month AND day-of-week to match, as NCRONTAB does', () => {
    const fridayThe13th = parseSchedule('0 0 0 13 * 5', 'UTC', 'test');
    const runs: string[] = [];
    let after = new Date('2024-01-01T00:00:00Z');
    for (let i = 0; i < 3; i++) {
      after = fridayThe13th.next(after)!;
      runs.push(after.toISOString());
    }
    expect(runs).toEqual(['2024-09-13T00:00:00.000Z', '2024-12-13T00:00:00.000Z', '2025-06-13T00:00:00.000Z']);
  });

  it('reads the seconds field first', () => {
    const everyTenSeconds = parseSchedule('*/10 * * * * *', 'UTC', 'test');
    expect(everyTenSeconds.next(new Date('2024-01-01T00:00:01Z'))?.toISOString()).toBe('2024-01-01T00:00:10.000Z');
  });

  it('accepts a TimeSpan interval', () => {
    const schedule = parseSchedule('00:00:05', 'UTC', 'test');
    expect(schedule.next(new Date('2024-01-01T00:00:00Z'))?.toISOString()).toBe('2024-01-01T00:00:05.000Z');
  });

  it('rejects a 5-field cron expression, naming the function', () => {
    expect(() => parseSchedule('0 * * * *', 'UTC', "function 'nightly'")).toThrow(HostConfigError);
    expect(() => parseSchedule('0 * * * *', 'UTC', "function 'nightly'")).toThrow(
      "function 'nightly': '0 * * * *' is not a 6-field NCRONTAB expression",
    );
  });
});

describe('settings and time spans', () => {
  it('resolves %SETTING% references and names an unset setting', () => {
    expect(resolveSettingRefs('%A%-%B%', { A: 'x', B: 'y' }, 'here')).toBe('x-y');
    expect(() => resolveSettingRefs('%MISSING%', {}, "function 'f' binding 'timerTrigger'")).toThrow(
      "function 'f' binding 'timerTrigger' refers to app setting 'MISSING', which is not set",
    );
  });

  it('parses .NET TimeSpan strings', () => {
    expect(parseTimeSpan('00:10:00')).toBe(600_000);
    expect(parseTimeSpan('1.02:00:00')).toBe(26 * 3_600_000);
    expect(parseTimeSpan('00:00:01.5')).toBe(1500);
    expect(() => parseTimeSpan('ten minutes')).toThrow(HostConfigError);
  });
});
