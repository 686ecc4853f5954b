// `npm start` is a chain of processes — npm → (sh) → tsx → node (re-run trusting the emulator's CA) → node (the stack,
// emulator in-process) → Azurite and the Functions host. Whichever one receives SIGTERM or SIGINT, every process of
// the stack must be gone shortly after: nothing orphaned, holding ports. Each case starts the stack as `npm run stack`
// (what `npm start` runs after its build) on free ports, signals one process kind, and waits for every pid to be gone.
// Linux only (reads /proc). Needs `npm run build` first (the host runs dist/).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GONE_WITHIN_MS = 30_000;

interface Proc {
  pid: number;
  ppid: number;
  cmd: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue; // exited, not yet reaped: gone
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), ppid: Number(rest[1]), cmd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const walk = (pid: number) => {
    for (const p of all.filter((x) => x.ppid === pid)) {
      found.push(p);
      walk(p.pid);
    }
  };
  const self = all.find((p) => p.pid === root);
  if (self) found.push(self);
  walk(root);
  return found;
}

type Kind = 'npm' | 'tsx' | 'ca-rerun' | 'stack' | 'host' | 'azurite';

/** Which process of the tree is of this kind. */
function pick(tree: Proc[], root: number, kind: Kind): Proc {
  const byPid = new Map(tree.map((p) => [p.pid, p]));
  const stackMains = tree.filter((p) => p.cmd.includes('local/stack/main.ts') && !p.cmd.includes('.bin/tsx'));
  const find = (test: (p: Proc) => boolean) => tree.find(test);
  const p =
    kind === 'npm'
      ? byPid.get(root)
      : kind === 'tsx'
        ? find((x) => x.cmd.includes('.bin/tsx local/stack/main.ts'))
        : kind === 'ca-rerun'
          ? stackMains.find((x) => stackMains.some((c) => c.ppid === x.pid))
          : kind === 'stack'
            ? stackMains.find((x) => stackMains.some((c) => c.pid === x.ppid))
            : kind === 'host'
              ? find((x) => x.cmd.includes('local/host/main.ts'))
              : find((x) => x.cmd.includes('azurite-table'));
  if (!p)
    throw new Error(
      `no ${kind} process in the stack's tree:\n${tree.map((x) => `${x.pid} ${x.ppid} ${x.cmd}`).join('\n')}`,
    );
  return p;
}

let running: { child: ChildProcess; dir: string } | undefined;

/** `npm run stack -- --no-seed` on free ports in a private state dir, as a new process group; resolves at "Ready.". */
async function startStackProcess(): Promise<{ root: number; tree: Proc[]; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'acr-cascade-signals-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ACR_CASCADE_PORTS: '0,0,0,0' };
  delete env.NODE_EXTRA_CA_CERTS; // as `npm start` runs it: the stack re-runs itself trusting the emulator's CA
  const child = spawn('npm', ['run', 'stack', '--', '--no-seed', '--state-dir', join(dir, 'state')], {
    cwd: process.cwd(),
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running = { child, dir };
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack was not ready within 90 s:\n${output}`)), 90_000);
    const check = () => {
      if (/^Ready\.$/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run stack exited (${code}) before it was ready:\n${output}`));
    });
  });
  return { root: child.pid!, tree: descendants(child.pid!), output: () => output };
}

async function waitGone(pids: number[]): Promise<number[]> {
  const until = Date.now() + GONE_WITHIN_MS;
  for (;;) {
    const alive = new Set(processes().map((p) => p.pid));
    const left = pids.filter((pid) => alive.has(pid));
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}

afterEach(() => {
  if (!running) return;
  try {
    process.kill(-running.child.pid!, 'SIGKILL'); // whatever a failed case left behind
  } catch {
    // already gone
  }
  rmSync(running.dir, { recursive: true, force: true });
  running = undefined;
});

const CASES: [Kind, NodeJS.Signals][] = [
  ['npm', 'SIGTERM'],
  ['tsx', 'SIGTERM'],
  ['ca-rerun', 'SIGTERM'],
  ['ca-rerun', 'SIGINT'],
  ['stack', 'SIGTERM'],
  ['host', 'SIGTERM'],
  ['azurite', 'SIGTERM'],
];

describe.skipIf(!existsSync('/proc/self/stat'))('stopping the local stack by signalling one of its processes', () => {
  it.each(CASES)(
    'every process is gone within 30 s when %s receives %s',
    async (kind, signal) => {
      const { root, tree, output } = await startStackProcess();
      const kinds: Kind[] = ['npm', 'tsx', 'ca-rerun', 'stack', 'host', 'azurite'];
      for (const k of kinds) pick(tree, root, k); // the tree is the one described above
      const target = pick(tree, root, kind);
      process.kill(target.pid, signal);
      const left = await waitGone(tree.map((p) => p.pid));
      const alive = tree.filter((p) => left.includes(p.pid)).map((p) => `${p.pid} ${p.cmd}`);
      expect(alive, `still running after ${kind} got ${signal}; output:\n${output()}`).toEqual([]);
    },
    180_000,
  );
});
