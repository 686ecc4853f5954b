// The setup the integration tests share: a private emulator seeded with the docs' scenario, a private Azurite, and the
// app's Deps (real SDK clients as the app identity) over settings that manage the seeded subscription.
// Usage: `h = await startAppHarness({ runDurationMs: 50 })` in beforeAll, `await h?.stop()` in afterAll.
import { startTestEmulator, appPrincipal, type TestEmulator } from './emulator.js';
import { startAzurite, type RunningAzurite } from '../../local/stack/azurite.js';
import { seedScenario, SEED, type SeedOptions, type SeedResult } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createAzureClients } from '../../src/azure/clients.js';
import type { Deps } from '../../src/activities/deps.js';

export interface AppHarnessOptions {
  /** How long the emulator's ACR runs take (ms); left at the emulator's default when omitted. */
  runDurationMs?: number;
  /** Options for seedScenario (e.g. `runTasksOnce`). */
  seed?: SeedOptions;
  /** Start Azurite and point `storageConnection` at it (default true). */
  azurite?: boolean;
  /** Settings laid over the harness's (after seeding, so they may use the seed). */
  settings?: (ctx: { t: TestEmulator; seed: SeedResult }) => Partial<Settings>;
  /** The Deps clock (default: the real one). */
  now?: () => Date;
  /** The Deps log (default: discard). */
  log?: (line: string) => void;
}

export interface AppHarness<A extends RunningAzurite | undefined = RunningAzurite> {
  t: TestEmulator;
  seed: SeedResult;
  azurite: A;
  /**
   * The app's settings: the emulator's ARM endpoint, no Key Vault challenge-resource check, Azurite storage, the
   * seeded subscription as managed scope, the base registry and the seeded vault watched; then `opts.settings`.
   */
  settings: Settings;
  /** Deps over `settings` with clients for the app identity. */
  deps: Deps;
  /** Stops Azurite and the emulator. */
  stop(): Promise<void>;
}

export function startAppHarness(opts: AppHarnessOptions & { azurite: false }): Promise<AppHarness<undefined>>;
export function startAppHarness(opts?: AppHarnessOptions): Promise<AppHarness>;
export async function startAppHarness(opts: AppHarnessOptions = {}): Promise<AppHarness<RunningAzurite | undefined>> {
  const t = await startTestEmulator();
  let azurite: RunningAzurite | undefined;
  const stop = async () => {
    await azurite?.stop();
    await t.stop();
  };
  try {
    const sub = t.emu.subscriptionId;
    if (opts.runDurationMs !== undefined) await t.admin('PUT', '/acr/runs/config', { durationMs: opts.runDurationMs });
    const seed = await seedScenario(
      {
        subscriptionId: sub,
        tenantId: t.emu.tenantId,
        armEndpoint: t.emu.armEndpoint,
        operator: t.operator,
        appPrincipalId: appPrincipal(t.emu).objectId,
        pushImage: async (registry, repository, tag) =>
          t.emu.services.registryData!.pushSyntheticImage(registry, repository, tag).digest,
        guid: guidFrom,
      },
      opts.seed,
    );
    if (opts.azurite !== false) azurite = await startAzurite();
    const settings: Settings = {
      ...loadSettings({}),
      armEndpoint: t.emu.armEndpoint,
      keyVaultVerifyChallengeResource: false,
      ...(azurite ? { storageConnection: azurite.connectionString } : {}),
      managedScopes: [`/subscriptions/${sub}`],
      watchedRegistries: [seed.registries[SEED.baseRegistry]!],
      watchedVaults: [seed.vaultId],
      ...opts.settings?.({ t, seed }),
    };
    const deps: Deps = {
      settings,
      clients: createAzureClients(settings, t.app),
      now: opts.now ?? (() => new Date()),
      log: opts.log ?? (() => {}),
    };
    return { t, seed, azurite, settings, deps, stop };
  } catch (err) {
    // A failed start must not leave servers behind: afterAll never sees a harness it was not given.
    await stop();
    throw err;
  }
}
