// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the local stack: open each
// page, run a dry run and a real rebuild of the seed from the page and watch it reach Completed, draw a three-wave
// graph with a blocked task, cancel a running cascade, run a credential check and an index refresh. Screenshots go
// to test-results/ (gitignored) — look at them when changing the pages.
// Needs `npm run build` first (the app and dist/web). Chromium is installed as root with apt-get the way .ci/run
// does it; where that is not possible the browser tests are skipped with a line saying how to get it.
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { systemTool } from '../support/systemTools.js';
import { startCascadeStack, waitFor, type CascadeStack } from './cascadeStack.js';

const SHOTS = resolve(__dirname, '../../test-results');
const ACR_PUSH = '8311e382-0749-4cb8-b61a-304f252e45ec';
const MID = { repository: 'baseimages/mid', tag: '1' };
const RUN_MS = 2500;

const chromiumPath = systemTool('chromium');

let s: CascadeStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base = '';
let key = '';
const consoleErrors: string[] = [];
const requestedUrls: string[] = [];
const cascades: { completed?: string; canceled?: string } = {};

const baseServer = `${SEED.baseRegistry}.azurecr.io`;
const seedImage = () => s.stack.seed!.baseImageRef;
const midRef = `${baseServer}/${MID.repository}:${MID.tag}`;

function shot(name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SHOTS, `dashboard-${name}.png`), fullPage: true });
}

function yaml(image: string, from: string): string {
  return Buffer.from(
    [
      'version: v1.1.0',
      'steps:',
      `  - build: -t ${image} https://github.com/example/app.git -f Dockerfile --build-arg BASE=${from}`,
      `  - push: ["${image}"]`,
      '',
    ].join('\n'),
  ).toString('base64');
}

/** A task of myregistry building `from`, pushing `output`; `identity` 'seed' logs in with the seed's identity. */
async function createTask(name: string, from: string, output: string, identity: 'seed' | 'own') {
  const seed = s.stack.seed!;
  await s.acr.tasks.beginCreateAndWait(SEED.resourceGroup, SEED.appRegistry, name, {
    location: SEED.location,
    tags: { 'cascade.baseImages': from, 'cascade.outputImages': output },
    identity:
      identity === 'seed'
        ? { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } }
        : { type: 'SystemAssigned' },
    platform: { os: 'Linux' },
    step: { type: 'EncodedTask', encodedTaskContent: yaml(output, from), contextPath: '/dev/null' },
    credentials: {
      customRegistries: { [baseServer]: { identity: identity === 'seed' ? seed.identity.clientId : '[system]' } },
    },
    timeout: 600,
  });
}

/** Goes to a page through the navigation bar. */
function nav(name: 'Impact' | 'Cascades' | 'Credentials' | 'Index'): Promise<void> {
  return page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name }).click();
}

async function showImpact(ref: string): Promise<void> {
  await nav('Impact');
  await page.getByLabel('Image reference').fill(ref);
  await page.getByRole('button', { name: 'Show impact' }).click();
  await page.locator('[data-testid=graph] svg [data-node=task]').first().waitFor();
}

/** Starts a real rebuild from the Impact page; returns the cascade id the page navigated to. */
async function rebuildFromPage(): Promise<string> {
  await page.getByRole('button', { name: 'Rebuild…' }).click();
  await page.getByRole('button', { name: 'Start rebuild' }).click();
  await page.waitForURL(/\/api\/dashboard\/cascades\/rebuild-/);
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
}

async function statusText(): Promise<string> {
  return (await page.getByTestId('cascade-status').locator('.badge').textContent()) ?? '';
}

