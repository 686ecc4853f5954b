// The `acr-cascade` CLI as a user runs it: the built dist/cli/main.js as a child process, against a local stack,
// finding the endpoint and key in the stack.json the stack wrote. Needs `npm run build` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { SEED } from '../../local/azure/seed.js';

const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');
const IMAGE = 'mybaseregistry.azurecr.io/baseimages/node:15-alpine';
const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let stack: RunningStack;
let dir: string;
let stackFile: string;

/** Runs the CLI with only the stack file to go by (no ACR_CASCADE_* from the caller's environment). */
function cli(args: string[], env: Record<string, string> = {}, cwd = process.cwd()): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ACR_CASCADE_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...base, ACR_CASCADE_STACK_FILE: stackFile, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function runConfig(durationMs: number): Promise<void> {
  const res = await fetch(`${stack.emu.armEndpoint}/_emulator/acr/runs/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ durationMs }),
  });
  expect(res.ok).toBe(true);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'acr-cascade-cli-'));
  stackFile = join(dir, 'stack.json');
  stack = await startStack({
    stateDir: join(dir, 'state'),
    stackFile,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 1500,
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('acr-cascade CLI against the local stack', () => {
  it('reads the endpoint and key from a stack.json only its owner can read', () => {
    expect(statSync(stackFile).mode & 0o777).toBe(0o600);
  });

  it('plans a push of the seed base image as a table, without colours into a pipe', async () => {
    const r = await cli(['plan', IMAGE]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Plan for ${IMAGE}`);
    expect(r.stdout).toMatch(/│ 1\s+│ myregistry\/helloworldtask\s+│ rebuild/);
    expect(r.stdout).toMatch(/│ 1\s+│ myregistry\/dockerhubtask\s+│ rebuild/);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it('prints the API body as JSON with --output json', async () => {
    const r = await cli(['plan', IMAGE, '--output', 'json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { waves: string[][]; tasks: { taskName: string; decision: string }[] };
    expect(plan.waves).toHaveLength(1);
    expect(plan.tasks.map((t) => [t.taskName, t.decision]).sort()).toEqual([
      ['dockerhubtask', 'rebuild'],
      ['helloworldtask', 'rebuild'],
    ]);
  });

  it('draws the dependency graph below the image as a tree', async () => {
    const r = await cli(['graph', IMAGE]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(IMAGE);
    expect(r.stdout).toMatch(/[├└]─ myregistry\/helloworldtask .*\(recorded\)/);
    expect(r.stdout).toMatch(/└─ myregistry\.azurecr\.io\/hello-world:latest \(output\)/);
  });

  it('shows a dry run as a plan and starts nothing', async () => {
    const before = await cli(['status', '-o', 'json']);
    const r = await cli(['rebuild', IMAGE, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Dry run for ${IMAGE}`);
    expect(r.stdout).toContain('2 rebuild');
    const after = await cli(['status', '-o', 'json']);
    expect(JSON.parse(after.stdout).cascades).toHaveLength(JSON.parse(before.stdout).cascades.length);
  });

  it('rebuild --watch shows per-wave progress and exits 0 when the seed cascade completes', async () => {
    const r = await cli(['rebuild', IMAGE, '--watch', '--interval', '0.3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = /started cascade (rebuild-[0-9a-f-]+)/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    // Change lines while it runs (not a terminal), then each wave's outcome and the report.
    expect(r.stdout).toMatch(/^\s+\d+s {2}wave 1\/1 running · planned 2 · running \d/m);
    expect(r.stdout).toMatch(/^\s+\d+s {2}Completed · planned 2 · scheduled 2 · succeeded 2 · failed 0/m);
    expect(r.stdout).toMatch(
      /^wave 1: myregistry\/(dockerhubtask|helloworldtask) succeeded \(run \w+, \d+s\), myregistry\/(dockerhubtask|helloworldtask) succeeded/m,
    );
    // And a line per task whenever its state changes (from GET /api/rebuilds/{id}/tasks).
    expect(r.stdout).toMatch(/^ {8}wave 1: myregistry\/helloworldtask succeeded \(run \w+\)$/m);
    expect(r.stdout).toMatch(/^ {8}wave 1: myregistry\/dockerhubtask succeeded \(run \w+\)$/m);
    expect(r.stdout).toContain(`Cascade ${id}  Completed`);

    const status = await cli(['status', id!, '--output', 'json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      id,
      status: 'Completed',
      totals: { planned: 2, succeeded: 2, failed: 0, blocked: 0 },
    });
    const list = await cli(['status']);
    expect(list.stdout).toMatch(new RegExp(`│ ${id} │ Completed`));
  });

  it('cancels a running cascade; watching it then exits 4 with status Canceled', async () => {
    await runConfig(30_000);
    try {
      const started = await cli(['rebuild', IMAGE, '-o', 'json']);
      expect(started.code).toBe(0);
      const { id } = JSON.parse(started.stdout) as { id: string };
      const cancel = await cli(['cancel', id]);
      expect(cancel).toMatchObject({ code: 0, stdout: expect.stringContaining(`canceling cascade ${id}`) });
      const watched = await cli(['status', id, '--watch', '--interval', '0.3', '-o', 'json']);
      expect(watched.code).toBe(4);
      expect(JSON.parse(watched.stdout)).toMatchObject({ id, status: 'Canceled' });
    } finally {
      await runConfig(1500);
    }
  });

  it('exits 5 with the API error code when the image reference is malformed', async () => {
    const r = await cli(['plan', 'Not::An/Image']);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error InvalidInput \(image\): invalid image reference 'Not::An\/Image'/);
    expect(r.stderr).toContain('fix image and try again');
    const json = await cli(['plan', 'Not::An/Image', '-o', 'json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 400, error: { code: 'InvalidInput', field: 'image' } });
  });

  it('says clearly that an unknown cascade cannot be canceled', async () => {
    const r = await cli(['cancel', 'rebuild-does-not-exist']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("error NotFound (id): no cascade 'rebuild-does-not-exist'");
    expect(r.stderr).toContain('list recent cascades: acr-cascade status');
  });

  it('exits 5 Unauthenticated with what to do when the key is wrong', async () => {
    const r = await cli(['status'], { ACR_CASCADE_KEY: 'not-the-key' });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^error Unauthenticated: /);
    expect(r.stderr).toContain('ACR_CASCADE_TOKEN');
  });

  it('exits 2 and says where an endpoint comes from when none is configured', async () => {
    const r = await cli(['status'], { ACR_CASCADE_STACK_FILE: join(dir, 'none.json') }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /no acr-cascade endpoint: pass --url <app url>, set ACR_CASCADE_URL, or start the local stack/,
    );
  });

  it('takes --task as the <registry>/<task> name it prints, and says which name it cannot find', async () => {
    const r = await cli(['rebuild', '--task', 'myregistry/helloworldtask', '--dry-run', '-o', 'json']);
    expect(r.code).toBe(0);
    const tasks = Object.values(
      (JSON.parse(r.stdout) as { plan: { tasks: Record<string, { task: string }> } }).plan.tasks,
    );
    expect(tasks.map((t) => t.task)).toEqual([stack.seed!.taskIds[SEED.tasks.hello]]);
    const missing = await cli(['rebuild', '--task', 'myregistry/nosuchtask', '--dry-run']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no task 'myregistry/nosuchtask' in the app's index");
  });

  it('exits 2 on a usage error (rebuild with neither image nor task)', async () => {
    const r = await cli(['rebuild']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give an image reference or --task <task>');
  });

  it('exits 6 when nothing listens at the endpoint', async () => {
    const r = await cli(['status', '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('cannot reach http://127.0.0.1:9');
  });

  it('runs a credential check and lists every task login', async () => {
    const r = await cli(['credentials', '--check', '-o', 'json']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { credentials: { taskName: string; status: string }[]; lastCheck?: object };
    expect(body.lastCheck).toBeDefined();
    expect(body.credentials.filter((c) => c.taskName === 'dockerhubtask').length).toBeGreaterThanOrEqual(2);
    expect(body.credentials.every((c) => c.status === 'healthy')).toBe(true);
  });

  it('refreshes the index and shows its summary', async () => {
    const r = await cli(['index', '--refresh']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Dependency index built/);
    expect(r.stdout).toMatch(/registries {2}2\n {2}tasks {7}2/);
  });
});
