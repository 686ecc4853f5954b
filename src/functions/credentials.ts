// Credential triggers: the scheduled full check, Key Vault secret events (targeted check of the tasks using that
// secret), POST /api/credentials/check (on demand, 202 + status URLs) and GET /api/credentials (latest health per
// credential, from the CredentialHealth table). Registers the credentialCheck orchestration and its activities.
//
// Instance ids: the full check is a singleton (`acr-cascade-credential-check`): a timer tick or request while one runs
// answers with the running one. A Key Vault event runs as `credential-check-event-<event id>`, so a redelivered event
// finds its instance and starts nothing.
import {
  app,
  type EventGridEvent,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';
import { loadSettings, SETTING_SPECS, SettingsError, type Settings } from '../config/settings.js';
import {
  classifyVaultEvent,
  isAncestorOrSelf,
  parseResourceId,
  parseSecretUri,
  ResourceIdError,
  SecretUriError,
  type VaultSecretEvent,
} from '../domain/index.js';
import {
  ActivityNames,
  OrchestrationNames,
  type CheckCredentialsInput,
  type CredentialCheckInput,
  type CredentialStatus,
  type InventoryCredentialsInput,
  type RecordCredentialHealthInput,
  type RefreshCredentialInput,
  type RotateCredentialInput,
} from '../contracts/index.js';
import { credentialActivities } from './activities.js';
import { credentialCheck } from '../orchestrations/credentialCheck.js';

export const FULL_CHECK_INSTANCE_ID = 'acr-cascade-credential-check';

const activities = credentialActivities;

// ---- orchestration and activities ------------------------------------------------------------------------------------

df.app.orchestration(OrchestrationNames.credentialCheck, credentialCheck);
df.app.activity(ActivityNames.inventoryCredentials, {
  handler: (input: InventoryCredentialsInput) => activities().inventoryCredentials(input),
});
df.app.activity(ActivityNames.checkCredentials, {
  handler: (input: CheckCredentialsInput) => activities().checkCredentials(input),
});
df.app.activity(ActivityNames.refreshCredential, {
  handler: (input: RefreshCredentialInput) => activities().refreshCredential(input),
});
df.app.activity(ActivityNames.rotateCredential, {
  handler: (input: RotateCredentialInput) => activities().rotateCredential(input),
});
df.app.activity(ActivityNames.recordCredentialHealth, {
  handler: (input: RecordCredentialHealthInput) => activities().recordCredentialHealth(input),
});

// ---- pure helpers (unit-tested) --------------------------------------------------------------------------------------

/** A Key Vault secret event → a check of exactly the tasks that use that secret. */
export function vaultEventCheckInput(ev: VaultSecretEvent, warningDays: number): CredentialCheckInput {
  return {
    scope: { kind: 'secret', vaultUrl: ev.secret.vaultUrl, name: ev.secret.name },
    trigger: 'event',
    warningDays,
  };
}

/** Instance id of the targeted check an event starts (its redeliveries map to the same id). */
export function eventInstanceId(eventId: string): string {
  return `credential-check-event-${eventId.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}`;
}

export class RequestError extends Error {
  constructor(
    readonly status: 400 | 403,
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/**
 * The body of POST /api/credentials/check → scope. Empty body or `{}` = every managed credential;
 * `{ "tasks": [taskId, …] }` = those tasks (each inside a managed scope, else 403); `{ "secret": uri }` = the tasks
 * using that secret.
 */
export function parseCheckRequest(
  body: unknown,
  settings: Pick<Settings, 'managedScopes'>,
): CredentialCheckInput['scope'] {
  if (body === undefined || body === null) return { kind: 'all' };
  if (typeof body !== 'object' || Array.isArray(body))
    throw new RequestError(400, undefined, 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'tasks' && k !== 'secret');
  if (unknown.length)
    throw new RequestError(400, unknown[0], `unknown field '${unknown[0]}' (use 'tasks' or 'secret')`);
  if (b.tasks !== undefined && b.secret !== undefined) {
    throw new RequestError(400, 'secret', "give either 'tasks' or 'secret', not both");
  }
  if (b.secret !== undefined) {
    if (typeof b.secret !== 'string')
      throw new RequestError(400, 'secret', "field 'secret' must be a secret URI string");
    try {
      const ref = parseSecretUri(b.secret);
      return { kind: 'secret', vaultUrl: ref.vaultUrl, name: ref.name };
    } catch (err) {
      if (err instanceof SecretUriError) throw new RequestError(400, 'secret', `field 'secret': ${err.message}`);
      throw err;
    }
  }
  if (b.tasks === undefined) return { kind: 'all' };
  if (!Array.isArray(b.tasks) || b.tasks.length === 0) {
    throw new RequestError(400, 'tasks', "field 'tasks' must be a non-empty array of task resource ids");
  }
  const tasks: string[] = [];
  b.tasks.forEach((t, i) => {
    const field = `tasks[${i}]`;
    if (typeof t !== 'string') throw new RequestError(400, field, `field '${field}' must be a task resource id string`);
    try {
      const p = parseResourceId(t);
      if (p.types.length !== 2 || p.types[1]?.toLowerCase() !== 'tasks')
        throw new ResourceIdError(t, 'type', 'not an ACR task id');
    } catch (err) {
      if (err instanceof ResourceIdError) {
        throw new RequestError(
          400,
          field,
          `field '${field}': '${t}' is not an ACR task id (…/registries/{r}/tasks/{t})`,
        );
      }
      throw err;
    }
    if (!settings.managedScopes.some((s) => isAncestorOrSelf(s, t))) {
      throw new RequestError(403, field, `task '${t}' is outside the managed scopes (CASCADE_MANAGED_SCOPES)`);
    }
    tasks.push(t);
  });
  return { kind: 'tasks', tasks };
}

const STATUSES: readonly CredentialStatus[] = [
  'healthy',
  'expiring',
  'expired',
  'disabled',
  'missing',
  'accessDenied',
  'outdatedVersion',
  'rotated',
  'refreshed',
  'notYetValid',
  'unknown',
];

// ---- triggers ----------------------------------------------------------------------------------------------------------

function settingsOr500(): Settings | HttpResponseInit {
  try {
    return loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) {
      return {
        status: 500,
        jsonBody: { error: { code: 'Misconfigured', setting: err.setting, message: err.message } },
      };
    }
    throw err;
  }
}

async function statusOf(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (err) {
    if (err instanceof Error && /\b404\b/.test(err.message)) return undefined;
    throw err;
  }
}

const RUNNING = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
  df.OrchestrationRuntimeStatus.Suspended,
]);

