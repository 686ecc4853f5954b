// App settings: the one place that names them, gives defaults and validates them.
// infra/ sets exactly these names (a test checks both directions), docs/operations.md explains them.

export interface Settings {
  /** Registries (ARM ids) whose ImagePushed events may start cascades. Events from any other topic are ignored. */
  watchedRegistries: string[];
  /** Key Vaults (ARM ids) whose secret events may start credential checks. */
  watchedVaults: string[];
  /** Scopes (subscription, resource group or registry ids) whose ACR tasks acr-cascade manages. */
  managedScopes: string[];
  /** Pushes of one tag within this many seconds coalesce into one cascade. */
  settleSeconds: number;
  /** At most this many runs in flight per cascade. */
  maxParallelRuns: number;
  /** A run that fails for a non-authorisation reason is retried this many times. */
  transientRetries: number;
  /** First poll of a scheduled run after this many seconds; doubles up to pollMaxSeconds. */
  pollInitialSeconds: number;
  pollMaxSeconds: number;
  /** A run claim without a run blocks another attempt this long before it is taken over (exactly-once guard). */
  claimTimeoutSeconds: number;
  /** What to do about ACR's own base-image triggers on managed tasks (see NATIVE_TRIGGER_POLICIES). */
  nativeTriggers: NativeTriggerPolicy;
  /** Under `adopt`: how long to wait for a task's native run before scheduling one. */
  nativeAdoptWindowSeconds: number;
  /** Create missing pull role assignments instead of only reporting them. */
  autoRemediate: boolean;
  /** Secrets expiring within this many days are reported `expiring`. */
  secretWarningDays: number;
  /** NCRONTAB (6 fields) of the scheduled credential check. */
  credentialCheckSchedule: string;
  /** Ended durable instances and the app's history/dedupe rows older than this many days are purged daily. */
  historyRetentionDays: number;
  /** NCRONTAB (6 fields) of the scheduled dependency index refresh. */
  indexRefreshSchedule: string;
  /** Event Grid custom topic endpoint for outbound CloudEvents; empty = no notifications. */
  notificationTopicEndpoint: string;
  /** ARM endpoint (public cloud by default). */
  armEndpoint: string;
  /** Token audience of ARM (the cloud's own: sovereign clouds differ); scope `<audience>/.default`. */
  armAudience: string;
  /** Key Vault challenge resource verification; switch off only for endpoints not under *.vault.azure.net. */
  keyVaultVerifyChallengeResource: boolean;
  /** Client id of a user-assigned identity for the app; empty = system-assigned. */
  appIdentityClientId: string;
  /** Table Storage connection (AzureWebJobsStorage by default). */
  storageConnection: string;
  /** Durable task hub name. */
  taskHub: string;
  /** How HTTP API callers authenticate: Entra ID bearer tokens with app roles, or function keys. */
  apiAuth: 'entra' | 'keys';
  /** Entra ID: the API's application (client) id that tokens must be issued for. */
  apiAudience: string;
  /** Entra ID: the tenant whose tokens are accepted. */
  apiTenantId: string;
  /** Entra ID authority host (public cloud by default; sovereign clouds have their own). */
  authorityHost: string;
}

/**
 * ACR starts a task's run by itself when a base it recorded is updated (its base-image trigger, on by default).
 * `adopt`: use that run as the task's run instead of scheduling one; `disable`: turn the trigger off on managed tasks
 * acr-cascade rebuilds and be the only scheduler; `ignore`: schedule anyway (such tasks build twice per push).
 */
export const NATIVE_TRIGGER_POLICIES = ['adopt', 'disable', 'ignore'] as const;
export type NativeTriggerPolicy = (typeof NATIVE_TRIGGER_POLICIES)[number];

export interface SettingSpec {
  env: string;
  default: string;
  description: string;
}

