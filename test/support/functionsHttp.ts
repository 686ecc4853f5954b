// HTTP calls to the local host's functions, as a user makes them: function key as `code=` unless told otherwise,
// JSON bodies. Every response body is kept so secret-hygiene tests can search what callers were shown.

export interface FunctionsEndpoint {
  baseUrl: string;
  functionKey: string;
}

export interface CallOptions {
  /** A string is sent as is (malformed-body tests); anything else as JSON. */
  body?: unknown;
  /** Key to send as `code=`; null sends none; default the function key. */
  key?: string | null;
  query?: Record<string, string>;
  /** An Entra access token, sent as `Authorization: Bearer …` (use with `key: null` to test sign-in alone). */
  bearer?: string;
}

export interface CallResult {
  status: number;
  /** The parsed JSON body ({} when empty or not JSON). */
  json: Record<string, unknown>;
  text: string;
}

export type Call = (method: string, path: string, options?: CallOptions) => Promise<CallResult>;

/** A `call` against the functions endpoint `endpoint()` gives (read per call: the stack starts after this is made). */
export function functionsCaller(endpoint: () => FunctionsEndpoint, bodies: string[]): Call {
  return async (method, path, options = {}) => {
    const f = endpoint();
    const url = new URL(`${f.baseUrl}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    if (options.key !== null) url.searchParams.set('code', options.key ?? f.functionKey);
    const res = await fetch(url, {
      method,
      headers: {
        ...(options.bearer !== undefined ? { authorization: `Bearer ${options.bearer}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await res.text();
    bodies.push(text);
    let json: Record<string, unknown>;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = {};
    }
    return { status: res.status, json, text };
  };
}
