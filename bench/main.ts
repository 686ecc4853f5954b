// `npm run bench`: runs every benchmark module in bench/ (a `*.ts` file other than this one that exports
// `run(): Promise<Record<string, unknown>>`), one after the other, and writes bench/results/latest.json plus a
// readable bench/results/latest.md. `tsx bench/main.ts plan cascade` runs only the named modules.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { DEFAULT_TLS_DIR, ensureTls } from '../local/azure/core/tls.js';

const BENCH_DIR = join(process.cwd(), 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');

export interface BenchModule {
  run(): Promise<Record<string, unknown>>;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  machine: { node: string; platform: string; cpus: number; cpuModel: string; memoryGiB: number };
  modules: Record<string, { durationMs: number; result?: Record<string, unknown>; error?: string }>;
}

function discover(only: readonly string[]): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'main.ts')
    .map((f) => basename(f, '.ts'))
    .filter((name) => only.length === 0 || only.includes(name))
    .sort();
}

/** Flattens nested results into `a.b.c` rows for the Markdown table. */
function rows(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => rows(v, prefix ? `${prefix}.${k}` : k));
  }
  const text = Array.isArray(value) ? JSON.stringify(value) : String(value);
  return [[prefix, text]];
}

export function toMarkdown(report: BenchReport): string {
  const out: string[] = [
    '# acr-cascade benchmarks',
    '',
    `Run ${report.startedAt} → ${report.finishedAt} on Node ${report.machine.node}, ${report.machine.platform}, ` +
      `${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB.`,
    '',
  ];
  for (const [name, m] of Object.entries(report.modules)) {
    out.push(`## ${name}`, '', `Took ${(m.durationMs / 1000).toFixed(1)} s.`, '');
    if (m.error) {
      out.push(`**Failed:** ${m.error}`, '');
      continue;
    }
    out.push('| measure | value |', '| --- | --- |');
    for (const [k, v] of rows(m.result ?? {})) out.push(`| ${k} | ${v.replace(/\|/g, '\\|')} |`);
    out.push('');
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  // The emulator's CA must be trusted from process start (Node reads NODE_EXTRA_CA_CERTS only then): re-run with it,
  // keeping any extra bundle the environment already names (a single file, so the two are concatenated).
  if (!process.env.ACR_CASCADE_BENCH_CHILD) {
    const { caCertPath } = ensureTls(DEFAULT_TLS_DIR);
    let bundle = caCertPath;
    const existing = process.env.NODE_EXTRA_CA_CERTS;
    if (existing && existing !== caCertPath && existsSync(existing)) {
      bundle = join(DEFAULT_TLS_DIR, 'bench-bundle.crt');
      writeFileSync(bundle, `${readFileSync(existing, 'utf8')}\n${readFileSync(caCertPath, 'utf8')}`);
    }
    const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: bundle,
        NO_PROXY: '127.0.0.1,localhost',
        ACR_CASCADE_BENCH_CHILD: '1',
      },
    });
    return child.status ?? 1;
  }
  const names = discover(process.argv.slice(2));
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: {
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    },
    modules: {},
  };
  for (const name of names) {
    const started = Date.now();
    process.stderr.write(`[bench] ${name} …\n`);
    try {
      const mod = (await import(join(BENCH_DIR, `${name}.ts`))) as Partial<BenchModule>;
      if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts does not export run()`);
      const result = await mod.run();
      report.modules[name] = { durationMs: Date.now() - started, result };
    } catch (err) {
      report.modules[name] = { durationMs: Date.now() - started, error: (err as Error).stack ?? String(err) };
    }
    process.stderr.write(`[bench] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  report.finishedAt = new Date().toISOString();
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(RESULTS_DIR, 'latest.md'), toMarkdown(report) + '\n');
  process.stderr.write(`[bench] results: bench/results/latest.json, bench/results/latest.md\n`);
  return Object.values(report.modules).some((m) => m.error) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
