// A Node-native Azure Functions v4 + Durable Functions 3.x host. It loads the app (package.json `main`) into this
// process and runs it through the app's own `@azure/functions` and `durable-functions` libraries, so code that runs
// here runs unchanged on Azure. See docs/local-host.md.
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FunctionCatalog, type FunctionInfo } from './catalog.js';
import { HostConfigError, readHostConfig, readLocalSettings } from './config.js';
import { DurableHttpApi } from './durable/api.js';
import { durableClientData } from './durable/client-data.js';
import { DurableEngine } from './durable/engine.js';
import { DispatchGate } from './durable/gate.js';
import type { RpcParameterBinding, RpcTypedData } from './functions-core.js';
import { installFunctionsCore } from './functions-core.js';
import { HostServer } from './http-server.js';
import { Invoker, type LogSink } from './invoker.js';
import { type HostKeys, loadOrCreateKeys } from './keys.js';
import { TimerTriggers } from './timers.js';

export type { HostKeys } from './keys.js';
export { NonDeterminismError } from './durable/errors.js';

export interface StartHostOptions {
  /** Folder with package.json (`main`), host.json and optionally local.settings.json. */
  appRoot: string;
  /** 0 = a free port. Default: local.settings.json `Host.LocalHttpPort`, else 7071. */
  port?: number;
  /** Bind address; default 127.0.0.1. */
  hostname?: string;
  /** Keys, durable state and timer status live here (e.g. `<app>/.local/host`). */
  stateDir: string;
  /** App settings that override local.settings.json and the process environment. */
  env?: Record<string, string>;
  /** Where log lines go; default stdout. */
  log?: (line: string) => void;
  /** How long stop() waits for running invocations before abandoning them (they re-run after restart). */
  shutdownGraceMs?: number;
}

export interface RunningHost {
  baseUrl: string;
  keys: HostKeys;
  taskHub: string;
  stop(): Promise<void>;
}

let loaded = false;

/** Non-HTTP trigger types this host runs; other triggers only run through POST /admin/functions/{name}. */
const SUPPORTED_TRIGGERS = new Set([
  'httpTrigger',
  'timerTrigger',
  'eventGridTrigger',
  'orchestrationTrigger',
  'activityTrigger',
  'entityTrigger',
]);

function appendNoProxy(): void {
  // The durable client talks to this host with axios, which honours HTTP(S)_PROXY.
  for (const name of ['NO_PROXY', 'no_proxy']) {
    const list = (process.env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const h of ['127.0.0.1', 'localhost']) if (!list.includes(h)) list.push(h);
    process.env[name] = list.join(',');
  }
}

