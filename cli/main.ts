#!/usr/bin/env node
// `acr-cascade`: the command line of the acr-cascade HTTP API (docs/operations.md "CLI"). Endpoint and sign-in come
// from flags, ACR_CASCADE_URL / ACR_CASCADE_KEY / ACR_CASCADE_TOKEN, or the local stack's .local/stack.json.
// Human output by default, `--output json` for scripts; exit codes in exitCodes.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from './colors.js';
import { CliApiError, UnreachableError, createClient, type ApiClient } from './client.js';
import { resolveConnection, type ConnectionFlags } from './connection.js';
import { EXIT, UsageError } from './exitCodes.js';
import {
  cascadeEnded,
  cascadeExitCode,
  credentialsExitCode,
  planExitCode,
  renderCascade,
  renderCascadeList,
  renderCredentials,
  renderGraph,
  renderIndex,
  renderPlan,
} from './render.js';
import type {
  CascadeBody,
  CascadeListBody,
  CheckStartedBody,
  CredentialsBody,
  DryRunBody,
  GraphBody,
  IndexSummary,
  PlanBody,
  RefreshBody,
  StartedBody,
} from './types.js';
import { watchCascade } from './watch.js';

interface GlobalOptions extends ConnectionFlags {
  output: 'human' | 'json';
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

function positiveNumber(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** What to do about an API error code (the message itself comes from the API). */
function hintFor(e: CliApiError): string | undefined {
  switch (e.code) {
    case 'Unauthenticated':
      return 'sign in: --token / ACR_CASCADE_TOKEN (an Entra ID token for the API), or --key / ACR_CASCADE_KEY where the app uses function keys';
    case 'MissingRole':
      return 'ask an admin to assign you the app role named above (Cascade.Reader to read, Cascade.Operator to start or cancel)';
    case 'NotFound':
      return e.field === 'id' ? 'list recent cascades: acr-cascade status' : undefined;
    case 'NotRunning':
      return 'see how it ended: acr-cascade status <id>';
    case 'OutsideManagedScopes':
      return 'the registry or task must be watched (CASCADE_WATCHED_REGISTRIES) or inside CASCADE_MANAGED_SCOPES';
    case 'InvalidInput':
      return e.field ? `fix ${e.field} and try again` : undefined;
    case 'Misconfigured':
      return `the app setting ${e.field ?? ''} must be fixed on the function app (GET /api/health names it)`;
    case 'UpstreamFailed':
      return 'an Azure call failed; retry, or check the app identity roles (docs/deploy.md)';
    default:
      return undefined;
  }
}

/** Prints a failure the way the chosen output wants it and returns the exit code. */
function fail(e: unknown, json: boolean): number {
  if (e instanceof CliApiError) {
    if (json)
      out(
        JSON.stringify({
          error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) },
          status: e.status,
        }),
      );
    else {
      err(`${pc.red('error')} ${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}`);
      const hint = hintFor(e);
      if (hint) err(`  ${hint}`);
    }
    return EXIT.apiError;
  }
  if (e instanceof UnreachableError) {
    if (json) out(JSON.stringify({ error: { code: 'Unreachable', message: e.message } }));
    else
      err(
        `${pc.red('error')} ${e.message}\n  is the app running? (local: npm start; else check --url / ACR_CASCADE_URL)`,
      );
    return EXIT.unreachable;
  }
  if (e instanceof UsageError) {
    if (json) out(JSON.stringify({ error: { code: 'Usage', message: e.message } }));
    else err(`${pc.red('error')} ${e.message}`);
    return EXIT.usage;
  }
  throw e;
}

