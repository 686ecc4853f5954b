// The emulator: one state, one identity service, and HTTPS listeners — ARM on the main port, one port per Key Vault
// and one per registry data plane (so SDKs and OCI clients see a normal host root) — plus a plain-HTTP managed
// identity token endpoint. Service modules (arm/, keyvault/, eventgrid/, acr/) register routes on the routers here.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { EmulatorError, arm as armErrors, kvError, type Reply } from './errors.js';
import { IdentityService, type Principal } from './identity.js';
import { Store } from './state.js';
import { Throttle, type OpKind } from './throttle.js';
import { authorize, type Need } from './rbac.js';
import type { TlsMaterial } from './tls.js';

export const ARM_AUDIENCES = ['https://management.azure.com/', 'https://management.core.windows.net/'];
export const VAULT_AUDIENCES = ['https://vault.azure.net'];

export type ListenerKind = 'arm' | 'vault' | 'registry';

export interface EmuRequest {
  method: string;
  /** Path with duplicate slashes collapsed, no query; original casing. */
  path: string;
  params: Record<string, string>;
  /** Query parameters; look them up with `q()` for case-insensitive names. */
  query: URLSearchParams;
  q(name: string): string | undefined;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  /** Parsed JSON body (undefined when empty); throws a 400 when malformed. */
  json<T = unknown>(): T | undefined;
  /** Authenticated caller (ARM and Key Vault routes). */
  caller?: Principal;
  /** Vault name or registry name for per-resource listeners. */
  target?: string;
  /** Base URL of the listener that received the request (https://127.0.0.1:port). */
  baseUrl: string;
  apiVersion?: string;
}

export type Handler = (req: EmuRequest) => Reply | Promise<Reply>;

export interface ArmRoute {
  op: string;
  method: string;
  path: string;
  apiVersions: string[];
  /** RBAC action checked at `scope`, or a function of the request; `null` = no RBAC check (e.g. tenant-level reads). */
  action: string | ((req: EmuRequest) => string) | null;
  scope?: (req: EmuRequest) => string;
  kind?: OpKind;
  handler: Handler;
}

export interface PlainRoute {
  op: string;
  method: string;
  path: string;
  handler: Handler;
}

interface Compiled<R> {
  route: R;
  rx: RegExp;
  names: string[];
}

function compile<R extends { path: string }>(route: R): Compiled<R> {
  const names: string[] = [];
  const src = route.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\*?)(\w+)(\?)?\}$/.exec(seg);
      if (!m) return seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[2]!);
      if (m[1]) return '(.*?)';
      return m[3] ? '([^/]*)' : '([^/]+)';
    })
    .join('/');
  // `{*scope}` may be empty (tenant-level ids like /providers/Microsoft.Authorization/roleDefinitions/x).
  return { route, names, rx: new RegExp(`^${src.replace(/\/\(\.\*\?\)/g, '(.*?)')}/?$`, 'i') };
}

/** Event sink: the Event Grid module subscribes; others emit. */
export interface EmittedEvent {
  /** ARM id of the source resource (registry, vault) — the system topic's source. */
  source: string;
  eventType: string;
  subject: string;
  data: Record<string, unknown>;
}

/** Services modules expose to each other (set during registration). */
export interface Services {
  keyVault?: {
    /** Resolve a Key Vault secret URI the way an ACR run would, as `principalId`. Never logs the value. */
    resolveSecret(
      uri: string,
      principalId: string,
    ): { ok: true; value: string } | { ok: false; code: string; message: string };
  };
  registryData?: {
    /** Digest of repository:reference (tag or digest) in the registry with that login server, if present. */
    resolveImage(loginServer: string, repository: string, reference: string): { digest: string } | undefined;
    /** Pushes a small synthetic image (config + one layer) and emits ImagePushed. */
    pushSyntheticImage(registryName: string, repository: string, tag: string, label?: string): { digest: string };
  };
}

