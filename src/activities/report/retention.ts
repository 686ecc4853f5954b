// Retention of the app's own tables: rows older than the cut-off are deleted (the durable instances they describe are
// purged by the same timer). Claims in CascadeDedupe only guard redeliveries, which Event Grid stops after 24 hours.
import type { Deps } from '../deps.js';
import { HISTORY_TABLE } from './index.js';
import { DEDUPE_TABLE } from '../runs/dedupeStore.js';

export const RETAINED_TABLES = [HISTORY_TABLE, DEDUPE_TABLE] as const;

/** Deletes rows last written before `cutoff` from the app's history and dedupe tables; returns the count per table. */
export async function purgeTables(deps: Deps, cutoff: Date): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of RETAINED_TABLES) {
    const table = deps.clients.table(name);
    let deleted = 0;
    try {
      const rows = table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `Timestamp lt datetime'${cutoff.toISOString()}'`, select: ['PartitionKey', 'RowKey'] },
      });
      for await (const row of rows) {
        await table.deleteEntity(row.partitionKey as string, row.rowKey as string);
        deleted++;
      }
    } catch (err) {
      // A table that was never created has nothing to purge.
      if (!(typeof err === 'object' && err !== null && (err as { statusCode?: number }).statusCode === 404)) throw err;
    }
    out[name] = deleted;
  }
  return out;
}
