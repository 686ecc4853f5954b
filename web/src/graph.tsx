// The dependency graph as a layered picture: waves left to right (the base image, wave 1, the images wave 1 pushes,
// wave 2, …), each edge labelled with why it exists (recorded / declared base, output image), blocked tasks marked
// with their reason. Layout by ELK's layered algorithm (elkjs); the wave of each node is pinned with ELK's
// partitioning so a column is exactly a wave of the plan.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { EdgeWhy, Graph, Plan, PlannedTask } from './api';

export interface GNode {
  id: string;
  kind: 'image' | 'task';
  label: string;
  /** Column: 0 = the pushed image, 2w-1 = tasks of wave w, 2w = images that wave pushes. */
  column: number;
  /** Task: rebuild / skip / blocked (or a live state); image: undefined. */
  state?: string;
  /** Second line of a task box (wave and decision, or the blocking reason). */
  note?: string;
  /** Task: images it pushes that nothing in the picture builds from (drawn inside the box, not as nodes). */
  pushes?: string[];
  /** Full explanation for the tooltip / screen readers. */
  detail?: string;
}

export interface GEdge {
  from: string;
  to: string;
  why: EdgeWhy;
}

export interface LayeredGraph {
  nodes: GNode[];
  edges: GEdge[];
}

function taskNote(t: PlannedTask | undefined): { state?: string; note?: string; detail?: string } {
  if (!t) return { note: 'not in the plan' };
  const blocking = t.reasons.find((r) => r.severity === 'blocking');
  const first = blocking ?? t.reasons[0];
  const note =
    t.decision === 'blocked'
      ? `blocked: ${first?.code ?? 'see plan'}`
      : t.decision === 'skip'
        ? `skip: ${first?.code ?? 'up to date'}`
        : `wave ${t.wave} · rebuild`;
  return {
    state: t.decision,
    note,
    detail: `${t.taskName}: ${t.decision}${t.reasons.length ? ` — ${t.reasons.map((r) => r.message).join('; ')}` : ''}`,
  };
}

