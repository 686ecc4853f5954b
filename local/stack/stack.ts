// The local stack: the Azure emulator (in this process), Azurite's Table service and the Functions host (child
// processes), seeded with the scenario and wired so a push really flows registry → Event Grid → webhook → function.
// `npm start` runs it; e2e tests start one per file with free ports.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startEmulator,
  describeStack,
  writeStackFile,
  operatorPrincipal,
  appPrincipal,
  type Emulator,
  type StackDescription,
} from '../azure/index.js';
import { EmulatorTokenCredential } from '../azure/credential.js';
import { DEFAULT_TLS_DIR } from '../azure/core/tls.js';
import { seedScenario, createSubscriptions, SEED, type SeedResult } from '../azure/seed.js';
import { guidFrom } from '../azure/guid.js';
import { LOCAL_API_AUDIENCE } from '../azure/entra/index.js';
import { spawnHost, type SpawnedHost } from '../host/spawn.js';
import { freePort, startAzurite } from './azurite.js';

export interface StackOptions {
  /** Project root (package.json of the app). */
  root?: string;
  /** Where state, keys and stack.json live (default `<root>/.local`). */
  stateDir?: string;
  ports?: { arm?: number; identity?: number; host?: number; azurite?: number };
  seed?: boolean;
  /** Extra app settings (environment of the host), e.g. a short settle window in tests. */
  appSettings?: Record<string, string>;
  /** Emulated ACR run duration. */
  runDurationMs?: number;
  /** Give the app identity the stack's default roles (default true). */
  grantAppRoles?: boolean;
  /** Keep emulator state under stateDir/emulator. */
  persist?: boolean;
  log?: (line: string) => void;
  /** Where to write stack.json (default `<stateDir>/stack.json`); null = don't write. */
  stackFile?: string | null;
}

export interface FunctionsInfo {
  baseUrl: string;
  masterKey: string;
  functionKey: string;
  eventGridKey: string;
  durableTaskKey: string;
}

export interface RunningStack {
  emu: Emulator;
  description: StackDescription & { functions: FunctionsInfo };
  seed?: SeedResult;
  operator: EmulatorTokenCredential;
  /** The app settings the host was started with. */
  appSettings: Record<string, string>;
  /** Every line the host printed so far (all host generations). */
  hostLines: string[];
  /** SIGKILLs the host (no clean shutdown), as a crash would. */
  killHost(): Promise<void>;
  /** Starts the host again on the same port and state. */
  startHost(): Promise<FunctionsInfo>;
  stop(): Promise<void>;
}

/** Node reads NODE_EXTRA_CA_CERTS only at start-up: the bundle it names must already contain the emulator's CA. */
function trustsEmulatorCa(): boolean {
  const bundle = process.env.NODE_EXTRA_CA_CERTS;
  const ca = join(DEFAULT_TLS_DIR, 'ca.crt');
  if (!bundle || !existsSync(bundle) || !existsSync(ca)) return false;
  return bundle === ca || readFileSync(bundle, 'utf8').includes(readFileSync(ca, 'utf8').trim());
}