/**
 * One kind of access a principal was checked for at one scope: an RBAC action or data action, or a Key Vault
 * access-policy permission (`secrets/list`). The access log keeps one entry per principal, access and scope.
 */
export type Access = Need | { accessPolicy: string };

export interface AccessRecord {
  principalId: string;
  scope: string;
  action?: string;
  dataAction?: string;
  accessPolicy?: string;
  allowed: boolean;
  count: number;
}

export interface EmulatorOptions {
  tls: TlsMaterial;
  tenantId?: string;
  subscriptionId?: string;
  location?: string;
  host?: string;
  /** Main HTTPS port (0 = free). */
  port?: number;
  /** Token endpoint port (0 = free). */
  identityPort?: number;
  /** Folder to persist state in; undefined = memory only. */
  persistDir?: string;
  log?: (line: string) => void;
}

export class Emulator {
  readonly store: Store;
  readonly identities: IdentityService;
  readonly throttle = new Throttle();
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly location: string;
  readonly identityHeader: string;
  readonly services: Services = {};
  readonly log: (line: string) => void;

  private readonly armRoutes: Compiled<ArmRoute>[] = [];
  private readonly vaultRoutes: Compiled<PlainRoute>[] = [];
  private readonly registryRoutes: Compiled<PlainRoute>[] = [];
  private readonly adminRoutes: Compiled<PlainRoute>[] = [];
  private readonly listeners: { kind: ListenerKind; target?: string; server: Server; port: number }[] = [];
  private identityServer?: Server;
  private readonly eventSinks: ((e: EmittedEvent) => void)[] = [];
  private readonly stopHooks: (() => void | Promise<void>)[] = [];
  private readonly startHooks: (() => void | Promise<void>)[] = [];
  private readonly clockHooks: (() => void)[] = [];
  private clockOffsetMs = 0;
  readonly host: string;

  constructor(private readonly opts: EmulatorOptions) {
    this.store = new Store(opts.persistDir);
    const meta = this.store.bucket<string>('meta');
    this.tenantId = opts.tenantId ?? meta.get('tenantId') ?? 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    this.subscriptionId = opts.subscriptionId ?? meta.get('subscriptionId') ?? '11111111-2222-4333-8444-555555555555';
    this.identityHeader = meta.get('identityHeader') ?? randomUUID();
    const signingKey = meta.get('signingKey');
    this.identities = new IdentityService(this.tenantId, signingKey);
    meta.set('tenantId', this.tenantId);
    meta.set('subscriptionId', this.subscriptionId);
    meta.set('identityHeader', this.identityHeader);
    meta.set('signingKey', this.identities.signingKey.toString('base64'));
    for (const p of this.store.bucket<Principal>('principals').values()) this.identities.add(p);
    this.location = opts.location ?? 'eastus';
    this.host = opts.host ?? '127.0.0.1';
    this.log = opts.log ?? (() => {});
  }

  // Clock --------------------------------------------------------------------------------------------------------
  nowMs(): number {
    return Date.now() + this.clockOffsetMs;
  }
  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
  nowIso(): string {
    return new Date(this.nowMs()).toISOString();
  }
  private lastEvent = { ms: 0, tick: 0 };
  /**
   * An event time as Event Grid writes it — 7 fractional digits (100 ns ticks) — strictly increasing within this
   * emulator, so pushes made in the same millisecond still order as they happened.
   */
  eventTimeIso(): string {
    const ms = this.nowMs();
    const last = this.lastEvent;
    // (ms, tick) pairs: ms × 10,000 ticks would pass Number.MAX_SAFE_INTEGER.
    this.lastEvent = ms > last.ms ? { ms, tick: 0 } : { ms: last.ms, tick: last.tick + 1 };
    const { ms: at, tick } = this.lastEvent;
    return new Date(at).toISOString().replace(/Z$/, `${String(Math.min(tick, 9999)).padStart(4, '0')}Z`);
  }
  advanceClock(seconds: number): void {
    this.clockOffsetMs += seconds * 1000;
    for (const h of this.clockHooks) h();
  }
  /** Runs synchronously after every clock advance (time-based checks such as secret expiry). */
  onClockAdvance(hook: () => void): void {
    this.clockHooks.push(hook);
  }

