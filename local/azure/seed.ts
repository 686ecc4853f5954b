// The scenario of the seed documents (../shared/seeds/) — local/scenarios/seed.json, applied by scenario.ts through
// the emulator's ARM and Key Vault APIs with the official SDK clients, as an operator would with `az` — plus the app's
// own roles and notification topic on the local stack: mybaseregistry with baseimages/node:15-alpine, myregistry
// with helloworldtask (user-assigned identity with AcrPull on the base registry) and dockerhubtask (system identity
// with `get` on mykeyvault's UserName/Password secrets), both with the base-image trigger `az acr task create` turns on.
import { join } from 'node:path';
import type { TokenCredential } from '@azure/identity';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { applyScenario, DEFAULT_TASK_TRIGGER, loadScenarioFile, runTasksOnce } from './scenario.js';

export const SEED = {
  resourceGroup: 'myResourceGroup',
  location: 'eastus',
  baseRegistry: 'mybaseregistry',
  appRegistry: 'myregistry',
  baseImage: { repository: 'baseimages/node', tag: '15-alpine' },
  identity: 'myACRTasksId',
  vault: 'mykeyvault',
  tasks: { hello: 'helloworldtask', dockerhub: 'dockerhubtask' },
  notificationTopic: 'acr-cascade-notifications',
  /**
   * The trigger `az acr task create` sends unless given `--base-image-trigger-enabled false`: ACR's own base-image
   * trigger, on, following the runtime base. Both seed tasks are created this way, as the seed documents do, so
   * every push of the base also starts ACR's own runs (CASCADE_NATIVE_TRIGGERS decides what acr-cascade does).
   */
  taskTrigger: DEFAULT_TASK_TRIGGER,
} as const;

export const ROLE = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  tasksContributor: 'fb382eab-e894-4461-af04-94435c366c3f',
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7',
} as const;

export interface SeedTarget {
  subscriptionId: string;
  tenantId: string;
  armEndpoint: string;
  operator: TokenCredential;
  /** The app's principal (gets the roles the app needs to read and schedule). */
  appPrincipalId: string;
  /** Pushes a synthetic image to a registry's data plane; returns its digest. */
  pushImage(registry: string, repository: string, tag: string): Promise<string>;
  /** Deterministic role-assignment names (GUIDs) for a re-runnable seed. */
  guid(label: string): string;
}

export interface SeedOptions {
  /** Webhook URLs of the app's Event Grid functions; without them no event subscriptions are created. */
  webhooks?: { registryEvents: string; vaultEvents: string };
  /**
   * Run each task once so ACR records baseImageDependencies (as in the docs' `az acr task run`); from then on a push
   * of the base starts ACR's own run of each task (SEED.taskTrigger).
   */
  runTasksOnce?: boolean;
  log?: (line: string) => void;
  /** Give the app identity the stack's default roles (default true; infra tests grant exactly the Bicep's instead). */
  grantAppRoles?: boolean;
}

export interface SeedResult {
  baseImageRef: string;
  baseDigest: string;
  registries: Record<string, string>;
  taskIds: Record<string, string>;
  identity: { id: string; principalId: string; clientId: string };
  dockerhubPrincipalId: string;
  vaultId: string;
  vaultUri: string;
  /** The ids of the role assignments the seed made (for tests that remove one). */
  assignments: Record<string, string>;
  notificationTopic: { id: string; endpoint: string };
}

const armOptions = (endpoint: string) => ({ endpoint, credentialScopes: ['https://management.azure.com/.default'] });

/** The seed scenario file (JSON, the format of scenario.ts). */
export const SEED_SCENARIO_FILE = join(__dirname, '..', 'scenarios', 'seed.json');

