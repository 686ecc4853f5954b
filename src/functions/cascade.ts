// Rebuild cascades: the Event Grid trigger, the two orchestrations and the run/report activities. The trigger only
// validates and hands over to durable instances. The /api/rebuilds routes live in rebuilds.ts.
//
// Event → cascade: an accepted push (watched registry, image manifest/index, with a tag) goes to the cascade whose
// instance id is deterministic per (registry, repository, tag) (domain cascadeInstanceId): running → raise `push`;
// otherwise → start it. Before that, two cheap filters: `admitPush` (Table CascadeDedupe: an event id or digest this
// tag already handled, or a push older than the last one — Event Grid redeliveries) and `isOwnPush` (a push made by
// a run acr-cascade scheduled: the parent cascade carries on through its waves, so it must not start another one).
// Ignored, rejected and filtered events: one log line with the reason, then return normally (no retry storm).
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { loadSettings, SettingsError, type Settings } from '../config/settings.js';
import { cascadeInstanceId, classifyRegistryEvent, formatImageRef, isNewerPush } from '../domain/index.js';
import {
  ActivityNames,
  OrchestrationNames,
  PUSH_EVENT,
  type CancelRunInput,
  type CascadeInput,
  type CascadeProgress,
  type CascadeResult,
  type GetRunInput,
  type IsOwnPushInput,
  type PublishNotificationsInput,
  type PushedImage,
  type ScheduleRunInput,
} from '../activities/contracts.js';
import { reportActivities, runActivities } from './activities.js';
import { rebuildCascadeHandler } from '../orchestrations/rebuildCascade.js';
import { rebuildTaskHandler } from '../orchestrations/rebuildTask.js';
import { ACTIVE, cascadeInputFrom, statusOf, type DurableClient, type Status } from './durable.js';
import { logger } from '../telemetry/log.js';

// ---- Event Grid ----------------------------------------------------------------------------------------------------

/** How long the trigger waits for a running cascade to confirm it read a push before failing the delivery. */
const HANDOVER_RECEIPT_MS = 20_000;

/** Has this instance (any generation since, through the carried ids) read the event? */
function hasRead(status: Status | undefined, eventId: string): boolean {
  const ids = (status?.customStatus as CascadeProgress | null | undefined)?.eventIds;
  return Array.isArray(ids) && ids.includes(eventId);
}

/** The image an ended cascade built (its output), if it ended with a CascadeResult. */
function builtImage(status: Status): PushedImage | undefined {
  const out = status.output as Partial<CascadeResult> | null | undefined;
  return typeof out === 'object' && out !== null && typeof out.image?.digest === 'string' ? out.image : undefined;
}

/**
 * Waits until the cascade shows it read `eventId`, or ends without reading it (an event raised to an instance in its
 * final episode is dropped by the runtime). Neither within HANDOVER_RECEIPT_MS: throws, so Event Grid redelivers;
 * raising again is harmless because a cascade ignores an event id it has read.
 */
async function receipt(client: DurableClient, instanceId: string, eventId: string): Promise<'read' | 'ended'> {
  const deadline = Date.now() + HANDOVER_RECEIPT_MS;
  for (let wait = 25; ; wait = Math.min(wait * 2, 1000)) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const status = await statusOf(client, instanceId);
    if (hasRead(status, eventId)) return 'read';
    if (!status || !ACTIVE.has(status.runtimeStatus)) return 'ended';
    if (Date.now() > deadline) {
      throw new Error(
        `cascade ${instanceId} has not confirmed push event ${eventId} within ${HANDOVER_RECEIPT_MS / 1000} s; ` +
          'failing this delivery so Event Grid redelivers it',
      );
    }
  }
}

/**
 * Hands a push to its tag's cascade: raised to a running one (and confirmed read), else a new cascade is started.
 * A cascade that ends between our look and the raise never reads the event, so the push is handed over again.
 */
