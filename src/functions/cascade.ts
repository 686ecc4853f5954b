// Rebuild cascades: the Event Grid trigger, the orchestrations, the tag entity and the run/report activities. The
// /api/rebuilds routes live in rebuilds.ts.
//
// Event → cascade: an accepted push (watched registry, image manifest/index, with a tag) starts one `cascadeIntake`
// orchestration (instance id from the tag and the event id) and returns — no Table/ARM I/O, no waiting. The intake
// filters own pushes (a run acr-cascade scheduled pushed it) and hands the push to the tag's `cascadeTag` entity,
// which absorbs redeliveries and older digests, queues a push behind a running cascade, or lets the intake start the
// cascade (instance id deterministic per (registry, repository, tag): domain cascadeInstanceId). The intake reports
// every ending of that cascade to the entity, which hands it the next queued push. See docs/decisions.md.
// Ignored and rejected events: one log line with the reason, then return normally (no retry storm).
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { loadSettings, SettingsError, type Settings } from '../config/settings.js';
import { cascadeInstanceId, classifyRegistryEvent, formatImageRef } from '../domain/index.js';
import {
  ActivityNames,
  OrchestrationNames,
  type CancelRunInput,
  type CascadeResult,
  type GetRunInput,
  type IntakeInput,
  type IsOwnPushInput,
  type PublishNotificationsInput,
  type PushedImage,
  type RegistryLoginServerInput,
  type ScheduleRunInput,
} from '../contracts/index.js';
import { planActivities, reportActivities, runActivities } from './activities.js';
import { cascadeIntakeHandler } from '../orchestrations/cascadeIntake.js';
import '../entities/cascadeTag.js';
import { rebuildCascadeHandler } from '../orchestrations/rebuildCascade.js';
import { rebuildTaskHandler } from '../orchestrations/rebuildTask.js';
import { logger } from '../telemetry/log.js';
import { cascadeInputFrom } from './durable.js';

// ---- Event Grid ----------------------------------------------------------------------------------------------------

/** The intake instance of one event: deterministic, so a redelivery while it runs is refused (409) and dropped. */
export function intakeInstanceId(tagKey: string, eventId: string): string {
  return `${tagKey}:event-${eventId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 64)}`;
}

export async function onRegistryEvent(event: unknown, context: InvocationContext): Promise<void> {
  const started = performance.now();
  const eventId =
    typeof event === 'object' && event !== null && typeof (event as { id?: unknown }).id === 'string'
      ? (event as { id: string }).id.slice(0, 100)
      : '(no id)';
  const log = logger(context, { eventId });
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    log.error('push.misconfigured', `onRegistryEvent: event ${eventId} not handled: app misconfigured: ${err.message}`);
    return;
  }
  const c = classifyRegistryEvent(event, settings.watchedRegistries);
  if (c.kind === 'reject') {
    log.warn('push.rejected', `onRegistryEvent: rejected event ${eventId}: ${c.reason}`, { reason: c.reason });
    return;
  }
  if (c.kind === 'ignore') {
    log.info('push.ignored', `onRegistryEvent: ignored event ${eventId}: ${c.reason}`, { reason: c.reason });
    return;
  }
  if (!c.image.tag) {
    const reason = 'push by digest (no tag) — nothing builds FROM it';
    log.info('push.ignored', `onRegistryEvent: ignored event ${eventId}: ${reason}`, { reason });
    return;
  }
  const image: PushedImage = {
    ref: formatImageRef({ loginServer: c.image.loginServer, repository: c.image.repository, tag: c.image.tag }),
    digest: c.image.digest,
    registryId: c.image.registryId,
    eventId: c.eventId,
    ...(c.eventTime ? { eventTime: c.eventTime } : {}),
  };
  const tagKey = cascadeInstanceId(c.image.registryId, c.image.repository, c.image.tag);
  const input: IntakeInput = { image, cascade: { ...cascadeInputFrom(settings, 'event'), tagKey } };
  const instanceId = intakeInstanceId(tagKey, c.eventId);
  // One durable call, no Table/ARM I/O and no waiting: the intake orchestration and the tag's entity do the rest.
  let how = 'handed to intake';
  try {
    await df.getClient(context).startNew(OrchestrationNames.cascadeIntake, { instanceId, input });
  } catch (err) {
    if (!(err instanceof Error && /status code: 409/.test(err.message))) throw err;
    how = 'ignored (redelivery: its intake is running)';
  }
  const ms = (performance.now() - started).toFixed(1);
  const text = `onRegistryEvent: event ${eventId} ${image.ref}@${image.digest} ${how} ${instanceId} in ${ms} ms`;
  log.with({ cascadeId: tagKey }).info('push.received', text, {
    intake: instanceId,
    outcome: how,
    ms: Number(ms),
  });
}

// ---- registrations -------------------------------------------------------------------------------------------------

app.eventGrid('onRegistryEvent', {
  extraInputs: [df.input.durableClient()],
  handler: (event, context) => onRegistryEvent(event, context),
});

df.app.orchestration(OrchestrationNames.cascadeIntake, cascadeIntakeHandler);
df.app.orchestration(OrchestrationNames.rebuildCascade, rebuildCascadeHandler);
df.app.orchestration(OrchestrationNames.rebuildTask, rebuildTaskHandler);

df.app.activity(ActivityNames.scheduleRun, {
  handler: (input: ScheduleRunInput) => runActivities().scheduleRun(input),
});
df.app.activity(ActivityNames.getRun, { handler: (input: GetRunInput) => runActivities().getRun(input) });
df.app.activity(ActivityNames.cancelRun, { handler: (input: CancelRunInput) => runActivities().cancelRun(input) });
df.app.activity(ActivityNames.registryLoginServer, {
  handler: (input: RegistryLoginServerInput) => planActivities().registryLoginServer(input),
});
df.app.activity(ActivityNames.isOwnPush, { handler: (input: IsOwnPushInput) => runActivities().isOwnPush(input) });
df.app.activity(ActivityNames.recordCascade, {
  handler: (input: CascadeResult) => reportActivities().recordCascade(input),
});
df.app.activity(ActivityNames.publishNotifications, {
  handler: (input: PublishNotificationsInput) => reportActivities().publishNotifications(input),
});
