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
import type { ArmResource } from '../azure/core/state.js';
import { seedScenario, SEED, type SeedResult } from '../azure/seed.js';
import { applyScenario, runTasksOnce, type Scenario } from '../azure/scenario.js';
import { guidFrom } from '../azure/guid.js';
import { LOCAL_API_AUDIENCE } from '../azure/entra/index.js';
import { spawnHost, type SpawnedHost } from '../host/spawn.js';
import { freePort, startAzurite } from './azurite.js';
import { subscribeToApp } from './subscriptions.js';

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
  /**
   * Base registries whose pushes start cascades (names or ARM ids), or 'all' (every registry in the emulated
   * subscription once seeded). Default: the seed's base registry.
   */
  watch?: string[] | 'all';
  /** Scenarios (local/scenarios/*.json) applied after the seed; their `watch` lists are watched unless `watch` is set. */
  scenarios?: Scenario[];
  /** Azurite or the host exited without being asked to (the stack is then half gone: `npm start` stops it all). */
  onChildExit?: (child: 'azurite' | 'host', code: number | string) => void;
  /**
   * Runs once the emulator is seeded and before the Functions host starts, as `azd provision` (roles, settings)
   * precedes `azd deploy` (code): set-up the app must find in place from its first call, e.g. its role assignments.
   */
  beforeHost?: (ctx: BeforeHostContext) => Promise<void>;
}

export interface BeforeHostContext {
  emu: Emulator;
  seed: SeedResult | undefined;
  operator: EmulatorTokenCredential;
  /** The app settings the host will be started with. */
  appSettings: Readonly<Record<string, string>>;
  /** Object id of the app's managed identity. */
  appPrincipalId: string;
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
  /** Registries (ARM ids) whose pushes reach the app. */
  watchedRegistries: string[];
  /** Process ids of Azurite and the host (the emulator runs in this process). */
  pids(): { azurite: number; host?: number };
  /** SIGKILLs the host (no clean shutdown), as a crash would. */
  killHost(): Promise<void>;
  /** Starts the host again on the same port and state. */
  startHost(): Promise<FunctionsInfo>;
  /**
   * Starts one more Functions host with the app (another app, or another instance of it on Flex Consumption): same
   * identity, subscription and Azurite storage (so the same ARM buckets and the same CascadePacing rows), its own task
   * hub and state, and Event Grid subscriptions from `watch` (registries the stack's host does not watch: a registry's
   * system topic has one `acr-cascade` subscription). Stopped with the stack.
   */
  addHost(opts: ExtraHostOptions): Promise<ExtraHost>;
  stop(): Promise<void>;
}

export interface ExtraHostOptions {
  /** Names the host's task hub (`CASCADE_TASK_HUB`) and state directory. */
  name: string;
  /** Registry names or ids whose pushes reach this host. */
  watch: string[];
  /** App settings laid over the stack's host's. */
  appSettings?: Record<string, string>;
}

