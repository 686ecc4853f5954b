// Activities for ACR's native base-image trigger (CASCADE_NATIVE_TRIGGERS): find the run the trigger started for a
// task (one runs.list by task name), and switch the trigger off (one task update).
import type { Run } from '@azure/arm-containerregistry';
import { taskAddress, toRunSummary, runFilterText } from '../../azure/adapters.js';
import { tryParseImageRef } from '../../domain/index.js';
import type {
  DisableNativeTriggerInput,
  DisableNativeTriggerOutput,
  FindNativeRunInput,
  FindNativeRunOutput,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { DEDUPE_TABLE, DedupeStore, type OutputRow } from '../runs/dedupeStore.js';

/** Runs created shortly before `since` still count (clocks of ACR and the app differ). */
const CLOCK_SKEW_SECONDS = 120;

export interface NativeTriggerActivities {
  findNativeRun(input: FindNativeRunInput): Promise<FindNativeRunOutput>;
  disableNativeTrigger(input: DisableNativeTriggerInput): Promise<DisableNativeTriggerOutput>;
}

/** A run the base-image trigger started for that update (by digest, or any created since `since`). */
export function isNativeRunFor(run: Run, input: Pick<FindNativeRunInput, 'digest' | 'since'>): boolean {
  const images = run.imageUpdateTrigger?.images ?? [];
  if (images.length === 0) return false;
  if (input.digest !== undefined) return images.some((i) => i.digest === input.digest);
  if (input.since === undefined) return false;
  const created = run.createTime?.getTime();
  return created !== undefined && created >= Date.parse(input.since) - CLOCK_SKEW_SECONDS * 1000;
}

/** Does a trigger of this type follow one of `bases` among the task's recorded dependencies? */
export function follows(
  recorded: { type?: string; registry?: string; repository?: string; tag?: string }[],
  triggerType: string | undefined,
  bases: string[],
): boolean {
  const key = (ref: string | undefined) => {
    const p = ref ? tryParseImageRef(ref) : undefined;
    return p ? `${p.loginServer}/${p.repository}:${p.tag ?? 'latest'}` : undefined;
  };
  const wanted = new Set(bases.map(key).filter((k): k is string => k !== undefined));
  return recorded.some(
    (d) =>
      (triggerType === 'All' || d.type === 'RunTime') &&
      wanted.has(key(`${d.registry ?? ''}/${d.repository ?? ''}:${d.tag ?? 'latest'}`) ?? ''),
  );
}

export function createNativeTriggerActivities(deps: Deps): NativeTriggerActivities {
  const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));

  return {
    async findNativeRun(input) {
      const { nativeTriggers: policy, nativeAdoptWindowSeconds: adoptWindowSeconds } = deps.settings;
      if (policy === 'ignore') return { policy, triggerEnabled: false, willFire: false, adoptWindowSeconds };
      const a = taskAddress(input.task);
      const acr = deps.clients.acr(a.subscriptionId);
      const task = await acr.tasks.get(a.resourceGroup, a.name, a.taskName);
      const trigger = task.trigger?.baseImageTrigger;
      const triggerEnabled = trigger?.status === 'Enabled';
      const willFire =
        triggerEnabled && follows(task.step?.baseImageDependencies ?? [], trigger?.baseImageTriggerType, input.bases);
      const out: FindNativeRunOutput = { policy, triggerEnabled, willFire, adoptWindowSeconds };
      const filter = runFilterText({ taskName: a.taskName });
      for await (const page of acr.runs.list(a.resourceGroup, a.name, filter ? { filter } : {}).byPage()) {
        const hit = page.find((r) => isNativeRunFor(r, input));
        if (!hit) continue;
        const summary = toRunSummary(hit, a.registryId);
        const at = deps.now().toISOString();
        const rows: OutputRow[] = [];
        for (const ref of input.outputImages) {
          const p = tryParseImageRef(ref, { allowTemplateTag: true });
          const repository = p ? `${p.loginServer}/${p.repository}` : undefined;
          if (repository && !rows.some((r) => r.repository === repository)) {
            rows.push({
              repository,
              registryId: a.registryId,
              runId: summary.runId,
              task: input.task,
              cascadeId: input.cascadeId,
              scheduledAt: at,
            });
          }
        }
        await store.addOutputs(rows);
        deps.log(`findNativeRun ${a.taskName}: adopting run ${summary.runId} (${summary.status})`);
        return { ...out, run: { runId: summary.runId, registryId: a.registryId, status: summary.status } };
      }
      return out;
    },

    async disableNativeTrigger(input) {
      const a = taskAddress(input.task);
      const acr = deps.clients.acr(a.subscriptionId);
      const trigger = (await acr.tasks.get(a.resourceGroup, a.name, a.taskName)).trigger?.baseImageTrigger;
      if (!trigger?.name || trigger.status !== 'Enabled') return { changed: false };
      await acr.tasks.beginUpdateAndWait(a.resourceGroup, a.name, a.taskName, {
        trigger: { baseImageTrigger: { name: trigger.name, status: 'Disabled' } },
      });
      deps.log(`disableNativeTrigger ${a.taskName}: base-image trigger '${trigger.name}' disabled`);
      return { changed: true, triggerName: trigger.name };
    },
  };
}