  // Principals (persisted alongside the ARM resources that own them) ----------------------------------------------
  addPrincipal(p: Principal): Principal {
    this.identities.add(p);
    this.store.bucket<Principal>('principals').set(p.objectId.toLowerCase(), p);
    this.store.changed();
    return p;
  }
  newPrincipal(kind: Principal['kind'], displayName: string, resourceId?: string, tokenEndpoint = false): Principal {
    const p = this.identities.newPrincipal(kind, displayName, resourceId, tokenEndpoint);
    return this.addPrincipal(p);
  }
  removePrincipal(objectId: string): void {
    this.identities.remove(objectId);
    this.store.bucket<Principal>('principals').delete(objectId.toLowerCase());
    this.store.changed();
  }

  // Events -------------------------------------------------------------------------------------------------------
  onEvent(sink: (e: EmittedEvent) => void): void {
    this.eventSinks.push(sink);
  }
  emit(e: EmittedEvent): void {
    for (const s of this.eventSinks) s(e);
  }

  onStop(hook: () => void | Promise<void>): void {
    this.stopHooks.push(hook);
  }
  /** Runs at the end of `start()`, after the ARM listener is up (e.g. re-open persisted data-plane listeners). */
  onStart(hook: () => void | Promise<void>): void {
    this.startHooks.push(hook);
  }

  // RBAC ---------------------------------------------------------------------------------------------------------
  /** Evaluates RBAC without recording anything (probes, tests). Requests go through `check`. */
  authorize(principalId: string, scope: string, need: Need, attributes?: Record<string, string>) {
    return authorize(this.store, principalId, scope, need, attributes);
  }
  /** `authorize` for a request a principal made: the decision goes into the access log. */
  check(principalId: string, scope: string, need: Need, attributes?: Record<string, string>) {
    const decision = this.authorize(principalId, scope, need, attributes);
    this.recordAccess(principalId, scope, need, decision.allowed);
    return decision;
  }

  private readonly accessLog = new Map<string, AccessRecord>();
  /** Records an access decision made outside RBAC too (Key Vault access policies). Kept in memory only. */
  recordAccess(principalId: string, scope: string, access: Access, allowed: boolean): void {
    const [kind, name] = Object.entries(access)[0] as [keyof Access & string, string];
    const id = [principalId, kind, name, scope, allowed].join('|').toLowerCase();
    const hit = this.accessLog.get(id);
    if (hit) hit.count++;
    else this.accessLog.set(id, { principalId: principalId.toLowerCase(), scope, [kind]: name, allowed, count: 1 });
  }
  accessRecords(principalId?: string): AccessRecord[] {
    const all = [...this.accessLog.values()];
    return principalId ? all.filter((r) => r.principalId === principalId.toLowerCase()) : all;
  }
  resetAccessLog(): void {
    this.accessLog.clear();
  }

  // Routes -------------------------------------------------------------------------------------------------------
  armRoute(route: ArmRoute): void {
    this.armRoutes.push(compile(route));
  }
  vaultRoute(route: PlainRoute): void {
    this.vaultRoutes.push(compile(route));
  }
  registryRoute(route: PlainRoute): void {
    this.registryRoutes.push(compile(route));
  }
  adminRoute(route: PlainRoute): void {
    this.adminRoutes.push(compile({ ...route, path: `/_emulator${route.path}` }));
  }

  // Listeners ----------------------------------------------------------------------------------------------------
  get armEndpoint(): string {
    const l = this.listeners.find((x) => x.kind === 'arm');
    if (!l) throw new Error('emulator not started');
    return `https://${this.host}:${l.port}`;
  }
  get identityEndpoint(): string {
    if (!this.identityServer) throw new Error('emulator not started');
    return `http://${this.host}:${(this.identityServer.address() as AddressInfo).port}/msi/token`;
  }

