// buildPlan: the domain planner over the indexed graph, shaped as the activity contract (`PlanView`), with optional
// preflight. The one place a domain `Plan` becomes a `PlanView`: the cascade, the HTTP routes and the report read
// only the view. No side effects: reads the index (and, with preflight, ARM/Key Vault properties) only.
import {
  formatImageRef,
  isDigest,
  normalizeId,
  parseImageRef,
  plan as planPush,
  planForTasks,
  reasons as reasonBuilders,
  type GraphTask,
  type Plan,
} from '../../domain/index.js';
import type { ArmAdapters } from '../../azure/adapters.js';
import type { BuildPlanInput, PlanEntry, PlannedBase, PlanView } from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import type { IndexSnapshot } from './indexStore.js';
import { identityOf, preflightTasks, type RecordTasks } from './preflight.js';

/**
 * Without a digest nothing can be "already built from it", so the planner gets a digest no image has: every
 * dependent is planned (UpToDate needs the pushed digest).
 */
const NO_DIGEST = `sha256:${'0'.repeat(64)}`;

function basesOf(node: GraphTask): PlannedBase[] {
  return node.bases.map((b) => ({ ref: b.ref, why: b.why, ...(b.digest ? { digest: b.digest } : {}) }));
}

function nativeOn(index: IndexSnapshot, key: string): boolean {
  return index.tasks.get(key)?.info.nativeTrigger?.status === 'Enabled';
}

export async function buildPlan(
  deps: Deps,
  arm: ArmAdapters,
  index: IndexSnapshot,
  input: BuildPlanInput,
  record?: RecordTasks,
): Promise<PlanView> {
  const g = index.graph();
  const upToDate = new Set<string>();
  let domain: Plan;
  let image: PlanView['image'];
  if (input.image) {
    const parsed = parseImageRef(input.image.ref);
    const digest = input.image.digest ?? parsed.digest;
    if (digest !== undefined && !isDigest(digest)) {
      throw new TypeError(`image.digest: '${digest}' is not sha256:<64 lower-case hex>`);
    }
    // A task ACR's own trigger may already have rebuilt for this push is planned, so its run is found and adopted.
    domain = planPush(
      g,
      { ref: formatImageRef(parsed), digest: digest ?? NO_DIGEST },
      {
        planIfUpToDate: (k) => {
          const native = deps.settings.nativeTriggers !== 'ignore' && nativeOn(index, k);
          if (native) upToDate.add(k);
          return native;
        },
      },
    );
    image = { ref: formatImageRef({ ...parsed, digest: undefined }), ...(digest ? { digest } : {}) };
    if (parsed.tag === undefined) image.ref = formatImageRef(parsed);
  } else if (input.tasks) {
    domain = planForTasks(g, input.tasks);
  } else {
    throw new TypeError('buildPlan needs image or tasks');
  }

  const out: PlanView = { waves: [], tasks: {}, cycles: [], indexRefreshedAt: index.meta.refreshedAt };
  if (image) out.image = image;
  if (domain.notes.length > 0) out.notes = domain.notes;
  out.cycles = domain.cycles.map((c) => c.taskIds);

  const plannedIds = new Set(domain.waves.flat().map((t) => normalizeId(t.taskId)));
  for (const wave of domain.waves) {
    out.waves.push(wave.map((t) => t.taskId));
    for (const t of wave) {
      const key = normalizeId(t.taskId);
      const node = g.tasks[key] as GraphTask;
      const stored = index.tasks.get(key);
      const planned: PlanEntry = {
        task: t.taskId,
        taskName: t.taskName,
        registryId: t.registryId,
        wave: t.wave,
        decision: 'rebuild',
        reasons: [],
        identity: stored ? identityOf(stored.info) : {},
        baseImages: basesOf(node),
        dependsOn: [
          ...new Set(
            t.triggers
              .filter((tr) => tr.why === 'output' && tr.producerTaskId)
              .map((tr) => tr.producerTaskId as string)
              .filter((id) => plannedIds.has(normalizeId(id))),
          ),
        ],
        outputImages: node.outputs.map((o) => o.ref),
        triggers: t.triggers,
      };
      if (stored) planned.timeoutSeconds = stored.info.timeoutSeconds;
      const native = stored?.info.nativeTrigger;
      if (native?.status === 'Enabled') {
        planned.nativeTrigger = true;
        if (upToDate.has(key)) planned.upToDate = true;
        const ref = { id: t.taskId, name: t.taskName, registryId: t.registryId };
        planned.reasons.push(reasonBuilders.nativeTriggerEnabled(ref, native.type, deps.settings.nativeTriggers));
      }
      // Known without any read: a disabled task cannot run.
      if (node.status === 'Disabled') {
        planned.decision = 'blocked';
        planned.reasons.push(reasonBuilders.taskDisabled({ id: t.taskId, name: t.taskName, registryId: t.registryId }));
      }
      out.tasks[t.taskId] = planned;
    }
  }
  for (const s of domain.skipped) {
    const key = (() => {
      try {
        return normalizeId(s.taskId);
      } catch {
        return undefined;
      }
    })();
    const node = key ? g.tasks[key] : undefined;
    out.tasks[s.taskId] = {
      task: s.taskId,
      taskName: s.taskName,
      registryId: node?.registryId ?? '',
      wave: 0,
      decision: s.reason.code === 'UpToDate' ? 'skip' : 'blocked',
      reasons: [s.reason],
      identity: key && index.tasks.get(key) ? identityOf(index.tasks.get(key)!.info) : {},
      baseImages: node ? basesOf(node) : [],
      dependsOn: [],
      outputImages: node ? node.outputs.map((o) => o.ref) : [],
    };
  }

  if (input.preflight) {
    const ids = domain.waves.flat().map((t) => t.taskId);
    const verdicts = await preflightTasks(deps, arm, index, ids, record);
    for (const id of ids) {
      const v = verdicts[id];
      const planned = out.tasks[id];
      if (!v || !planned) continue;
      // Preflight repeats TaskDisabled: keep one of each reason.
      const seen = new Set(planned.reasons.map((r) => `${r.code}|${r.message}`));
      for (const r of v.reasons) if (!seen.has(`${r.code}|${r.message}`)) planned.reasons.push(r);
      planned.identity = v.identity;
      if (v.decision === 'blocked') planned.decision = 'blocked';
    }
  }
  return out;
}
