// `npm start`: the whole of acr-cascade on this machine — emulated Azure, Azurite, the Functions host with the app —
// seeded with the scenario of the ACR docs. Ctrl-C (or SIGTERM to any process of the stack) stops everything.
//   --watch <registry>   base registry whose pushes start cascades (repeatable; default mybaseregistry)
//   --watch-all          every registry in the emulated subscription
//   --scenario <file>    also create the registries, tasks, identities, secrets and roles a scenario file declares
//                        (local/scenarios/*.json; the seed is local/scenarios/seed.json)
//   --no-seed            start with an empty emulated subscription (plus any --scenario)
//   --persist            keep emulator, Azurite and durable state under .local/ across restarts
//   --state-dir <dir>    where state and stack.json live (default .local)
// Ports: ACR_CASCADE_PORTS="arm,identity,host,azurite" (defaults 8443,8081,7071,10002; 0 = any free port).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { reexecTrustingCa, STOP_SIGNALS, watchLaunchers } from './lifecycle.js';

const USAGE =
  'usage: npm start -- [--watch <registry>]… [--watch-all] [--scenario <file>]… [--no-seed] [--persist] [--state-dir <dir>]';

function ports(): { arm: number; identity: number; host: number; azurite: number } {
  const raw = process.env.ACR_CASCADE_PORTS ?? '8443,8081,7071,10002';
  const parts = raw.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    console.error(`ACR_CASCADE_PORTS must be four port numbers "arm,identity,host,azurite", got '${raw}'`);
    process.exit(2);
  }
  const [arm, identity, host, azurite] = parts as [number, number, number, number];
  return { arm, identity, host, azurite };
}

function options() {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2).filter((a) => a !== '--'),
      options: {
        watch: { type: 'string', multiple: true },
        'watch-all': { type: 'boolean' },
        scenario: { type: 'string', multiple: true },
        'no-seed': { type: 'boolean' },
        persist: { type: 'boolean' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (values['watch-all'] && values.watch) throw new Error('give --watch or --watch-all, not both');
    return values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const opts = options();
  if (reexecTrustingCa()) return; // this process only forwards signals to the stack and exits with it
  const { startStack } = await import('./stack.js');
  const { loadScenarioFile } = await import('../azure/scenario.js');
  console.log('acr-cascade local stack: starting emulator, Azurite and the Functions host…');

  let starting: ReturnType<typeof startStack> | undefined;
  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstopping (${why})…`);
    // A stop while starting waits for the start (which stops what it started if it fails), then stops it all.
    const stack = await starting?.catch(() => undefined);
    await stack?.stop().catch((err: unknown) => console.error(`stop: ${(err as Error).message}`));
    process.exit(code);
  };
  // From here on, a signal or a vanished launcher stops whatever has started so far.
  for (const signal of STOP_SIGNALS) process.on(signal, () => void stop(signal, 0));
  watchLaunchers((why) => void stop(why, 1));

  const stateDir = resolve(opts['state-dir'] ?? join(process.cwd(), '.local'));
  let stack: Awaited<ReturnType<typeof startStack>>;
  try {
    const scenarios = (opts.scenario ?? []).map((f) => loadScenarioFile(resolve(f)));
    starting = startStack({
      ports: ports(),
      stateDir,
      seed: !opts['no-seed'],
      persist: opts.persist === true,
      scenarios,
      ...(opts['watch-all'] ? { watch: 'all' as const } : opts.watch ? { watch: opts.watch } : {}),
      log: (l) => console.log(l),
      onChildExit: (child, code) => void stop(`${child} exited (${code})`, 1),
    });
    stack = await starting;
  } catch (err) {
    if (stopping) return;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message)) {
      console.error(`\nA port is already in use: ${e.message.split('\n')[0]}`);
      console.error('Stop the other process, or choose ports: ACR_CASCADE_PORTS="0,0,0,0" npm start');
      process.exit(1);
    }
    console.error(`\nThe stack did not start: ${e.message}`);
    process.exit(1);
  }
  if (stopping) return;
  const d = stack.description;
  const fn = d.functions;
  const watched = stack.watchedRegistries.map((id) => id.split('/').pop()).join(', ');
  const example = stack.watchedRegistries.length ? stack.watchedRegistries[0]!.split('/').pop() : 'mybaseregistry';
  console.log(`
Ready.
  Functions host   ${fn.baseUrl}   (function key in ${join(stateDir, 'stack.json')})
  ARM (emulated)   ${d.arm.endpoint}
  Token endpoint   ${d.identity.endpoint}
  Azure state      subscription ${d.subscriptionId}
  Watching         ${watched || '(no registry)'}
  Stack details    ${join(stateDir, 'stack.json')}

Try:
  npx acr-cascade plan mybaseregistry.azurecr.io/baseimages/node:15-alpine
  npx acr-cascade rebuild mybaseregistry.azurecr.io/baseimages/node:15-alpine --watch
  npm run push -- ${example} baseimages/node:15-alpine     (then: npx acr-cascade status)
  KEY=$(node -p "require('${join(stateDir, 'stack.json')}').functions.functionKey")
  echo "${fn.baseUrl}/api/dashboard/#key=$KEY"   # open it in a browser: the dashboard
Ctrl-C stops everything.`);
}

void main();
