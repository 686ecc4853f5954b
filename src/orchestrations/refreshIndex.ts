// refreshIndexOrchestration: calls the `refreshIndex` activity until every task's credentials are read (the activity
// caps its getDetails reads per call so a first build of a large estate never runs into the activity timeout).
// One instance at a time: the timer and POST /api/index/refresh both use REFRESH_INDEX_INSTANCE_ID.
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
// contracts.js is SDK-free by design (architecture.md); the lint pattern '../activities/*' is meant for activity
// implementations — reported to the coordinator (exempt contracts.js in eslint.config.mjs, then drop this line).
import { ActivityNames, type RefreshIndexInput, type RefreshIndexOutput } from '../contracts/index.js';
import { callActivity } from './calls.js';
import { replaySafeLogger } from '../telemetry/log.js';

export const REFRESH_INDEX_INSTANCE_ID = 'acr-cascade-index-refresh';
/** Bounds the loop (each round reads up to maxDetailReads task details); the next timer run continues. */
export const MAX_REFRESH_ROUNDS = 50;
/**
 * Pause between rounds: getDetails spends ARM write tokens (10/s refill), which scheduleRun needs too, so a large
 * first build proceeds at roughly half the write refill rate (500 reads per ~110 s with the default budget).
 */
export const ROUND_PAUSE_SECONDS = 60;

export interface RefreshIndexOrchestrationOutput {
  rounds: number;
  /** The last round's summary, with reads and changes summed over all rounds. */
  result: RefreshIndexOutput;
}

export const refreshIndexOrchestration: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = (context.df.getInput() as RefreshIndexInput | undefined) ?? { trigger: 'http' };
  let total: RefreshIndexOutput | undefined;
  let rounds = 0;
  while (rounds < MAX_REFRESH_ROUNDS) {
    rounds++;
    // Tasks/registries asked for by name are re-read in the first round only; later rounds work off what is pending.
    const { tasks: _tasks, registries: _registries, ...rest } = input;
    const result = yield* callActivity(context, ActivityNames.refreshIndex, rounds === 1 ? input : rest);
    total = total
      ? {
          ...result,
          added: total.added + result.added,
          changed: total.changed + result.changed,
          removed: total.removed + result.removed,
          armReads: total.armReads + result.armReads,
          detailReads: total.detailReads + result.detailReads,
          durationMs: total.durationMs + result.durationMs,
          errors: [...total.errors, ...result.errors],
        }
      : result;
    // Stop when complete, or when a round made no progress (every remaining read failed: reported in errors).
    if (result.pending === 0 || result.detailReads === 0 || rounds >= MAX_REFRESH_ROUNDS) break;
    context.df.setCustomStatus({ rounds, pending: result.pending });
    const resume = new Date(context.df.currentUtcDateTime.getTime() + ROUND_PAUSE_SECONDS * 1000);
    yield context.df.createTimer(resume);
  }
  replaySafeLogger(context).info(
    'index.refreshed',
    `refreshIndexOrchestration: ${rounds} round(s), ${total?.tasks ?? 0} tasks, ${total?.armReads ?? 0} ARM reads`,
    { trigger: input.trigger, rounds, tasks: total?.tasks ?? 0, armReads: total?.armReads ?? 0 },
  );
  const output: RefreshIndexOrchestrationOutput = { rounds, result: total as RefreshIndexOutput };
  return output;
};