export async function seedScenario(t: SeedTarget, opts: SeedOptions = {}): Promise<SeedResult> {
  const log = opts.log ?? (() => {});
  const sub = t.subscriptionId;
  const rgId = `/subscriptions/${sub}/resourceGroups/${SEED.resourceGroup}`;
  const authz = new AuthorizationManagementClient(t.operator, sub, armOptions(t.armEndpoint));
  // The new-generation Key Vault client reads `credentials.scopes`, not credentialScopes.
  const kvm = new KeyVaultManagementClient(t.operator, sub, {
    endpoint: t.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });

  // Registries, the base image, the identity, the vault and its secrets, both tasks, their access and pull roles.
  const applied = await applyScenario(t, loadScenarioFile(SEED_SCENARIO_FILE), log);
  const registries = Object.fromEntries(Object.entries(applied.registries).map(([name, r]) => [name, r.id]));
  const baseImageRef = `${SEED.baseRegistry}.azurecr.io/${SEED.baseImage.repository}:${SEED.baseImage.tag}`;
  const baseDigest = applied.images[`${SEED.baseRegistry}/${SEED.baseImage.repository}:${SEED.baseImage.tag}`]!;
  const identity = applied.identities[SEED.identity]!;
  const vault = applied.vaults[SEED.vault]!;
  const assignments: Record<string, string> = { ...applied.assignments };
  const assign = async (label: string, scope: string, roleGuid: string, principalId: string) => {
    const ra = await authz.roleAssignments.create(scope, t.guid(label), {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId,
      principalType: 'ServicePrincipal',
    });
    assignments[label] = ra.id!;
  };

  // The app's own permissions for the local stack: built-in roles close to what it needs. infra/ grants tighter
  // custom roles in Azure; test/e2e/infra-roles.test.ts runs the cascade with exactly those instead.
  if (opts.grantAppRoles !== false) {
    await assign('app-reader', `/subscriptions/${sub}`, ROLE.reader, t.appPrincipalId);
    await assign('app-tasks', rgId, ROLE.tasksContributor, t.appPrincipalId);
    await kvm.vaults.updateAccessPolicy(SEED.resourceGroup, SEED.vault, 'add', {
      properties: {
        accessPolicies: [{ tenantId: t.tenantId, objectId: t.appPrincipalId, permissions: { secrets: ['list'] } }],
      },
    });
  }

  const taskIds = {
    [SEED.tasks.hello]: applied.tasks[SEED.tasks.hello]!.id,
    [SEED.tasks.dockerhub]: applied.tasks[SEED.tasks.dockerhub]!.id,
  };

  // The outbound notification topic (CloudEvents) the app publishes to with its identity.
  const token = await t.operator.getToken('https://management.azure.com/.default');
  const topicId = `${rgId}/providers/Microsoft.EventGrid/topics/${SEED.notificationTopic}`;
  const topicRes = await fetch(`${t.armEndpoint}${topicId}?api-version=2022-06-15`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token!.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ location: SEED.location, properties: { inputSchema: 'CloudEventSchemaV1_0' } }),
  });
  if (!topicRes.ok)
    throw new Error(`creating the notification topic failed: ${topicRes.status} ${await topicRes.text()}`);
  const notificationTopicEndpoint = ((await topicRes.json()) as { properties: { endpoint: string } }).properties
    .endpoint;
  if (opts.grantAppRoles !== false)
    await assign('app-eventgrid-sender', topicId, ROLE.eventGridDataSender, t.appPrincipalId);
  log(`notification topic ${SEED.notificationTopic}`);

  if (opts.runTasksOnce) await runTasksOnce(t, applied.runOnce, log);

  if (opts.webhooks) {
    await createSubscriptions(t, registries[SEED.baseRegistry]!, vault.id, opts.webhooks);
    log('event subscriptions: mybaseregistry → onRegistryEvent, mykeyvault → onVaultEvent');
  }

  return {
    baseImageRef,
    baseDigest,
    registries,
    taskIds,
    identity,
    dockerhubPrincipalId: applied.tasks[SEED.tasks.dockerhub]!.principalId!,
    vaultId: vault.id,
    vaultUri: vault.vaultUri,
    assignments,
    notificationTopic: { id: topicId, endpoint: notificationTopicEndpoint },
  };
}

/** System topics on the base registry and the vault, each with a WebHook subscription to the app's function. */
export async function createSubscriptions(
  t: SeedTarget,
  registryId: string,
  vaultId: string,
  hooks: { registryEvents: string; vaultEvents: string },
) {
  const token = (await t.operator.getToken('https://management.azure.com/.default'))!.token;
  const rgId = `/subscriptions/${t.subscriptionId}/resourceGroups/${SEED.resourceGroup}`;
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${t.armEndpoint}${path}?api-version=2022-06-15`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`PUT ${path} failed: ${res.status} ${await res.text()}`);
  };
  const topics = [
    {
      name: 'mybaseregistry-events',
      source: registryId,
      topicType: 'Microsoft.ContainerRegistry.Registries',
      url: hooks.registryEvents,
      types: ['Microsoft.ContainerRegistry.ImagePushed', 'Microsoft.ContainerRegistry.ImageDeleted'],
    },
    {
      name: 'mykeyvault-events',
      source: vaultId,
      topicType: 'Microsoft.KeyVault.vaults',
      url: hooks.vaultEvents,
      types: [
        'Microsoft.KeyVault.SecretNewVersionCreated',
        'Microsoft.KeyVault.SecretNearExpiry',
        'Microsoft.KeyVault.SecretExpired',
      ],
    },
  ];
  for (const topic of topics) {
    const topicPath = `${rgId}/providers/Microsoft.EventGrid/systemTopics/${topic.name}`;
    await put(topicPath, { location: SEED.location, properties: { source: topic.source, topicType: topic.topicType } });
    await put(`${topicPath}/eventSubscriptions/acr-cascade`, {
      properties: {
        destination: { endpointType: 'WebHook', properties: { endpointUrl: topic.url } },
        filter: { includedEventTypes: topic.types },
        eventDeliverySchema: 'EventGridSchema',
        retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
      },
    });
  }
}