async function loadApp(mainFile: string): Promise<void> {
  const requireFromApp = createRequire(mainFile);
  try {
    requireFromApp(mainFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw err;
    await import(pathToFileURL(mainFile).href);
  }
}

/**
 * Loads the app and serves it. One app per process (the app is `require`d and `@azure/functions-core` is provided
 * process-wide); use the CLI (local/host/main.ts) to run several.
 */
export async function startHost(opts: StartHostOptions): Promise<RunningHost> {
  if (loaded) throw new Error('startHost: an app is already loaded in this process (one app per process)');
  loaded = true;
  const log: LogSink = opts.log ?? ((line) => process.stdout.write(`${line}\n`));
  const appRoot = path.resolve(opts.appRoot);
  const stateDir = path.resolve(opts.stateDir);

  // App settings: process environment wins over local.settings.json, explicit env wins over both.
  const local = readLocalSettings(appRoot);
  for (const [k, v] of Object.entries(local.values)) if (process.env[k] === undefined) process.env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) process.env[k] = v;
  process.env.FUNCTIONS_WORKER_RUNTIME ??= 'node';
  process.env.AzureWebJobsScriptRoot = appRoot;
  appendNoProxy();
  const config = readHostConfig(appRoot, process.env, local.localHttpPort);

  await mkdir(stateDir, { recursive: true });
  const keys = await loadOrCreateKeys(stateDir);

  // Listen first so the app sees its own address (WEBSITE_HOSTNAME). Requests that arrive while the app loads wait
  // for it (or get 503 if start-up fails).
  let ready: HostServer | undefined;
  let startupFailed = false;
  const waiting: (() => void)[] = [];
  const server = createServer((req, res) => {
    const go = (): void => {
      if (ready) void ready.handle(req, res);
      else res.writeHead(503).end('The host failed to start.');
    };
    if (ready || startupFailed) go();
    else waiting.push(go);
  });
  const hostname = opts.hostname ?? '127.0.0.1';
  const port = opts.port ?? config.localHttpPort ?? 7071;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  const urlHost =
    hostname === '0.0.0.0' || hostname === '::' ? '127.0.0.1' : hostname.includes(':') ? `[${hostname}]` : hostname;
  const baseUrl = `http://${urlHost}:${actualPort}`;
  process.env.WEBSITE_HOSTNAME = `${urlHost}:${actualPort}`;

  const stopServer = async (): Promise<void> => {
    server.closeIdleConnections();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => server.closeAllConnections(), 2000);
      server.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  };

  try {
    const registry = installFunctionsCore();
    registry.systemLog = (level, message) => {
      if (level === 'warning' || level === 'error' || level === 'critical') log(`[host] @azure/functions: ${message}`);
    };
    await loadApp(config.mainFile);
    if (!registry.programmingModel) {
      throw new HostConfigError(`${config.mainFile} did not register any function through @azure/functions`);
    }
    const capabilities = (await registry.programmingModel.getCapabilities?.({})) ?? {};
    if (capabilities.HttpUri) {
      throw new HostConfigError(
        'HTTP streaming (app.setup({ enableHttpStream: true })) is not supported by the local host',
      );
    }

    const catalog = new FunctionCatalog(registry, process.env);
    const appHookData: Record<string, unknown> = {};
    const invoker = new Invoker({
      registry,
      log,
      appHookData,
      timeoutMs: config.functionTimeoutMs,
      timeoutText: config.functionTimeoutText,
    });
    const clientData: RpcTypedData = {
      json: JSON.stringify(durableClientData(baseUrl, config.hubName, keys.durableTask)),
    };
    const extraInputs = (fn: FunctionInfo): RpcParameterBinding[] =>
      fn.durableClientBindings.map((name) => ({ name, data: clientData }));

    for (const fn of catalog.all()) {
      if (!SUPPORTED_TRIGGERS.has(fn.triggerType)) {
        log(`[host] ${fn.name}: ${fn.triggerType} is not emulated; invoke it with POST /admin/functions/${fn.name}`);
      }
    }

    const dispatchGate = new DispatchGate();
    const engine = new DurableEngine({
      gate: dispatchGate,
      dir: path.join(stateDir, 'durable', config.hubName),
      hubName: config.hubName,
      catalog,
      invoker,
      log,
      maxConcurrentActivities: config.maxConcurrentActivities,
      maxConcurrentOrchestrations: config.maxConcurrentOrchestrations,
      extraInputs,
    });
    const timers = new TimerTriggers({
      functions: catalog.byTriggerType('timerTrigger'),
      statusFile: path.join(stateDir, 'timers.json'),
      timezone: process.env.WEBSITE_TIME_ZONE || 'UTC',
      log,
      invoke: async (fn, arg) => {
        await invoker.invoke(fn, [
          { name: fn.triggerBindingName, data: { json: JSON.stringify(arg) } },
          ...extraInputs(fn),
        ]);
      },
    });
    const hostServer = new HostServer({
      config,
      keys,
      catalog,
      invoker,
      durableApi: new DurableHttpApi(engine, keys.durableTask),
      extraInputs,
      log,
      dispatchGate,
      adminInvoke: (fn, input) => {
        void invoker.invoke(fn, [{ name: fn.triggerBindingName, data: adminInput(fn, input) }, ...extraInputs(fn)]);
      },
    });

    for (const hook of [...registry.hooks.appStart]) {
      await hook({ hookData: {}, appHookData, functionAppDirectory: appRoot });
    }
    await engine.start();
    await timers.start();

    ready = hostServer;
    for (const go of waiting.splice(0)) go();
    logFunctions(log, baseUrl, config.routePrefix, hostServer, catalog);

    let stopping: Promise<void> | undefined;
    return {
      baseUrl,
      keys,
      taskHub: config.hubName,
      stop: () =>
        (stopping ??= (async () => {
          hostServer.draining = true;
          await timers.stop();
          await engine.stop(opts.shutdownGraceMs ?? 5000);
          for (const hook of [...registry.hooks.appTerminate]) {
            try {
              await hook({ hookData: {}, appHookData });
            } catch (err) {
              log(`[host] appTerminate hook failed: ${(err as Error).message}`);
            }
          }
          await stopServer();
        })()),
    };
  } catch (err) {
    startupFailed = true;
    for (const go of waiting.splice(0)) go();
    await stopServer();
    throw err;
  }
}

/** Trigger data for a hand-invoked function (POST /admin/functions/{name} with `{ "input": ... }`). */
function adminInput(fn: FunctionInfo, input: unknown): RpcTypedData {
  if (fn.triggerType === 'timerTrigger') {
    return { json: JSON.stringify({ Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: false }) };
  }
  if (typeof input === 'string') {
    try {
      return { json: JSON.stringify(JSON.parse(input)) };
    } catch {
      return { string: input };
    }
  }
  return { json: JSON.stringify(input ?? null) };
}

function logFunctions(
  log: LogSink,
  baseUrl: string,
  prefix: string,
  server: HostServer,
  catalog: FunctionCatalog,
): void {
  log(`[host] Listening on ${baseUrl}`);
  const routed = new Set<string>();
  for (const r of server.routes) {
    routed.add(r.fn.name);
    const methods = r.methods ? [...r.methods].join(',') : 'ANY';
    log(
      `[host]   ${r.fn.name}: [${methods}] ${baseUrl}/${prefix ? `${prefix}/` : ''}${r.route.template.replace(/^\/+/, '')} (${r.authLevel})`,
    );
  }
  for (const fn of catalog.all()) {
    if (routed.has(fn.name)) continue;
    if (fn.triggerType === 'eventGridTrigger') {
      log(`[host]   ${fn.name}: eventGridTrigger ${baseUrl}/runtime/webhooks/eventgrid?functionName=${fn.name}`);
    } else if (fn.triggerType === 'timerTrigger') {
      log(`[host]   ${fn.name}: timerTrigger '${String(fn.trigger.schedule)}'`);
    } else {
      log(`[host]   ${fn.name}: ${fn.triggerType}`);
    }
  }
}
