// The scenario of the seed documents (../shared/seeds/), created through the emulator's ARM and Key Vault APIs with
// the official SDK clients, as an operator would with `az`: mybaseregistry with baseimages/node:15-alpine, myregistry
// with helloworldtask (user-assigned identity with AcrPull on the base registry) and dockerhubtask (system identity
// with `get` on mykeyvault's UserName/Password secrets), both with the base-image trigger `az acr task create` turns on.
import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';

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
  taskTrigger: {
    baseImageTrigger: {
      name: 'defaultBaseimageTriggerName',
      status: 'Enabled',
      baseImageTriggerType: 'Runtime',
      updateTriggerPayloadType: 'Default',
    },
  },
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

export async function seedScenario(t: SeedTarget, opts: SeedOptions = {}): Promise<SeedResult> {
  const log = opts.log ?? (() => {});
  const sub = t.subscriptionId;
  const rg = SEED.resourceGroup;
  const rgId = `/subscriptions/${sub}/resourceGroups/${rg}`;
  const acr = new ContainerRegistryManagementClient(t.operator, sub, armOptions(t.armEndpoint));
  const authz = new AuthorizationManagementClient(t.operator, sub, armOptions(t.armEndpoint));
  const msi = new ManagedServiceIdentityClient(t.operator, sub, armOptions(t.armEndpoint));
  // The new-generation Key Vault client reads `credentials.scopes`, not credentialScopes.
  const kvm = new KeyVaultManagementClient(t.operator, sub, {
    endpoint: t.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });

  // az group create --name myResourceGroup --location eastus (no Resources SDK installed: plain ARM call)
  const token = await t.operator.getToken('https://management.azure.com/.default');
  const rgRes = await fetch(`${t.armEndpoint}${rgId}?api-version=2021-04-01`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token!.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ location: SEED.location }),
  });
  if (!rgRes.ok) throw new Error(`creating resource group failed: ${rgRes.status} ${await rgRes.text()}`);
  log(`resource group ${rg}`);

  // az acr create (both registries)
  const registries: Record<string, string> = {};
  for (const name of [SEED.baseRegistry, SEED.appRegistry]) {
    const r = await acr.registries.beginCreateAndWait(rg, name, { location: SEED.location, sku: { name: 'Premium' } });
    registries[name] = r.id!;
    log(`registry ${name} (${r.loginServer})`);
  }
  const baseLoginServer = `${SEED.baseRegistry}.azurecr.io`;

  // az acr build --image baseimages/node:15-alpine --registry mybaseregistry
  const baseDigest = await t.pushImage(SEED.baseRegistry, SEED.baseImage.repository, SEED.baseImage.tag);
  const baseImageRef = `${baseLoginServer}/${SEED.baseImage.repository}:${SEED.baseImage.tag}`;
  log(`pushed ${baseImageRef}@${baseDigest}`);

  // az identity create --resource-group myResourceGroup --name myACRTasksId
  const ident = await msi.userAssignedIdentities.createOrUpdate(rg, SEED.identity, { location: SEED.location });
  const identity = { id: ident.id!, principalId: ident.principalId!, clientId: ident.clientId! };
  log(`identity ${SEED.identity} (clientId ${identity.clientId})`);

  const assignments: Record<string, string> = {};
  const assign = async (label: string, scope: string, roleGuid: string, principalId: string) => {
    const ra = await authz.roleAssignments.create(scope, t.guid(label), {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId,
      principalType: 'ServicePrincipal',
    });
    assignments[label] = ra.id!;
  };

  // az role assignment create --assignee $principalID --scope $baseregID --role acrpull
  await assign('helloworldtask-acrpull', registries[SEED.baseRegistry]!, ROLE.acrPull, identity.principalId);

  // az keyvault create + az keyvault secret set (UserName, Password)
  const vault = await kvm.vaults.createOrUpdate(rg, SEED.vault, {
    location: SEED.location,
    properties: {
      tenantId: t.tenantId,
      sku: { family: 'A', name: 'standard' },
      accessPolicies: [],
      enableRbacAuthorization: false,
    },
  });
  const vaultUri = vault.properties!.vaultUri!;
  const vaultBase = vaultUri.replace(/\/+$/, '');
  log(`key vault ${SEED.vault} (${vaultUri})`);
  const operatorOid = JSON.parse(Buffer.from(token!.token.split('.')[1]!, 'base64url').toString()).oid as string;
  await kvm.vaults.updateAccessPolicy(rg, SEED.vault, 'add', {
    properties: {
      accessPolicies: [{ tenantId: t.tenantId, objectId: operatorOid, permissions: { secrets: ['all'] } }],
    },
  });
  const secrets = new SecretClient(vaultBase, t.operator, { disableChallengeResourceVerification: true });
  const yearFromNow = new Date(Date.now() + 365 * 86400_000);
  await secrets.setSecret('UserName', 'hubuser', { expiresOn: yearFromNow, contentType: 'text/plain' });
  // A random password: the seed never prints it, and tests can read it to prove it never leaks.
  await secrets.setSecret('Password', `dckr_pat_${randomBytes(18).toString('base64url')}`, {
    expiresOn: yearFromNow,
    contentType: 'text/plain',
  });

  // helloworldtask: multi-step task from the docs, user-assigned identity, MSI login to the base registry.
  const helloYaml = [
    'version: v1.1.0',
    'steps:',
    `  - build: -t $Registry/hello-world:$ID https://github.com/Azure-Samples/acr-build-helloworld-node.git -f Dockerfile-app --build-arg REGISTRY_NAME=${baseLoginServer}`,
    '  - push: ["$Registry/hello-world:$ID"]',
    '',
  ].join('\n');
  const hello = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, SEED.tasks.hello, {
    location: SEED.location,
    // Dockerfile-app lives in a git repo the emulator cannot read: declare the base (and the output) as tags.
    tags: { 'cascade.baseImages': baseImageRef, 'cascade.outputImages': `${SEED.appRegistry}.azurecr.io/hello-world` },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } },
    platform: { os: 'Linux' },
    step: {
      type: 'EncodedTask',
      encodedTaskContent: Buffer.from(helloYaml).toString('base64'),
      contextPath: '/dev/null',
    },
    credentials: { customRegistries: { [baseLoginServer]: { identity: identity.clientId } } },
    trigger: SEED.taskTrigger,
    timeout: 600,
  });
  log(`task ${SEED.tasks.hello}`);

  // dockerhubtask: system identity reading Docker Hub credentials from Key Vault; it also builds on the base image.
  const dockerYaml = [
    'version: v1.1.0',
    'alias:',
    '  values:',
    '    REPO: hubuser/hubrepo',
    'steps:',
    `  - build: -t $REPO:$ID https://github.com/Azure-Samples/acr-tasks.git -f hello-world.dockerfile --build-arg BASE=${baseImageRef}`,
    '  - push:',
    '    - $REPO:$ID',
    '',
  ].join('\n');
  const dockerhub = await acr.tasks.beginCreateAndWait(rg, SEED.appRegistry, SEED.tasks.dockerhub, {
    location: SEED.location,
    tags: { 'cascade.baseImages': baseImageRef },
    identity: { type: 'SystemAssigned' },
    platform: { os: 'Linux' },
    step: {
      type: 'EncodedTask',
      encodedTaskContent: Buffer.from(dockerYaml).toString('base64'),
      contextPath: '/dev/null',
    },
    credentials: {
      customRegistries: {
        'docker.io': {
          userName: { type: 'Vaultsecret', value: `${vaultBase}/secrets/UserName` },
          password: { type: 'Vaultsecret', value: `${vaultBase}/secrets/Password` },
          identity: '[system]',
        },
        [baseLoginServer]: { identity: '[system]' },
      },
    },
    trigger: SEED.taskTrigger,
    timeout: 600,
  });
  const dockerhubPrincipalId = dockerhub.identity!.principalId!;
  // az keyvault set-policy --name mykeyvault --object-id $principalID --secret-permissions get
  await kvm.vaults.updateAccessPolicy(rg, SEED.vault, 'add', {
    properties: {
      accessPolicies: [{ tenantId: t.tenantId, objectId: dockerhubPrincipalId, permissions: { secrets: ['get'] } }],
    },
  });
  await assign('dockerhubtask-acrpull', registries[SEED.baseRegistry]!, ROLE.acrPull, dockerhubPrincipalId);
  log(`task ${SEED.tasks.dockerhub}`);

  // The app's own permissions for the local stack: built-in roles close to what it needs. infra/ grants tighter
  // custom roles in Azure; test/e2e/infra-roles.test.ts runs the cascade with exactly those instead.
  if (opts.grantAppRoles !== false) {
    await assign('app-reader', `/subscriptions/${sub}`, ROLE.reader, t.appPrincipalId);
    await assign('app-tasks', rgId, ROLE.tasksContributor, t.appPrincipalId);
    await kvm.vaults.updateAccessPolicy(rg, SEED.vault, 'add', {
      properties: {
        accessPolicies: [{ tenantId: t.tenantId, objectId: t.appPrincipalId, permissions: { secrets: ['list'] } }],
      },
    });
  }

  const taskIds = { [SEED.tasks.hello]: hello.id!, [SEED.tasks.dockerhub]: dockerhub.id! };

  // The outbound notification topic (CloudEvents) the app publishes to with its identity.
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

  if (opts.runTasksOnce) {
    for (const [name, id] of Object.entries(taskIds)) {
      const run = await acr.registries.beginScheduleRunAndWait(rg, SEED.appRegistry, {
        type: 'TaskRunRequest',
        taskId: id,
      });
      let status = run.status;
      for (let i = 0; i < 600 && !['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'].includes(status ?? ''); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await acr.runs.get(rg, SEED.appRegistry, run.runId!)).status;
      }
      log(`first run of ${name}: ${run.runId} ${status}`);
    }
  }

  if (opts.webhooks) {
    await createSubscriptions(t, registries[SEED.baseRegistry]!, vault.id!, opts.webhooks);
    log('event subscriptions: mybaseregistry → onRegistryEvent, mykeyvault → onVaultEvent');
  }

  return {
    baseImageRef,
    baseDigest,
    registries,
    taskIds,
    identity,
    dockerhubPrincipalId,
    vaultId: vault.id!,
    vaultUri,
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
