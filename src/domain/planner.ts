// Plans: which tasks to rebuild after a push (or on demand), in which wave. A task's wave is one more than the
// latest wave of the planned tasks whose outputs it builds from; a task reachable by several paths runs once, in its
// latest wave; loops are reported and not followed. Linear in the edges of the reached part of the graph.

import {
  downstreamOf,
  type DependencyGraph,
  type EdgeWhy,
  type GraphEdgeOut,
  type GraphTask,
  graphLookup,
} from './graph.js';
import { formatImageRef, ImageRefError, imageKey, isDigest, parseImageRef, repositoryKey } from './imageRef.js';
import {
  baseNotFound,
  cycle,
  downstreamOfCycle,
  type LoopEdge,
  type Reason,
  taskNotFound,
  upToDate,
} from './reasons.js';
import { normalizeId, ResourceIdError } from './resourceId.js';

export type TriggerWhy = EdgeWhy | 'requested';

/** Why a task is in the plan: the pushed image (recorded/declared base), a producer's output, or an explicit request. */
export interface Trigger {
  why: TriggerWhy;
  /** The image that changed (pushed ref, or the producer's output ref). */
  image?: string;
  /** For `output`: the task that pushes `image`. */
  producerTaskId?: string;
}

export interface PlannedTask {
  taskId: string;
  taskName: string;
  registryId: string;
  loginServer: string;
  /** 1-based. */
  wave: number;
  triggers: Trigger[];
  /** Every base image ref of the task (what its run will pull), for preflight. */
  baseImages: string[];
}

export interface SkippedTask {
  taskId: string;
  taskName: string;
  reason: Reason;
}

export interface PlanCycle {
  /** Task ids in loop order. */
  taskIds: string[];
  reason: Reason;
}

export interface Plan {
  /** The push that started the plan (absent for on-demand plans). */
  pushed?: { ref: string; digest: string };
  /** waves[0] is wave 1. Tasks in a wave are sorted by id. */
  waves: PlannedTask[][];
  /** Up to date, in a loop, downstream of a loop, or unknown (on-demand). */
  skipped: SkippedTask[];
  cycles: PlanCycle[];
  /** Plan-level information (e.g. BaseNotFound when nothing depends on the image). */
  notes: Reason[];
}

interface Core {
  starts: Map<string, Trigger[]>;
  /** Direct dependents held back as up to date unless reached through another planned task. */
  upToDate: Map<string, Reason>;
  allowed?: (taskKey: string) => boolean;
}

function taskOf(g: DependencyGraph, key: string): GraphTask {
  return g.tasks[key] as GraphTask;
}

