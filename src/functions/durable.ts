// Durable-client helpers shared by the triggers and routes that start or look at cascades.
import * as df from 'durable-functions';
import type { Settings } from '../config/settings.js';
import type { CascadeInput } from '../contracts/index.js';

export type DurableClient = ReturnType<typeof df.getClient>;
export type Status = Awaited<ReturnType<DurableClient['getStatus']>>;

/** Runtime statuses of an instance that has not ended. */
export const ACTIVE: ReadonlySet<string> = new Set(['Running', 'Pending', 'ContinuedAsNew', 'Suspended']);

export function cascadeInputFrom(settings: Settings, trigger: 'event' | 'http'): CascadeInput {
  return {
    trigger,
    settleSeconds: trigger === 'event' ? settings.settleSeconds : 0,
    maxParallelRuns: settings.maxParallelRuns,
    transientRetries: settings.transientRetries,
    autoRemediate: settings.autoRemediate,
    pollInitialSeconds: settings.pollInitialSeconds,
    pollMaxSeconds: settings.pollMaxSeconds,
  };
}

/** The durable status, or undefined when no such instance exists (the client throws on 404). */
export async function statusOf(client: DurableClient, id: string, showInput = false): Promise<Status | undefined> {
  try {
    return await client.getStatus(id, { showInput, showHistory: false, showHistoryOutput: false });
  } catch (err) {
    if (err instanceof Error && /HTTP 404/.test(err.message)) return undefined;
    throw err;
  }
}