  /** Opens (or returns) the HTTPS listener of a vault / registry data plane. Reuses `preferredPort` when free. */
  async openListener(kind: 'vault' | 'registry', target: string, preferredPort = 0): Promise<string> {
    const existing = this.listeners.find((l) => l.kind === kind && l.target?.toLowerCase() === target.toLowerCase());
    if (existing) return `https://${this.host}:${existing.port}`;
    let port: number;
    try {
      port = await this.listen(kind, target, preferredPort);
    } catch (err) {
      if (preferredPort === 0) throw err;
      port = await this.listen(kind, target, 0);
    }
    return `https://${this.host}:${port}`;
  }

  async closeListener(kind: 'vault' | 'registry', target: string): Promise<void> {
    const i = this.listeners.findIndex((l) => l.kind === kind && l.target?.toLowerCase() === target.toLowerCase());
    if (i < 0) return;
    const [l] = this.listeners.splice(i, 1);
    await new Promise<void>((r) => l!.server.close(() => r()));
    l!.server.closeAllConnections?.();
  }

  private listen(kind: ListenerKind, target: string | undefined, port: number): Promise<number> {
    const server = createHttpsServer({ key: this.opts.tls.key, cert: this.opts.tls.cert }, (req, res) => {
      void this.dispatch(kind, target, req, res);
    });
    server.keepAliveTimeout = 5000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        const actual = (server.address() as AddressInfo).port;
        this.listeners.push({ kind, target, server, port: actual });
        resolve(actual);
      });
    });
  }

  async start(): Promise<void> {
    await this.listen('arm', undefined, this.opts.port ?? 0);
    this.identityServer = createHttpServer((req, res) => void this.tokenEndpoint(req, res));
    await new Promise<void>((resolve, reject) => {
      this.identityServer!.once('error', reject);
      this.identityServer!.listen(this.opts.identityPort ?? 0, this.host, () => resolve());
    });
    for (const h of this.startHooks) await h();
  }

  async stop(): Promise<void> {
    for (const h of this.stopHooks) await h();
    this.store.flush();
    const servers = [...this.listeners.map((l) => l.server), ...(this.identityServer ? [this.identityServer] : [])];
    this.listeners.length = 0;
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections?.();
          }),
      ),
    );
  }

  // Token endpoint (App Service protocol, api-version 2019-08-01) -------------------------------------------------
  private async tokenEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const correlationId = randomUUID();
    if (req.headers['x-identity-header'] !== this.identityHeader) {
      return send(401, {
        statusCode: 401,
        message: 'X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER.',
        correlationId,
      });
    }
    const resource = url.searchParams.get('resource');
    if (!resource)
      return send(400, { statusCode: 400, message: "Required query parameter 'resource' is missing.", correlationId });
    const clientId = url.searchParams.get('client_id');
    const objectId = url.searchParams.get('principal_id') ?? url.searchParams.get('object_id');
    const miResId = url.searchParams.get('mi_res_id');
    const eq = (a?: string, b?: string | null) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
    const principal = this.identities.find(
      (p) =>
        p.tokenEndpoint &&
        (clientId
          ? eq(p.clientId, clientId)
          : objectId
            ? eq(p.objectId, objectId)
            : miResId
              ? eq(p.resourceId, miResId)
              : p.kind === 'app'),
    );
    if (!principal) {
      return send(400, {
        statusCode: 400,
        message: 'No managed identity found for the specified ClientId/ResourceId/PrincipalId.',
        correlationId,
      });
    }
    // Entra ID issues canonical audiences whatever trailing-slash form the client asked with.
    const canonical = [...ARM_AUDIENCES, ...VAULT_AUDIENCES].find(
      (a) => a.replace(/\/+$/, '') === resource.replace(/\/+$/, ''),
    );
    const { token, expiresOn } = this.identities.issue(principal, canonical ?? resource, this.nowSeconds());
    this.throttle.count('identity.token', 'read');
    send(200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: principal.clientId,
    });
  }

  /** Mints a token directly (for tests and the seed). */
  tokenFor(principal: Principal, audience: string): string {
    return this.identities.issue(principal, audience, this.nowSeconds()).token;
  }

  // Dispatch -----------------------------------------------------------------------------------------------------
  private async dispatch(
    kind: ListenerKind,
    target: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const started = Date.now();
    let reply: Reply;
    const requestId = randomUUID();
    let op = 'unknown';
    try {
      const rawBody = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
      });
      const rawUrl = req.url ?? '/';
      const qi = rawUrl.indexOf('?');
      // Some SDK calls send `//subscriptions/...`: collapse slashes instead of resolving the path as a URL.
      const path = (qi < 0 ? rawUrl : rawUrl.slice(0, qi)).replace(/\/{2,}/g, '/');
      const query = new URLSearchParams(qi < 0 ? '' : rawUrl.slice(qi + 1));
      const local = req.socket.localPort;
      const eReq: EmuRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        path: safeDecode(path),
        params: {},
        query,
        q: (name) => {
          for (const [k, v] of query) if (k.toLowerCase() === name.toLowerCase()) return v;
          return undefined;
        },
        headers: req.headers,
        rawBody,
        json: <T>() => {
          if (rawBody.length === 0) return undefined;
          try {
            return JSON.parse(rawBody.toString('utf8')) as T;
          } catch {
            throw kind === 'vault'
              ? kvError(400, 'BadParameter', 'The request body is not valid JSON.')
              : armErrors.badRequest(
                  'InvalidRequestContent',
                  'The request content was invalid and could not be deserialized.',
                );
          }
        },
        target,
        baseUrl: `https://${this.host}:${local}`,
      };
      if (kind === 'arm' && eReq.path.toLowerCase().startsWith('/_emulator/')) {
        op = 'admin';
        reply = await this.runPlain(this.adminRoutes, eReq, () => armErrors.notImplemented(eReq.method, eReq.path));
      } else if (kind === 'arm') {
        ({ op, reply } = await this.dispatchArm(eReq));
      } else if (kind === 'vault') {
        reply = await this.runPlain(
          this.vaultRoutes,
          eReq,
          () => kvError(404, 'NotFound', `No route for ${eReq.method} ${eReq.path}`),
          (r) => (op = r.op),
        );
      } else {
        reply = await this.runPlain(
          this.registryRoutes,
          eReq,
          () =>
            new EmulatorError(404, {
              errors: [{ code: 'NAME_UNKNOWN', message: `no route for ${eReq.method} ${eReq.path}` }],
            }),
          (r) => (op = r.op),
        );
      }
    } catch (err) {
      if (err instanceof EmulatorError) reply = { status: err.status, body: err.body, headers: err.headers };
      else {
        this.log(`[emulator] internal error: ${(err as Error).stack ?? String(err)}`);
        reply = { status: 500, body: { error: { code: 'InternalServerError', message: (err as Error).message } } };
      }
    }
    const headers: Record<string, string> = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': requestId,
      ...reply.headers,
    };
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(reply.body)) payload = reply.body;
    else if (reply.body !== undefined) {
      payload = Buffer.from(JSON.stringify(reply.body));
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    if (payload) headers['content-length'] = String(payload.length);
    else if (reply.status !== 204 && reply.status !== 304) headers['content-length'] = '0';
    res.writeHead(reply.status, headers);
    res.end(req.method === 'HEAD' ? undefined : payload);
    this.log(`[emulator] ${req.method} ${op} ${reply.status} ${Date.now() - started}ms`);
  }

  private async runPlain(
    routes: Compiled<PlainRoute>[],
    req: EmuRequest,
    notFound: () => EmulatorError,
    onMatch?: (r: PlainRoute) => void,
  ): Promise<Reply> {
    for (const c of routes) {
      if (c.route.method !== req.method && !(c.route.method === 'GET' && req.method === 'HEAD')) continue;
      const m = c.rx.exec(req.path);
      if (!m) continue;
      c.names.forEach((n, i) => (req.params[n] = m[i + 1] ?? ''));
      onMatch?.(c.route);
      return c.route.handler(req);
    }
    throw notFound();
  }

  private async dispatchArm(req: EmuRequest): Promise<{ op: string; reply: Reply }> {
    const candidates = this.armRoutes.filter((c) => c.rx.test(req.path));
    const match = candidates.find((c) => c.route.method === req.method);
    if (!match) {
      if (candidates.length) throw armError405(req);
      throw armErrors.notImplemented(req.method, req.path);
    }
    const route = match.route;
    const m = match.rx.exec(req.path)!;
    match.names.forEach((n, i) => (req.params[n] = m[i + 1] ?? ''));
    const kind: OpKind = route.kind ?? (req.method === 'GET' ? 'read' : req.method === 'DELETE' ? 'delete' : 'write');
    this.throttle.count(route.op, kind);

    if (this.throttle.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.throttle.faults.latencyMs));
    const fault = this.throttle.fault(route.op);
    if (fault) throw armErrors.injected(fault);

    // Authentication
    const auth = req.headers.authorization;
    if (!auth || !/^bearer /i.test(auth)) throw armErrors.unauthenticated('The request does not carry a bearer token.');
    const verified = this.identities.verify(auth.slice(7).trim(), ARM_AUDIENCES, this.nowSeconds());
    if ('error' in verified) throw armErrors.unauthenticated(verified.error);
    req.caller = verified.principal;

    // api-version
    const apiVersion = req.q('api-version');
    if (!apiVersion) throw armErrors.missingApiVersion();
    if (!route.apiVersions.includes(apiVersion)) throw armErrors.badApiVersion(apiVersion, route.op, route.apiVersions);
    req.apiVersion = apiVersion;

    // Subscription
    const sub = /^\/subscriptions\/([^/]+)/i.exec(req.path)?.[1];
    if (sub && sub.toLowerCase() !== this.subscriptionId.toLowerCase()) throw armErrors.subscriptionNotFound(sub);

    // Throttling (per principal + subscription + kind)
    const bucket = this.throttle.take(req.caller.objectId, sub ?? 'tenant', kind, Date.now(), route.op);
    if ('retryAfter' in bucket)
      throw armErrors.throttled(bucket.retryAfter, kind === 'read' ? 'subscription reads' : `subscription ${kind}s`);

    // Authorisation
    if (route.action !== null) {
      const action = typeof route.action === 'function' ? route.action(req) : route.action;
      const scope = route.scope ? route.scope(req) : defaultScope(req.path, action);
      const decision = this.check(req.caller.objectId, scope, { action });
      if (!decision.allowed) throw armErrors.forbidden(req.caller.clientId, req.caller.objectId, action, scope);
    }

    const reply = await route.handler(req);
    const plural = kind === 'read' ? 'reads' : `${kind}s`;
    reply.headers = {
      [`x-ms-ratelimit-remaining-subscription-${plural}`]: String(bucket.remaining),
      [`x-ms-ratelimit-remaining-subscription-global-${plural}`]: String(bucket.remaining * 15),
      ...reply.headers,
    };
    return { op: route.op, reply };
  }
}

function armError405(req: EmuRequest) {
  return armErrors.badRequest('MethodNotAllowed', `The method '${req.method}' is not supported for '${req.path}'.`);
}

/** RBAC scope of a request: the resource path, minus a trailing `/action` segment for POST actions. */
function defaultScope(path: string, action: string): string {
  const clean = path.replace(/\/+$/, '');
  return action.toLowerCase().endsWith('/action') ? clean.slice(0, clean.lastIndexOf('/')) : clean;
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