/** Starts the singleton full check unless one is running; returns the instance id either way. */
async function startFullCheck(
  client: df.DurableClient,
  trigger: CredentialCheckInput['trigger'],
  warningDays: number,
): Promise<{ instanceId: string; started: boolean }> {
  const existing = await statusOf(client, FULL_CHECK_INSTANCE_ID);
  if (existing && RUNNING.has(existing.runtimeStatus)) return { instanceId: FULL_CHECK_INSTANCE_ID, started: false };
  const input: CredentialCheckInput = { scope: { kind: 'all' }, trigger, warningDays };
  await client.startNew(OrchestrationNames.credentialCheck, { instanceId: FULL_CHECK_INSTANCE_ID, input });
  return { instanceId: FULL_CHECK_INSTANCE_ID, started: true };
}

export async function credentialCheckTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const settings = loadSettings();
  const client = df.getClient(context);
  const r = await startFullCheck(client, 'timer', settings.secretWarningDays);
  context.log(
    r.started
      ? `credentialCheckTimer: started ${r.instanceId}`
      : `credentialCheckTimer: ${r.instanceId} is still running; not started again`,
  );
}

export async function onVaultEvent(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const settings = loadSettings();
  const c = classifyVaultEvent(event, settings.watchedVaults);
  const id = typeof (event as { id?: unknown }).id === 'string' ? event.id : '(no id)';
  if (c.kind !== 'accept') {
    // Ignored or malformed: one line, and a normal return so Event Grid does not retry it.
    context.log(`onVaultEvent ${id}: ${c.kind} — ${c.reason}`);
    return;
  }
  const client = df.getClient(context);
  const instanceId = eventInstanceId(c.eventId);
  if (await statusOf(client, instanceId)) {
    context.log(`onVaultEvent ${id}: redelivery of an event already handled by ${instanceId}`);
    return;
  }
  await client.startNew(OrchestrationNames.credentialCheck, {
    instanceId,
    input: vaultEventCheckInput(c, settings.secretWarningDays),
  });
  context.log(
    `onVaultEvent ${id}: ${c.secret.type} for secret '${c.secret.name}' (${c.secret.vaultName}) → ${instanceId}`,
  );
}

export async function postCredentialCheck(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const settings = settingsOr500();
  if (!('managedScopes' in settings)) return settings;
  let body: unknown;
  const text = await request.text();
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return { status: 400, jsonBody: { error: { code: 'InvalidRequest', message: 'the body is not valid JSON' } } };
    }
  }
  let scope: CredentialCheckInput['scope'];
  try {
    scope = parseCheckRequest(body, settings);
  } catch (err) {
    if (err instanceof RequestError) {
      return {
        status: err.status,
        jsonBody: {
          error: {
            code: err.status === 403 ? 'NotManaged' : 'InvalidRequest',
            ...(err.field ? { field: err.field } : {}),
            message: err.message,
          },
        },
      };
    }
    throw err;
  }
  const client = df.getClient(context);
  if (scope.kind === 'all') {
    const r = await startFullCheck(client, 'http', settings.secretWarningDays);
    return client.createCheckStatusResponse(request, r.instanceId);
  }
  const input: CredentialCheckInput = { scope, trigger: 'http', warningDays: settings.secretWarningDays };
  const instanceId = await client.startNew(OrchestrationNames.credentialCheck, { input });
  return client.createCheckStatusResponse(request, instanceId);
}

export async function getCredentials(request: HttpRequest): Promise<HttpResponseInit> {
  const status = request.query.get('status') ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as CredentialStatus)) {
    return {
      status: 400,
      jsonBody: {
        error: { code: 'InvalidRequest', field: 'status', message: `status must be one of ${STATUSES.join(', ')}` },
      },
    };
  }
  const task = request.query.get('task') ?? undefined;
  const settings = settingsOr500();
  if (!('managedScopes' in settings)) return settings;
  const list = await activities().listCredentialHealth({
    ...(status ? { status: status as CredentialStatus } : {}),
    ...(task ? { task } : {}),
  });
  return { status: 200, jsonBody: { count: list.credentials.length, ...list } };
}

/** The schedule is read at registration (empty/invalid setting → the documented default; the check then fails loudly). */
function schedule(): string {
  try {
    return loadSettings().credentialCheckSchedule;
  } catch {
    return SETTING_SPECS.credentialCheckSchedule.default;
  }
}

app.timer('credentialCheckTimer', {
  schedule: schedule(),
  extraInputs: [df.input.durableClient()],
  handler: credentialCheckTimer,
});
app.eventGrid('onVaultEvent', { extraInputs: [df.input.durableClient()], handler: onVaultEvent });
app.http('postCredentialCheck', {
  route: 'credentials/check',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: postCredentialCheck,
});
app.http('getCredentials', { route: 'credentials', methods: ['GET'], authLevel: 'function', handler: getCredentials });
