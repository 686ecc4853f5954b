// Human output: tables (cli-table3) and colours (picocolors, which colours only on a terminal and honours NO_COLOR /
// FORCE_COLOR). Pure functions from API bodies to text, so the watch display and one-shot commands share them.
import Table from 'cli-table3';
import pc from './colors.js';
import { EXIT } from './exitCodes.js';
import type {
  CascadeBody,
  CascadeListBody,
  CascadeTotals,
  CredentialsBody,
  CredentialHealth,
  GraphBody,
  IndexSummary,
  PlanBody,
  PlanEntry,
  TaskResult,
} from './types.js';

/** `…/registries/myregistry/tasks/helloworldtask` → `myregistry/helloworldtask`. */
export function taskLabel(id: string, fallbackName?: string): string {
  const m = /\/registries\/([^/]+)\/tasks\/([^/]+)$/i.exec(id);
  return m ? `${m[1]}/${m[2]}` : (fallbackName ?? id);
}

function table(head: string[]): Table.Table {
  return new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] }, wordWrap: true });
}

export function colorStatus(s: string): string {
  switch (s) {
    case 'Completed':
    case 'Succeeded':
    case 'succeeded':
    case 'rebuild':
    case 'healthy':
    case 'refreshed':
    case 'rotated':
      return pc.green(s);
    case 'Failed':
    case 'failed':
    case 'blocked':
    case 'Error':
    case 'Timeout':
    case 'expired':
    case 'missing':
    case 'accessDenied':
    case 'disabled':
    case 'notYetValid':
      return pc.red(s);
    case 'Canceled':
    case 'canceled':
    case 'Superseded':
    case 'Terminated':
    case 'expiring':
    case 'outdatedVersion':
    case 'unknown':
      return pc.yellow(s);
    case 'skip':
    case 'skipped':
      return pc.dim(s);
    default:
      return pc.cyan(s);
  }
}

