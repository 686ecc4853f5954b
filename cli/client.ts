// A small client of the acr-cascade HTTP API. Every failure becomes a CliApiError carrying the API's own
// `{ error: { code, message, field } }` (or one made up for answers that are not the API's, e.g. the host's 401).
import type { Connection } from './connection.js';

export class CliApiError extends Error {
  override name = 'CliApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The API could not be reached at all (nothing listening, DNS, TLS). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export interface ApiClient {
  baseUrl: string;
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

async function errorFrom(res: Response): Promise<CliApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    if (body.error && typeof body.error.code === 'string') {
      return new CliApiError(
        res.status,
        body.error.code,
        String(body.error.message ?? ''),
        typeof body.error.field === 'string' ? body.error.field : undefined,
      );
    }
  } catch {
    // not the API's error body: described below
  }
  // The Functions host answers 401 without a body when the function key is missing or wrong.
  if (res.status === 401)
    return new CliApiError(401, 'Unauthenticated', 'the API refused the credentials (no key or token, or a wrong one)');
  if (res.status === 403) return new CliApiError(403, 'Forbidden', 'the API refused the request');
  if (res.status === 404)
    return new CliApiError(404, 'NotFound', `${res.url} does not exist: is this an acr-cascade app?`);
  return new CliApiError(res.status, `HTTP${res.status}`, text.slice(0, 300) || res.statusText);
}

export function createClient(conn: Connection, fetchImpl: typeof fetch = fetch): ApiClient {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.auth.kind === 'token') headers.authorization = `Bearer ${conn.auth.token}`;
  if (conn.auth.kind === 'key') headers['x-functions-key'] = conn.auth.key;
  const send = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const url = `${conn.baseUrl}/api/${path}`;
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new UnreachableError(`cannot reach ${conn.baseUrl} (${describeCause(err)})`);
    }
    if (!res.ok) throw await errorFrom(res);
    return (await res.json()) as T;
  };
  return {
    baseUrl: conn.baseUrl,
    get: (path, query) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, v);
      const qs = q.toString();
      return send('GET', qs ? `${path}?${qs}` : path);
    },
    post: (path, body) => send('POST', path, body ?? {}),
  };
}
