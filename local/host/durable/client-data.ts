// What the durable client binding hands to `df.getClient(context)`, and the management links
// (`createCheckStatusResponse`) — the same shapes the Durable Functions extension produces.

export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
/** The extension's local RPC endpoint; here served by the host's own server to loopback callers. */
export const RPC_PATH = '/durabletask/';
const ID_PLACEHOLDER = 'INSTANCEID';

export interface ManagementUrls {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

function urls(origin: string, hubName: string, systemKey: string, id: string): ManagementUrls {
  const base = `${origin}${WEBHOOK_PATH}/instances/${id}`;
  const q = `taskHub=${encodeURIComponent(hubName)}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  return {
    id,
    statusQueryGetUri: `${base}?${q}`,
    sendEventPostUri: `${base}/raiseEvent/{eventName}?${q}`,
    terminatePostUri: `${base}/terminate?reason={text}&${q}`,
    rewindPostUri: `${base}/rewind?reason={text}&${q}`,
    purgeHistoryDeleteUri: `${base}?${q}`,
    restartPostUri: `${base}/restart?${q}`,
    suspendPostUri: `${base}/suspend?reason={text}&${q}`,
    resumePostUri: `${base}/resume?reason={text}&${q}`,
  };
}

/** Links for one instance (the 202 body of a start request). */
export function managementUrls(origin: string, hubName: string, systemKey: string, instanceId: string): ManagementUrls {
  return urls(origin, hubName, systemKey, encodeURIComponent(instanceId));
}

/** The `durableClient` input binding's data. */
export function durableClientData(origin: string, hubName: string, systemKey: string): Record<string, unknown> {
  const code = `code=${encodeURIComponent(systemKey)}`;
  const webhook = `${origin}${WEBHOOK_PATH}`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${code}`,
      createAndWaitOnNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${code}`,
    },
    managementUrls: urls(origin, hubName, systemKey, ID_PLACEHOLDER),
    baseUrl: webhook,
    requiredQueryStringParameters: code,
    rpcBaseUrl: `${origin}${RPC_PATH}`,
  };
}