export function duration(start?: string, end?: string): string {
  if (!start) return '';
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function reasonLines(reasons: { code: string; message: string; fix?: string }[], indent = '    '): string[] {
  const out: string[] = [];
  for (const r of reasons) {
    out.push(`${indent}${pc.yellow(r.code)}: ${r.message}`);
    if (r.fix) for (const line of r.fix.split('\n')) out.push(`${indent}  ${pc.dim('fix:')} ${line}`);
  }
  return out;
}

// ---- plan and graph ------------------------------------------------------------------------------------------------

export function renderPlan(plan: PlanBody, title = 'Plan'): string {
  const lines: string[] = [];
  const what = plan.image ? `${plan.image.ref}${plan.image.digest ? `@${plan.image.digest}` : ''}` : 'the given tasks';
  lines.push(
    `${pc.bold(title)} for ${what}${plan.indexRefreshedAt ? pc.dim(`  (index of ${plan.indexRefreshedAt})`) : ''}`,
  );
  if (plan.tasks.length === 0) lines.push('  no managed task builds on this image');
  else {
    const t = table(['Wave', 'Task', 'Decision', 'Why']);
    for (const task of plan.tasks) {
      t.push([
        task.wave > 0 ? String(task.wave) : '-',
        taskLabel(task.task, task.taskName),
        colorStatus(task.decision),
        task.reasons.map((r) => r.code).join(', ') || baseWhy(task),
      ]);
    }
    lines.push(t.toString());
    lines.push(`${plan.waves.length} wave(s); ${countBy(plan.tasks, 'decision')}`);
  }
  const blocked = plan.tasks.filter((t) => t.decision === 'blocked');
  if (blocked.length) {
    lines.push(pc.red('Blocked:'));
    for (const t of blocked) lines.push(`  ${taskLabel(t.task, t.taskName)}`, ...reasonLines(t.reasons));
  }
  for (const c of plan.cycles) lines.push(pc.red(`Cycle (not scheduled): ${c.map((id) => taskLabel(id)).join(' → ')}`));
  for (const n of plan.notes ?? []) lines.push(`${pc.yellow(n.code)}: ${n.message}`);
  return lines.join('\n');
}

function baseWhy(t: PlanEntry): string {
  return t.baseImages.map((b) => `${b.why} ${b.ref}`).join('\n');
}

function countBy<T extends Record<K, string>, K extends keyof T>(items: T[], key: K): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i[key], (counts.get(i[key]) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
}

export function planExitCode(plan: PlanBody): number {
  return plan.tasks.some((t) => t.decision === 'blocked') ? EXIT.blocked : EXIT.ok;
}

/** The subgraph as a tree from the image: tasks that build on it, the images they push, and so on. */
export function renderGraph(g: GraphBody): string {
  const nodes = new Map(g.nodes.map((n) => [n.id, n]));
  const out = new Map<string, { to: string; why: string }[]>();
  for (const e of g.edges) out.set(e.from, [...(out.get(e.from) ?? []), { to: e.to, why: e.why }]);
  const label = (id: string) => {
    const n = nodes.get(id);
    if (!n) return id;
    if (n.kind === 'task') return `${pc.bold(taskLabel(n.id, n.label))}${n.status ? ` ${colorStatus(n.status)}` : ''}`;
    return pc.cyan(n.label);
  };
  const lines = [label(g.root)];
  const seen = new Set<string>([g.root]);
  const walk = (id: string, prefix: string) => {
    const children = out.get(id) ?? [];
    children.forEach((c, i) => {
      const last = i === children.length - 1;
      const again = seen.has(c.to);
      lines.push(
        `${prefix}${last ? '└─' : '├─'} ${label(c.to)} ${pc.dim(`(${c.why})`)}${again ? pc.dim(' …see above') : ''}`,
      );
      if (again) return;
      seen.add(c.to);
      walk(c.to, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(g.root, '');
  if (g.edges.length === 0) lines.push('  (no managed task builds on this image)');
  if (g.truncated) lines.push(pc.yellow('(truncated: more nodes were reachable)'));
  return lines.join('\n');
}

// ---- cascades ------------------------------------------------------------------------------------------------------

export function totalsLine(t: CascadeTotals | undefined): string {
  if (!t) return '';
  const parts = [
    `planned ${t.planned}`,
    ...(t.running !== undefined ? [`running ${t.running}`] : []),
    `scheduled ${t.scheduled}`,
    `succeeded ${t.succeeded}`,
    `failed ${t.failed}`,
    `blocked ${t.blocked}`,
    `skipped ${t.skipped}`,
    `canceled ${t.canceled}`,
  ];
  return parts.join(' · ');
}

export function tasksTable(tasks: TaskResult[]): string {
  const t = table(['Wave', 'Task', 'Decision', 'Outcome', 'Run', 'Run status', 'Duration']);
  for (const r of [...tasks].sort((a, b) => a.wave - b.wave || a.taskName.localeCompare(b.taskName))) {
    t.push([
      r.wave > 0 ? String(r.wave) : '-',
      taskLabel(r.task, r.taskName),
      colorStatus(r.decision),
      colorStatus(r.outcome),
      r.run ? `${r.run.runId}${r.run.adopted ? ' (adopted)' : ''}` : '',
      r.run ? colorStatus(r.run.status) : '',
      r.run ? duration(r.run.startTime, r.run.finishTime) : '',
    ]);
  }
  return t.toString();
}

export function renderCascade(c: CascadeBody): string {
  const lines: string[] = [];
  const image = c.result?.image ?? c.progress?.image;
  lines.push(`${pc.bold('Cascade')} ${c.id}  ${colorStatus(c.status)}`);
  if (image) lines.push(`  image      ${image.ref}@${image.digest}`);
  if (c.createdTime) lines.push(`  started    ${c.createdTime}${c.requestedBy ? `  by ${c.requestedBy}` : ''}`);
  if (c.result?.finishedAt)
    lines.push(`  finished   ${c.result.finishedAt}  (${duration(c.result.startedAt, c.result.finishedAt)})`);
  const p = c.progress;
  if (p && !c.result) {
    lines.push(
      `  phase      ${p.phase}${p.waves ? `, wave ${p.wave}/${p.waves}` : ''}${p.canceling ? pc.yellow(' (canceling)') : ''}`,
    );
  }
  const totals = c.totals ?? c.result?.totals ?? p?.totals;
  if (totals) lines.push(`  tasks      ${totalsLine(totals)}`);
  if (c.result?.error) lines.push(pc.red(`  error      ${c.result.error}`));
  const tasks = c.tasks ?? c.result?.tasks ?? [];
  if (tasks.length) lines.push(tasksTable(tasks));
  const explained = tasks.filter((t) => t.reasons.length && t.outcome !== 'succeeded' && t.outcome !== 'skipped');
  for (const t of explained)
    lines.push(`  ${taskLabel(t.task, t.taskName)} ${colorStatus(t.outcome)}`, ...reasonLines(t.reasons));
  for (const n of c.result?.notes ?? []) lines.push(`  ${pc.yellow(n.code)}: ${n.message}`);
  return lines.join('\n');
}

const ENDED = new Set(['Completed', 'Failed', 'Canceled', 'Superseded', 'Terminated']);

export function cascadeEnded(c: { status: string }): boolean {
  return ENDED.has(c.status);
}

/** 0 completed cleanly; 1 failed; 3 blocked; 4 canceled/superseded/terminated; 7 still running. */
export function cascadeExitCode(c: CascadeBody): number {
  const totals = c.totals ?? c.result?.totals;
  switch (c.status) {
    case 'Completed':
      if ((totals?.failed ?? 0) > 0) return EXIT.failed;
      if ((totals?.blocked ?? 0) > 0) return EXIT.blocked;
      if ((totals?.canceled ?? 0) > 0) return EXIT.canceled;
      return EXIT.ok;
    case 'Failed':
      return EXIT.failed;
    case 'Canceled':
    case 'Superseded':
    case 'Terminated':
      return EXIT.canceled;
    default:
      return EXIT.running;
  }
}

export function renderCascadeList(list: CascadeListBody): string {
  if (list.cascades.length === 0) return 'no cascades (start one: acr-cascade rebuild <image>)';
  const t = table(['Id', 'Status', 'Image', 'Started', 'Tasks']);
  for (const c of list.cascades) {
    const totals = c.totals ?? c.progress?.totals;
    const image = c.image ?? c.progress?.image;
    t.push([
      c.id,
      colorStatus(c.status),
      image?.ref ?? '',
      c.createdTime ?? '',
      totals ? `${totals.succeeded}✓ ${totals.failed}✗ ${totals.blocked} blocked / ${totals.planned}` : '',
    ]);
  }
  const more = list.continuation ? `\nmore: acr-cascade status --continuation '${list.continuation}'` : '';
  return t.toString() + more;
}

// ---- credentials and index -----------------------------------------------------------------------------------------

/** Statuses with which a run cannot log in (the CLI exits 3 when one is listed). */
const BLOCKING_CREDENTIAL = new Set(['expired', 'disabled', 'missing', 'accessDenied', 'notYetValid']);

export function credentialsExitCode(body: CredentialsBody): number {
  return body.credentials.some((c) => BLOCKING_CREDENTIAL.has(c.status)) ? EXIT.blocked : EXIT.ok;
}

function credentialWhat(c: CredentialHealth): string {
  return 'secret' in c ? `${c.field} ${c.secret}` : 'identity';
}

export function renderCredentials(body: CredentialsBody): string {
  const lines: string[] = [];
  if (body.credentials.length === 0) lines.push('no task registry logins known');
  else {
    const t = table(['Task', 'Login server', 'Credential', 'Status', 'Days left', 'Rotatable']);
    for (const c of body.credentials) {
      t.push([
        taskLabel(c.task, c.taskName),
        c.loginServer,
        credentialWhat(c),
        colorStatus(c.status),
        c.daysLeft !== undefined ? String(c.daysLeft) : '',
        c.rotatable ? 'yes' : 'no',
      ]);
    }
    lines.push(t.toString());
    for (const c of body.credentials.filter((x) => x.status !== 'healthy' && (x.fix || x.message))) {
      lines.push(`  ${taskLabel(c.task, c.taskName)} ${c.loginServer}: ${colorStatus(c.status)} ${c.message}`);
      if (c.fix) for (const l of c.fix.split('\n')) lines.push(`    ${pc.dim('fix:')} ${l}`);
    }
  }
  if (body.lastCheck)
    lines.push(
      pc.dim(`last check ${body.lastCheck.checkId} (${body.lastCheck.trigger}) at ${body.lastCheck.checkedAt}`),
    );
  if (body.note)
    lines.push(
      pc.yellow(
        body.note.replace('POST /api/credentials/check starts one', 'acr-cascade credentials --check runs one'),
      ),
    );
  return lines.join('\n');
}

export function renderIndex(s: IndexSummary): string {
  const lines = [
    `${pc.bold('Dependency index')} ${s.built ? pc.green('built') : pc.yellow('not built yet (acr-cascade index --refresh)')}`,
  ];
  if (s.refreshedAt)
    lines.push(`  refreshed   ${s.refreshedAt}${s.ageSeconds !== undefined ? ` (${s.ageSeconds}s ago)` : ''}`);
  if (s.version !== undefined) lines.push(`  version     ${s.version}`);
  lines.push(
    `  registries  ${s.registries}`,
    `  tasks       ${s.tasks}${s.pending ? ` (${s.pending} pending credential reads)` : ''}`,
  );
  for (const scope of s.scopes) lines.push(`  scope       ${scope}`);
  const last = s.lastRefresh;
  if (last) {
    lines.push(
      `  last refresh +${last.added} ~${last.changed} -${last.removed} in ${last.durationMs} ms (${last.armReads} ARM reads)`,
    );
    for (const e of last.errors) lines.push(pc.red(`  ${e.scope}: ${e.code} ${e.message}`));
  }
  return lines.join('\n');
}
