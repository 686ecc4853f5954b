// The dashboard's server side without a host: which file a path serves (and which it never does), and how a running
// cascade's per-task view is pieced together from its plan, its task instances and preflight verdicts.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { resolveDashboardPath, serveDashboard } from '../../src/functions/dashboard.js';
import { endedView, liveView, type ChildStatus } from '../../src/functions/views.js';
import type { PlanView, PlanEntry, TaskResult } from '../../src/contracts/index.js';

describe('resolveDashboardPath', () => {
  it('serves index.html for the root and for every page path without an extension', () => {
    for (const p of [undefined, '', '/', 'impact', 'cascades/rebuild-1', 'index.html']) {
      expect(resolveDashboardPath(p), String(p)).toEqual({ kind: 'page' });
    }
  });

  it('caches hashed assets for a year and other files briefly, with their content types', () => {
    expect(resolveDashboardPath('assets/index-D97GAIwX.js')).toEqual({
      kind: 'file',
      relative: 'assets/index-D97GAIwX.js',
      contentType: 'text/javascript; charset=utf-8',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    expect(resolveDashboardPath('assets/index-DaxDxiFU.css')).toMatchObject({ contentType: 'text/css; charset=utf-8' });
    expect(resolveDashboardPath('favicon.svg')).toMatchObject({
      contentType: 'image/svg+xml',
      cacheControl: 'public, max-age=300',
    });
  });

  it('refuses traversal, backslashes, control characters, encoded leftovers and unknown types', () => {
    for (const p of [
      '../package.json',
      'assets/../../host.json',
      './index.html',
      'assets//x.js',
      '..\\host.json',
      'assets/a\u0000.js',
      'assets/%2e%2e/x.js',
      'main.ts',
      'x'.repeat(600) + '.js',
    ]) {
      expect(resolveDashboardPath(p), p).toEqual({ kind: 'notFound' });
    }
  });
});

describe('serveDashboard', () => {
  const root = mkdtempSync(join(tmpdir(), 'dashboard-web-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(root, 'assets', 'index-abcdefgh.js'), 'console.log(1)');
  const get = (path: string, method = 'GET') =>
    serveDashboard(new HttpRequest({ url: `http://h/api/dashboard/${path}`, method, params: { path } }), root);

  it('answers the shell with security headers and no caching', async () => {
    const res = await get('cascades');
    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('<title>t</title>');
    expect(res.headers).toMatchObject({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    });
  });

  it('answers 404 for a missing asset and 503 naming the build step when the page was not built', async () => {
    await expect(get('assets/index-zzzzzzzz.js')).resolves.toMatchObject({ status: 404 });
    const empty = mkdtempSync(join(tmpdir(), 'dashboard-empty-'));
    const res = await serveDashboard(
      new HttpRequest({ url: 'http://h/api/dashboard/', method: 'GET', params: { path: '' } }),
      empty,
    );
    expect(res.status).toBe(503);
    expect(String(res.body)).toContain('npm run build');
  });

  it('answers HEAD without a body', async () => {
    const res = await get('assets/index-abcdefgh.js', 'HEAD');
    expect(res).toMatchObject({ status: 200, headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
    expect(res.body).toBeUndefined();
  });
});

const id = (name: string) =>
  `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/tasks/${name}`;

function planned(name: string, wave: number, decision: PlanEntry['decision'] = 'rebuild'): PlanEntry {
  return {
    task: id(name),
    taskName: name,
    registryId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r',
    wave,
    decision,
    reasons: decision === 'skip' ? [{ code: 'UpToDate', severity: 'info', message: 'already built' }] : [],
    identity: {},
    baseImages: [],
    dependsOn: [],
    outputImages: [],
  } as PlanEntry;
}

const plan: PlanView = {
  waves: [[id('a'), id('b'), id('c')], [id('d')]],
  tasks: Object.fromEntries(
    [planned('a', 1), planned('b', 1), planned('c', 1), planned('d', 2), planned('e', 1, 'skip')].map((t) => [
      t.task,
      t,
    ]),
  ),
  cycles: [],
};

const succeeded: TaskResult = {
  task: id('a'),
  taskName: 'a',
  wave: 1,
  decision: 'rebuild',
  outcome: 'succeeded',
  reasons: [],
  run: {
    runId: 'ca1',
    status: 'Succeeded',
    startTime: '2026-01-01T00:00:01Z',
    finishTime: '2026-01-01T00:00:09Z',
    outputImages: [],
    attempts: 1,
    registryId: 'r',
  },
};

describe('liveView', () => {
  const children: ChildStatus[] = [
    { runtimeStatus: 'Completed', output: succeeded, createdTime: '2026-01-01T00:00:00Z' },
    {
      runtimeStatus: 'Running',
      customStatus: { task: id('b'), attempt: 2, phase: 'watching', runId: 'ca2', status: 'Running' },
      createdTime: '2026-01-01T00:00:00Z',
    },
  ];

  it('shows finished tasks from their result, tasks in flight from their live status, later waves waiting', () => {
    const v = liveView('c1', 'Running', plan, children, { phase: 'running', wave: 1, waves: 2 });
    const by = Object.fromEntries(v.tasks.map((t) => [t.taskName, t]));
    expect(v.waves).toEqual(plan.waves);
    expect(by.a).toMatchObject({ state: 'succeeded', runId: 'ca1', startedAt: '2026-01-01T00:00:01Z' });
    expect(by.b).toMatchObject({ state: 'watching', runId: 'ca2', runStatus: 'Running', attempts: 2 });
    expect(by.c).toMatchObject({ state: 'waiting' });
    expect(by.d).toMatchObject({ state: 'waiting', wave: 2 });
    expect(by.e).toMatchObject({ state: 'skipped', reasons: [{ code: 'UpToDate' }] });
  });

  it('marks a task of a passed wave that never started as blocked with the preflight reasons', () => {
    const reasons = [{ code: 'MissingPullPermission', severity: 'blocking', message: 'no AcrPull', fix: 'az role …' }];
    const v = liveView('c1', 'Running', plan, children, { phase: 'running', wave: 2, waves: 2 }, {
      [id('c')]: { task: id('c'), decision: 'blocked', reasons, identity: {} },
    } as never);
    const c = v.tasks.find((t) => t.taskName === 'c');
    expect(c).toMatchObject({ state: 'blocked', decision: 'blocked', reasons });
  });

  it('says notRun for a passed-wave task without an instance or a blocking verdict', () => {
    const v = liveView('c1', 'Running', plan, children, { phase: 'running', wave: 2, waves: 2 });
    expect(v.tasks.find((t) => t.taskName === 'c')?.state).toBe('notRun');
  });

  it('has no tasks while the cascade is still settling or planning', () => {
    expect(liveView('c1', 'Running', plan, children, { phase: 'planning', wave: 0, waves: 0 })).toEqual({
      id: 'c1',
      status: 'Running',
      waves: [],
      tasks: [],
    });
  });
});

describe('endedView', () => {
  it('lists the results by wave, with run ids and times', () => {
    const v = endedView('c1', 'Completed', {
      tasks: [{ ...succeeded, task: id('z'), taskName: 'z', wave: 2 }, succeeded],
    });
    expect(v.waves).toEqual([[id('a')], [id('z')]]);
    expect(v.tasks.map((t) => [t.taskName, t.state, t.runId])).toEqual([
      ['a', 'succeeded', 'ca1'],
      ['z', 'succeeded', 'ca1'],
    ]);
  });
});