/** Every setting by environment variable name. Order matters only for docs. */
export const SETTING_SPECS = {
  watchedRegistries: {
    env: 'CASCADE_WATCHED_REGISTRIES',
    default: '',
    description: 'comma-separated ARM ids of base registries',
  },
  watchedVaults: { env: 'CASCADE_WATCHED_VAULTS', default: '', description: 'comma-separated ARM ids of Key Vaults' },
  managedScopes: {
    env: 'CASCADE_MANAGED_SCOPES',
    default: '',
    description: 'comma-separated ARM scopes (subscription, resource group or registry) whose tasks are managed',
  },
  settleSeconds: { env: 'CASCADE_SETTLE_SECONDS', default: '30', description: 'settle window in seconds (0-3600)' },
  maxParallelRuns: {
    env: 'CASCADE_MAX_PARALLEL_RUNS',
    default: '20',
    description: 'runs in flight per cascade (1-1000)',
  },
  transientRetries: {
    env: 'CASCADE_TRANSIENT_RETRIES',
    default: '1',
    description: 'retries of a run that failed for a transient reason (0-3)',
  },
  pollInitialSeconds: {
    env: 'CASCADE_POLL_INITIAL_SECONDS',
    default: '10',
    description: 'seconds before the first status poll of a run (1-600)',
  },
  pollMaxSeconds: { env: 'CASCADE_POLL_MAX_SECONDS', default: '60', description: 'cap of the poll backoff (1-3600)' },
  claimTimeoutSeconds: {
    env: 'CASCADE_CLAIM_TIMEOUT_SECONDS',
    default: '300',
    description: 'age at which a run claim without a run is taken over (10-3600)',
  },
  nativeTriggers: {
    env: 'CASCADE_NATIVE_TRIGGERS',
    default: 'adopt',
    description: "ACR's own base-image triggers on managed tasks: adopt | disable | ignore",
  },
  nativeAdoptWindowSeconds: {
    env: 'CASCADE_NATIVE_ADOPT_WINDOW_SECONDS',
    default: '120',
    description: 'under adopt, seconds to wait for a native run before scheduling one (5-3600)',
  },
  autoRemediate: {
    env: 'CASCADE_AUTO_REMEDIATE',
    default: 'false',
    description: 'create missing pull role assignments',
  },
  secretWarningDays: {
    env: 'CASCADE_SECRET_WARNING_DAYS',
    default: '30',
    description: 'days before expiry a secret is reported expiring (1-365)',
  },
  historyRetentionDays: {
    env: 'CASCADE_HISTORY_RETENTION_DAYS',
    default: '30',
    description: 'days ended cascades/checks and their history rows are kept (0-3650; 0 = purge every ended one)',
  },
  credentialCheckSchedule: {
    env: 'CASCADE_CREDENTIAL_CHECK_SCHEDULE',
    default: '0 0 3 * * *',
    description: 'NCRONTAB of the credential check',
  },
  indexRefreshSchedule: {
    env: 'CASCADE_INDEX_REFRESH_SCHEDULE',
    default: '0 */15 * * * *',
    description: 'NCRONTAB of the index refresh',
  },
  notificationTopicEndpoint: {
    env: 'CASCADE_NOTIFICATION_TOPIC_ENDPOINT',
    default: '',
    description: 'Event Grid topic endpoint for outbound CloudEvents',
  },
  armEndpoint: { env: 'CASCADE_ARM_ENDPOINT', default: 'https://management.azure.com', description: 'ARM endpoint' },
  armAudience: {
    env: 'CASCADE_ARM_AUDIENCE',
    default: 'https://management.azure.com',
    description: 'ARM token audience (the cloud being used)',
  },
  keyVaultVerifyChallengeResource: {
    env: 'CASCADE_KEYVAULT_VERIFY_CHALLENGE_RESOURCE',
    default: 'true',
    description: 'verify the Key Vault challenge resource matches the vault host',
  },
  appIdentityClientId: {
    env: 'AZURE_CLIENT_ID',
    default: '',
    description: 'client id of the app user-assigned identity (empty = system-assigned)',
  },
  storageConnection: {
    env: 'AzureWebJobsStorage',
    default: 'UseDevelopmentStorage=true',
    description: 'Table Storage connection string',
  },
  taskHub: { env: 'CASCADE_TASK_HUB', default: 'AcrCascade', description: 'Durable task hub name' },
  apiAuth: {
    env: 'CASCADE_API_AUTH',
    default: 'entra',
    description: "HTTP API authentication: 'entra' (bearer tokens with app roles) or 'keys' (function keys)",
  },
  apiAudience: {
    env: 'CASCADE_API_AUDIENCE',
    default: '',
    description: 'Entra ID: application (client) id of the API (required with entra)',
  },
  apiTenantId: {
    env: 'CASCADE_API_TENANT_ID',
    default: '',
    description: 'Entra ID: tenant id whose tokens are accepted (required with entra)',
  },
  authorityHost: {
    env: 'CASCADE_AUTHORITY_HOST',
    default: 'https://login.microsoftonline.com',
    description: 'Entra ID authority host',
  },
} as const satisfies Record<keyof Settings, SettingSpec>;