async function handOver(
  client: DurableClient,
  instanceId: string,
  input: CascadeInput & { image: PushedImage },
  eventId: string,
  log: (message: string) => void,
): Promise<'raised' | 'started' | 'already read' | 'superseded'> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const status = await statusOf(client, instanceId);
    if (hasRead(status, eventId)) return 'already read';
    // An ended cascade that built this digest or a newer push needs no successor for this one (a late delivery).
    const built = status && !ACTIVE.has(status.runtimeStatus) ? builtImage(status) : undefined;
    if (built && !isNewerPush(input.image, built)) return 'superseded';
    if (status && ACTIVE.has(status.runtimeStatus)) {
      await client.raiseEvent(instanceId, PUSH_EVENT, input.image);
      log(`onRegistryEvent: event ${eventId} raised to running cascade ${instanceId}; waiting for it to read it`);
      if ((await receipt(client, instanceId, eventId)) === 'read') return 'raised';
      log(`onRegistryEvent: cascade ${instanceId} ended without reading event ${eventId}; handing it over again`);
      continue;
    }
    try {
      await client.startNew(OrchestrationNames.rebuildCascade, { instanceId, input });
      return 'started';
    } catch (err) {
      // 409: another delivery of a push of this tag started it first; raise to it on the next turn.
      if (!(err instanceof Error && /status code: 409/.test(err.message))) throw err;
    }
  }
  throw new Error(`could not hand the push over to cascade ${instanceId}`);
}

export async function onRegistryEvent(event: unknown, context: InvocationContext): Promise<void> {
  const eventId =
    typeof event === 'object' && event !== null && typeof (event as { id?: unknown }).id === 'string'
      ? (event as { id: string }).id.slice(0, 100)
      : '(no id)';
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    context.error(`onRegistryEvent: event ${eventId} not handled: app misconfigured: ${err.message}`);
    return;
  }
  const c = classifyRegistryEvent(event, settings.watchedRegistries);
  if (c.kind === 'reject') {
    context.warn(`onRegistryEvent: rejected event ${eventId}: ${c.reason}`);
    return;
  }
  if (c.kind === 'ignore') {
    context.log(`onRegistryEvent: ignored event ${eventId}: ${c.reason}`);
    return;
  }
  if (!c.image.tag) {
    context.log(`onRegistryEvent: ignored event ${eventId}: push by digest (no tag) — nothing builds FROM it`);
    return;
  }
  const image: PushedImage = {
    ref: formatImageRef({ loginServer: c.image.loginServer, repository: c.image.repository, tag: c.image.tag }),
    digest: c.image.digest,
    registryId: c.image.registryId,
    eventId: c.eventId,
    ...(c.eventTime ? { eventTime: c.eventTime } : {}),
  };
  const instanceId = cascadeInstanceId(c.image.registryId, c.image.repository, c.image.tag);
  const runs = runActivities();
  const admission = await runs.admitPush(instanceId, image);
  if (!admission.admit) {
    context.log(`onRegistryEvent: ignored event ${eventId} for ${image.ref}@${image.digest}: ${admission.reason}`);
    return;
  }
  const own = await runs.isOwnPush({ image });
  if (own.own) {
    context.log(`onRegistryEvent: ignored event ${eventId} for ${image.ref}@${image.digest}: own push (${own.reason})`);
    return;
  }
  const input = { ...cascadeInputFrom(settings, 'event'), image, seenEventIds: [c.eventId] };
  const log = logger(context, { cascadeId: instanceId, eventId: c.eventId });
  const how = await handOver(df.getClient(context), instanceId, input, c.eventId, (m) =>
    log.info('registryEvent.handover', m),
  );
  await runs.notePush(instanceId, image);
  // `eventTime` with the first run.scheduled of the cascade gives "event → first run accepted" (docs/operations.md).
  log.info(
    'registryEvent.accepted',
    `onRegistryEvent: event ${eventId} ${image.ref}@${image.digest} → ${how} cascade ${instanceId}`,
    { how, ...(c.eventTime ? { eventTime: c.eventTime } : {}) },
  );
}

// ---- registrations -------------------------------------------------------------------------------------------------

app.eventGrid('onRegistryEvent', {
  extraInputs: [df.input.durableClient()],
  handler: (event, context) => onRegistryEvent(event, context),
});

df.app.orchestration(OrchestrationNames.rebuildCascade, rebuildCascadeHandler);
df.app.orchestration(OrchestrationNames.rebuildTask, rebuildTaskHandler);

df.app.activity(ActivityNames.scheduleRun, {
  handler: (input: ScheduleRunInput) => runActivities().scheduleRun(input),
});
df.app.activity(ActivityNames.getRun, { handler: (input: GetRunInput) => runActivities().getRun(input) });
df.app.activity(ActivityNames.cancelRun, { handler: (input: CancelRunInput) => runActivities().cancelRun(input) });
df.app.activity(ActivityNames.isOwnPush, { handler: (input: IsOwnPushInput) => runActivities().isOwnPush(input) });
df.app.activity(ActivityNames.recordCascade, {
  handler: (input: CascadeResult) => reportActivities().recordCascade(input),
});
df.app.activity(ActivityNames.publishNotifications, {
  handler: (input: PublishNotificationsInput) => reportActivities().publishNotifications(input),
});
