// The host's single HTTP endpoint: HTTP triggers under /{routePrefix}, the Event Grid webhook, the Durable HTTP API
// (public under /runtime/webhooks/durabletask, loopback-only under /durabletask/), and the admin API.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionCatalog, FunctionInfo } from './catalog.js';
import type { HostConfig } from './config.js';
import type { DurableHttpApi } from './durable/api.js';
import type { DispatchGate } from './durable/gate.js';
import { RPC_PATH, WEBHOOK_PATH } from './durable/client-data.js';
import { EVENT_GRID_PATH, handleEventGrid } from './eventgrid.js';
import type { RpcHttpCookie, RpcHttpData, RpcParameterBinding, RpcTypedData } from './functions-core.js';
import {
  type HostRequest,
  type HostResponse,
  emptyResponse,
  isLoopback,
  jsonResponse,
  splitUrl,
  textResponse,
} from './http-util.js';
import type { Invoker, LogSink } from './invoker.js';
import { type HostKeys, keyMatches, presentedKey } from './keys.js';
import { type CompiledRoute, compareRoutes, compileRoute } from './routes.js';

const MAX_BODY_BYTES = 100 * 1024 * 1024;
const TEST_DISPATCH_PATH = '/admin/test/durable-dispatch';

interface HttpRoute {
  route: CompiledRoute;
  fn: FunctionInfo;
  /** Upper-case methods; undefined = any. */
  methods: Set<string> | undefined;
  authLevel: string;
}

export interface HostServerDeps {
  config: HostConfig;
  keys: HostKeys;
  catalog: FunctionCatalog;
  invoker: Invoker;
  durableApi: DurableHttpApi;
  extraInputs: (fn: FunctionInfo) => RpcParameterBinding[];
  log: LogSink;
  /** Invokes a non-HTTP function by hand (admin API); resolves when the invocation has been started. */
  adminInvoke: (fn: FunctionInfo, input: unknown) => void;
  /** The durable engine's dispatch gate, for the test-only hold (`/admin/test/durable-dispatch`). */
  dispatchGate: DispatchGate;
}

/** Compiles every HTTP trigger's route; throws on a bad template (naming the function). */
export function compileHttpRoutes(catalog: FunctionCatalog): HttpRoute[] {
  const routes = catalog.byTriggerType('httpTrigger').map((fn) => {
    const template = typeof fn.trigger.route === 'string' && fn.trigger.route !== '' ? fn.trigger.route : fn.name;
    let route: CompiledRoute;
    try {
      route = compileRoute(template);
    } catch (err) {
      throw new Error(`function '${fn.name}': ${(err as Error).message}`, { cause: err });
    }
    const methods = Array.isArray(fn.trigger.methods)
      ? new Set((fn.trigger.methods as unknown[]).map((m) => String(m).toUpperCase()))
      : undefined;
    const authLevel = typeof fn.trigger.authLevel === 'string' ? fn.trigger.authLevel.toLowerCase() : 'function';
    return { route, fn, methods, authLevel };
  });
  return routes.sort((a, b) => compareRoutes(a.route, b.route));
}

function flattenHeaders(req: HostRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v;
  }
  return out;
}

function typedBody(td: RpcTypedData | null | undefined): Buffer | undefined {
  if (!td) return undefined;
  if (td.bytes) return Buffer.from(td.bytes);
  if (typeof td.string === 'string') return Buffer.from(td.string);
  if (typeof td.json === 'string') return Buffer.from(td.json);
  return undefined;
}

function cookieHeader(c: RpcHttpCookie): string {
  let s = `${c.name ?? ''}=${c.value ?? ''}`;
  if (c.domain?.value) s += `; Domain=${c.domain.value}`;
  if (c.path?.value) s += `; Path=${c.path.value}`;
  const seconds = c.expires?.value?.seconds;
  if (seconds !== undefined && seconds !== null) s += `; Expires=${new Date(Number(seconds) * 1000).toUTCString()}`;
  if (c.maxAge?.value !== undefined && c.maxAge.value !== null) s += `; Max-Age=${c.maxAge.value}`;
  if (c.secure?.value) s += '; Secure';
  if (c.httpOnly?.value) s += '; HttpOnly';
  // RPC 'none' means "not set"; 'explicitNone' is SameSite=None.
  if (c.sameSite === 'lax') s += '; SameSite=Lax';
  else if (c.sameSite === 'strict') s += '; SameSite=Strict';
  else if (c.sameSite === 'explicitNone') s += '; SameSite=None';
  return s;
}

