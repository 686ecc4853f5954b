// How the stack's processes end together. `npm start` is a chain — npm → sh → tsx → node (re-run trusting the
// emulator's CA) → node (the stack: emulator in-process, Azurite and the Functions host as children). A signal sent
// to one of them alone (a service manager's SIGTERM to npm, a `kill` of the host) must stop all of them:
//   - the CA re-run forwards SIGINT/SIGTERM/SIGHUP to the stack and exits with it; an IPC channel tells the stack when
//     its parent is gone, however it died;
//   - the stack watches the launchers above it (npm, sh, tsx: they do not all forward signals) and stops when one of
//     them is gone (Linux: /proc; elsewhere only the signals and the IPC channel work);
//   - the stack stops when Azurite or the host exits without being asked (stack.ts `onChildExit`).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TLS_DIR, ensureTls } from '../azure/core/tls.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Node reads NODE_EXTRA_CA_CERTS only at start-up: unless this process already trusts the emulator's CA, run the same
 * command again in a child that does, forward stop signals to it and exit with its status. Returns true in the parent
 * (which must do nothing else), false in a process that trusts the CA.
 */
export function reexecTrustingCa(): boolean {
  const ca = join(DEFAULT_TLS_DIR, 'ca.crt');
  if (process.env.NODE_EXTRA_CA_CERTS === ca) return false;
  ensureTls(DEFAULT_TLS_DIR);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, NO_PROXY: '127.0.0.1,localhost' },
  });
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  return true;
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 1;
}

/** Parent pid and state of a process from /proc (undefined: gone, or no /proc). */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid …; comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function alive(pid: number): boolean {
  const s = procStat(pid);
  if (s) return s.state !== 'Z' && s.state !== 'X';
  if (existsSync('/proc/self/stat')) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The launchers above this process: npm, the shell npm runs the script in, tsx, the CA re-run. */
export function launchers(start = process.ppid): number[] {
  const out: number[] = [];
  const launcher = /\bnpm\b|npm-cli\.js|npm exec|\btsx\b|local\/stack\/main\.ts/;
  for (let pid = start; pid > 1 && out.length < 8;) {
    if (!launcher.test(cmdline(pid))) break;
    out.push(pid);
    const s = procStat(pid);
    if (!s) break;
    pid = s.ppid;
  }
  return out;
}

/**
 * Calls `onGone` once when a launcher above this process or the IPC parent is gone. Returns a function that stops
 * watching.
 */
export function watchLaunchers(onGone: (why: string) => void, everyMs = 500): () => void {
  const pids = launchers();
  let fired = false;
  const fire = (why: string) => {
    if (fired) return;
    fired = true;
    onGone(why);
  };
  const onDisconnect = () => fire('the parent process is gone');
  if (process.connected) process.once('disconnect', onDisconnect);
  const timer = setInterval(() => {
    const gone = pids.find((pid) => !alive(pid));
    if (gone !== undefined) fire(`launcher process ${gone} is gone`);
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
  };
}
