// `--watch`: follows one cascade until it ends. On a terminal the display is redrawn in place (log-update): one line
// per wave (done / running / waiting, with its tasks), the totals and the elapsed time. Elsewhere (pipes, CI logs)
// a line is printed whenever the phase, wave or totals change, and each wave's outcome is printed at the end.
import pc from './colors.js';
import type { ApiClient } from './client.js';
import { CliApiError } from './client.js';
import { cascadeEnded, colorStatus, duration, taskLabel, totalsLine } from './render.js';
import type { CascadeBody, CascadeTasksBody, PlanBody, TaskResult } from './types.js';

export interface WatchOptions {
  /** The plan computed when the cascade was started (names each wave's tasks); optional. */
  plan?: PlanBody;
  intervalMs: number;
  /** Redraw in place (a terminal) or print changes line by line. */
  live: boolean;
  /** Print nothing while watching (json output prints the final body only). */
  quiet: boolean;
  signal?: AbortSignal;
  write?: (text: string) => void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

type WaveState = 'done' | 'running' | 'waiting';

function waveStates(c: CascadeBody, waves: number): WaveState[] {
  const p = c.progress;
  const out: WaveState[] = [];
  for (let w = 1; w <= waves; w++) {
    if (cascadeEnded(c) || p?.phase === 'reporting' || p?.phase === 'done') out.push('done');
    else if (p?.phase === 'running' && w < p.wave) out.push('done');
    else if (p?.phase === 'running' && w === p.wave) out.push('running');
    else out.push('waiting');
  }
  return out;
}

const FINAL = new Set(['succeeded', 'failed', 'blocked', 'skipped', 'canceled']);

/** One task as it stands: `myregistry/app watching (run ca3)`. */
function taskState(t: CascadeTasksBody['tasks'][number]): string {
  const run = t.runId ? pc.dim(` (run ${t.runId}${t.adopted ? ', adopted' : ''})`) : '';
  const state = FINAL.has(t.state) ? colorStatus(t.state) : t.state === 'waiting' ? pc.dim(t.state) : pc.cyan(t.state);
  return `${taskLabel(t.task, t.taskName)} ${state}${run}`;
}

function waveTasks(plan: PlanBody | undefined, wave: number, live?: CascadeTasksBody): string {
  const liveTasks = live?.tasks.filter((t) => t.wave === wave) ?? [];
  if (liveTasks.length) {
    const shown = liveTasks.slice(0, 4).map(taskState);
    return liveTasks.length > 4 ? `${shown.join(', ')} +${liveTasks.length - 4}` : shown.join(', ');
  }
  const ids = plan?.waves[wave - 1] ?? [];
  const names = ids.map((id) => taskLabel(id, plan?.tasks.find((t) => t.task === id)?.taskName));
  return names.length > 4 ? `${names.slice(0, 4).join(', ')} +${names.length - 4}` : names.join(', ');
}

/** The in-place frame of a terminal. */
export function frame(c: CascadeBody, plan: PlanBody | undefined, tick: number, live?: CascadeTasksBody): string {
  const p = c.progress;
  const waves = Math.max(p?.waves ?? 0, c.result?.waves ?? 0, live?.waves.length ?? 0, plan?.waves.length ?? 0);
  const spin = SPINNER[tick % SPINNER.length]!;
  const lines = [`${pc.bold('Cascade')} ${c.id}  ${colorStatus(c.status)}  ${pc.dim(duration(c.createdTime))}`];
  const image = c.result?.image ?? p?.image;
  if (image) lines.push(`  ${pc.dim('image')} ${image.ref}@${image.digest.slice(0, 19)}…`);
  if (p && !cascadeEnded(c) && p.phase !== 'running') lines.push(`  ${spin} ${p.phase}…`);
  waveStates(c, waves).forEach((s, i) => {
    const mark = s === 'done' ? pc.green('✔') : s === 'running' ? pc.cyan(spin) : pc.dim('·');
    const label = s === 'done' ? pc.green('done   ') : s === 'running' ? pc.cyan('running') : pc.dim('waiting');
    lines.push(`  ${mark} wave ${i + 1}/${waves}  ${label}  ${waveTasks(plan, i + 1, live)}`);
  });
  const totals = c.totals ?? c.result?.totals ?? p?.totals;
  if (totals) lines.push(`  ${totalsLine(totals)}`);
  if (p?.canceling) lines.push(pc.yellow('  canceling: in-flight runs are being canceled'));
  return lines.join('\n');
}

/** One line for logs: printed when it differs from the previous one. */
export function progressLine(c: CascadeBody): string {
  const p = c.progress;
  const where = cascadeEnded(c)
    ? c.status
    : p?.phase === 'running'
      ? `wave ${p.wave}/${p.waves} running`
      : (p?.phase ?? c.status);
  return `${where}${p?.canceling ? ' (canceling)' : ''} · ${totalsLine(c.totals ?? c.result?.totals ?? p?.totals)}`;
}

/** Each wave's tasks and how they ended (from the result). */
export function waveSummary(tasks: TaskResult[]): string[] {
  const byWave = new Map<number, TaskResult[]>();
  for (const t of tasks) byWave.set(t.wave, [...(byWave.get(t.wave) ?? []), t]);
  return [...byWave.keys()]
    .sort((a, b) => a - b)
    .map((w) => {
      const items = byWave.get(w)!.map((t) => {
        const run = t.run
          ? ` (run ${t.run.runId}, ${duration(t.run.startTime, t.run.finishTime) || t.run.status})`
          : '';
        return `${taskLabel(t.task, t.taskName)} ${colorStatus(t.outcome)}${run}`;
      });
      return `${w > 0 ? `wave ${w}` : 'not scheduled'}: ${items.join(', ')}`;
    });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Polls GET /api/rebuilds/{id} until the cascade ends (or the signal aborts); returns the last body. */
export async function watchCascade(client: ApiClient, id: string, opts: WatchOptions): Promise<CascadeBody> {
  const write = opts.write ?? ((t: string) => process.stdout.write(`${t}\n`));
  const started = Date.now();
  let update: ((text: string) => void) & { done(): void };
  if (opts.live && !opts.quiet) {
    // log-update is an ES module; this CLI is CommonJS.
    const { default: logUpdate } = await import('log-update');
    update = logUpdate;
  } else {
    let last = '';
    update = Object.assign(
      (text: string) => {
        if (opts.quiet || text === last) return;
        last = text;
        write(`${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s  ${text}`);
      },
      { done: () => {} },
    );
  }
  let tick = 0;
  let body: CascadeBody | undefined;
  // Per-task states (GET /api/rebuilds/{id}/tasks).
  let live: CascadeTasksBody | undefined;
  const taskLines = new Map<string, string>();
  try {
    for (;;) {
      try {
        body = await client.get<CascadeBody>(`rebuilds/${encodeURIComponent(id)}`);
      } catch (err) {
        // Just started: the instance may not be visible for a moment.
        if (!(err instanceof CliApiError && err.code === 'NotFound' && Date.now() - started < 10_000)) throw err;
      }
      if (body && !opts.quiet) {
        // Not there yet (before planning) or an older app without the route: the per-wave display goes on without.
        live = await client.get<CascadeTasksBody>(`rebuilds/${encodeURIComponent(id)}/tasks`).catch(() => live);
      }
      if (body) update(opts.live ? frame(body, opts.plan, tick++, live) : progressLine(body));
      if (body && !opts.live && !opts.quiet && live) {
        // Logs: one line per task whenever its state or run changes.
        for (const t of live.tasks) {
          const line = taskState(t);
          if (taskLines.get(t.task) === line) continue;
          taskLines.set(t.task, line);
          write(`        wave ${t.wave}: ${line}`);
        }
      }
      if ((body && cascadeEnded(body)) || opts.signal?.aborted) break;
      await sleep(opts.intervalMs, opts.signal);
      if (opts.signal?.aborted) break;
    }
  } finally {
    update.done();
  }
  if (!body) throw new CliApiError(404, 'NotFound', `no cascade '${id}'`, 'id');
  if (!opts.quiet && cascadeEnded(body)) for (const l of waveSummary(body.tasks ?? body.result?.tasks ?? [])) write(l);
  return body;
}