export class HostServer {
  readonly #d: HostServerDeps;
  readonly #routes: HttpRoute[];
  /** Set while stopping: only loopback calls to the durable RPC endpoint are still served. */
  draining = false;

  constructor(deps: HostServerDeps) {
    this.#d = deps;
    this.#routes = compileHttpRoutes(deps.catalog);
  }

  get routes(): readonly HttpRoute[] {
    return this.#routes;
  }

  /** Node request listener. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let response: HostResponse;
    try {
      const body = await readBody(req);
      if (body === undefined) {
        response = textResponse(413, 'Request body too large.');
      } else {
        const rawUrl = req.url ?? '/';
        const { path, query } = splitUrl(rawUrl);
        const hostReq: HostRequest = {
          method: (req.method ?? 'GET').toUpperCase(),
          path,
          rawUrl,
          query,
          headers: req.headers,
          body,
          remoteAddress: req.socket.remoteAddress ?? '',
          origin: `http://${req.headers.host ?? 'localhost'}`,
        };
        response = await this.#dispatch(hostReq);
      }
    } catch (err) {
      this.#d.log(`[host] request ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      response = textResponse(500, 'Internal Server Error');
    }
    if (res.headersSent) return;
    res.writeHead(response.status, response.headers ?? {});
    res.end(response.body);
  }

  async #dispatch(req: HostRequest): Promise<HostResponse> {
    const lower = req.path.toLowerCase();
    if (lower.startsWith(RPC_PATH)) {
      if (!isLoopback(req.remoteAddress))
        return textResponse(403, 'The durable RPC endpoint only serves loopback callers.');
      return this.#d.durableApi.handle(req, req.path.slice(RPC_PATH.length - 1));
    }
    if (this.draining) return textResponse(503, 'The host is shutting down.');
    if (lower === EVENT_GRID_PATH || lower === `${EVENT_GRID_PATH}/`) {
      return handleEventGrid(req, {
        catalog: this.#d.catalog,
        invoker: this.#d.invoker,
        acceptedKeys: [this.#d.keys.eventGrid, this.#d.keys.master],
        extraInputs: this.#d.extraInputs,
      });
    }
    if (lower === WEBHOOK_PATH || lower.startsWith(`${WEBHOOK_PATH}/`)) {
      if (!keyMatches(presentedKey(req.headers, req.query), this.#d.keys.durableTask, this.#d.keys.master)) {
        return emptyResponse(401);
      }
      return this.#d.durableApi.handle(req, req.path.slice(WEBHOOK_PATH.length));
    }
    if (lower.startsWith('/admin/')) return this.#admin(req);
    return this.#httpTrigger(req);
  }

  async #admin(req: HostRequest): Promise<HostResponse> {
    const lower = req.path.toLowerCase().replace(/\/+$/, '');
    if (lower === '/admin/host/ping') return emptyResponse(200);
    if (!keyMatches(presentedKey(req.headers, req.query), this.#d.keys.master)) return emptyResponse(401);
    if (lower === '/admin/host/status' && req.method === 'GET') {
      return jsonResponse(200, {
        state: 'Running',
        version: '4.x-local',
        processUptime: Math.round(process.uptime() * 1000),
      });
    }
    if (lower === '/admin/functions' && req.method === 'GET') {
      return jsonResponse(
        200,
        this.#d.catalog.all().map((f) => ({ name: f.name, trigger: f.triggerType })),
      );
    }
    if (lower === TEST_DISPATCH_PATH) return this.#testDispatch(req);
    const m = /^\/admin\/functions\/([^/]+)$/.exec(req.path.replace(/\/+$/, ''));
    if (!m) return emptyResponse(404);
    if (req.method !== 'POST') return emptyResponse(405, { allow: 'POST' });
    let name: string;
    try {
      name = decodeURIComponent(m[1]!);
    } catch {
      return emptyResponse(404);
    }
    const fn = this.#d.catalog.get(name);
    if (!fn) return emptyResponse(404);
    if (
      fn.triggerType === 'httpTrigger' ||
      fn.triggerType === 'orchestrationTrigger' ||
      fn.triggerType === 'entityTrigger'
    ) {
      return textResponse(
        400,
        `The admin API cannot invoke ${fn.triggerType} functions; call them through their own endpoint.`,
      );
    }
    let input: unknown;
    const text = req.body.toString('utf8');
    if (text.trim() !== '') {
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        input = (parsed as { input?: unknown }).input;
      } catch {
        return textResponse(400, 'The body must be a JSON object like { "input": ... }.');
      }
    }
    this.#d.adminInvoke(fn, input);
    return emptyResponse(202);
  }

  /**
   * Test-only: `PUT {"hold": true}` holds durable dispatch and answers once the durable invocations under way have
   * ended; `PUT {"hold": false}` releases it; `GET` reads it. See durable/gate.ts.
   */
  async #testDispatch(req: HostRequest): Promise<HostResponse> {
    const gate = this.#d.dispatchGate;
    if (req.method === 'GET') return jsonResponse(200, gate.state);
    if (req.method !== 'PUT') return emptyResponse(405, { allow: 'GET, PUT' });
    let hold: unknown;
    try {
      hold = (JSON.parse(req.body.toString('utf8')) as { hold?: unknown } | null)?.hold;
    } catch {
      hold = undefined;
    }
    if (typeof hold !== 'boolean') return textResponse(400, 'The body must be a JSON object like { "hold": true }.');
    if (hold) {
      await gate.hold();
      this.#d.log('[host] durable: dispatch held (test control)');
    } else {
      gate.release();
      this.#d.log('[host] durable: dispatch released (test control)');
    }
    return jsonResponse(200, gate.state);
  }

  async #httpTrigger(req: HostRequest): Promise<HostResponse> {
    const prefix = this.#d.config.routePrefix;
    let rest = req.path;
    if (prefix !== '') {
      const p = `/${prefix.toLowerCase()}`;
      const lower = req.path.toLowerCase();
      if (lower !== p && !lower.startsWith(`${p}/`)) return emptyResponse(404);
      rest = req.path.slice(p.length);
    }
    const matches: { r: HttpRoute; params: Record<string, string> }[] = [];
    for (const r of this.#routes) {
      const params = r.route.match(rest);
      if (params) matches.push({ r, params });
    }
    if (matches.length === 0) return emptyResponse(404);
    const hit = matches.find((m) => !m.r.methods || m.r.methods.has(req.method));
    if (!hit) {
      const allow = [...new Set(matches.flatMap((m) => [...(m.r.methods ?? [])]))].join(', ');
      return emptyResponse(405, { allow });
    }
    const { fn, authLevel } = hit.r;
    if (authLevel !== 'anonymous') {
      const key = presentedKey(req.headers, req.query);
      const accepted = authLevel === 'function' ? [this.#d.keys.function, this.#d.keys.master] : [this.#d.keys.master];
      if (!keyMatches(key, ...accepted)) return emptyResponse(401);
    }

    const http: RpcHttpData = {
      method: req.method,
      url: `${req.origin}${req.rawUrl}`,
      headers: flattenHeaders(req),
      params: hit.params,
      body: { bytes: req.body },
    };
    const result = await this.#d.invoker.invoke(fn, [
      { name: fn.triggerBindingName, data: { http } },
      ...this.#d.extraInputs(fn),
    ]);
    if (result.error) return emptyResponse(500);

    const outName = Object.entries(fn.registered.metadata.bindings).find(
      ([, b]) => b.direction === 'out' && String(b.type).toLowerCase() === 'http',
    )?.[0];
    const typed =
      outName === '$return'
        ? result.response?.returnValue
        : result.response?.outputData?.find((o) => o.name === outName)?.data;
    const out = typed?.http;
    if (!out) return emptyResponse(204);
    const headers: Record<string, string | string[]> = { ...(out.headers ?? {}) };
    const cookies = (out.cookies ?? []).map(cookieHeader);
    if (cookies.length > 0) headers['set-cookie'] = cookies;
    const status = Number(out.statusCode ?? 200) || 200;
    const body = typedBody(out.body);
    return { status, headers, ...(body && body.length > 0 ? { body } : {}) };
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
