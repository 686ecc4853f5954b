// Event Grid wiring of the local stack: a system topic on each watched registry and vault with a WebHook
// subscription to the app's function (the emulator runs the validation handshake), as
// `az eventgrid system-topic event-subscription create` would.
import type { TokenCredential } from '@azure/identity';

export interface SubscriptionTarget {
  armEndpoint: string;
  operator: TokenCredential;
}

const KINDS = {
  registry: {
    topicType: 'Microsoft.ContainerRegistry.Registries',
    types: ['Microsoft.ContainerRegistry.ImagePushed', 'Microsoft.ContainerRegistry.ImageDeleted'],
  },
  vault: {
    topicType: 'Microsoft.KeyVault.vaults',
    types: [
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
    ],
  },
} as const;

/** `<name>-events` system topic in the source's resource group, subscription `acr-cascade` → `webhook`. */
export async function subscribeToApp(
  t: SubscriptionTarget,
  sourceId: string,
  kind: keyof typeof KINDS,
  webhook: string,
  location = 'eastus',
): Promise<void> {
  const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/providers\/[^/]+\/[^/]+\/([^/]+)$/i.exec(sourceId);
  if (!m) throw new TypeError(`not a registry or vault resource id: '${sourceId}'`);
  const [, rgId, name] = m as unknown as [string, string, string];
  const token = (await t.operator.getToken('https://management.azure.com/.default'))!.token;
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${t.armEndpoint}${path}?api-version=2022-06-15`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`PUT ${path} failed: ${res.status} ${await res.text()}`);
  };
  const topicPath = `${rgId}/providers/Microsoft.EventGrid/systemTopics/${name.toLowerCase()}-events`;
  await put(topicPath, {
    location,
    properties: { source: sourceId, topicType: KINDS[kind].topicType },
  });
  await put(`${topicPath}/eventSubscriptions/acr-cascade`, {
    properties: {
      destination: { endpointType: 'WebHook', properties: { endpointUrl: webhook } },
      filter: { includedEventTypes: [...KINDS[kind].types] },
      eventDeliverySchema: 'EventGridSchema',
      retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
    },
  });
}