function build(): Command & { exitCodeOf(): number } {
  const program = new Command('acr-cascade')
    .description('Plan, start and follow ACR Task rebuild cascades; check credentials and the dependency index.')
    .option('--url <url>', 'function app URL (env ACR_CASCADE_URL; default: .local/stack.json of npm start)')
    .option('--key <key>', 'function key (env ACR_CASCADE_KEY)')
    .option('--token <token>', 'Entra ID access token for the API (env ACR_CASCADE_TOKEN)')
    .option('--stack-file <path>', 'local stack description (env ACR_CASCADE_STACK_FILE; default .local/stack.json)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['human', 'json']).default('human'))
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .showHelpAfterError('(acr-cascade --help lists commands and options)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 failed, 2 usage, 3 blocked, 4 canceled/superseded, 5 API error, 6 unreachable, 7 still running.',
    );

  let exitCode: number = EXIT.ok;
  const ctx = () => {
    const g = program.opts<GlobalOptions>();
    const client = createClient(resolveConnection(g));
    return { g, client, json: g.output === 'json' };
  };
  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      try {
        exitCode = await fn(...args);
      } catch (e) {
        exitCode = fail(e, program.opts<GlobalOptions>().output === 'json');
      }
    };

  program
    .command('plan')
    .description('what a push of <image> would rebuild, in which waves, and what is blocked (no side effects)')
    .argument('<image>', 'image reference, e.g. mybaseregistry.azurecr.io/baseimages/node:15-alpine')
    .option('--digest <digest>', 'the pushed digest (marks tasks already built from it as up to date)')
    .action(
      action(async (image: string, o: { digest?: string }) => {
        const { client, json } = ctx();
        const plan = await client.get<PlanBody>('plan', { image, digest: o.digest });
        out(json ? JSON.stringify(plan, null, 2) : renderPlan(plan));
        return planExitCode(plan);
      }),
    );

  program
    .command('graph')
    .description('the dependency graph below <image>, with why each edge exists')
    .argument('<image>', 'image reference')
    .action(
      action(async (image: string) => {
        const { client, json } = ctx();
        const g = await client.get<GraphBody>('graph', { image });
        out(json ? JSON.stringify(g, null, 2) : renderGraph(g));
        return EXIT.ok;
      }),
    );

  program
    .command('rebuild')
    .description('start a cascade for <image> (or --task ids); --dry-run shows the plan, --watch follows it')
    .argument('[image]', 'image reference whose dependents to rebuild')
    .option('--task <task...>', 'tasks to rebuild instead of an image’s dependents: <registry>/<task> or ARM id')
    .option('--digest <digest>', 'rebuild for this digest of the image')
    .option('--dry-run', 'plan with preflight only; start nothing')
    .option('--watch', 'follow the cascade until it ends (exit code = its outcome)')
    .option('--interval <seconds>', 'poll interval of --watch', positiveNumber('--interval'), 1)
    .action(
      action(
        async (
          image: string | undefined,
          o: { task?: string[]; digest?: string; dryRun?: boolean; watch?: boolean; interval: number },
        ) => {
          if (!image && !o.task) throw new UsageError('give an image reference or --task <task>');
          if (image && o.task) throw new UsageError('give an image reference or --task, not both');
          if (o.digest && !image) throw new UsageError('--digest needs an image reference');
          const { client, json } = ctx();
          const tasks = o.task ? await taskIdsOf(client, o.task) : undefined;
          const body = image ? { image: o.digest ? { ref: image, digest: o.digest } : image } : { tasks };
          if (o.dryRun) {
            const r = await client.post<DryRunBody>('rebuilds', { ...body, dryRun: true });
            out(json ? JSON.stringify(r, null, 2) : renderPlan(r.plan, 'Dry run'));
            return planExitCode(r.plan);
          }
          const started = await client.post<StartedBody>('rebuilds', body);
          if (!o.watch) {
            out(
              json
                ? JSON.stringify(started, null, 2)
                : `started cascade ${started.id}\nfollow it: acr-cascade status ${started.id} --watch`,
            );
            return EXIT.ok;
          }
          if (!json) out(`started cascade ${started.id}`);
          // The plan names each wave's tasks in the live display; the cascade itself plans again.
          const plan = await client
            .post<PlanBody>('plan', image ? { image, ...(o.digest ? { digest: o.digest } : {}) } : { tasks })
            .catch(() => undefined);
          return follow(client, started.id, json, o.interval, plan);
        },
      ),
    );

  program
    .command('status')
    .description('recent cascades, or one cascade (with --watch: follow it until it ends)')
    .argument('[id]', 'cascade id')
    .option('--watch', 'follow the cascade until it ends')
    .option('--interval <seconds>', 'poll interval of --watch', positiveNumber('--interval'), 1)
    .option('--status <status...>', 'list only these statuses (Running, Completed, Canceled, Failed, …)')
    .option('--top <n>', 'at most this many', positiveNumber('--top'))
    .option('--continuation <token>', 'the next page of a previous listing')
    .action(
      action(
        async (
          id: string | undefined,
          o: { watch?: boolean; interval: number; status?: string[]; top?: number; continuation?: string },
        ) => {
          const { client, json } = ctx();
          if (!id) {
            if (o.watch) throw new UsageError('--watch needs a cascade id');
            const list = await client.get<CascadeListBody>('rebuilds', {
              status: o.status?.join(','),
              top: o.top !== undefined ? String(o.top) : undefined,
              continuation: o.continuation,
            });
            out(json ? JSON.stringify(list, null, 2) : renderCascadeList(list));
            return EXIT.ok;
          }
          if (o.watch) return follow(client, id, json, o.interval);
          const c = await client.get<CascadeBody>(`rebuilds/${encodeURIComponent(id)}`);
          out(json ? JSON.stringify(c, null, 2) : renderCascade(c));
          return cascadeExitCode(c);
        },
      ),
    );

  program
    .command('cancel')
    .description('cancel a running cascade (it stops scheduling and cancels its runs)')
    .argument('<id>', 'cascade id')
    .action(
      action(async (id: string) => {
        const { client, json } = ctx();
        const r = await client.post<StartedBody>(`rebuilds/${encodeURIComponent(id)}/cancel`);
        out(
          json
            ? JSON.stringify(r, null, 2)
            : `canceling cascade ${r.id}\nfollow it: acr-cascade status ${r.id} --watch`,
        );
        return EXIT.ok;
      }),
    );

  program
    .command('credentials')
    .description('every task registry login and its health; --check runs a check now and waits for it')
    .option('--check', 'run a credential check now and show its result')
    .option('--task <task...>', 'only these tasks: <registry>/<task> or ARM id')
    .option('--status <status>', 'only credentials in this status (healthy, expiring, expired, …)')
    .option('--timeout <seconds>', 'how long --check waits', positiveNumber('--timeout'), 300)
    .action(
      action(async (o: { check?: boolean; task?: string[]; status?: string; timeout: number }) => {
        const { client, json } = ctx();
        if (o.task && o.task.length > 1 && !o.check) throw new UsageError('--task lists one task unless --check');
        const tasks = o.task ? await taskIdsOf(client, o.task) : undefined;
        const read = () =>
          client.get<CredentialsBody>('credentials', {
            status: o.status,
            task: tasks?.length === 1 ? tasks[0] : undefined,
          });
        if (o.check) {
          const started = await client.post<CheckStartedBody>('credentials/check', tasks ? { tasks } : {});
          if (!json)
            err(`credential check ${started.checkId ?? ''}${started.alreadyRunning ? ' (already running)' : ''}…`);
          const until = Date.now() + o.timeout * 1000;
          for (;;) {
            const body = await read();
            if (!started.checkId || body.lastCheck?.checkId === started.checkId) break;
            if (Date.now() > until)
              throw new UsageError(
                `the check ${started.checkId} did not finish within ${o.timeout}s; see acr-cascade credentials later`,
              );
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        const body = await read();
        out(json ? JSON.stringify(body, null, 2) : renderCredentials(body));
        return credentialsExitCode(body);
      }),
    );

  program
    .command('index')
    .description('the dependency index: registries, tasks, last refresh; --refresh refreshes it now and waits')
    .option('--refresh', 'refresh the index now')
    .option('--timeout <seconds>', 'how long --refresh waits', positiveNumber('--timeout'), 300)
    .action(
      action(async (o: { refresh?: boolean; timeout: number }) => {
        const { client, json } = ctx();
        if (o.refresh) {
          await client.post<RefreshBody>('index/refresh');
          if (!json) err('refreshing the dependency index…');
          const until = Date.now() + o.timeout * 1000;
          for (;;) {
            const r = await client.get<RefreshBody>('index/refresh');
            if (r.status === 'Failed' || r.status === 'Terminated') {
              throw new CliApiError(502, 'RefreshFailed', `the index refresh ended ${r.status}; see the function log`);
            }
            if (r.status === 'Completed') break;
            if (Date.now() > until) throw new UsageError(`the refresh did not finish within ${o.timeout}s`);
            await new Promise((res) => setTimeout(res, 500));
          }
        }
        const s = await client.get<IndexSummary>('index');
        out(json ? JSON.stringify(s, null, 2) : renderIndex(s));
        return EXIT.ok;
      }),
    );

  return Object.assign(program, { exitCodeOf: () => exitCode });
}

/** What `GET /api/index/tasks?task=` answers, as far as --task needs it. */
interface IndexTasksBody {
  tasks: { id: string; name: string; registry: string }[];
}

/**
 * `--task` takes ARM ids or the `<registry>/<task>` names the CLI prints (a bare task name when it is unique); names
 * are looked up in the app's index, one request for all of them.
 */
async function taskIdsOf(client: ApiClient, given: string[]): Promise<string[]> {
  const names = given.filter((g) => !g.startsWith('/'));
  if (names.length === 0) return given;
  const found = await client.get<IndexTasksBody>('index/tasks', { task: names.join(','), top: '5000' });
  return given.map((g) => {
    if (g.startsWith('/')) return g;
    const n = g.toLowerCase();
    const hits = found.tasks.filter((t) =>
      n.includes('/') ? `${t.registry}/${t.name}`.toLowerCase() === n : t.name.toLowerCase() === n,
    );
    if (hits.length === 0) {
      throw new UsageError(
        `no task '${g}' in the app's index: give <registry>/<task> or the task's ARM id (GET /api/index/tasks lists them)`,
      );
    }
    if (hits.length > 1) {
      throw new UsageError(`'${g}' names ${hits.length} tasks (${hits.map((h) => h.id).join(', ')}): give its ARM id`);
    }
    return hits[0]!.id;
  });
}

/** --watch: the live display (or change lines), then the cascade's report; Ctrl-C stops watching only. */
async function follow(
  client: ApiClient,
  id: string,
  json: boolean,
  intervalSeconds: number,
  plan?: PlanBody,
): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const body = await watchCascade(client, id, {
      ...(plan ? { plan } : {}),
      intervalMs: intervalSeconds * 1000,
      // A terminal that reports no size (some CI ptys) gets change lines: log-update would draw nothing there.
      live:
        !json && process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 0 && (process.stdout.rows ?? 0) > 0,
      quiet: json,
      signal: abort.signal,
    });
    if (abort.signal.aborted && !cascadeEnded(body)) {
      if (!json) err(`stopped watching; the cascade goes on: acr-cascade status ${id} --watch`);
      return EXIT.interrupted;
    }
    out(json ? JSON.stringify(body, null, 2) : renderCascade(body));
    return cascadeExitCode(body);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function main(argv: string[]): Promise<number> {
  const program = build();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander refuses is a usage error (already printed).
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw e;
  }
  return program.exitCodeOf();
}

main(process.argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    err(`acr-cascade: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(70);
  },
);