describe.skipIf(!chromiumPath)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startCascadeStack('dashboard', { CASCADE_SETTLE_SECONDS: '1' }, RUN_MS);
    base = s.stack.description.functions.baseUrl;
    key = s.stack.description.functions.functionKey;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('request', (r) => requestedUrls.push(r.url()));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('serves the page and hashed assets with their content types and cache headers, and nothing outside dist/web', async () => {
    const index = await fetch(`${base}/api/dashboard/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await index.text();
    // A page path answers the same shell (the app routes in the browser).
    const deep = await fetch(`${base}/api/dashboard/cascades/rebuild-123`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    const assets = readdirSync(resolve(__dirname, '../../dist/web/assets'));
    const js = assets.find((f) => /^index-.+\.js$/.test(f))!;
    const css = assets.find((f) => f.endsWith('.css'))!;
    expect(html).toContain(`/api/dashboard/assets/${js}`);
    const script = await fetch(`${base}/api/dashboard/assets/${js}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const style = await fetch(`${base}/api/dashboard/assets/${css}`);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const evil of [
      '..%2F..%2Fpackage.json',
      '%2e%2e/%2e%2e/host.json',
      'assets/..%2F..%2Fsrc%2Ffunctions%2Findex.js',
      '..%5C..%5Chost.json',
      'assets/%00.js',
      'assets/missing-0123456789.js',
      'index.ts',
    ]) {
      const res = await fetch(`${base}/api/dashboard/${evil}`);
      expect(res.status, evil).toBe(404);
      expect(await res.text(), evil).not.toContain('"version"');
    }
  });

  it('asks for a credential when opened without one, and signs out when the API refuses a wrong key', async () => {
    await page.goto(`${base}/api/dashboard/cascades`);
    await expect(page.getByRole('heading', { name: 'Sign in to acr-cascade' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('Function key', { exact: true }).fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'refused the credential' }).waitFor();
    await expect(page.evaluate("sessionStorage.getItem('acr-cascade.key')")).resolves.toBeNull();
  });

  it('takes the key from the URL fragment into session storage and out of the address bar', async () => {
    await page.goto(`${base}/api/dashboard/#key=${key}`);
    await page.getByRole('heading', { name: 'Impact' }).waitFor();
    expect(page.url()).toBe(`${base}/api/dashboard/`);
    await expect(page.evaluate("sessionStorage.getItem('acr-cascade.key')")).resolves.toBe(key);
  });

  it("draws the seed image's impact as a graph beside the plan", async () => {
    await showImpact(seedImage());
    const tasks = page.locator('[data-testid=graph] svg [data-node=task]');
    await expect(tasks.evaluateAll((ns) => ns.map((n) => n.getAttribute('data-label')).sort())).resolves.toEqual([
      SEED.tasks.dockerhub,
      SEED.tasks.hello,
    ]);
    await expect(page.locator('svg .col-head').allTextContents()).resolves.toEqual(
      expect.arrayContaining(['Base image', 'Wave 1']),
    );
    await expect(page.locator('svg .edge-label').allTextContents()).resolves.toContain('recorded');
    await expect(page.locator('.plan-task').count()).resolves.toBe(2);
    await shot('impact-seed');
  });

  it('runs a dry run from the page and starts nothing', async () => {
    await page.getByRole('button', { name: 'Dry run' }).click();
    const result = page.getByTestId('dry-run-result');
    await result.waitFor();
    await expect(result.textContent()).resolves.toMatch(/2 tasks would rebuild in 1 wave, 0 skipped, 0 blocked/);
    const list = await s.call('GET', '/api/rebuilds');
    expect(list.json.cascades).toEqual([]);
  });

  it(
    'starts a real rebuild of the seed from the page and shows it live until Completed',
    { timeout: 180_000 },
    async () => {
      const id = await rebuildFromPage();
      cascades.completed = id;
      // Live: the runs are in flight (each emulated run takes RUN_MS).
      await page.locator('.card[data-state=watching]').first().waitFor({ timeout: 60_000 });
      await expect(page.locator('.card .mono').first().textContent()).resolves.toMatch(/\S+/);
      await shot('cascade-live');
      await waitFor(
        'the cascade to complete on the page',
        async () => ((await statusText()) === 'Completed' ? true : undefined),
        120_000,
        500,
      );
      const api = await s.status(id);
      expect(api?.status).toBe('Completed');
      for (const t of api!.result!.tasks) {
        const row = page.locator(`table tr[data-task="${t.taskName}"]`);
        await expect(row.locator('.badge').nth(1).textContent()).resolves.toBe('succeeded');
        await expect(row.textContent()).resolves.toContain(t.run!.runId);
      }
      await expect(page.getByRole('button', { name: 'Cancel…' }).count()).resolves.toBe(0);
      await shot('cascade-completed');
    },
  );

  it(
    'refreshes the index from the page and lists the registries and the tasks created since',
    { timeout: 120_000 },
    async () => {
      const seed = s.stack.seed!;
      // Three waves: base → midtask (pushes back into the watched registry) → app1task, app2task; plus a task whose
      // own identity has no pull right on the base registry (blocked, with the fix).
      const authz = new AuthorizationManagementClient(s.stack.operator, s.stack.emu.subscriptionId, {
        endpoint: s.stack.emu.armEndpoint,
        credentialScopes: ['https://management.azure.com/.default'],
      });
      await authz.roleAssignments.create(seed.registries[SEED.baseRegistry]!, guidFrom('dashboard-mid-acrpush'), {
        roleDefinitionId: `/subscriptions/${s.stack.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PUSH}`,
        principalId: seed.identity.principalId,
        principalType: 'ServicePrincipal',
      });
      await createTask('midtask', seedImage(), midRef, 'seed');
      await createTask('app1task', midRef, `${SEED.appRegistry}.azurecr.io/app1:v1`, 'seed');
      await createTask('app2task', midRef, `${SEED.appRegistry}.azurecr.io/app2:v1`, 'seed');
      await createTask('lockedtask', seedImage(), `${SEED.appRegistry}.azurecr.io/locked:v1`, 'own');

      await nav('Index');
      await page.getByRole('heading', { name: 'Registries' }).waitFor();
      await page.getByRole('button', { name: 'Refresh now' }).click();
      await page.locator('tr[data-task=app2task]').waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Refresh now' }).waitFor();
      const registries = await page
        .getByRole('table', { name: 'Registries' })
        .locator('tbody tr td:first-child')
        .allTextContents();
      expect(registries).toEqual(expect.arrayContaining([SEED.baseRegistry, SEED.appRegistry]));
      await shot('index');
    },
  );

  it('draws three waves with the blocked task marked by its reason, and a keyboard selects a task', async () => {
    await showImpact(seedImage());
    await page.locator('svg [data-label=app1task]').waitFor();
    await expect(page.locator('svg .col-head').allTextContents()).resolves.toEqual(
      expect.arrayContaining(['Wave 1', 'Wave 2']),
    );
    const locked = page.locator('svg [data-label=lockedtask]');
    await expect(locked.getAttribute('class')).resolves.toContain('node-blocked');
    await expect(locked.locator('.node-note').textContent()).resolves.toMatch(/^blocked: \w+/);
    await expect(page.locator('svg .edge-label').allTextContents()).resolves.toEqual(
      expect.arrayContaining(['recorded', 'declared', 'output']),
    );
    // The plan beside it names the fix.
    const lockedRow = page.locator('.plan-task[data-task=lockedtask]');
    await expect(lockedRow.locator('.badge').textContent()).resolves.toBe('blocked');
    await expect(lockedRow.locator('.fix code').first().textContent()).resolves.toContain('az role assignment create');
    // Keyboard: a task box is focusable and Enter selects its plan row.
    await page.locator('svg [data-label=app1task]').focus();
    await page.keyboard.press('Enter');
    await expect(page.locator('.plan-task.selected').getAttribute('data-task')).resolves.toBe('app1task');
    await shot('impact-waves');
  });

  it('cancels a running cascade from the page', { timeout: 180_000 }, async () => {
    await s.admin('PUT', '/acr/runs/config', { durationMs: 60_000 });
    try {
      const id = await rebuildFromPage();
      cascades.canceled = id;
      await page.locator('.card[data-state=watching]').first().waitFor({ timeout: 60_000 });
      // Live, before the cascade ends: the task its preflight blocked is marked with the reason.
      await page.locator('.card[data-task=lockedtask][data-state=blocked]').waitFor();
      await expect(page.locator('tr[data-task=lockedtask] .reason-code').first().textContent()).resolves.toBe(
        'MissingPullPermission',
      );
      await expect(page.locator('.card[data-task=app1task]').getAttribute('data-state')).resolves.toBe('waiting');
      await shot('cascade-running');
      await page.getByRole('button', { name: 'Cancel…' }).click();
      await page.getByRole('button', { name: 'Cancel cascade' }).click();
      await waitFor(
        'the cascade to end Canceled on the page',
        async () => ((await statusText()) === 'Canceled' ? true : undefined),
        90_000,
        500,
      );
      expect((await s.status(id))?.status).toBe('Canceled');
      await expect(page.locator('.card[data-state=canceled]').count()).resolves.toBeGreaterThan(0);
      await shot('cascade-canceled');
    } finally {
      await s.admin('PUT', '/acr/runs/config', { durationMs: RUN_MS });
    }
  });

  it('lists recent cascades and filters them by status', async () => {
    await nav('Cascades');
    await page.locator(`tr[data-cascade="${cascades.canceled}"]`).waitFor();
    await page.locator(`tr[data-cascade="${cascades.completed}"]`).waitFor();
    await shot('cascades');
    await page.getByLabel('Status').selectOption('Canceled');
    await page.waitForURL(/status=Canceled/);
    await waitFor('the filtered list', async () =>
      (await page.locator('tr[data-cascade]').count()) === 1 ? true : undefined,
    );
    await expect(page.locator('tr[data-cascade]').getAttribute('data-cascade')).resolves.toBe(cascades.canceled);
  });

  it('runs a credential check from the page and shows every task login', { timeout: 120_000 }, async () => {
    await nav('Credentials');
    await page.getByRole('button', { name: 'Check now' }).click();
    await page.getByRole('button', { name: 'Check now' }).waitFor({ timeout: 60_000 });
    await page.locator('tr[data-task]').first().waitFor();
    const tasks = await page
      .locator('tr[data-task]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task')));
    expect(tasks).toEqual(expect.arrayContaining([SEED.tasks.hello, SEED.tasks.dockerhub]));
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/Last check/);
    await shot('credentials');
  });

  it('never put the key in a URL it requested, and raised no script or policy errors', () => {
    expect(requestedUrls.length).toBeGreaterThan(10);
    expect(requestedUrls.filter((u) => u.includes(key))).toEqual([]);
    expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    expect(s.logs.filter((l) => l.includes(key))).toEqual([]);
  });
});