function schedule(g: DependencyGraph, core: Core, plan: Plan): void {
  const edgeCache = new Map<string, GraphEdgeOut[]>();
  const edges = (k: string): GraphEdgeOut[] => {
    let list = edgeCache.get(k);
    if (list === undefined) {
      list = downstreamOf(g, k);
      if (core.allowed) list = list.filter((e) => (core.allowed as (k: string) => boolean)(e.to));
      edgeCache.set(k, list);
    }
    return list;
  };
  const reach = (blocked: ReadonlySet<string>): Set<string> => {
    const seen = new Set<string>();
    const queue: string[] = [];
    for (const k of core.starts.keys()) {
      if (!blocked.has(k) && !seen.has(k)) {
        seen.add(k);
        queue.push(k);
      }
    }
    for (let i = 0; i < queue.length; i++) {
      for (const e of edges(queue[i] as string)) {
        if (!blocked.has(e.to) && !seen.has(e.to)) {
          seen.add(e.to);
          queue.push(e.to);
        }
      }
    }
    return seen;
  };

  // Longest path from the starts (Kahn's order). Nodes Kahn cannot order sit in, or behind, a loop.
  const layer = (
    nodes: ReadonlySet<string>,
  ): { order: string[]; wave: Map<string, number>; triggers: Map<string, Trigger[]> } => {
    const indegree = new Map<string, number>();
    for (const k of nodes) indegree.set(k, 0);
    for (const k of nodes)
      for (const e of edges(k)) if (nodes.has(e.to)) indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
    const wave = new Map<string, number>();
    const triggers = new Map<string, Trigger[]>();
    const order: string[] = [];
    for (const k of nodes) {
      triggers.set(k, [...(core.starts.get(k) ?? [])]);
      if (indegree.get(k) === 0) order.push(k);
    }
    for (let i = 0; i < order.length; i++) {
      const k = order[i] as string;
      const w = (wave.get(k) ?? 1) + 1;
      const producerTaskId = taskOf(g, k).id;
      for (const e of edges(k)) {
        if (!nodes.has(e.to)) continue;
        if ((wave.get(e.to) ?? 1) < w) wave.set(e.to, w);
        (triggers.get(e.to) as Trigger[]).push({ why: 'output', image: e.image, producerTaskId });
        const left = (indegree.get(e.to) as number) - 1;
        indegree.set(e.to, left);
        if (left === 0) order.push(e.to);
      }
    }
    return { order, wave, triggers };
  };

  const reached = reach(new Set());
  let planned = reached;
  let layered = layer(reached);
  const cyclic = new Set<string>();
  if (layered.order.length < reached.size) {
    const ordered = new Set(layered.order);
    const leftover = new Set([...reached].filter((k) => !ordered.has(k)));
    for (const scc of stronglyConnected(leftover, edges)) {
      const only = scc[0] as string;
      const isLoop = scc.length > 1 || edges(only).some((e) => e.to === only);
      if (!isLoop) continue;
      for (const k of scc) cyclic.add(k);
      const loop = loopPath(new Set(scc), edges, g);
      const reason = cycle(loop);
      plan.cycles.push({ taskIds: loop.map((e) => e.producer.id), reason });
      for (const k of [...scc].sort()) {
        const t = taskOf(g, k);
        plan.skipped.push({ taskId: t.id, taskName: t.name, reason });
      }
    }
    planned = reach(cyclic);
    layered = layer(planned);
    // Name, for each task cut off by a loop, the loop it waits on (breadth-first from the loops' members).
    const loopOf = new Map<string, string[]>();
    const queue: string[] = [];
    for (const c of plan.cycles) {
      const names = c.taskIds.map((id) => taskOf(g, normalizeId(id)).name);
      for (const id of c.taskIds) {
        loopOf.set(normalizeId(id), names);
        queue.push(normalizeId(id));
      }
    }
    for (let i = 0; i < queue.length; i++) {
      const k = queue[i] as string;
      for (const e of edges(k)) {
        if (!reached.has(e.to) || planned.has(e.to) || loopOf.has(e.to)) continue;
        loopOf.set(e.to, loopOf.get(k) as string[]);
        queue.push(e.to);
      }
    }
    for (const k of [...reached].sort()) {
      if (planned.has(k) || cyclic.has(k)) continue;
      const t = taskOf(g, k);
      plan.skipped.push({ taskId: t.id, taskName: t.name, reason: downstreamOfCycle(t, loopOf.get(k) ?? []) });
    }
  }
  for (const [k, reason] of [...core.upToDate].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (planned.has(k) || cyclic.has(k)) continue;
    const t = taskOf(g, k);
    plan.skipped.push({ taskId: t.id, taskName: t.name, reason });
  }

  const { wave, triggers } = layered;
  for (const k of [...planned].sort()) {
    const t = taskOf(g, k);
    const w = wave.get(k) ?? 1;
    while (plan.waves.length < w) plan.waves.push([]);
    (plan.waves[w - 1] as PlannedTask[]).push({
      taskId: t.id,
      taskName: t.name,
      registryId: t.registryId,
      loginServer: t.loginServer,
      wave: w,
      triggers: triggers.get(k) ?? [],
      baseImages: t.bases.map((b) => b.ref),
    });
  }
}

