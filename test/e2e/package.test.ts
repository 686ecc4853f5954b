// The deployable artifact (scripts/package.ts) holds the whole app: unpacked alone into an empty folder, the local
// host starts on it (not on the source tree) with every function the source tree registers, and /api/health answers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost, type SpawnedHost } from '../../local/host/spawn.js';
import { buildPackage } from '../../scripts/package.js';

const root = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'cascade-package-'));
const unpacked = join(work, 'app');
let packaged: SpawnedHost | undefined;
let source: SpawnedHost | undefined;
let dependencies = 0;

async function functionsOf(host: SpawnedHost): Promise<{ name: string; trigger: string }[]> {
  const res = await fetch(`${host.baseUrl}/admin/functions`, { headers: { 'x-functions-key': host.keys.master } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { name: string; trigger: string }[]).sort((a, b) => a.name.localeCompare(b.name));
}

beforeAll(async () => {
  // The build is `npm test`'s first step; the artifact is made from it here.
  ({ dependencies } = buildPackage());
  execFileSync('mkdir', ['-p', unpacked]);
  execFileSync('tar', ['-xzf', join(root, '.local/package/acr-cascade.tgz'), '-C', unpacked]);
  // What Azure's app settings would give it (the hub name host.json refers to).
  const env = { CASCADE_TASK_HUB: 'PackageTest' };
  packaged = await spawnHost({
    appRoot: unpacked,
    stateDir: join(work, 'state-packaged'),
    env,
    readyTimeoutMs: 60_000,
  });
  source = await spawnHost({ appRoot: root, stateDir: join(work, 'state-source'), env, readyTimeoutMs: 60_000 });
}, 240_000);

afterAll(async () => {
  await packaged?.stop();
  await source?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the packaged artifact', () => {
  it('holds the compiled app, host.json and production dependencies only — no sources, tests or dev tools', () => {
    expect(readdirSync(unpacked).sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
    expect(existsSync(join(unpacked, String(pkg.main)))).toBe(true);
    expect(existsSync(join(unpacked, 'node_modules/durable-functions/lib/src'))).toBe(true);
    for (const dev of ['typescript', 'vitest', 'azurite', 'eslint', 'tsx', 'prettier']) {
      expect(existsSync(join(unpacked, 'node_modules', dev)), dev).toBe(false);
    }
    expect(dependencies).toBeGreaterThan(10);
  });

  it('starts on the local host with every function the source tree registers', async () => {
    const fromPackage = await functionsOf(packaged!);
    const fromSource = await functionsOf(source!);
    expect(fromSource.length).toBeGreaterThan(10);
    expect(fromPackage).toEqual(fromSource);
    expect(fromPackage.map((f) => f.name)).toEqual(
      expect.arrayContaining(['health', 'onRegistryEvent', 'onVaultEvent']),
    );
  });

  it('ships the built dashboard and serves it from the unpacked folder', async () => {
    const html = readFileSync(join(unpacked, 'dist/web/index.html'), 'utf8');
    const script = /\/api\/dashboard\/(assets\/index-[\w-]+\.js)/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(existsSync(join(unpacked, 'dist/web', script!))).toBe(true);
    const page = await fetch(`${packaged!.baseUrl}/api/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe(html);
    const asset = await fetch(`${packaged!.baseUrl}/api/dashboard/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // The front-end toolchain and its sources stay out of the package.
    for (const dev of ['vite', 'preact', 'elkjs', 'playwright-core']) {
      expect(existsSync(join(unpacked, 'node_modules', dev)), dev).toBe(false);
    }
  });

  it('answers /api/health from the unpacked folder', async () => {
    const res = await fetch(`${packaged!.baseUrl}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });
});
