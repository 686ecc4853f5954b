// `npm start`: the whole of acr-cascade on this machine — emulated Azure, Azurite, the Functions host with the app —
// seeded with the scenario of the ACR docs. Ctrl-C stops everything.
//   --no-seed   start with an empty emulated subscription
//   --persist   keep emulator, Azurite and durable state under .local/ across restarts
// Ports: ACR_CASCADE_PORTS="arm,identity,host,azurite" (defaults 8443,8081,7071,10002; 0 = any free port).
import { reexecTrustingCa } from '../azure/core/tls.js';

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

async function main(): Promise<void> {
  reexecTrustingCa();
  const { startStack } = await import('./stack.js');
  console.log('acr-cascade local stack: starting emulator, Azurite and the Functions host…');
  let stack;
  try {
    stack = await startStack({
      ports: ports(),
      seed: !process.argv.includes('--no-seed'),
      persist: process.argv.includes('--persist'),
      log: (l) => console.log(l),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message)) {
      console.error(`\nA port is already in use: ${e.message.split('\n')[0]}`);
      console.error('Stop the other process, or choose ports: ACR_CASCADE_PORTS="0,0,0,0" npm start');
      process.exit(1);
    }
    console.error(`\nThe stack did not start: ${e.message}`);
    process.exit(1);
  }
  const d = stack.description;
  const fn = d.functions;
  console.log(`
Ready.
  Functions host   ${fn.baseUrl}   (function key in .local/stack.json)
  ARM (emulated)   ${d.arm.endpoint}
  Token endpoint   ${d.identity.endpoint}
  Azure state      subscription ${d.subscriptionId}
  Stack details    .local/stack.json

Try:
  npm run push -- mybaseregistry baseimages/node:15-alpine
  KEY=$(node -p "require('./.local/stack.json').functions.functionKey")
  echo "${fn.baseUrl}/api/dashboard/#key=$KEY"   # open it in a browser: the dashboard
  curl -H "x-functions-key: $KEY" "${fn.baseUrl}/api/rebuilds"
  curl -H "x-functions-key: $KEY" "${fn.baseUrl}/api/plan?image=mybaseregistry.azurecr.io/baseimages/node:15-alpine"
Ctrl-C stops everything.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

void main();
