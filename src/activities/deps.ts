// What activities are built from: settings, SDK clients (from src/azure only), a clock and a logger.
// Built lazily once per worker process; tests build their own with clients pointed at the emulator.
import { loadSettings, type Settings } from '../config/settings.js';
import { createAzureClients, type AzureClients } from '../azure/clients.js';
import { invocationLog } from '../telemetry/invocation.js';

export interface Deps {
  settings: Settings;
  clients: AzureClients;
  now: () => Date;
  log: (message: string) => void;
}

let cached: Deps | undefined;

/** The process-wide dependencies; throws SettingsError (naming the setting) when configuration is invalid. */
export function defaultDeps(): Deps {
  if (!cached) {
    const settings = loadSettings();
    cached = { settings, clients: createAzureClients(settings), now: () => new Date(), log: invocationLog };
  }
  return cached;
}

/** Memoises a factory over the default deps, so each activity module is built once per process. */
export function lazy<T>(make: (deps: Deps) => T): () => T {
  let value: T | undefined;
  return () => (value ??= make(defaultDeps()));
}
