// Event Grid: system topics over registries and vaults, custom topics with a publish endpoint, WebHook event
// subscriptions with the validation handshake, and an at-least-once delivery engine (see README.md here).
import type { EmittedEvent, Emulator } from '../core/emulator.js';
import { DeliveryEngine, newEventId } from './delivery.js';
import { registerEventGridArm } from './arm.js';
import { registerPublish, expired } from './publish.js';
import { registerEventGridAdmin } from './admin.js';
import {
  SYSTEM_TOPIC_SUBSCRIPTION_TYPE,
  SYSTEM_TOPIC_TYPE,
  filterMatches,
  sameId,
  systemDataVersion,
  type CanonicalEvent,
  type EventSubscriptionResource,
  type SystemTopicResource,
} from './model.js';

export type {
  DeliveryEngine,
  DeliveryLogEntry,
  DeliveryAttempt,
  EventGridSettings,
  DeadLetteredEvent,
} from './delivery.js';

const engines = new WeakMap<Emulator, DeliveryEngine>();

export function registerEventGrid(emu: Emulator): void {
  const engine = new DeliveryEngine(emu);
  engines.set(emu, engine);
  registerEventGridArm(emu, engine);
  registerPublish(emu, engine);
  registerEventGridAdmin(emu, engine);
  emu.onEvent((e) => routeSystemEvent(emu, engine, e));
}

/** The Event Grid delivery engine of an emulator (settings, delivery log, redelivery, `idle()`), for in-process tests. */
export function eventGridOf(emu: Emulator): DeliveryEngine {
  const engine = engines.get(emu);
  if (!engine) throw new Error('Event Grid is not registered on this emulator');
  return engine;
}

/** Routes a system event to the subscriptions of system topics whose source it came from; HTTP happens later. */
function routeSystemEvent(emu: Emulator, engine: DeliveryEngine, e: EmittedEvent): void {
  try {
    const topics = emu.store
      .listResources<SystemTopicResource>(SYSTEM_TOPIC_TYPE)
      .filter((t) => t.properties.provisioningState === 'Succeeded' && sameId(t.properties.source, e.source));
    if (topics.length === 0) return;
    const now = emu.nowMs();
    // ACR events carry their event id in data.id too (spec examples); other sources get a fresh one.
    const dataId =
      typeof e.data.id === 'string' && /^microsoft\.containerregistry\./i.test(e.eventType) ? e.data.id : '';
    const event: CanonicalEvent = {
      id: dataId || newEventId(),
      source: e.source,
      subject: e.subject,
      type: e.eventType,
      time: emu.eventTimeIso(),
      data: e.data,
      dataVersion: systemDataVersion(e.eventType),
      publishMs: now,
    };
    for (const topic of topics) {
      for (const sub of emu.store.listResources<EventSubscriptionResource>(SYSTEM_TOPIC_SUBSCRIPTION_TYPE, topic.id)) {
        if (sub.properties.provisioningState !== 'Succeeded' || expired(sub, now)) continue;
        if (filterMatches(sub.properties.filter, event)) engine.enqueue(sub.id, [event]);
      }
    }
  } catch (err) {
    // Never throw into the emitter (a registry push must not fail because of event routing).
    emu.log(`[eventgrid] routing ${e.eventType} failed: ${(err as Error).message}`);
  }
}