/** Thrown at start-up (and by HTTP functions) when a setting is malformed; the message names the setting. */
export class SettingsError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'SettingsError';
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, key: keyof Settings): string {
  const spec = SETTING_SPECS[key];
  const v = env[spec.env];
  return v === undefined || v.trim() === '' ? spec.default : v.trim();
}

function list(env: Env, key: keyof Settings, mustLookLike: RegExp, what: string): string[] {
  const items = raw(env, key)
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!mustLookLike.test(item)) throw new SettingsError(SETTING_SPECS[key].env, `'${item}' is not ${what}`);
  }
  return items;
}

function int(env: Env, key: keyof Settings, min: number, max: number): number {
  const text = raw(env, key);
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(SETTING_SPECS[key].env, `'${text}' is not an integer between ${min} and ${max}`);
  }
  return n;
}

function bool(env: Env, key: keyof Settings): boolean {
  const text = raw(env, key).toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new SettingsError(SETTING_SPECS[key].env, `'${text}' is not true or false`);
}

function oneOf<T extends string>(env: Env, key: keyof Settings, allowed: readonly T[]): T {
  const text = raw(env, key).toLowerCase();
  const found = allowed.find((a) => a === text);
  if (!found) throw new SettingsError(SETTING_SPECS[key].env, `'${text}' is not one of ${allowed.join(', ')}`);
  return found;
}

function url(env: Env, key: keyof Settings, optional: boolean): string {
  const text = raw(env, key);
  if (optional && text === '') return '';
  try {
    const u = new URL(text);
    if (u.protocol !== 'https:') throw new Error('not https');
  } catch {
    throw new SettingsError(SETTING_SPECS[key].env, `'${text}' is not an https URL`);
  }
  return text.replace(/\/+$/, '');
}

/** Tables the app itself owns (the Azure Storage backend names its own `<hub>History` and `<hub>Instances`). */
const APP_TABLES = ['CascadeIndex', 'CascadeHistory', 'CredentialHealth', 'CascadeDedupe'];

/**
 * A Durable Functions task hub name: 3–45 letters and digits, starting with a letter (the documented rule), and not
 * one whose backend tables would be the app's own (`Cascade` → `CascadeHistory`).
 */
function taskHub(env: Env): string {
  const text = raw(env, 'taskHub');
  const name = SETTING_SPECS.taskHub.env;
  if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(text)) {
    throw new SettingsError(name, `'${text}' is not a task hub name: 3-45 letters and digits, starting with a letter`);
  }
  const clash = APP_TABLES.find((t) =>
    [`${text}History`, `${text}Instances`].some((x) => x.toLowerCase() === t.toLowerCase()),
  );
  if (clash) throw new SettingsError(name, `'${text}' would make the durable backend use the app's own table ${clash}`);
  return text;
}

