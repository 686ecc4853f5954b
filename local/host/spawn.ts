// Runs the host CLI as a child process: one app per process, killable (the restart tests SIGKILL it), and several
// apps can be driven from one test file.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostKeys } from './keys.js';

export interface SpawnHostOptions {
  appRoot: string;
  stateDir: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Extra environment for the child (app settings). */
  env?: Record<string, string>;
  /** How long to wait for the ready line; default 30 s. */
  readyTimeoutMs?: number;
  /** Every output line of the child, as it arrives. */
  onLine?: (line: string) => void;
  /** The child exited (code or signal name), for whatever reason. */
  onExit?: (code: number | string) => void;
}

export interface SpawnedHost {
  baseUrl: string;
  keys: HostKeys;
  taskHub: string;
  pid: number;
  /** Every stdout/stderr line so far. */
  readonly lines: string[];
  /** Resolves with the first line (already seen or future) that matches. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves when the process has exited (exit code or signal name). */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
  /** SIGTERM and wait: the graceful path. */
  stop(): Promise<void>;
}

interface ReadyLine {
  ready: true;
  baseUrl: string;
  keys: HostKeys;
  taskHub: string;
  pid: number;
}

const MAIN = path.join(__dirname, 'main.ts');

function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(__filename).resolve('tsx')).href;
}

export async function spawnHost(opts: SpawnHostOptions): Promise<SpawnedHost> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      tsxLoaderUrl(),
      MAIN,
      '--app',
      path.resolve(opts.appRoot),
      '--port',
      String(opts.port ?? 0),
      '--state',
      path.resolve(opts.stateDir),
    ],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let exited: number | string | undefined;
  const exitWaiters: ((code: number | string) => void)[] = [];
  child.on('exit', (code, signal) => {
    exited = code ?? signal ?? 'unknown';
    for (const w of exitWaiters.splice(0)) w(exited);
    opts.onExit?.(exited);
  });
  const onData = (stream: NodeJS.ReadableStream): void => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        opts.onLine?.(line);
        for (const w of [...waiters]) {
          if (w.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
  };
  onData(child.stdout!);
  onData(child.stderr!);

  const waitForLine = (match: RegExp | ((line: string) => boolean), timeoutMs = 30_000): Promise<string> => {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    const seen = lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(entry), 1);
        reject(
          new Error(
            `no output line matched ${String(match)} within ${timeoutMs}ms; last lines:\n${lines.slice(-20).join('\n')}`,
          ),
        );
      }, timeoutMs);
      const entry = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      waiters.push(entry);
    });
  };

  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> => {
    if (exited !== undefined) return Promise.resolve(exited);
    return new Promise((resolve) => {
      exitWaiters.push(resolve);
      child.kill(signal);
    });
  };

  const readyOrExit = await Promise.race([
    waitForLine((l) => l.startsWith('{"ready":true'), opts.readyTimeoutMs ?? 30_000).then((l) => ({ line: l })),
    new Promise<{ exit: number | string }>((resolve) => exitWaiters.push((code) => resolve({ exit: code }))),
  ]).catch(async (err: unknown) => {
    await kill('SIGKILL');
    throw err;
  });
  if ('exit' in readyOrExit) {
    throw new Error(`host exited (${readyOrExit.exit}) before it was ready:\n${lines.slice(-20).join('\n')}`);
  }
  const ready = JSON.parse(readyOrExit.line) as ReadyLine;
  return {
    baseUrl: ready.baseUrl,
    keys: ready.keys,
    taskHub: ready.taskHub,
    pid: ready.pid,
    lines,
    waitForLine,
    kill,
    stop: async () => {
      await kill('SIGTERM');
    },
  };
}
