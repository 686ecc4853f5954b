// The dependency index: image → task (a task builds FROM the image) → image (the task pushes it).
// Plain JSON (records, not Maps) so it can be stored and passed through durable history; every lookup is by key,
// so planning stays linear in the part of the graph it touches.

import { withDeclaredBaseImages } from './baseImages.js';
import { formatImageRef, ImageRefError, imageKey, isTemplateTag, parseImageRef, repositoryKey } from './imageRef.js';
import { normalizeId, ResourceIdError } from './resourceId.js';
import type { BaseImageType, TaskInfo, TaskStatus } from './types.js';

/** Why an edge exists: recorded/declared base (image → task), or a task output (task → image). */
export type EdgeWhy = 'recorded' | 'declared' | 'output';

export interface GraphBase {
  ref: string;
  /** imageKey: `ls/repo:tag`, or `ls/repo@digest` for digest-pinned bases. */
  key: string;
  repoKey: string;
  tag?: string;
  digest?: string;
  why: 'recorded' | 'declared';
  type?: BaseImageType;
}

export interface GraphOutput {
  ref: string;
  key: string;
  repoKey: string;
  /** Tag is an ACR template (`{{.Run.ID}}`): the output matches bases by repository. */
  templated: boolean;
}

export interface GraphTask {
  id: string;
  name: string;
  registryId: string;
  loginServer: string;
  status: TaskStatus;
  bases: GraphBase[];
  outputs: GraphOutput[];
}

export interface GraphProblem {
  taskId: string;
  ref: string;
  message: string;
}

export interface DependencyGraph {
  /** By normalizeId(task id). */
  tasks: Record<string, GraphTask>;
  /** imageKey of a tagged base → task keys. */
  consumersByKey: Record<string, string[]>;
  /** `repoKey@digest` of a digest-pinned base → task keys. */
  consumersByDigest: Record<string, string[]>;
  /** repoKey of a tagged base → task keys (for templated outputs). */
  consumersByRepo: Record<string, string[]>;
  /** imageKey of a literal-tag output → task keys. */
  producersByKey: Record<string, string[]>;
  /** repoKey of a templated output → task keys. */
  producersByRepo: Record<string, string[]>;
  /** Refs that could not be parsed (skipped, reported). */
  problems: GraphProblem[];
}

function add(index: Record<string, string[]>, key: string, taskKey: string): void {
  const list = Object.hasOwn(index, key) ? index[key] : (index[key] = []);
  if (list && list[list.length - 1] !== taskKey) list.push(taskKey);
}

export function graphLookup(index: Record<string, string[]>, key: string): readonly string[] {
  return Object.hasOwn(index, key) ? (index[key] ?? []) : [];
}

/** Recorded bases first, then declared ones (from baseImages or the tag) whose image key is not recorded. */
function basesOf(task: TaskInfo, problems: GraphProblem[]): GraphBase[] {
  const merged = withDeclaredBaseImages(task.baseImages, task.tags);
  for (const message of merged.problems) problems.push({ taskId: task.id, ref: '', message });
  return merged.baseImages.map((b) => {
    const r = parseImageRef(b.ref);
    // A tagged base is matched by tag, so its ref drops any digest (kept in `digest`); a pinned one keeps it.
    const shown = r.tag !== undefined ? { loginServer: r.loginServer, repository: r.repository, tag: r.tag } : r;
    const g: GraphBase = { ref: formatImageRef(shown), key: imageKey(r), repoKey: repositoryKey(r), why: b.source };
    if (r.tag !== undefined) g.tag = r.tag;
    const digest = b.digest ?? r.digest;
    if (digest !== undefined) g.digest = digest;
    if (b.type) g.type = b.type;
    return g;
  });
}

function outputsOf(task: TaskInfo, problems: GraphProblem[]): GraphOutput[] {
  const out: GraphOutput[] = [];
  for (const o of task.outputImages) {
    try {
      const r = parseImageRef(o, { defaultLoginServer: task.loginServer, allowTemplateTag: true });
      const templated = isTemplateTag(r.tag);
      const g: GraphOutput = { ref: formatImageRef(r), key: imageKey(r), repoKey: repositoryKey(r), templated };
      if (!out.some((x) => x.key === g.key)) out.push(g);
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      problems.push({ taskId: task.id, ref: o, message: err.message });
    }
  }
  return out;
}