export async function startStack(opts: StackOptions = {}): Promise<RunningStack> {
  const root = opts.root ?? process.cwd();
  const stateDir = opts.stateDir ?? join(root, '.local');
  const log = opts.log ?? (() => {});
  mkdirSync(stateDir, { recursive: true });
  if (!trustsEmulatorCa()) {
    throw new Error(
      `NODE_EXTRA_CA_CERTS must include ${join(DEFAULT_TLS_DIR, 'ca.crt')} when the process starts (the npm scripts set it).`,
    );
  }

  // 1. Emulator (ARM, Key Vault, Event Grid, ACR) in this process.
  const emu = await startEmulator({
    port: opts.ports?.arm ?? 0,
    identityPort: opts.ports?.identity ?? 0,
    persistDir: opts.persist ? join(stateDir, 'emulator') : undefined,
    log: () => {},
  });
  // Stopped in reverse start order: the host, then Azurite, then the emulator.
  const stoppers: (() => Promise<void>)[] = [];
  let stopHost: (() => Promise<void>) | undefined;
  const stopAll = async () => {
    await stopHost?.().catch(() => {});
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    await emu.stop();
  };
  try {
    if (opts.runDurationMs !== undefined) {
      await fetch(`${emu.armEndpoint}/_emulator/acr/runs/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ durationMs: opts.runDurationMs }),
      });
    }
    const operator = new EmulatorTokenCredential(
      emu.identityEndpoint,
      emu.identityHeader,
      operatorPrincipal(emu).clientId,
    );
    const target = {
      subscriptionId: emu.subscriptionId,
      tenantId: emu.tenantId,
      armEndpoint: emu.armEndpoint,
      operator,
      appPrincipalId: appPrincipal(emu).objectId,
      pushImage: async (registry: string, repository: string, tag: string) =>
        emu.services.registryData!.pushSyntheticImage(registry, repository, tag).digest,
      guid: guidFrom,
    };

    // 2. Seed the scenario (unless already there from a persisted state).
    let seed: SeedResult | undefined;
    const seeded = emu.store.listResources('Microsoft.ContainerRegistry/registries').length > 0;
    if (opts.seed !== false && !seeded) {
      seed = await seedScenario(target, {
        runTasksOnce: true,
        grantAppRoles: opts.grantAppRoles,
        log: (l) => log(`[seed] ${l}`),
      });
    }

    // 3. Azurite (Table service only; in memory unless persisting).
    const azurite = await startAzurite({
      root,
      port: opts.ports?.azurite || undefined,
      location: opts.persist ? join(stateDir, 'azurite') : undefined,
      log,
    });
    stoppers.push(azurite.stop);
    const storage = azurite.connectionString;

    // 4. The Functions host with the app, configured exactly as on Azure but pointing at the emulator.
    const sub = emu.subscriptionId;
    const rgId = `/subscriptions/${sub}/resourceGroups/${SEED.resourceGroup}`;
    const appSettings: Record<string, string> = {
      AzureWebJobsStorage: storage,
      CASCADE_ARM_ENDPOINT: emu.armEndpoint,
      CASCADE_KEYVAULT_VERIFY_CHALLENGE_RESOURCE: 'false',
      CASCADE_WATCHED_REGISTRIES: `${rgId}/providers/Microsoft.ContainerRegistry/registries/${SEED.baseRegistry}`,
      CASCADE_WATCHED_VAULTS: `${rgId}/providers/Microsoft.KeyVault/vaults/${SEED.vault}`,
      CASCADE_MANAGED_SCOPES: `/subscriptions/${sub}`,
      CASCADE_NOTIFICATION_TOPIC_ENDPOINT: `${emu.armEndpoint}/_emulator/eventgrid/topics/${SEED.notificationTopic}/api/events`,
      CASCADE_TASK_HUB: 'AcrCascadeLocal',
      CASCADE_SETTLE_SECONDS: '5',
      CASCADE_POLL_INITIAL_SECONDS: '1',
      CASCADE_POLL_MAX_SECONDS: '5',
      // This host re-runs an interrupted activity as soon as it restarts (Azure Storage waits ~5 minutes), so a claim
      // left by a killed scheduleRun is taken over sooner.
      CASCADE_CLAIM_TIMEOUT_SECONDS: '15',
      // Function keys, so local scripts and curl work; tests switch to Entra ID tokens the emulator issues.
      CASCADE_API_AUTH: 'keys',
      CASCADE_API_TENANT_ID: emu.tenantId,
      CASCADE_API_AUDIENCE: LOCAL_API_AUDIENCE,
      CASCADE_AUTHORITY_HOST: `${emu.armEndpoint}/_emulator/entra`,
      ...opts.appSettings,
    };
    const hostPort = opts.ports?.host || (await freePort());
    let host: SpawnedHost | undefined;
    const hostLines: string[] = [];
    const launchHost = async (): Promise<FunctionsInfo> => {
      host = await spawnHost({
        appRoot: root,
        stateDir: join(stateDir, 'host'),
        port: hostPort,
        env: {
          ...appSettings,
          IDENTITY_ENDPOINT: emu.identityEndpoint,
          IDENTITY_HEADER: emu.identityHeader,
          NO_PROXY: '127.0.0.1,localhost',
        },
        onLine: (l) => {
          hostLines.push(l);
          // The ready line carries the keys; they are in stack.json, not in the console.
          if (!l.startsWith('{"ready"')) log(l);
        },
      });
      return {
        baseUrl: host.baseUrl,
        masterKey: host.keys.master,
        functionKey: host.keys.function,
        eventGridKey: host.keys.eventGrid,
        durableTaskKey: host.keys.durableTask,
      };
    };
    const functions = await launchHost();
    stopHost = async () => {
      await host?.stop();
    };

    // 5. Event Grid subscriptions from the base registry and the vault to the app's functions (handshake included).
    const hook = (fn: string) =>
      `${functions.baseUrl}/runtime/webhooks/eventgrid?functionName=${fn}&code=${functions.eventGridKey}`;
    if (opts.seed !== false) {
      await createSubscriptions(target, appSettings.CASCADE_WATCHED_REGISTRIES!, appSettings.CASCADE_WATCHED_VAULTS!, {
        registryEvents: hook('onRegistryEvent'),
        vaultEvents: hook('onVaultEvent'),
      });
      log('[stack] event subscriptions: mybaseregistry → onRegistryEvent, mykeyvault → onVaultEvent');
    }

    const description = {
      ...describeStack(emu),
      functions,
      azurite: { tableEndpoint: azurite.tableEndpoint },
    };
    const stackFile = opts.stackFile === undefined ? join(stateDir, 'stack.json') : opts.stackFile;
    if (stackFile) writeStackFile(stackFile, description);

    return {
      emu,
      description,
      seed,
      operator,
      appSettings,
      hostLines,
      killHost: async () => {
        await host?.kill('SIGKILL');
      },
      startHost: async () => {
        const info = await launchHost();
        description.functions = info;
        return info;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
