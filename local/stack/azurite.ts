// Starts Azurite's Table service on loopback (in memory, or persisted to a folder) for the local stack, a test file
// or a bench run. Usage: `const az = await startAzurite(); try { ... az.connectionString ... } finally { await az.stop(); }`
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface RunningAzurite {
  /** Connection string for `AzureWebJobsStorage` / `settings.storageConnection` (http, account devstoreaccount1). */
  connectionString: string;
  tableEndpoint: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The well-known development account key Azurite accepts (public, not a secret). */
const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A free loopback port (it can be taken by someone else before it is bound: callers retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface AzuriteOptions {
  root?: string;
  /** Fixed port; default a free one (retried if it is taken meanwhile). */
  port?: number;
  /** Persist tables here; default in memory. */
  location?: string;
  /** Every output line (request log included). */
  log?: (line: string) => void;
  /** Azurite exited after it was ready (asked to by `stop`, or not). */
  onExit?: (code: number | string) => void;
}

function launch(
  root: string,
  port: number,
  location: string | undefined,
  log: (line: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = [
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(port),
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ];
    args.push(...(location ? ['--location', location] : ['--inMemoryPersistence']));
    const child = spawn(join(root, 'node_modules', '.bin', 'azurite-table'), args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    let ready = false;
    const onLine = (line: string) => {
      if (ready) return log(`[azurite] ${line}`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (!ready && /successfully (started|listening)/i.test(line)) {
        ready = true;
        resolve(child);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code, signal) => {
      if (!ready)
        reject(new Error(`azurite-table exited (${signal ?? code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
}

/**
 * Starts azurite-table. A port picked by `freePort` can be taken by a parallel test file before Azurite binds it, so
 * a failed start is retried on a new port.
 */
export async function startAzurite(opts: AzuriteOptions = {}): Promise<RunningAzurite> {
  const root = opts.root ?? process.cwd();
  let lastError: unknown;
  for (let attempt = 0; attempt < (opts.port ? 1 : 3); attempt++) {
    const port = opts.port || (await freePort());
    let child: ChildProcess;
    try {
      child = await launch(root, port, opts.location, opts.log ?? (() => {}));
    } catch (err) {
      lastError = err;
      continue;
    }
    child.once('exit', (code, signal) => opts.onExit?.(code ?? signal ?? 'unknown'));
    const tableEndpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
    return {
      port,
      pid: child.pid!,
      tableEndpoint,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_ACCOUNT_KEY};TableEndpoint=${tableEndpoint};`,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      },
    };
  }
  throw lastError;
}