function cron(env: Env, key: keyof Settings): string {
  const text = raw(env, key);
  if (text.split(/\s+/).length !== 6) {
    throw new SettingsError(SETTING_SPECS[key].env, `'${text}' is not a 6-field NCRONTAB expression (seconds first)`);
  }
  return text;
}

const REGISTRY_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[^/]+$/i;
const VAULT_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i;
const SCOPE_ID =
  /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+(\/providers\/Microsoft\.ContainerRegistry\/registries\/[^/]+)?)?$/i;

/** Reads and validates every setting; throws SettingsError naming the first bad one. */
export function loadSettings(env: Env = process.env): Settings {
  return {
    watchedRegistries: list(env, 'watchedRegistries', REGISTRY_ID, 'a container registry resource id'),
    watchedVaults: list(env, 'watchedVaults', VAULT_ID, 'a key vault resource id'),
    managedScopes: list(env, 'managedScopes', SCOPE_ID, 'a subscription, resource group or registry id'),
    settleSeconds: int(env, 'settleSeconds', 0, 3600),
    maxParallelRuns: int(env, 'maxParallelRuns', 1, 1000),
    transientRetries: int(env, 'transientRetries', 0, 3),
    pollInitialSeconds: int(env, 'pollInitialSeconds', 1, 600),
    pollMaxSeconds: int(env, 'pollMaxSeconds', 1, 3600),
    claimTimeoutSeconds: int(env, 'claimTimeoutSeconds', 10, 3600),
    nativeTriggers: oneOf(env, 'nativeTriggers', NATIVE_TRIGGER_POLICIES),
    nativeAdoptWindowSeconds: int(env, 'nativeAdoptWindowSeconds', 5, 3600),
    autoRemediate: bool(env, 'autoRemediate'),
    secretWarningDays: int(env, 'secretWarningDays', 1, 365),
    credentialCheckSchedule: cron(env, 'credentialCheckSchedule'),
    historyRetentionDays: int(env, 'historyRetentionDays', 0, 3650),
    indexRefreshSchedule: cron(env, 'indexRefreshSchedule'),
    notificationTopicEndpoint: url(env, 'notificationTopicEndpoint', true),
    armEndpoint: url(env, 'armEndpoint', false),
    armAudience: url(env, 'armAudience', false),
    keyVaultVerifyChallengeResource: bool(env, 'keyVaultVerifyChallengeResource'),
    appIdentityClientId: raw(env, 'appIdentityClientId'),
    storageConnection: raw(env, 'storageConnection'),
    taskHub: taskHub(env),
    ...apiAuth(env),
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** With Entra ID auth, the audience and tenant must be set: checked where the API is served (and by /api/health). */
export function requireEntraSettings(s: Pick<Settings, 'apiAuth' | 'apiAudience' | 'apiTenantId'>): void {
  if (s.apiAuth !== 'entra') return;
  if (s.apiAudience === '') {
    throw new SettingsError(SETTING_SPECS.apiAudience.env, "is required when CASCADE_API_AUTH is 'entra'");
  }
  if (s.apiTenantId === '') {
    throw new SettingsError(SETTING_SPECS.apiTenantId.env, "is required when CASCADE_API_AUTH is 'entra'");
  }
}

function apiAuth(env: Env): Pick<Settings, 'apiAuth' | 'apiAudience' | 'apiTenantId' | 'authorityHost'> {
  const mode = raw(env, 'apiAuth').toLowerCase();
  if (mode !== 'entra' && mode !== 'keys') {
    throw new SettingsError(SETTING_SPECS.apiAuth.env, `'${mode}' is not 'entra' or 'keys'`);
  }
  const tenant = raw(env, 'apiTenantId');
  if (tenant !== '' && !GUID.test(tenant)) {
    throw new SettingsError(SETTING_SPECS.apiTenantId.env, 'is not a tenant id (GUID)');
  }
  return {
    apiAuth: mode,
    apiAudience: raw(env, 'apiAudience'),
    apiTenantId: tenant,
    authorityHost: url(env, 'authorityHost', false),
  };
}