export function buildGraph(tasks: readonly TaskInfo[]): DependencyGraph {
  const g: DependencyGraph = {
    tasks: {},
    consumersByKey: {},
    consumersByDigest: {},
    consumersByRepo: {},
    producersByKey: {},
    producersByRepo: {},
    problems: [],
  };
  for (const task of tasks) {
    let key: string;
    try {
      key = normalizeId(task.id);
    } catch (err) {
      if (!(err instanceof ResourceIdError)) throw err;
      g.problems.push({ taskId: task.id, ref: '', message: err.message });
      continue;
    }
    if (Object.hasOwn(g.tasks, key)) {
      g.problems.push({ taskId: task.id, ref: '', message: 'task listed twice; first kept' });
      continue;
    }
    const node: GraphTask = {
      id: task.id,
      name: task.name,
      registryId: task.registryId,
      loginServer: task.loginServer,
      status: task.status,
      bases: basesOf(task, g.problems),
      outputs: outputsOf(task, g.problems),
    };
    g.tasks[key] = node;
    for (const b of node.bases) {
      if (b.tag === undefined) {
        add(g.consumersByDigest, `${b.repoKey}@${b.digest}`, key);
      } else {
        add(g.consumersByKey, b.key, key);
        add(g.consumersByRepo, b.repoKey, key);
      }
    }
    for (const o of node.outputs)
      add(o.templated ? g.producersByRepo : g.producersByKey, o.templated ? o.repoKey : o.key, key);
  }
  return g;
}

export interface GraphEdgeOut {
  /** Consumer task key. */
  to: string;
  /** The output ref of the producer that the consumer builds from. */
  image: string;
  /** How the consumer knows this base. */
  baseWhy: 'recorded' | 'declared';
}

/** Task → tasks that build from one of its outputs (templated outputs match every tagged base of the repository). */
export function downstreamOf(g: DependencyGraph, taskKey: string): GraphEdgeOut[] {
  const t = Object.hasOwn(g.tasks, taskKey) ? g.tasks[taskKey] : undefined;
  if (!t) return [];
  const out: GraphEdgeOut[] = [];
  const seen = new Set<string>();
  for (const o of t.outputs) {
    for (const to of graphLookup(o.templated ? g.consumersByRepo : g.consumersByKey, o.templated ? o.repoKey : o.key)) {
      if (seen.has(to)) continue;
      const consumer = g.tasks[to] as GraphTask;
      const base = consumer.bases.find(
        (b) => b.tag !== undefined && (o.templated ? b.repoKey === o.repoKey : b.key === o.key),
      );
      if (!base) continue;
      seen.add(to);
      out.push({ to, image: o.ref, baseWhy: base.why });
    }
  }
  return out;
}

export interface GraphNode {
  id: string;
  kind: 'image' | 'task';
  label: string;
  status?: TaskStatus;
}

export interface GraphEdge {
  from: string;
  to: string;
  why: EdgeWhy;
}

export interface Subgraph {
  root: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** More than maxNodes were reachable; the rest is left out. */
  truncated: boolean;
}

/**
 * Everything downstream of an image, for `/api/graph`: image nodes are image keys (`ls/repo:tag`), task nodes are task
 * ids. Throws ImageRefError for a bad ref.
 */
export function subgraph(g: DependencyGraph, ref: string, options: { maxNodes?: number } = {}): Subgraph {
  const maxNodes = options.maxNodes ?? 5000;
  const root = parseImageRef(ref);
  const rootKey = imageKey(root);
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  let truncated = false;
  const addNode = (n: GraphNode): boolean => {
    if (nodes.has(n.id)) return false;
    if (nodes.size >= maxNodes) {
      truncated = true;
      return false;
    }
    nodes.set(n.id, n);
    return true;
  };
  addNode({ id: rootKey, kind: 'image', label: formatImageRef(root) });
  const queue: string[] = [];
  const visitTask = (taskKey: string, fromImage: string, why: EdgeWhy): void => {
    const t = g.tasks[taskKey] as GraphTask;
    const fresh = addNode({ id: t.id, kind: 'task', label: t.name, status: t.status });
    if (nodes.has(t.id)) edges.push({ from: fromImage, to: t.id, why });
    if (fresh) queue.push(taskKey);
  };
  const direct = [
    ...graphLookup(g.consumersByKey, rootKey),
    ...(root.digest ? graphLookup(g.consumersByDigest, `${repositoryKey(root)}@${root.digest}`) : []),
  ];
  for (const k of [...new Set(direct)].sort()) {
    const t = g.tasks[k] as GraphTask;
    const base = t.bases.find((b) => b.key === rootKey || (b.tag === undefined && b.digest === root.digest));
    visitTask(k, rootKey, base?.why ?? 'recorded');
  }
  for (let i = 0; i < queue.length; i++) {
    const key = queue[i] as string;
    const t = g.tasks[key] as GraphTask;
    const out = downstreamOf(g, key);
    for (const o of t.outputs) {
      addNode({ id: o.key, kind: 'image', label: o.ref });
      if (!nodes.has(o.key)) continue;
      edges.push({ from: t.id, to: o.key, why: 'output' });
      for (const e of out) if (e.image === o.ref) visitTask(e.to, o.key, e.baseWhy);
    }
  }
  return { root: rootKey, nodes: [...nodes.values()], edges, truncated };
}
