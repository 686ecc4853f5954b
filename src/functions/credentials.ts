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
import { randomUUID } from 'node:crypto';
import * as df from 'durable-functions';
import { loadSettings, SETTING_SPECS, type Settings } from '../config/settings.js';
import { classifyVaultEvent, type VaultSecretEvent } from '../domain/index.js';
import { invalid, apiAuthLevel, callerOf, route } from '../http/errors.js';
import { describeCaller, ROLES } from '../http/auth.js';
import * as v from '../http/validate.js';
import { logger } from '../telemetry/log.js';
import { statusOf } from './durable.js';
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
import { credentialActivities as activities } from './activities.js';
import { credentialCheck } from '../orchestrations/credentialCheck.js';

export const FULL_CHECK_INSTANCE_ID = 'acr-cascade-credential-check';

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

/**
 * The body of POST /api/credentials/check → scope. Empty body or `{}` = every managed credential;
 * `{ "tasks": [taskId, …] }` = those tasks (each inside a managed scope, else 403); `{ "secret": uri }` = the tasks
 * using that secret. Throws ApiError naming the field.
 */
export function parseCheckRequest(
  body: Record<string, unknown>,
  settings: Pick<Settings, 'managedScopes'>,
): CredentialCheckInput['scope'] {
  if (body.tasks !== undefined && body.secret !== undefined) {
    throw invalid('secret', "give either 'tasks' or 'secret', not both");
  }
  if (body.secret !== undefined) return { kind: 'secret', ...v.secretUri(body.secret) };
  if (body.tasks === undefined) return { kind: 'all' };
  return { kind: 'tasks', tasks: v.taskIds(body.tasks, 'tasks', settings.managedScopes) };
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

const RUNNING = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
  df.OrchestrationRuntimeStatus.Suspended,
]);

/** A fresh id for one run of the check (the singleton instance id is only its lock). */
export function newCheckId(trigger: CredentialCheckInput['trigger']): string {
  return `check-${trigger}-${randomUUID()}`;
}

/**
 * Starts the full check unless one is running (the singleton instance id is the lock). Returns the checkId of the
 * started run, or undefined when one was already running.
 */
async function startFullCheck(
  client: df.DurableClient,
  trigger: CredentialCheckInput['trigger'],
  warningDays: number,
  requestedBy?: string,
): Promise<{ checkId?: string; started: boolean }> {
  const existing = await statusOf(client, FULL_CHECK_INSTANCE_ID, true);
  if (existing && RUNNING.has(existing.runtimeStatus)) {
    const running = (existing.input as CredentialCheckInput | undefined)?.checkId;
    return { started: false, ...(running ? { checkId: running } : {}) };
  }
  const checkId = newCheckId(trigger);
  const input: CredentialCheckInput = {
    scope: { kind: 'all' },
    trigger,
    warningDays,
    checkId,
    ...(requestedBy ? { requestedBy } : {}),
  };
  await client.startNew(OrchestrationNames.credentialCheck, { instanceId: FULL_CHECK_INSTANCE_ID, input });
  return { checkId, started: true };
}

export async function credentialCheckTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const settings = loadSettings();
  const r = await startFullCheck(df.getClient(context), 'timer', settings.secretWarningDays);
  logger(context, r.checkId ? { checkId: r.checkId } : {}).info(
    'credentialCheck.timer',
    r.started ? 'full credential check started' : 'a full credential check is still running; not started again',
    { started: r.started },
  );
}

export async function onVaultEvent(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const settings = loadSettings();
  const c = classifyVaultEvent(event, settings.watchedVaults);
  const id = typeof (event as { id?: unknown }).id === 'string' ? event.id : '(no id)';
  const log = logger(context, { eventId: id });
  if (c.kind !== 'accept') {
    // Ignored or malformed: one line, and a normal return so Event Grid does not retry it.
    log.info(`vaultEvent.${c.kind}`, `Key Vault event ${c.kind}: ${c.reason}`);
    return;
  }
  const client = df.getClient(context);
  const instanceId = eventInstanceId(c.eventId);
  if (await statusOf(client, instanceId)) {
    log.info('vaultEvent.redelivered', `redelivery of an event already handled by ${instanceId}`, { instanceId });
    return;
  }
  await client.startNew(OrchestrationNames.credentialCheck, {
    instanceId,
    input: vaultEventCheckInput(c, settings.secretWarningDays),
  });
  log
    .with({ checkId: instanceId })
    .info(
      'vaultEvent.accepted',
      `${c.secret.type} for secret '${c.secret.name}' (${c.secret.vaultName}) → check ${instanceId}`,
    );
}

function credentialsUrl(req: HttpRequest): string {
  return `${new URL(req.url).origin}/api/credentials`;
}

export async function postCredentialCheck(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const settings = loadSettings();
  const scope = parseCheckRequest(await v.jsonObject(request, ['tasks', 'secret'], true), settings);
  const client = df.getClient(context);
  const requestedBy = describeCaller(callerOf(request));
  let checkId: string | undefined;
  let alreadyRunning = false;
  if (scope.kind === 'all') {
    const r = await startFullCheck(client, 'http', settings.secretWarningDays, requestedBy);
    checkId = r.checkId;
    alreadyRunning = !r.started;
  } else {
    checkId = newCheckId('http');
    const input: CredentialCheckInput = {
      scope,
      trigger: 'http',
      warningDays: settings.secretWarningDays,
      checkId,
      requestedBy,
    };
    await client.startNew(OrchestrationNames.credentialCheck, { instanceId: checkId, input });
  }
  logger(context, checkId ? { checkId } : {}).info('credentialCheck.requested', `credential check requested`, {
    scope: scope.kind,
    alreadyRunning,
  });
  const url = credentialsUrl(request);
  return {
    status: 202,
    headers: { location: url },
    jsonBody: { ...(checkId ? { id: checkId, checkId } : {}), scope: scope.kind, alreadyRunning, statusUri: url },
  };
}

export async function getCredentials(request: HttpRequest): Promise<HttpResponseInit> {
  const statusText = request.query.get('status');
  const status = statusText === null ? undefined : v.oneOf(statusText, STATUSES, 'status');
  const taskText = request.query.get('task');
  const settings = loadSettings();
  const task = taskText === null ? undefined : v.taskId(taskText, 'task', settings.managedScopes);
  const list = await activities().listCredentialHealth({
    ...(status ? { status } : {}),
    ...(task ? { task } : {}),
  });
  return {
    status: 200,
    jsonBody: {
      count: list.credentials.length,
      ...list,
      ...(list.lastCheck
        ? {}
        : {
            note:
              'no credential check has run yet; POST /api/credentials/check starts one ' +
              '(the scheduled one runs at CASCADE_CREDENTIAL_CHECK_SCHEDULE)',
          }),
    },
  };
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
  authLevel: apiAuthLevel(),
  extraInputs: [df.input.durableClient()],
  handler: route(ROLES.operator, postCredentialCheck),
});
app.http('getCredentials', {
  route: 'credentials',
  methods: ['GET'],
  authLevel: apiAuthLevel(),
  handler: route(ROLES.reader, getCredentials),
});
