// Timer triggers: 6-field NCRONTAB (seconds first; day-of-month AND day-of-week must both match) or a TimeSpan
// interval, `runOnStartup`, and past-due detection from the persisted schedule status (like the real host's
// schedule monitor): an occurrence missed while the host was down fires once at start with `isPastDue: true`.
import { Cron } from 'croner';
import { readFile } from 'node:fs/promises';
import type { FunctionInfo } from './catalog.js';
import { HostConfigError, parseTimeSpan } from './config.js';
import { writeFileAtomic } from './fs-util.js';
import type { LogSink } from './invoker.js';

export interface TimerSchedule {
  /** The first occurrence strictly after `after`, or undefined if there is none. */
  next(after: Date): Date | undefined;
  text: string;
}

/** Parses a timer schedule; throws HostConfigError naming the function. */
export function parseSchedule(text: string, timezone: string, where: string): TimerSchedule {
  const trimmed = text.trim();
  if (/^(\d+\.)?\d{1,2}:\d{1,2}(:\d{1,2})?$/.test(trimmed)) {
    const interval = parseTimeSpan(trimmed);
    if (interval <= 0) throw new HostConfigError(`${where}: the interval '${text}' must be positive`);
    return { text, next: (after) => new Date(after.getTime() + interval) };
  }
  if (trimmed.split(/\s+/).length !== 6) {
    throw new HostConfigError(
      `${where}: '${text}' is not a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`,
    );
  }
  let cron: Cron;
  try {
    // domAndDow (formerly `legacyMode: false`): NCRONTAB requires both day fields to match, not either.
    cron = new Cron(trimmed, { domAndDow: true, mode: '6-part', timezone, paused: true });
  } catch (err) {
    throw new HostConfigError(`${where}: invalid NCRONTAB expression '${text}': ${(err as Error).message}`);
  }
  return { text, next: (after) => cron.nextRun(after) ?? undefined };
}

/** The real host's schedule status, persisted per function. */
export interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export interface TimerArgument {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: ScheduleStatus | null;
  IsPastDue: boolean;
}

export interface TimerTriggersOptions {
  functions: FunctionInfo[];
  statusFile: string;
  timezone: string;
  log: LogSink;
  invoke: (fn: FunctionInfo, arg: TimerArgument) => Promise<void>;
}

const MAX_TIMEOUT_MS = 2 ** 30;

interface TimerEntry {
  fn: FunctionInfo;
  schedule: TimerSchedule;
  runOnStartup: boolean;
  useMonitor: boolean;
  timeout?: NodeJS.Timeout;
}

export class TimerTriggers {
  readonly #o: TimerTriggersOptions;
  readonly #entries: TimerEntry[];
  #status: Record<string, ScheduleStatus> = {};
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: TimerTriggersOptions) {
    this.#o = options;
    this.#entries = options.functions.map((fn) => {
      const schedule = fn.trigger.schedule;
      if (typeof schedule !== 'string')
        throw new HostConfigError(`function '${fn.name}': timer trigger has no schedule`);
      return {
        fn,
        schedule: parseSchedule(schedule, options.timezone, `function '${fn.name}'`),
        runOnStartup: fn.trigger.runOnStartup === true,
        useMonitor: fn.trigger.useMonitor !== false,
      };
    });
  }

  async start(): Promise<void> {
    try {
      this.#status = JSON.parse(await readFile(this.#o.statusFile, 'utf8')) as Record<string, ScheduleStatus>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#o.log(`[host] timers: ignoring unreadable ${this.#o.statusFile}: ${(err as Error).message}`);
      }
    }
    const now = Date.now();
    for (const entry of this.#entries) {
      const status = this.#status[entry.fn.name];
      const pastDue = entry.useMonitor && status !== undefined && Date.parse(status.Next) < now;
      if (pastDue || entry.runOnStartup) this.#fire(entry, pastDue, new Date(now));
      else this.#arm(entry, new Date(now));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const e of this.#entries) clearTimeout(e.timeout);
    await this.#writing;
  }

  #arm(entry: TimerEntry, after: Date): void {
    if (this.#stopped) return;
    const next = entry.schedule.next(after);
    if (!next) return;
    const wait = (): void => {
      const remaining = next.getTime() - Date.now();
      if (remaining > 0) entry.timeout = setTimeout(wait, Math.min(remaining, MAX_TIMEOUT_MS));
      else this.#fire(entry, false, next);
    };
    wait();
  }

  /** Runs one occurrence, then arms the next one after it finishes (occurrences never overlap). */
  #fire(entry: TimerEntry, isPastDue: boolean, occurrence: Date): void {
    if (this.#stopped) return;
    const arg: TimerArgument = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: this.#status[entry.fn.name] ?? null,
      IsPastDue: isPastDue,
    };
    void this.#o
      .invoke(entry.fn, arg)
      .catch((err: unknown) => this.#o.log(`[host] timers: ${entry.fn.name}: ${(err as Error).message}`))
      .then(() => {
        if (this.#stopped) return;
        const now = new Date();
        const next = entry.schedule.next(now);
        if (next) {
          this.#status[entry.fn.name] = {
            Last: occurrence.toISOString(),
            Next: next.toISOString(),
            LastUpdated: now.toISOString(),
          };
          this.#persist();
        }
        this.#arm(entry, now);
      });
  }

  #persist(): void {
    const data = JSON.stringify(this.#status, null, 2) + '\n';
    this.#writing = this.#writing
      .then(() => writeFileAtomic(this.#o.statusFile, data))
      .catch((err: unknown) =>
        this.#o.log(`[host] timers: cannot write ${this.#o.statusFile}: ${(err as Error).message}`),
      );
  }
}
