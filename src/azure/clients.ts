// The only place that constructs Azure SDK clients: one credential, the configured ARM endpoint, retry that honours
// Retry-After (the SDK pipeline's throttling policy does this for 429 and 503), and per-subscription/vault caches.
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { EventGridPublisherClient } from '@azure/eventgrid';
import type { Settings } from '../config/settings.js';
import { invocationLog } from '../telemetry/invocation.js';
import {
  MAX_READ_WAIT_MS,
  READ_BURST,
  READ_REFILL_PER_SECOND,
  WRITE_BURST,
  WRITE_REFILL_PER_SECOND,
  WritePacer,
  writePacerPolicy,
} from './writePacer.js';
import { PACING_TABLE, READS_PARTITION, TableWriteBudget } from './writeBudget.js';

export interface AzureClients {
  readonly credential: TokenCredential;
  /** Paces ARM writes of this credential; the ACR clients keep it informed from response headers. */
  readonly writePacer: WritePacer;
  acr(subscriptionId: string): ContainerRegistryManagementClient;
  authorization(subscriptionId: string): AuthorizationManagementClient;
  identities(subscriptionId: string): ManagedServiceIdentityClient;
  vaults(subscriptionId: string): KeyVaultManagementClient;
  secrets(vaultUrl: string): SecretClient;
  table(name: string): TableClient;
  /** Outbound notifications; undefined when no topic is configured. */
  publisher(): EventGridPublisherClient<'CloudEvent'> | undefined;
}

/**
 * Poll interval of ACR's long-running operations (scheduleRun, run cancel, task update, generateCredentials) when ARM
 * sends no Retry-After (its Retry-After still wins). ACR finishes them within a second; the SDK's 2 s default would
 * keep an activity — and with it a run of the cascade's first wave — waiting for nothing.
 */
export const LRO_POLL = { updateIntervalInMs: 500 } as const;

// Generous retries: ARM throttling is normal at scale and the pipeline waits the Retry-After it is given.
const RETRY = { maxRetries: 6, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 };

function memo<T>(make: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    const k = key.toLowerCase();
    let v = cache.get(k);
    if (!v) {
      v = make(key);
      cache.set(k, v);
    }
    return v;
  };
}

/** Managed identity on Functions (IDENTITY_ENDPOINT present); DefaultAzureCredential elsewhere (developer machines). */
export function createCredential(settings: Pick<Settings, 'appIdentityClientId'>): TokenCredential {
  if (process.env.IDENTITY_ENDPOINT || process.env.MSI_ENDPOINT) {
    return settings.appIdentityClientId
      ? new ManagedIdentityCredential({ clientId: settings.appIdentityClientId })
      : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(
    settings.appIdentityClientId ? { managedIdentityClientId: settings.appIdentityClientId } : {},
  );
}

/** Parses `AccountName=...;` connection strings, `UseDevelopmentStorage=true`, or an account name (identity-based). */
function tableClientFactory(
  connection: string,
  credential: TokenCredential,
  options: TableServiceClientOptions = {},
): (table: string) => TableClient {
  if (/^UseDevelopmentStorage=true/i.test(connection)) {
    const dev =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';
    return (t) => TableClient.fromConnectionString(dev, t, { ...options, allowInsecureConnection: true });
  }
  if (/AccountName=|TableEndpoint=/i.test(connection)) {
    const insecure = /TableEndpoint=http:|DefaultEndpointsProtocol=http;/i.test(connection);
    return (t) => TableClient.fromConnectionString(connection, t, { ...options, allowInsecureConnection: insecure });
  }
  // Identity-based: AzureWebJobsStorage__accountName (Functions convention) or a table service URL.
  const url = /^https:\/\//i.test(connection) ? connection : `https://${connection}.table.core.windows.net`;
  return (t) => new TableClient(url, t, credential, options);
}

export function createAzureClients(
  settings: Settings,
  credential = createCredential(settings),
  pacer?: WritePacer,
): AzureClients {
  // The audience comes from settings: sovereign clouds have their own (infra sets it from Bicep's environment()).
  const armScope = `${settings.armAudience.replace(/\/+$/, '')}/.default`;
  const arm = { endpoint: settings.armEndpoint, credentialScopes: [armScope], retryOptions: RETRY };
  // The new-generation Key Vault management client ignores credentialScopes and reads `credentials.scopes`.
  const armNextGen = { endpoint: settings.armEndpoint, credentials: { scopes: [armScope] }, retryOptions: RETRY };
  // The table service URL (set by infra from the account's own endpoints, right in every cloud) before the account
  // name, from which only the public cloud's URL can be built.
  const storage =
    process.env.AzureWebJobsStorage__tableServiceUri ??
    process.env.AzureWebJobsStorage__accountName ??
    settings.storageConnection;
  const tables = memo(tableClientFactory(storage, credential));
  // The pacing rows fail fast (one quick retry, not the SDK's ~6 s of backoff): every ARM request waits on them, and
  // without them the pacer paces the process alone for a while (writePacer.ts SHARED_RETRY_AFTER_MS).
  const pacingTable = tableClientFactory(storage, credential, {
    retryOptions: { maxRetries: 1, retryDelayInMs: 100, maxRetryDelayInMs: 200 },
  })(PACING_TABLE);
  // Every instance of the app paces its writes from one bucket in the app's storage (writeBudget.ts).
  const writePacer =
    pacer ??
    new WritePacer({
      shared: new TableWriteBudget(pacingTable, { burst: WRITE_BURST, perSecond: WRITE_REFILL_PER_SECOND }),
      onSharedError: (err) =>
        invocationLog(`ARM write budget: the shared table failed; pacing this instance alone: ${String(err)}`),
    });
  // ARM's read bucket, shared the same way: ACR's LRO polls (two reads per scheduleRun) wait for it instead of 429s.
  const readPacer = new WritePacer({
    burst: READ_BURST,
    perSecond: READ_REFILL_PER_SECOND,
    maxWaitMs: MAX_READ_WAIT_MS,
    shared: new TableWriteBudget(pacingTable, {
      burst: READ_BURST,
      perSecond: READ_REFILL_PER_SECOND,
      partition: READS_PARTITION,
    }),
    onSharedError: (err) =>
      invocationLog(`ARM read budget: the shared table failed; pacing this instance alone: ${String(err)}`),
  });
  // ARM counts every client's requests of this principal in the same buckets: the ARM clients share the pacers.
  const paced = { ...arm, additionalPolicies: [writePacerPolicy(writePacer, readPacer)] };
  let publisher: EventGridPublisherClient<'CloudEvent'> | undefined;
  return {
    credential,
    writePacer,
    acr: memo((sub) => new ContainerRegistryManagementClient(credential, sub, paced)),
    authorization: memo((sub) => new AuthorizationManagementClient(credential, sub, paced)),
    identities: memo((sub) => new ManagedServiceIdentityClient(credential, sub, paced)),
    vaults: memo(
      (sub) =>
        new KeyVaultManagementClient(credential, sub, { ...armNextGen, additionalPolicies: paced.additionalPolicies }),
    ),
    secrets: memo(
      (vaultUrl) =>
        new SecretClient(vaultUrl, credential, {
          disableChallengeResourceVerification: !settings.keyVaultVerifyChallengeResource,
          retryOptions: RETRY,
        }),
    ),
    table: tables,
    publisher: () => {
      if (!settings.notificationTopicEndpoint) return undefined;
      publisher ??= new EventGridPublisherClient(settings.notificationTopicEndpoint, 'CloudEvent', credential);
      return publisher;
    },
  };
}
