// Report activities against Azurite and the emulator's Event Grid topic: the cascade history table (including results
// too big for one entity) and outbound CloudEvents published with the app identity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestEmulator } from '../support/emulator.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import { SEED } from '../../local/azure/seed.js';
import type { Settings } from '../../src/config/settings.js';
import { createAzureClients } from '../../src/azure/clients.js';
import type { Deps } from '../../src/activities/deps.js';
import { createReportActivities, EVENT_SOURCE, type ReportActivities } from '../../src/activities/report/index.js';
import type { CascadeResult, TaskResult } from '../../src/contracts/index.js';

let harness: AppHarness;
let t: TestEmulator;
let settings: Settings;
let reports: ReportActivities;
let counter = 0;
const logs: string[] = [];

function deps(overrides: Partial<Settings> = {}): Deps {
  const s = { ...settings, ...overrides };
  return { settings: s, clients: createAzureClients(s, t.app), now: () => new Date(), log: (m) => logs.push(m) };
}

function result(tasks: number, overrides: Partial<CascadeResult> = {}): CascadeResult {
  const id = `cascade-report-${++counter}`;
  const list: TaskResult[] = Array.from({ length: tasks }, (_, i) => ({
    task: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/tasks/t${i}`,
    taskName: `t${i}`,
    wave: 1 + (i % 3),
    decision: 'rebuild',
    outcome: i % 10 === 0 ? 'blocked' : 'succeeded',
    reasons:
      i % 10 === 0
        ? [
            {
              code: 'MissingPullPermission',
              severity: 'blocking',
              message: `task t${i} cannot pull ${'x'.repeat(900)}`,
              fix: 'az role assignment create …',
            },
          ]
        : [],
    ...(i % 10 === 0
      ? {}
      : { run: { runId: `ca${i}`, status: 'Succeeded' as const, outputImages: [], attempts: 1, registryId: 'r' } }),
  }));
  return {
    cascadeId: id,
    trigger: 'event',
    image: {
      ref: 'mybaseregistry.azurecr.io/baseimages/node:15-alpine',
      digest: `sha256:${'a'.repeat(64)}`,
      registryId: 'r',
    },
    status: 'Completed',
    waves: 3,
    tasks: list,
    totals: { planned: tasks, scheduled: tasks, succeeded: tasks, failed: 0, blocked: 0, skipped: 0, canceled: 0 },
    startedAt: new Date(Date.UTC(2024, 0, 1, 0, counter)).toISOString(),
    finishedAt: new Date(Date.UTC(2024, 0, 1, 1, counter)).toISOString(),
    ...overrides,
  };
}

beforeAll(async () => {
  harness = await startAppHarness({
    settings: ({ seed }) => ({ notificationTopicEndpoint: seed.notificationTopic.endpoint }),
  });
  ({ t, settings } = harness);
  reports = createReportActivities(deps());
}, 120_000);

afterAll(async () => {
  await harness?.stop();
});

describe('recordCascade', () => {
  it('records a cascade that getCascadeRecord reads back with its tasks', async () => {
    const r = result(5);
    const key = await reports.recordCascade(r);
    expect(key).toMatchObject({ table: 'CascadeHistory', partitionKey: r.cascadeId });
    const back = await reports.getCascadeRecord(r.cascadeId);
    expect(back).toMatchObject({
      cascadeId: r.cascadeId,
      status: 'Completed',
      waves: 3,
      totals: r.totals,
      image: { digest: r.image!.digest },
    });
    expect(back?.tasks.map((x) => x.taskName)).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(back?.tasks[0]?.reasons[0]).toMatchObject({
      code: 'MissingPullPermission',
      fix: 'az role assignment create …',
    });
    expect(back?.tasks[1]?.run).toMatchObject({ runId: 'ca1', status: 'Succeeded', attempts: 1 });
    expect(back?.tasksTruncated).toBeUndefined();
  });

  it('is idempotent: recording the same result twice keeps one record', async () => {
    const r = result(2);
    await reports.recordCascade(r);
    await reports.recordCascade(r);
    const { cascades: recent } = await reports.listCascades({ top: 1000 });
    expect(recent.filter((c) => c.cascadeId === r.cascadeId)).toHaveLength(1);
  });

  it('fits a 1,500-task result into one entity by dropping reason texts before dropping tasks', async () => {
    const r = result(1500);
    await reports.recordCascade(r);
    const back = await reports.getCascadeRecord(r.cascadeId);
    expect(back?.tasks).toHaveLength(1500);
    expect(back?.tasksTruncated).toBeUndefined();
    expect(back?.tasks[0]?.reasons[0]).toEqual({ code: 'MissingPullPermission', severity: 'blocking', message: '' });
  });

  it('cuts the task list of a 5,000-task result and says so', async () => {
    const r = result(5000);
    await reports.recordCascade(r);
    const back = await reports.getCascadeRecord(r.cascadeId);
    expect(back?.tasksTruncated).toBe(true);
    expect(back?.tasks.length).toBeGreaterThan(1000);
    expect(back?.tasks.length).toBeLessThan(5000);
    expect(back?.totals.planned).toBe(5000);
  });

  it('lists recent cascades newest first, filtered by status', async () => {
    const a = result(1, { status: 'Canceled' });
    const b = result(1, { status: 'Completed' });
    await reports.recordCascade(a);
    await reports.recordCascade(b);
    const { cascades: recent } = await reports.listCascades({ top: 1000 });
    const ids = recent.map((c) => c.cascadeId);
    expect(ids.indexOf(b.cascadeId)).toBeLessThan(ids.indexOf(a.cascadeId));
    const { cascades: canceled } = await reports.listCascades({ status: ['canceled'] });
    expect(canceled.map((c) => c.cascadeId)).toContain(a.cascadeId);
    expect(canceled.every((c) => c.status === 'Canceled')).toBe(true);
  });

  it('pages recent cascades with a continuation token: every row once, newest first', async () => {
    const mine = [0, 1, 2, 3, 4].map((i) =>
      result(1, { status: 'Superseded', startedAt: new Date(Date.UTC(2031, 0, 1, 0, 0, i)).toISOString() }),
    );
    for (const r of mine) await reports.recordCascade(r);
    const seen: string[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const page = await reports.listCascades({
        top: 2,
        status: ['superseded'],
        ...(continuation ? { continuation } : {}),
      });
      expect(page.cascades.length).toBeLessThanOrEqual(2);
      seen.push(...page.cascades.map((c) => c.cascadeId));
      continuation = page.continuation;
      pages++;
    } while (continuation && pages < 50);
    const ours = seen.filter((id) => mine.some((r) => r.cascadeId === id));
    expect(ours).toEqual([...mine].reverse().map((r) => r.cascadeId));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses a continuation token it did not issue', async () => {
    await expect(reports.listCascades({ continuation: 'bm90LW91cnM' })).rejects.toMatchObject({
      name: 'ContinuationError',
    });
  });

  it('answers undefined for a cascade it never recorded', async () => {
    expect(await reports.getCascadeRecord('cascade-never')).toBeUndefined();
  });
});

describe('publishNotifications', () => {
  it('publishes CloudEvents to the configured topic with the app identity', async () => {
    const subject = `/tasks/t-${++counter}`;
    const out = await reports.publishNotifications({
      notifications: [
        {
          type: 'cascade.taskBlocked',
          subject,
          data: { cascadeId: 'c1', reasons: [{ code: 'MissingPullPermission' }] },
        },
        { type: 'cascade.completed', subject, data: { cascadeId: 'c1', status: 'Completed' } },
      ],
    });
    expect(out).toEqual({ published: 2, topicConfigured: true });
    const res = await t.admin('GET', `/eventgrid/topics/${SEED.notificationTopic}/events`);
    expect(res.status).toBe(200);
    const events = (
      (await res.json()) as { value: { type?: string; eventType?: string; subject: string; source?: string }[] }
    ).value.filter((e) => e.subject === subject);
    expect(events.map((e) => e.type ?? e.eventType)).toEqual(['cascade.taskBlocked', 'cascade.completed']);
    expect(events.every((e) => e.source === undefined || e.source === EVENT_SOURCE)).toBe(true);
  });

  it('is a no-op when no topic is configured', async () => {
    const none = createReportActivities(deps({ notificationTopicEndpoint: '' }));
    expect(
      await none.publishNotifications({ notifications: [{ type: 'cascade.completed', subject: 'x', data: {} }] }),
    ).toEqual({ published: 0, topicConfigured: false });
  });
});
