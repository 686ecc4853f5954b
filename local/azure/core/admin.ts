// Admin API under /_emulator/ on the ARM port, kept apart from the Azure surface: faults, throttling, clock, counters.
import type { Emulator } from './emulator.js';
import { EmulatorError } from './errors.js';
import { DEFAULT_THROTTLE, NO_FAULTS, type FaultConfig, type ThrottleConfig } from './throttle.js';

function bad(message: string) {
  return new EmulatorError(400, { error: { code: 'BadRequest', message } });
}

export function registerAdmin(emu: Emulator): void {
  emu.adminRoute({
    op: 'admin.faults.set',
    method: 'PUT',
    path: '/faults',
    handler: (req) => {
      const body = req.json<Partial<FaultConfig>>() ?? {};
      for (const k of ['rate429', 'rate5xx'] as const) {
        const v = body[k];
        if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 1))
          throw bad(`${k} must be a number between 0 and 1`);
      }
      if (body.latencyMs !== undefined && (typeof body.latencyMs !== 'number' || body.latencyMs < 0))
        throw bad('latencyMs must be >= 0');
      emu.throttle.faults = { ...NO_FAULTS, ...body };
      return { status: 200, body: emu.throttle.faults };
    },
  });
  emu.adminRoute({
    op: 'admin.faults.get',
    method: 'GET',
    path: '/faults',
    handler: () => ({ status: 200, body: emu.throttle.faults }),
  });
  emu.adminRoute({
    op: 'admin.throttle.set',
    method: 'PUT',
    path: '/throttle',
    handler: (req) => {
      const body = req.json<Partial<ThrottleConfig>>() ?? {};
      const next: ThrottleConfig = { ...structuredClone(DEFAULT_THROTTLE), ...body };
      for (const k of ['read', 'write', 'delete'] as const) {
        const b = next[k];
        if (!b || !(b.burst > 0) || !(b.perSecond > 0)) throw bad(`${k} must be { burst > 0, perSecond > 0 }`);
      }
      emu.throttle.config = next;
      emu.throttle.resetBuckets();
      return { status: 200, body: next };
    },
  });
  emu.adminRoute({
    op: 'admin.throttle.get',
    method: 'GET',
    path: '/throttle',
    handler: () => ({ status: 200, body: emu.throttle.config }),
  });
  emu.adminRoute({
    op: 'admin.stats.get',
    method: 'GET',
    path: '/stats',
    // `throttled`: the requests of `requests` that a bucket answered 429 (injected faults are not counted there).
    handler: () => ({
      status: 200,
      body: {
        requests: Object.fromEntries(emu.throttle.counts),
        throttled: Object.fromEntries(emu.throttle.throttled),
      },
    }),
  });
  emu.adminRoute({
    op: 'admin.stats.reset',
    method: 'DELETE',
    path: '/stats',
    handler: () => {
      emu.throttle.resetCounts();
      return { status: 204 };
    },
  });
  emu.adminRoute({
    op: 'admin.clock.advance',
    method: 'POST',
    path: '/clock/advance',
    handler: (req) => {
      const body = req.json<{ seconds?: number }>();
      if (typeof body?.seconds !== 'number' || !Number.isFinite(body.seconds)) throw bad('seconds must be a number');
      emu.advanceClock(body.seconds);
      return { status: 200, body: { now: emu.nowIso() } };
    },
  });
  emu.adminRoute({
    op: 'admin.clock.get',
    method: 'GET',
    path: '/clock',
    handler: () => ({ status: 200, body: { now: emu.nowIso() } }),
  });
}