export interface ExtraHost {
  functions: FunctionsInfo;
  /** Every line the host printed. */
  lines: string[];
  pid: number;
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
  // Exits of children the stack did not ask for are reported (onChildExit); set while stopping or restarting the host.
  let stopping = false;
  let hostExitExpected = false;
  const stopAll = async () => {
    stopping = true;
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

    // 2b. Scenario files: more registries, tasks, identities, secrets and roles (each task runs once).
    for (const [i, scenario] of (opts.scenarios ?? []).entries()) {
      const applied = await applyScenario(target, scenario, (l) => log(`[scenario ${i + 1}] ${l}`));
      await runTasksOnce(target, applied.runOnce, (l) => log(`[scenario ${i + 1}] ${l}`));
    }

    // 3. Azurite (Table service only; in memory unless persisting).
    const azurite = await startAzurite({
      root,
      port: opts.ports?.azurite || undefined,
      location: opts.persist ? join(stateDir, 'azurite') : undefined,
      log,
      onExit: (code) => {
        if (!stopping) opts.onChildExit?.('azurite', code);
      },
    });
    stoppers.push(azurite.stop);
    const storage = azurite.connectionString;

    // 4. The Functions host with the app, configured exactly as on Azure but pointing at the emulator.
    const sub = emu.subscriptionId;
    const rgId = `/subscriptions/${sub}/resourceGroups/${SEED.resourceGroup}`;
    const registries = emu.store.listResources<ArmResource & { location?: string }>(
      'Microsoft.ContainerRegistry/registries',
    );
    const vaults = emu.store.listResources<ArmResource & { location?: string }>('Microsoft.KeyVault/vaults');
    const scenarioWatch = (opts.scenarios ?? []).flatMap((s) => s.watch ?? []);
    const watchedRegistries = resolveWatch(
      opts.watch ??
        (scenarioWatch.length
          ? [...new Set([...(opts.seed !== false ? [SEED.baseRegistry] : []), ...scenarioWatch])]
          : undefined),
      registries,
      rgId,
    );
    // Every vault of the emulated subscription: a secret event anywhere checks the tasks that use that secret.
    const watchedVaults = vaults.length
      ? vaults.map((v) => v.id)
      : [`${rgId}/providers/Microsoft.KeyVault/vaults/${SEED.vault}`];
    const appSettings: Record<string, string> = {
      AzureWebJobsStorage: storage,
      CASCADE_ARM_ENDPOINT: emu.armEndpoint,
      CASCADE_KEYVAULT_VERIFY_CHALLENGE_RESOURCE: 'false',
      CASCADE_WATCHED_REGISTRIES: watchedRegistries.join(','),
      CASCADE_WATCHED_VAULTS: watchedVaults.join(','),
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
        onExit: (code) => {
          if (!stopping && !hostExitExpected) opts.onChildExit?.('host', code);
        },
      });
      hostExitExpected = false;
      return {
        baseUrl: host.baseUrl,
        masterKey: host.keys.master,
        functionKey: host.keys.function,
        eventGridKey: host.keys.eventGrid,
        durableTaskKey: host.keys.durableTask,
      };
    };
    await opts.beforeHost?.({ emu, seed, operator, appSettings, appPrincipalId: target.appPrincipalId });
    const functions = await launchHost();
    stopHost = async () => {
      hostExitExpected = true;
      await host?.stop();
    };

    // 5. Event Grid subscriptions from the watched registries and the vaults to the app's functions (handshake
    // included). Registries named by --watch that do not exist yet were refused above.
    const hookOf = (f: FunctionsInfo) => (fn: string) =>
      `${f.baseUrl}/runtime/webhooks/eventgrid?functionName=${fn}&code=${f.eventGridKey}`;
    const hook = hookOf(functions);
    for (const r of registries.filter((x) => watchedRegistries.some((id) => id.toLowerCase() === x.id.toLowerCase()))) {
      await subscribeToApp(target, r.id, 'registry', hook('onRegistryEvent'), r.location);
    }
    for (const v of vaults) await subscribeToApp(target, v.id, 'vault', hook('onVaultEvent'), v.location);
    const names = (ids: string[]) => ids.map((id) => id.split('/').pop()).join(', ') || '(none)';
    log(
      `[stack] event subscriptions: ${names(registries.filter((r) => watchedRegistries.includes(r.id)).map((r) => r.id))} → onRegistryEvent, ${names(vaults.map((v) => v.id))} → onVaultEvent`,
    );

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
      watchedRegistries,
      pids: () => ({ azurite: azurite.pid, ...(host ? { host: host.pid } : {}) }),
      killHost: async () => {
        hostExitExpected = true;
        await host?.kill('SIGKILL');
      },
      startHost: async () => {
        const info = await launchHost();
        description.functions = info;
        return info;
      },
      addHost: async ({ name, watch, appSettings: extra = {} }) => {
        if (!/^[a-z][a-z0-9]{0,30}$/i.test(name)) throw new TypeError(`addHost name: '${name}' is not alphanumeric`);
        const watched = resolveWatch(watch, registries, rgId);
        const taken = watched.filter((id) => watchedRegistries.some((w) => w.toLowerCase() === id.toLowerCase()));
        if (taken.length) throw new Error(`addHost ${name}: ${taken.join(', ')} already sends its events to the host`);
        const extraHost = await spawnHost({
          appRoot: root,
          stateDir: join(stateDir, `host-${name}`),
          env: {
            ...appSettings,
            CASCADE_TASK_HUB: `AcrCascade${name}`,
            CASCADE_WATCHED_REGISTRIES: watched.join(','),
            ...extra,
            IDENTITY_ENDPOINT: emu.identityEndpoint,
            IDENTITY_HEADER: emu.identityHeader,
            NO_PROXY: '127.0.0.1,localhost',
          },
          onLine: (l) => {
            if (!l.startsWith('{"ready"')) log(`[${name}] ${l}`);
          },
        });
        stoppers.push(() => extraHost.stop());
        const info: FunctionsInfo = {
          baseUrl: extraHost.baseUrl,
          masterKey: extraHost.keys.master,
          functionKey: extraHost.keys.function,
          eventGridKey: extraHost.keys.eventGrid,
          durableTaskKey: extraHost.keys.durableTask,
        };
        for (const r of registries.filter((x) => watched.some((id) => id.toLowerCase() === x.id.toLowerCase()))) {
          await subscribeToApp(target, r.id, 'registry', hookOf(info)('onRegistryEvent'), r.location);
        }
        return { functions: info, lines: extraHost.lines, pid: extraHost.pid, stop: () => extraHost.stop() };
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}

/**
 * --watch names (or ids) → registry ids; 'all' → every registry there is. Names must exist: a typo would otherwise
 * watch nothing, silently. Without --watch: the seed's base registry.
 */
export function resolveWatch(
  watch: StackOptions['watch'],
  registries: { id: string; name: string }[],
  seedRgId: string,
): string[] {
  if (watch === 'all') return registries.map((r) => r.id);
  if (!watch || watch.length === 0) {
    const seedBase = `${seedRgId}/providers/Microsoft.ContainerRegistry/registries/${SEED.baseRegistry}`;
    return [registries.find((r) => r.id.toLowerCase() === seedBase.toLowerCase())?.id ?? seedBase];
  }
  return watch.map((w) => {
    const found = registries.find(
      (r) => r.name.toLowerCase() === w.toLowerCase() || r.id.toLowerCase() === w.toLowerCase(),
    );
    if (!found) {
      throw new Error(
        `--watch ${w}: no such registry in the emulated subscription; there are: ${registries.map((r) => r.name).join(', ') || '(none)'}`,
      );
    }
    return found.id;
  });
}
