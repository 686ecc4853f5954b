// Structured telemetry on the local stack: one cascade from a real push, then every record the host logged for the
// functions of that cascade (trigger, orchestrations, activities) carries the cascade's ids as dimensions
// (src/telemetry/log.ts: `<text> {"event":…,"cascadeId":…}`) — the records Application Insights queries.
// Needs `npm run build` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLine, type LogRecord } from '../../src/telemetry/log.js';
import { startCascadeStack, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;

beforeAll(async () => {
  s = await startCascadeStack('telemetry-e2e');
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

interface HostLine {
  fn: string;
  text: string;
  record: LogRecord | undefined;
}

/** App log lines as the host prints them: `[function] text` or `[function] level: text`. */
function appLines(logs: readonly string[]): HostLine[] {
  const out: HostLine[] = [];
  for (const l of logs) {
    const m = /^\[(\w+)\] (?:(?:warning|error|critical): )?(.*)$/s.exec(l);
    if (!m || m[1] === 'host' || m[1] === 'azurite') continue;
    out.push({ fn: m[1]!, text: m[2]!, record: parseLine(m[2]!) });
  }
  return out;
}

/** The functions a push cascade runs through: the trigger, both orchestrations and their activities. */
const CASCADE_FUNCTIONS = new Set([
  'onRegistryEvent',
  'cascadeIntake',
  'registryLoginServer',
  'rebuildCascade',
  'rebuildTask',
  'buildPlan',
  'preflightTasks',
  'remediatePull',
  'isOwnPush',
  'scheduleRun',
  'getRun',
  'cancelRun',
  'findNativeRun',
  'disableNativeTrigger',
  'recordCascade',
  'publishNotifications',
]);
/** Those working on one task of the cascade. */
const TASK_FUNCTIONS = new Set([
  'rebuildTask',
  'remediatePull',
  'scheduleRun',
  'findNativeRun',
  'disableNativeTrigger',
]);

describe('structured logs of a cascade', () => {
  it('puts the cascade id on every record of a push cascade, the task id on every task record and the run id on every run record', async () => {
    const from = s.logs.length;
    const digest = s.pushBase('telemetry-1');
    const id = s.cascadeId();
    const done = await s.waitDone(id, digest);
    expect(done.status).toBe('Completed');
    const lines = appLines(s.logs.slice(from)).filter((l) => CASCADE_FUNCTIONS.has(l.fn));

    // Every line is a record, and every record is this cascade's.
    expect(lines.filter((l) => !l.record).map((l) => `[${l.fn}] ${l.text}`)).toEqual([]);
    const records = lines.map((l) => ({ fn: l.fn, r: l.record! }));
    expect(records.filter(({ r }) => r.cascadeId !== id)).toEqual([]);

    // The trigger's record names the event it handled.
    const received = records.find(({ fn, r }) => fn === 'onRegistryEvent' && r.event === 'push.received');
    expect(received?.r).toMatchObject({ cascadeId: id, eventId: expect.any(String) });
    // …and so does every record of the intake that handed it to the cascade.
    const intake = records.filter(({ fn }) => fn === 'cascadeIntake');
    expect(intake.filter(({ r }) => r.eventId !== received!.r.eventId)).toEqual([]);

    // Task-level records name a task of this cascade; run records name the run.
    const tasks = done.result!.tasks;
    const taskIds = new Set(tasks.map((t) => t.task));
    const taskRecords = records.filter(({ fn }) => TASK_FUNCTIONS.has(fn));
    expect(taskRecords.length).toBeGreaterThanOrEqual(tasks.filter((t) => t.run).length);
    expect(taskRecords.filter(({ r }) => !taskIds.has(String(r.taskId)))).toEqual([]);
    const runRecords = records.filter(({ r }) => r.event.startsWith('run.'));
    expect(runRecords.filter(({ r }) => typeof r.runId !== 'string' || r.runId === '')).toEqual([]);

    // Each run of the cascade shows up — scheduled or adopted — with its task, and in the orchestration's story.
    const runs = tasks.filter((t) => t.run).map((t) => ({ task: t.task, runId: t.run!.runId }));
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      expect(runRecords.map(({ r }) => ({ task: r.taskId, runId: r.runId }))).toContainEqual(run);
      expect(records.some(({ fn, r }) => fn === 'rebuildTask' && r.runId === run.runId && r.taskId === run.task)).toBe(
        true,
      );
    }

    // The outcome metric: one cascade.ended record with the outcome.
    expect(records.filter(({ r }) => r.event === 'cascade.ended').map(({ r }) => r.outcome)).toEqual(['Completed']);
  }, 90_000);
});
