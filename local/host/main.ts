// CLI: tsx local/host/main.ts --app <dir> [--port <n>] [--state <dir>] [--hostname <addr>]
// Prints one JSON line `{"ready":true,"baseUrl":...,"keys":{...},"taskHub":...}` on stdout once listening.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startHost } from './index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', default: '.' },
      port: { type: 'string' },
      state: { type: 'string' },
      hostname: { type: 'string' },
    },
    strict: true,
  });
  const appRoot = path.resolve(values.app ?? '.');
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new RangeError(`--port must be an integer between 0 and 65535, got '${values.port}'`);
  }
  const stateDir = path.resolve(values.state ?? path.join(appRoot, '.local', 'host'));
  // Like the real host, the app runs with its folder as the working directory.
  process.chdir(appRoot);
  process.on('unhandledRejection', (reason) => {
    process.stdout.write(
      `[host] unhandled rejection in the app: ${reason instanceof Error ? reason.stack : String(reason)}\n`,
    );
  });

  const host = await startHost({
    appRoot,
    stateDir,
    ...(port !== undefined ? { port } : {}),
    ...(values.hostname ? { hostname: values.hostname } : {}),
  });
  process.stdout.write(
    `${JSON.stringify({ ready: true, baseUrl: host.baseUrl, keys: host.keys, taskHub: host.taskHub, pid: process.pid })}\n`,
  );

  let signalled = false;
  const shutdown = (signal: string): void => {
    if (signalled) process.exit(1); // a second signal: give up waiting
    signalled = true;
    process.stdout.write(`[host] ${signal}: stopping\n`);
    host.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`[host] stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`[host] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
