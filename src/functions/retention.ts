// Daily retention: purge ended durable instances (cascades, per-task runs, checks, refreshes) older than
// CASCADE_HISTORY_RETENTION_DAYS, and the app's own history/dedupe rows of the same age. Running instances are never
// touched (the purge filter names ended statuses only).
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { defaultDeps } from '../activities/deps.js';
import { purgeTables } from '../activities/report/retention.js';
import { loadSettings } from '../config/settings.js';
import { logger } from '../telemetry/log.js';

export async function historyPurgeTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const days = loadSettings().historyRetentionDays;
  const cutoff = new Date(Date.now() - days * 86_400_000);
  const purged = await df.getClient(context).purgeInstanceHistoryBy({
    createdTimeFrom: new Date(0),
    createdTimeTo: cutoff,
    runtimeStatus: [
      df.OrchestrationRuntimeStatus.Completed,
      df.OrchestrationRuntimeStatus.Failed,
      df.OrchestrationRuntimeStatus.Terminated,
    ],
  });
  const rows = await purgeTables(defaultDeps(), cutoff);
  logger(context).info(
    'retention.purged',
    `purged ${purged.instancesDeleted} ended instance(s) and ${Object.values(rows).reduce((a, b) => a + b, 0)} table row(s) older than ${days} day(s)`,
    { instances: purged.instancesDeleted, ...rows },
  );
}

app.timer('historyPurgeTimer', {
  schedule: '0 30 4 * * *',
  extraInputs: [df.input.durableClient()],
  handler: historyPurgeTimer,
});