/** Columns by longest path from the root, with tasks pinned to their plan wave (bounded: cycles cannot loop). */
function assignColumns(
  ids: string[],
  edges: GEdge[],
  pinned: Map<string, number>,
  root: string | undefined,
): Map<string, number> {
  const col = new Map<string, number>(ids.map((id) => [id, pinned.get(id) ?? 0]));
  if (root !== undefined) col.set(root, 0);
  for (let round = 0; round < ids.length + 1; round++) {
    let changed = false;
    for (const e of edges) {
      if (pinned.has(e.to) || e.to === root) continue;
      const want = (col.get(e.from) ?? 0) + 1;
      if (want > (col.get(e.to) ?? 0)) {
        col.set(e.to, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return col;
}

/** The picture of GET /api/graph, with decisions and waves from the plan of the same image. */
export function fromGraph(g: Graph, plan: Plan | undefined): LayeredGraph {
  const byTask = new Map((plan?.tasks ?? []).map((t) => [t.task.toLowerCase(), t]));
  const pinned = new Map<string, number>();
  for (const n of g.nodes) {
    const t = n.kind === 'task' ? byTask.get(n.id.toLowerCase()) : undefined;
    if (t && t.wave > 0) pinned.set(n.id, 2 * t.wave - 1);
  }
  const edges: GEdge[] = g.edges.map((e) => ({ from: e.from, to: e.to, why: e.why }));
  const cols = assignColumns(
    g.nodes.map((n) => n.id),
    edges,
    pinned,
    g.root,
  );
  const nodes: GNode[] = g.nodes.map((n) => ({
    id: n.id,
    kind: n.kind,
    label: n.label,
    column: cols.get(n.id) ?? 0,
    ...(n.kind === 'task' ? taskNote(byTask.get(n.id.toLowerCase())) : {}),
  }));
  return foldLeafOutputs({ nodes, edges }, g.root);
}

/** The picture of a plan alone (a rebuild of given tasks): tasks, the bases they build from and what they push. */
export function fromPlan(plan: Plan): LayeredGraph {
  const nodes = new Map<string, GNode>();
  const edges: GEdge[] = [];
  const pinned = new Map<string, number>();
  for (const t of plan.tasks) {
    nodes.set(t.task, { id: t.task, kind: 'task', label: t.taskName, column: 0, ...taskNote(t) });
    if (t.wave > 0) pinned.set(t.task, 2 * t.wave - 1);
    for (const b of t.baseImages) {
      const id = `image:${b.ref}`;
      if (!nodes.has(id)) nodes.set(id, { id, kind: 'image', label: b.ref, column: 0 });
      edges.push({ from: id, to: t.task, why: b.why === 'output' ? 'recorded' : b.why });
    }
    for (const o of t.outputImages) {
      const id = `image:${o}`;
      if (!nodes.has(id)) nodes.set(id, { id, kind: 'image', label: o, column: 0 });
      edges.push({ from: t.task, to: id, why: 'output' });
    }
  }
  const cols = assignColumns([...nodes.keys()], edges, pinned, undefined);
  for (const n of nodes.values()) n.column = cols.get(n.id) ?? 0;
  return foldLeafOutputs({ nodes: [...nodes.values()], edges }, undefined);
}

/**
 * An image a task pushes that nothing here builds from is written inside the task's box instead of being a node:
 * the picture keeps every edge that links two tasks and is a column narrower per wave.
 */
export function foldLeafOutputs(g: LayeredGraph, root: string | undefined): LayeredGraph {
  const outgoing = new Set(g.edges.map((e) => e.from));
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const folded = new Set<string>();
  const pushes = new Map<string, string[]>();
  for (const e of g.edges) {
    const image = byId.get(e.to);
    const producers = g.edges.filter((x) => x.to === e.to);
    if (e.why !== 'output' || !image || image.kind !== 'image' || e.to === root) continue;
    if (outgoing.has(e.to) || producers.length !== 1) continue;
    folded.add(e.to);
    pushes.set(e.from, [...(pushes.get(e.from) ?? []), image.label]);
  }
  return {
    nodes: g.nodes
      .filter((n) => !folded.has(n.id))
      .map((n) => (pushes.has(n.id) ? { ...n, pushes: pushes.get(n.id)! } : n)),
    edges: g.edges.filter((e) => !folded.has(e.to)),
  };
}

function pushLine(n: GNode): string | undefined {
  if (!n.pushes?.length) return undefined;
  const first = splitRef(n.pushes[0]!).name;
  return `→ ${first}${n.pushes.length > 1 ? ` +${n.pushes.length - 1}` : ''}`;
}

// ---- layout and drawing --------------------------------------------------------------------------------------------

const CHAR = 7.2;
const TASK_H = 50;
const IMAGE_H = 40;
const HEADER = 30;
const MIN_SCALE = 0.7;

/** An image reference in two lines: repository:tag, then the registry (long refs would make wide columns). */
export function splitRef(ref: string): { name: string; registry: string } {
  const slash = ref.indexOf('/');
  const host = slash > 0 ? ref.slice(0, slash) : '';
  if (host && (host.includes('.') || host.includes(':') || host === 'localhost')) {
    return { name: ref.slice(slash + 1), registry: host };
  }
  return { name: ref, registry: 'docker.io' };
}

function size(n: GNode): { width: number; height: number } {
  if (n.kind === 'image') {
    const { name, registry } = splitRef(n.label);
    const text = Math.max(name.length, registry.length * 0.85);
    return { width: Math.round(Math.min(300, Math.max(110, text * CHAR + 24))), height: IMAGE_H };
  }
  const text = Math.max(n.label.length * 1.05, (n.note ?? '').length * 0.95, (pushLine(n) ?? '').length * 0.95);
  return {
    width: Math.round(Math.min(320, Math.max(120, text * CHAR + 28))),
    height: n.pushes?.length ? TASK_H + 14 : TASK_H,
  };
}

interface Placed {
  width: number;
  height: number;
  nodes: (GNode & { x: number; y: number; width: number; height: number })[];
  edges: (GEdge & { points: { x: number; y: number }[]; label?: { x: number; y: number; width: number } })[];
}

async function layout(g: LayeredGraph): Promise<Placed> {
  const { default: ELK } = await import('elkjs/lib/elk.bundled.js');
  const elk = new ELK();
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.partitioning.activate': 'true',
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.spacing.nodeNodeBetweenLayers': '64',
      'elk.spacing.nodeNode': '22',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children: g.nodes.map((n) => ({
      id: n.id,
      ...size(n),
      layoutOptions: { 'elk.partitioning.partition': String(n.column) },
    })),
    edges: g.edges.map((e, i): ElkExtendedEdge => ({
      id: `e${i}`,
      sources: [e.from],
      targets: [e.to],
    })),
  };
  const out = await elk.layout(graph);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return {
    width: out.width ?? 0,
    height: out.height ?? 0,
    nodes: (out.children ?? []).map((c) => ({
      ...byId.get(c.id)!,
      x: c.x ?? 0,
      y: c.y ?? 0,
      width: c.width ?? 0,
      height: c.height ?? 0,
    })),
    edges: (out.edges ?? []).map((e, i) => {
      const s = e.sections?.[0];
      const points = s ? [s.startPoint, ...(s.bendPoints ?? []), s.endPoint] : [];
      // Labels are drawn half-way along the edge rather than laid out by ELK: its label dummies add a layer per
      // labelled edge and would double the width of the picture.
      const mid = halfway(points);
      const width = g.edges[i]!.why.length * 6.2;
      return {
        ...g.edges[i]!,
        points,
        ...(mid ? { label: { x: mid.x - width / 2, y: mid.y - 15, width } } : {}),
      };
    }),
  };
}

/** The point half-way along a polyline (by length). */
function halfway(points: { x: number; y: number }[]): { x: number; y: number } | undefined {
  if (points.length < 2) return undefined;
  const lengths = points.slice(1).map((p, i) => Math.hypot(p.x - points[i]!.x, p.y - points[i]!.y));
  let rest = lengths.reduce((a, b) => a + b, 0) / 2;
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i]!;
    if (rest <= l && l > 0) {
      const a = points[i]!;
      const b = points[i + 1]!;
      return { x: a.x + ((b.x - a.x) * rest) / l, y: a.y + ((b.y - a.y) * rest) / l };
    }
    rest -= l;
  }
  return points[points.length - 1];
}

function path(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}

/** Column headers: "Wave n" over each task column, "pushed image" over column 0. */
function columnHeads(p: Placed): { x: number; text: string }[] {
  const byCol = new Map<number, { min: number; max: number }>();
  for (const n of p.nodes) {
    const c = byCol.get(n.column) ?? { min: Infinity, max: -Infinity };
    c.min = Math.min(c.min, n.x);
    c.max = Math.max(c.max, n.x + n.width);
    byCol.set(n.column, c);
  }
  const heads: { x: number; text: string }[] = [];
  for (const [col, { min, max }] of byCol) {
    if (col % 2 === 1) heads.push({ x: (min + max) / 2, text: `Wave ${(col + 1) / 2}` });
    else if (col === 0) heads.push({ x: (min + max) / 2, text: 'Base image' });
  }
  return heads;
}

export function GraphView({
  graph,
  title,
  onSelect,
}: {
  graph: LayeredGraph;
  title: string;
  onSelect?: (taskId: string) => void;
}) {
  const [placed, setPlaced] = useState<Placed | undefined>(undefined);
  const box = useRef<HTMLDivElement>(null);
  const [room, setRoom] = useState(0);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const observer = new ResizeObserver(() => setRoom(el.clientWidth));
    observer.observe(el);
    setRoom(el.clientWidth);
    return () => observer.disconnect();
  }, [placed !== undefined]);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  const key = useMemo(() => JSON.stringify(graph), [graph]);
  useEffect(() => {
    let live = true;
    setFailed(undefined);
    layout(graph).then(
      (p) => live && setPlaced(p),
      (err: unknown) => live && setFailed(String(err)),
    );
    return () => {
      live = false;
    };
  }, [key]); // the graph's content, not its identity
  if (failed) return <p class="error">The graph could not be laid out: {failed}</p>;
  if (!placed) return <p class="muted">Laying out the graph…</p>;
  // Shrinks a wide graph to the panel down to 70 % (text stays readable); wider ones scroll.
  const scale = room > 0 ? Math.min(1, Math.max(MIN_SCALE, (room - 2) / placed.width)) : 1;
  const tasks = placed.nodes.filter((n) => n.kind === 'task');
  const blocked = tasks.filter((n) => n.state === 'blocked').length;
  const waves = new Set(tasks.map((n) => n.column)).size;
  return (
    <div class="graph-scroll" data-testid="graph" ref={box}>
      <svg
        class="graph"
        width={Math.round(placed.width * scale)}
        height={Math.round((placed.height + HEADER) * scale)}
        viewBox={`0 0 ${placed.width} ${placed.height + HEADER}`}
        role="img"
        aria-label={`${title}: ${tasks.length} tasks in ${waves} waves, ${blocked} blocked`}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
        </defs>
        {columnHeads(placed).map((h) => (
          <text key={h.text} x={h.x} y={18} class="col-head" text-anchor="middle">
            {h.text}
          </text>
        ))}
        <g transform={`translate(0 ${HEADER})`}>
          {placed.edges.map((e, i) => (
            <g key={`e${i}`} class={`edge edge-${e.why}`}>
              <path d={path(e.points)} marker-end="url(#arrow)" />
              {e.label ? (
                <text x={e.label.x + e.label.width / 2} y={e.label.y + 12} text-anchor="middle" class="edge-label">
                  {e.why}
                </text>
              ) : null}
            </g>
          ))}
          {placed.nodes.map((n) => (
            <g
              key={n.id}
              class={`node node-${n.kind} node-${n.state ?? 'none'}`}
              transform={`translate(${n.x} ${n.y})`}
              data-node={n.kind}
              data-label={n.label}
              {...(n.kind === 'task' && onSelect
                ? {
                    // SVG attributes are case-sensitive: `tabindex`, not `tabIndex`.
                    tabindex: 0,
                    role: 'button',
                    'aria-label': n.detail ?? n.label,
                    onClick: () => onSelect(n.id),
                    onKeyDown: (ev: KeyboardEvent) => {
                      if (ev.key === 'Enter' || ev.key === ' ') {
                        ev.preventDefault();
                        onSelect(n.id);
                      }
                    },
                  }
                : {})}
            >
              <title>{n.detail ?? n.label}</title>
              <rect width={n.width} height={n.height} rx={n.kind === 'task' ? 8 : 18} />
              {n.kind === 'task' ? (
                <>
                  <text x={12} y={20} class="node-title">
                    {n.label}
                  </text>
                  <text x={12} y={38} class="node-note">
                    {n.note}
                  </text>
                  {n.pushes?.length ? (
                    <text x={12} y={54} class="node-pushes">
                      <title>pushes {n.pushes.join(', ')}</title>
                      {pushLine(n)}
                    </text>
                  ) : null}
                </>
              ) : (
                <>
                  <text x={n.width / 2} y={17} text-anchor="middle" class="node-image">
                    {splitRef(n.label).name}
                  </text>
                  <text x={n.width / 2} y={32} text-anchor="middle" class="node-registry">
                    {splitRef(n.label).registry}
                  </text>
                </>
              )}
            </g>
          ))}
        </g>
      </svg>
    </div>
  );
}
