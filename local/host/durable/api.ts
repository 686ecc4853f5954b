// The Durable Functions HTTP API, with the extension's routes and status codes (HttpApiHandler.cs): served under
// /runtime/webhooks/durabletask (system key required) and under /durabletask/ for loopback callers (the local RPC
// endpoint `df.getClient()` uses).
import {
  type HostRequest,
  type HostResponse,
  decodeSegments,
  emptyResponse,
  header,
  jsonResponse,
  textResponse,
} from '../http-util.js';
import { managementUrls } from './client-data.js';
import type { EntityQuery } from './entities.js';
import type { DurableEngine, InstanceQuery, StatusOptions, StatusPayload } from './engine.js';
import { DurableApiError } from './errors.js';
import { RUNTIME_STATUSES, type RuntimeStatus, isTerminal, parseJsonText } from './protocol.js';

const DEFAULT_PAGE_SIZE = 100;

function bool(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name)?.toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

function time(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new DurableApiError(400, `'${name}' is not a date-time: ${v}`);
  return t;
}

function statuses(q: URLSearchParams): RuntimeStatus[] {
  // Like Enum.TryParse: case-insensitive, unknown names ignored.
  return q
    .getAll('runtimeStatus')
    .flatMap((v) => v.split(','))
    .map((v) => RUNTIME_STATUSES.find((s) => s.toLowerCase() === v.trim().toLowerCase()))
    .filter((s): s is RuntimeStatus => s !== undefined);
}

function query(q: URLSearchParams): InstanceQuery {
  const out: InstanceQuery = {};
  const rs = statuses(q);
  if (rs.length > 0) out.runtimeStatus = rs;
  const from = time(q, 'createdTimeFrom');
  const to = time(q, 'createdTimeTo');
  if (from !== undefined) out.createdTimeFrom = from;
  if (to !== undefined) out.createdTimeTo = to;
  const prefix = q.get('instanceIdPrefix');
  if (prefix) out.instanceIdPrefix = prefix;
  return out;
}

function statusOptions(q: URLSearchParams): StatusOptions {
  return {
    showHistory: bool(q, 'showHistory') === true,
    showHistoryOutput: bool(q, 'showHistoryOutput') === true,
    showInput: bool(q, 'showInput') !== false,
  };
}

