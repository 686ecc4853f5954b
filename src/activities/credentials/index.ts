// Activities of the credential check, built over injected deps (functions/credentials.ts builds one per process with
// `lazy`; tests build theirs with clients pointed at the emulator). Inputs and outputs carry secret URIs and verdicts,
// never values: the only value ever held is inside rotateCredential.
import { randomUUID } from 'node:crypto';
import { createArmAdapters, type ArmAdapters } from '../../azure/adapters.js';
import { createCredentialOps, type CredentialOps } from '../../azure/credentialOps.js';
import type {
  CheckCredentialsInput,
  CredentialHealth,
  InventoryCredentialsInput,
  InventoryCredentialsOutput,
  RecordCredentialHealthInput,
  RecordCredentialHealthOutput,
  RefreshCredentialInput,
  RefreshCredentialOutput,
  RotateCredentialInput,
  RotateCredentialOutput,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { createPlanActivities, type IndexSnapshot } from '../plan/index.js';
import { checkCredentials } from './health.js';
import { inventoryCredentials, type RecordTaskDetails } from './inventory.js';
import { refreshCredential } from './refresh.js';
import { ROTATION_LEASE_MS, rotateCredential, type RotationLock } from './rotate.js';
import { CREDENTIAL_HEALTH_TABLE, CredentialHealthStore, type CredentialListFilter, type LastCheck } from './store.js';

export { CREDENTIAL_HEALTH_TABLE, CredentialHealthStore, totalsOf } from './store.js';
export type { CredentialListFilter, LastCheck } from './store.js';
export { credentialRefsOf, tasksInScope } from './inventory.js';
export type { RecordTaskDetails } from './inventory.js';
export { versionlessUri } from './refresh.js';
export { REVOKE_EXPIRY_SECONDS, ROTATION_LEASE_MS, ROTATION_VALIDITY_DAYS, validityDays } from './rotate.js';

export interface CredentialActivities {
  inventoryCredentials(input: InventoryCredentialsInput): Promise<InventoryCredentialsOutput>;
  checkCredentials(input: CheckCredentialsInput): Promise<CredentialHealth[]>;
  refreshCredential(input: RefreshCredentialInput): Promise<RefreshCredentialOutput>;
  rotateCredential(input: RotateCredentialInput): Promise<RotateCredentialOutput>;
  recordCredentialHealth(input: RecordCredentialHealthInput): Promise<RecordCredentialHealthOutput>;
  /** GET /api/credentials: every credential with its latest health, and the last check (read-only). */
  listCredentialHealth(
    filter?: CredentialListFilter,
  ): Promise<{ credentials: CredentialHealth[]; lastCheck?: LastCheck }>;
}

export interface CredentialActivityOptions {
  /** The dependency index (defaults to the plan activities' index, built on first use). */
  index?: () => Promise<IndexSnapshot>;
  arm?: () => ArmAdapters;
  ops?: CredentialOps;
  /** Write-through of task details a check read (defaults to the plan activities' index). */
  recordTaskDetails?: RecordTaskDetails;
}

export function createCredentialActivities(deps: Deps, options: CredentialActivityOptions = {}): CredentialActivities {
  const store = new CredentialHealthStore(deps.clients.table(CREDENTIAL_HEALTH_TABLE));
  let plan: ReturnType<typeof createPlanActivities> | undefined;
  const index = options.index ?? (() => (plan ??= createPlanActivities(deps)).index());
  const record: RecordTaskDetails =
    options.recordTaskDetails ?? ((reads) => (plan ??= createPlanActivities(deps)).recordTaskDetails(reads));
  // Fresh adapters per call: their request counters and caches belong to one activity invocation.
  const arm = options.arm ?? (() => createArmAdapters(deps.clients));
  const ops = options.ops ?? createCredentialOps(deps.clients);
  const lock: RotationLock = {
    acquire: async (secret) => {
      const lease = randomUUID();
      return (await store.tryLock(`rotate|${secret}`, lease, ROTATION_LEASE_MS, deps.now())) ? lease : undefined;
    },
    release: (secret, lease) => store.unlock(`rotate|${secret}`, lease),
  };

  return {
    inventoryCredentials: (input) => inventoryCredentials(deps, arm(), index, input, record),
    checkCredentials: (input) => checkCredentials(deps, arm(), input),
    refreshCredential: (input) => refreshCredential(arm(), ops, input, record, deps.now),
    rotateCredential: (input) => rotateCredential(deps, arm(), ops, input, lock),
    recordCredentialHealth: (input) => store.record(input),
    listCredentialHealth: async (filter) => {
      const [credentials, lastCheck] = await Promise.all([store.list(filter), store.lastCheck()]);
      return lastCheck ? { credentials, lastCheck } : { credentials };
    },
  };
}
