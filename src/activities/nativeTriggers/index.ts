// Activities for ACR's native base-image trigger (CASCADE_NATIVE_TRIGGERS): find the run the trigger started for a
// task (one runs.list by task name), switch the trigger off (one task update), and tell a push made by one of ACR's
// own runs in a cascade's chain from a push by someone else (the trigger's own-push check).
import type { Run } from '@azure/arm-containerregistry';
import { taskAddress, toRunSummary, runFilterText } from '../../azure/adapters.js';
import { LRO_POLL } from '../../azure/clients.js';
import { parseImageRef, repositoryKey, tryParseImageRef, type TaskInfo } from '../../domain/index.js';
import type {
  DisableNativeTriggerInput,
  DisableNativeTriggerOutput,
  FindNativeRunInput,
  FindNativeRunOutput,
  IsOwnPushOutput,
  PushedImage,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import type { IndexSnapshot } from '../plan/indexStore.js';
import { formatLine, recordOf } from '../../telemetry/log.js';
import { DEDUPE_TABLE, DedupeStore, type OutputRow } from '../runs/dedupeStore.js';

/** Runs created shortly before `since` still count (clocks of ACR and the app differ). */
const CLOCK_SKEW_SECONDS = 120;

/** A native run older than this cannot be pushing now (ACR's longest task timeout is 8 h). */
const NATIVE_PUSH_WINDOW_HOURS = 8;
/** Producers of one repository checked per push (each costs one runs.list). */
const MAX_PRODUCERS = 5;
const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];

export interface NativeTriggerActivities {
  findNativeRun(input: FindNativeRunInput): Promise<FindNativeRunOutput>;
  disableNativeTrigger(input: DisableNativeTriggerInput): Promise<DisableNativeTriggerOutput>;
  /**
   * Was this push made by a run ACR's trigger started for an update of a watched base? Then the base's cascade
   * already plans (and adopts) everything built on the pushed image: it must not start a cascade of its own. The
   * push can arrive before the cascade found that run, so this reads the run list, not the runs the cascade adopted.
   */
  nativeChainPush(image: PushedImage): Promise<IsOwnPushOutput>;
}

export interface NativeTriggerActivitiesOptions {
  /** The dependency index (which tasks produce the pushed repository, and which have the trigger on). */
  index?: () => Promise<IndexSnapshot>;
}

/** Is this run ACR's, for an update of a base in a watched registry, and did (or may) it push `digest`? */
export function nativeRunPushed(
  run: Run,
  digest: string,
  watchedLoginServers: Set<string>,
  notBefore: number,
): boolean {
  const trigger = run.imageUpdateTrigger?.images ?? [];
  if (!trigger.some((i) => watchedLoginServers.has((i.registry ?? '').toLowerCase()))) return false;
  if ((run.createTime?.getTime() ?? 0) < notBefore) return false;
  if ((run.outputImages ?? []).some((o) => o.digest === digest)) return true;
  // Still going: ACR records a run's outputs when it ends, after the push event was sent.
  return !TERMINAL.includes(run.status ?? '');
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

export function createNativeTriggerActivities(
  deps: Deps,
  options: NativeTriggerActivitiesOptions = {},
): NativeTriggerActivities {
  const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
  // Watched registries by login server (`<name>.azurecr.io`, as runs name them); the cloud suffix is ACR's.
  const watched = new Set(
    deps.settings.watchedRegistries.map((id) => {
      const name = id.replace(/\/+$/, '').split('/').pop() ?? '';
      return `${name.toLowerCase()}.azurecr.io`;
    }),
  );

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
        deps.log(
          formatLine(
            `findNativeRun ${a.taskName}: adopting run ${summary.runId} (${summary.status})`,
            recordOf('run.adopted', { runId: summary.runId }, { status: summary.status }),
          ),
        );
        return { ...out, run: { runId: summary.runId, registryId: a.registryId, status: summary.status } };
      }
      return out;
    },

    async nativeChainPush(image) {
      const no = (reason: string): IsOwnPushOutput => ({ own: false, reason });
      // Under ignore the cascade does not adopt ACR's runs, so it does not plan their chain either.
      if (deps.settings.nativeTriggers === 'ignore' || !options.index) return no('native runs are not adopted');
      const ref = parseImageRef(image.ref);
      const snap = await options.index();
      const g = snap.graph();
      // By repository: a run pushes `repo:<run id>` for an output the task declares as `repo` or `repo:{{.Run.ID}}`.
      const repo = repositoryKey(ref);
      const producers = Object.entries(g.tasks)
        .filter(([, node]) => node.outputs.some((o) => o.repoKey === repo))
        .map(([k]) => snap.tasks.get(k)?.info)
        .filter((t): t is TaskInfo => t?.nativeTrigger?.status === 'Enabled')
        .slice(0, MAX_PRODUCERS);
      if (producers.length === 0) return no(`no task with ACR's base-image trigger pushes ${repo}`);
      const notBefore = deps.now().getTime() - NATIVE_PUSH_WINDOW_HOURS * 3600_000;
      for (const t of producers) {
        const a = taskAddress(t.id);
        const filter = runFilterText({ taskName: a.taskName });
        const pages = deps.clients.acr(a.subscriptionId).runs.list(a.resourceGroup, a.name, filter ? { filter } : {});
        // Newest first: the first page holds any run that can be pushing now.
        for await (const page of pages.byPage()) {
          const hit = page.find((r) => nativeRunPushed(r, image.digest, watched, notBefore));
          if (hit) {
            const base = hit.imageUpdateTrigger!.images![0]!;
            return {
              own: true,
              runId: hit.runId!,
              reason: `pushed by ACR's run ${hit.runId} of ${t.name}, started by its base-image trigger for ${base.registry}/${base.repository}:${base.tag}; that base's cascade plans what builds on it`,
            };
          }
          break;
        }
      }
      return no(`no recent run ACR's trigger started pushed ${repo}@${image.digest}`);
    },

    async disableNativeTrigger(input) {
      const a = taskAddress(input.task);
      const acr = deps.clients.acr(a.subscriptionId);
      const trigger = (await acr.tasks.get(a.resourceGroup, a.name, a.taskName)).trigger?.baseImageTrigger;
      if (!trigger?.name || trigger.status !== 'Enabled') return { changed: false };
      await acr.tasks.beginUpdateAndWait(
        a.resourceGroup,
        a.name,
        a.taskName,
        { trigger: { baseImageTrigger: { name: trigger.name, status: 'Disabled' } } },
        LRO_POLL,
      );
      deps.log(`disableNativeTrigger ${a.taskName}: base-image trigger '${trigger.name}' disabled`);
      return { changed: true, triggerName: trigger.name };
    },
  };
}
