// `npm run emulator`: the emulated Azure APIs on loopback, seeded with the scenario, described in .local/stack.json.
//   --port <n>           ARM port (default 8443; 0 = any free port)
//   --identity-port <n>  managed-identity token endpoint port (default 8081; 0 = any)
//   --persist            keep state under .local/emulator (a restart keeps the topology)
//   --no-seed            start empty
import { guidFrom } from './guid.js';
import { join } from 'node:path';
import { reexecTrustingCa } from './core/tls.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function port(name: string, fallback: number): number {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number (0-65535), got '${raw}'`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  reexecTrustingCa();
  const { startEmulator, describeStack, writeStackFile, operatorPrincipal, appPrincipal } = await import('./index.js');
  const { seedScenario } = await import('./seed.js');
  const { EmulatorTokenCredential } = await import('./credential.js');
  const persist = process.argv.includes('--persist');
  let emu;
  try {
    emu = await startEmulator({
      port: port('--port', 8443),
      identityPort: port('--identity-port', 8081),
      persistDir: persist ? join(process.cwd(), '.local', 'emulator') : undefined,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      console.error(
        `A port is already in use (${e.message}). Stop the other process or pass --port 0 --identity-port 0.`,
      );
      process.exit(1);
    }
    throw err;
  }
  const stackPath = join(process.cwd(), '.local', 'stack.json');
  const alreadySeeded = emu.store.listResources('Microsoft.ContainerRegistry/registries').length > 0;
  if (!process.argv.includes('--no-seed') && !alreadySeeded) {
    const operator = new EmulatorTokenCredential(
      emu.identityEndpoint,
      emu.identityHeader,
      operatorPrincipal(emu).clientId,
    );
    await seedScenario(
      {
        subscriptionId: emu.subscriptionId,
        tenantId: emu.tenantId,
        armEndpoint: emu.armEndpoint,
        operator,
        appPrincipalId: appPrincipal(emu).objectId,
        pushImage: async (registry, repository, tag) =>
          emu.services.registryData!.pushSyntheticImage(registry, repository, tag).digest,
        guid: guidFrom,
      },
      { runTasksOnce: true, log: (l) => console.log(`  seed: ${l}`) },
    );
  }
  writeStackFile(stackPath, describeStack(emu));
  console.log(`emulator ready: ARM ${emu.armEndpoint}, token endpoint ${emu.identityEndpoint}`);
  console.log(`stack description: ${stackPath}`);
  const stop = async () => {
    await emu.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main();