/** Tarjan's algorithm, iterative (10,000-task chains must not overflow the stack). */
function stronglyConnected(nodes: ReadonlySet<string>, edges: (k: string) => GraphEdgeOut[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  for (const root of [...nodes].sort()) {
    if (index.has(root)) continue;
    const successors = (k: string): string[] =>
      edges(k)
        .map((e) => e.to)
        .filter((to) => nodes.has(to));
    const work: { node: string; succ: string[]; i: number }[] = [{ node: root, succ: successors(root), i: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; succ: string[]; i: number };
      if (frame.i < frame.succ.length) {
        const to = frame.succ[frame.i++] as string;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, succ: successors(to), i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(to) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const scc: string[] = [];
        let k: string;
        do {
          k = stack.pop() as string;
          onStack.delete(k);
          scc.push(k);
        } while (k !== frame.node);
        out.push(scc);
      }
    }
  }
  return out;
}

/** One concrete loop through a strongly connected set, starting at its smallest key (breadth-first: shortest). */
function loopPath(scc: ReadonlySet<string>, edges: (k: string) => GraphEdgeOut[], g: DependencyGraph): LoopEdge[] {
  const start = [...scc].sort()[0] as string;
  const via = new Map<string, { from: string; edge: GraphEdgeOut }>();
  const queue = [start];
  let closing: { from: string; edge: GraphEdgeOut } | undefined;
  for (let i = 0; i < queue.length && !closing; i++) {
    const k = queue[i] as string;
    for (const e of edges(k)) {
      if (!scc.has(e.to)) continue;
      if (e.to === start) {
        closing = { from: k, edge: e };
        break;
      }
      if (!via.has(e.to)) {
        via.set(e.to, { from: k, edge: e });
        queue.push(e.to);
      }
    }
  }
  const steps: { from: string; edge: GraphEdgeOut }[] = [];
  for (let step = closing; step; step = step.from === start ? undefined : via.get(step.from)) steps.unshift(step);
  return steps.map(({ from, edge }) => {
    const p = taskOf(g, from);
    const c = taskOf(g, edge.to);
    return {
      producer: { id: p.id, name: p.name },
      image: edge.image,
      consumer: { id: c.id, name: c.name },
      declared: edge.baseWhy === 'declared',
    };
  });
}

/**
 * Plan the rebuilds a push causes. `pushed.ref` is the pushed image (tag, or digest-only for a push by digest);
 * `pushed.digest` its manifest digest. Throws ImageRefError for a bad ref or digest.
 */
export interface PlanOptions {
  /**
   * Up-to-date tasks to plan anyway: with ACR's own base-image trigger on, the run that recorded the pushed digest may
   * be ACR's run for this very push, which the cascade adopts as the task's run (its output drives the next wave).
   */
  planIfUpToDate?: (taskKey: string) => boolean;
}

export function plan(g: DependencyGraph, pushed: { ref: string; digest: string }, opts: PlanOptions = {}): Plan {
  const r = parseImageRef(pushed.ref);
  if (!isDigest(pushed.digest)) {
    throw new ImageRefError(pushed.ref, 'digest', `digest '${pushed.digest}' is not sha256:<64 lower-case hex>`);
  }
  const digest = pushed.digest;
  const repoKey = repositoryKey(r);
  const tagged =
    r.tag !== undefined ? imageKey({ loginServer: r.loginServer, repository: r.repository, tag: r.tag }) : undefined;
  const shown = formatImageRef({
    loginServer: r.loginServer,
    repository: r.repository,
    ...(r.tag ? { tag: r.tag } : {}),
    digest,
  });
  const result: Plan = { pushed: { ref: shown, digest }, waves: [], skipped: [], cycles: [], notes: [] };

  const direct = new Set([
    ...(tagged ? graphLookup(g.consumersByKey, tagged) : []),
    ...graphLookup(g.consumersByDigest, `${repoKey}@${digest}`),
  ]);
  const core: Core = { starts: new Map(), upToDate: new Map() };
  for (const k of [...direct].sort()) {
    const t = taskOf(g, k);
    const matching = t.bases.filter((b) =>
      b.tag !== undefined ? b.key === tagged : b.repoKey === repoKey && b.digest === digest,
    );
    const withDigest = matching.filter((b) => b.digest !== undefined);
    if (withDigest.length > 0 && withDigest.every((b) => b.digest === digest) && !opts.planIfUpToDate?.(k)) {
      core.upToDate.set(k, upToDate(t, tagged ?? repoKey, digest));
      continue;
    }
    const whys = new Set(matching.map((b) => b.why));
    core.starts.set(
      k,
      [...whys].map((why) => ({ why, image: shown })),
    );
  }
  if (direct.size === 0) result.notes.push(baseNotFound(tagged ?? shown));
  schedule(g, core, result);
  return result;
}

/**
 * Plan an on-demand rebuild of the given tasks and, unless `downstream` is false, of everything that builds from
 * their outputs. Unknown ids are skipped with TaskNotFound.
 */
export function planForTasks(
  g: DependencyGraph,
  taskIds: readonly string[],
  options: { downstream?: boolean } = {},
): Plan {
  const result: Plan = { waves: [], skipped: [], cycles: [], notes: [] };
  const core: Core = { starts: new Map(), upToDate: new Map() };
  for (const id of taskIds) {
    let k: string | undefined;
    try {
      k = normalizeId(id);
    } catch (err) {
      if (!(err instanceof ResourceIdError)) throw err;
    }
    if (k === undefined || !Object.hasOwn(g.tasks, k)) {
      result.skipped.push({ taskId: id, taskName: id.split('/').pop() ?? id, reason: taskNotFound(id) });
      continue;
    }
    core.starts.set(k, [{ why: 'requested' }]);
  }
  if (options.downstream === false) core.allowed = (k) => core.starts.has(k);
  schedule(g, core, result);
  return result;
}

/**
 * Should a planned task still run once some tasks before it failed or were blocked? Yes if the push (or a request)
 * triggers it directly, or if at least one producer it waits for did not fail.
 */
export function isStillTriggered(
  task: { readonly triggers: readonly Trigger[] },
  failedOrBlockedTaskIds: readonly string[],
): boolean {
  const failed = new Set(failedOrBlockedTaskIds.map((id) => id.toLowerCase()));
  return task.triggers.some((t) => t.why !== 'output' || !failed.has((t.producerTaskId ?? '').toLowerCase()));
}