/** Parses a JSON request body; empty = undefined. Returns normalised JSON text. */
function jsonBody(req: HostRequest): string | undefined {
  const text = req.body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    throw new DurableApiError(400, 'Invalid JSON content');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class DurableHttpApi {
  constructor(
    private readonly engine: DurableEngine,
    private readonly systemKey: string,
  ) {}

  /** `subPath` is the part after the API's base path, e.g. `/instances/abc`. */
  async handle(req: HostRequest, subPath: string): Promise<HostResponse> {
    try {
      return await this.#route(req, subPath);
    } catch (err) {
      if (err instanceof DurableApiError) {
        return err.statusCode === 404 ? emptyResponse(404) : textResponse(err.statusCode, err.message);
      }
      throw err;
    }
  }

  async #route(req: HostRequest, subPath: string): Promise<HostResponse> {
    const seg = decodeSegments(subPath);
    if (!seg || seg.length === 0) return emptyResponse(404);
    const [controller, a, b, c] = seg;
    const m = req.method;
    switch (controller?.toLowerCase()) {
      case 'orchestrators':
        if (a === undefined || seg.length > 3 || m !== 'POST') return emptyResponse(404);
        return this.#start(req, a, b);
      case 'entities':
        return this.#entities(req, seg.slice(1));
      case 'instances':
        if (a === undefined) {
          if (m === 'GET') return this.#list(req);
          if (m === 'DELETE') return this.#purgeWhere(req);
          return emptyResponse(404);
        }
        if (b === undefined) {
          if (m === 'GET') return this.#status(req, a);
          if (m === 'DELETE') return jsonResponse(200, { instancesDeleted: await this.engine.purge(a) });
          return emptyResponse(404);
        }
        if (m !== 'POST') return emptyResponse(404);
        if (b.toLowerCase() === 'raiseevent' && c !== undefined && seg.length === 4) return this.#raise(req, a, c);
        if (seg.length !== 3) return emptyResponse(404);
        return this.#operation(req, a, b.toLowerCase());
      default:
        return emptyResponse(404);
    }
  }

  /** `entities/{name}/{key}`: POST signals (`?op=`), GET reads the state; `entities/[{name}]`: GET lists. */
  async #entities(req: HostRequest, seg: string[]): Promise<HostResponse> {
    const [name, key] = seg;
    if (seg.length > 2) return emptyResponse(404);
    if (key === undefined || key === '') {
      if (req.method !== 'GET') return emptyResponse(404);
      return this.#listEntities(req, name);
    }
    if (req.method === 'POST') {
      await this.engine.signalEntity(name!, key, req.query.get('op') ?? '', jsonBody(req));
      return emptyResponse(202);
    }
    if (req.method !== 'GET') return emptyResponse(404);
    const entity = this.engine.readEntity(name!, key);
    if (!entity) return emptyResponse(404);
    return jsonResponse(200, parseJsonText(entity.stateJson));
  }

  #listEntities(req: HostRequest, name: string | undefined): HostResponse {
    const q: EntityQuery = {};
    if (name !== undefined) q.name = name;
    const from = time(req.query, 'lastOperationTimeFrom');
    const to = time(req.query, 'lastOperationTimeTo');
    if (from !== undefined) q.lastOperationTimeFrom = from;
    if (to !== undefined) q.lastOperationTimeTo = to;
    return this.#page(req, this.engine.listEntities(q, bool(req.query, 'fetchState') === true));
  }

  /** One page of a list (`top`, `x-ms-continuation-token`), as the extension pages instance and entity queries. */
  #page(req: HostRequest, all: unknown[]): HostResponse {
    const top = Number(req.query.get('top'));
    const size = Number.isInteger(top) && top > 0 ? top : DEFAULT_PAGE_SIZE;
    const token = header(req, 'x-ms-continuation-token');
    const offset = token ? Number(Buffer.from(token, 'base64').toString('utf8')) || 0 : 0;
    const page = all.slice(offset, offset + size);
    const headers: Record<string, string> = {};
    if (offset + size < all.length)
      headers['x-ms-continuation-token'] = Buffer.from(String(offset + size)).toString('base64');
    return jsonResponse(200, page, headers);
  }

  #checkStatus(req: HostRequest, id: string): HostResponse {
    const links = managementUrls(req.origin, this.engine.hubName, this.systemKey, id);
    return jsonResponse(202, links, { location: links.statusQueryGetUri, 'retry-after': '10' });
  }

  async #start(req: HostRequest, name: string, instanceId: string | undefined): Promise<HostResponse> {
    const input = jsonBody(req);
    const id = await this.engine.startNew(name, input, instanceId === '' ? undefined : instanceId);
    const timeout = Number(req.query.get('timeout'));
    const interval = Number(req.query.get('pollingInterval'));
    if (timeout > 0 && interval > 0) return this.#waitForCompletion(req, id, timeout * 1000, interval * 1000);
    return this.#checkStatus(req, id);
  }

  async #waitForCompletion(req: HostRequest, id: string, timeoutMs: number, intervalMs: number): Promise<HostResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.engine.status(id);
      if (s?.runtimeStatus === 'Completed') return jsonResponse(200, s.output);
      if (s && isTerminal(s.runtimeStatus)) return this.#statusResponse(req, s);
      const left = deadline - Date.now();
      if (left <= 0) return this.#checkStatus(req, id);
      await sleep(Math.min(intervalMs, left));
    }
  }

  #statusResponse(req: HostRequest, s: StatusPayload): HostResponse {
    switch (s.runtimeStatus) {
      case 'Running':
      case 'Pending':
      case 'ContinuedAsNew':
      case 'Suspended':
        return jsonResponse(202, s, { location: `${req.origin}${req.rawUrl}`, 'retry-after': '5' });
      case 'Failed':
        return jsonResponse(bool(req.query, 'returnInternalServerErrorOnFailure') === true ? 500 : 200, s);
      default:
        return jsonResponse(200, s);
    }
  }

  #status(req: HostRequest, id: string): HostResponse {
    const s = this.engine.status(id, statusOptions(req.query));
    return s ? this.#statusResponse(req, s) : emptyResponse(404);
  }

  #list(req: HostRequest): HostResponse {
    return this.#page(req, this.engine.query(query(req.query), statusOptions(req.query)));
  }

  async #purgeWhere(req: HostRequest): Promise<HostResponse> {
    const q = query(req.query);
    if (q.createdTimeFrom === undefined)
      return textResponse(400, "Please provide value for 'createdTimeFrom' parameter.");
    const deleted = await this.engine.purgeWhere(q);
    return deleted === 0 ? emptyResponse(404) : jsonResponse(200, { instancesDeleted: deleted });
  }

  async #raise(req: HostRequest, id: string, eventName: string): Promise<HostResponse> {
    if (!this.engine.has(id)) return emptyResponse(404);
    const s = this.engine.status(id);
    if (s && isTerminal(s.runtimeStatus)) return emptyResponse(410);
    const mediaType = header(req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
    if (req.body.length > 0 && mediaType !== 'application/json') {
      return textResponse(400, 'Only application/json request content is supported');
    }
    await this.engine.raiseEvent(id, eventName, jsonBody(req));
    return emptyResponse(202);
  }

  async #operation(req: HostRequest, id: string, op: string): Promise<HostResponse> {
    const reason = req.query.get('reason') ?? undefined;
    switch (op) {
      case 'terminate':
        await this.engine.terminate(id, reason);
        return emptyResponse(202);
      case 'suspend':
        await this.engine.suspend(id, reason);
        return emptyResponse(202);
      case 'resume':
        await this.engine.resume(id, reason);
        return emptyResponse(202);
      case 'rewind': {
        const s = this.engine.status(id);
        if (!s) return textResponse(404, `No orchestration with instance ID "${id}" found.`);
        if (s.runtimeStatus !== 'Failed') {
          return textResponse(
            412,
            `This orchestration has status ${s.runtimeStatus}, but only orchestrations in the "Failed" state can be rewound.`,
          );
        }
        return textResponse(501, 'Rewind is not supported by the local host.');
      }
      case 'restart':
        return textResponse(501, 'Restart is not supported by the local host.');
      default:
        return emptyResponse(404);
    }
  }
}
