// Admin API for Event Grid under /_emulator/eventgrid (kept apart from the Azure surface): delivery settings, the
// delivery log, redelivery, dead letters, recent published events per custom topic, and a way to emit system events.
import type { Emulator } from '../core/emulator.js';
import { armError } from '../core/errors.js';
import { DEFAULT_SETTINGS, type DeliveryEngine, type EventGridSettings } from './delivery.js';
import { findTopicByName } from './arm.js';

const bad = (message: string) => armError(400, 'BadRequest', message);

export function registerEventGridAdmin(emu: Emulator, engine: DeliveryEngine): void {
  emu.adminRoute({
    op: 'admin.eventgrid.settings.get',
    method: 'GET',
    path: '/eventgrid/settings',
    handler: () => ({ status: 200, body: engine.settings }),
  });
  emu.adminRoute({
    op: 'admin.eventgrid.settings.set',
    method: 'PUT',
    path: '/eventgrid/settings',
    handler: (req) => {
      const body = req.json<Partial<EventGridSettings>>() ?? {};
      const next: EventGridSettings = { ...DEFAULT_SETTINGS, ...body };
      const num = (k: keyof EventGridSettings, min: number, max = Number.MAX_SAFE_INTEGER) => {
        const v = next[k];
        if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
          throw bad(`${k} must be a number between ${min} and ${max}`);
      };
      num('retryScale', 0);
      num('duplicateRate', 0, 1);
      num('jitterMs', 0);
      num('attemptTimeoutMs', 1);
      num('recentEventsPerTopic', 0);
      engine.settings = next;
      return { status: 200, body: next };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.deliveries.list',
    method: 'GET',
    path: '/eventgrid/deliveries',
    handler: (req) => ({
      status: 200,
      body: {
        value: engine.list({
          subscription: req.q('subscription'),
          eventId: req.q('eventId'),
          outcome: req.q('outcome'),
        }),
        pending: engine.pendingCount(),
      },
    }),
  });
  emu.adminRoute({
    op: 'admin.eventgrid.deliveries.reset',
    method: 'DELETE',
    path: '/eventgrid/deliveries',
    handler: () => {
      engine.reset();
      return { status: 204 };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.idle',
    method: 'GET',
    path: '/eventgrid/idle',
    handler: async () => {
      await engine.idle();
      return { status: 200, body: { pending: engine.pendingCount() } };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.redeliver',
    method: 'POST',
    path: '/eventgrid/redeliver',
    handler: (req) => {
      const body = req.json<{ eventId?: string; times?: number; subscription?: string }>();
      if (typeof body?.eventId !== 'string' || !body.eventId) throw bad('eventId is required');
      const times = body.times ?? 1;
      if (!Number.isInteger(times) || times < 1 || times > 100) throw bad('times must be an integer between 1 and 100');
      const ids = engine.redeliver(body.eventId, times, body.subscription);
      if (!ids) throw armError(404, 'NotFound', `No event '${body.eventId}' has been routed to a subscription.`);
      return { status: 202, body: { deliveries: ids } };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.deadletters.list',
    method: 'GET',
    path: '/eventgrid/deadletters',
    handler: () => ({ status: 200, body: { value: engine.listDeadLetters() } }),
  });
  emu.adminRoute({
    op: 'admin.eventgrid.topicEvents.list',
    method: 'GET',
    path: '/eventgrid/topics/{topicName}/events',
    handler: (req) => {
      const topic = findTopicByName(emu, req.params.topicName!);
      if (!topic) throw armError(404, 'NotFound', `The topic '${req.params.topicName}' could not be found.`);
      return { status: 200, body: { value: engine.recentEvents(topic.id) } };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.emit',
    method: 'POST',
    path: '/eventgrid/emit',
    handler: (req) => {
      const e = req.json<{ source?: string; eventType?: string; subject?: string; data?: Record<string, unknown> }>();
      if (!e?.source || !e.eventType || typeof e.subject !== 'string')
        throw bad('source, eventType and subject are required');
      emu.emit({ source: e.source, eventType: e.eventType, subject: e.subject, data: e.data ?? {} });
      return { status: 202 };
    },
  });
  emu.adminRoute({
    op: 'admin.eventgrid.validate',
    method: 'GET',
    path: '/eventgrid/validate',
    handler: () => {
      throw armError(
        501,
        'NotImplemented',
        'Manual (asynchronous) WebHook validation is not emulated: answer the validation event with 200 {"validationResponse": code}.',
      );
    },
  });
}
