// Small request/response model shared by the host's HTTP handlers (kept apart from Node's streams for testability).
import type { IncomingHttpHeaders } from 'node:http';

export interface HostRequest {
  method: string;
  /** Raw (still percent-encoded) path, without the query. */
  path: string;
  /** Path and query exactly as received. */
  rawUrl: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  remoteAddress: string;
  /** `http://<Host header>`: links in responses point where the caller reached us. */
  origin: string;
}

export interface HostResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): HostResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

export function textResponse(status: number, text: string, headers: Record<string, string> = {}): HostResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: text };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): HostResponse {
  return { status, headers };
}

export function header(req: HostRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || address.startsWith('127.');
}

/** Splits `req.url` without `new URL()` (which would mangle paths such as `//x`). */
export function splitUrl(rawUrl: string): { path: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  return q < 0
    ? { path: rawUrl, query: new URLSearchParams() }
    : { path: rawUrl.slice(0, q), query: new URLSearchParams(rawUrl.slice(q + 1)) };
}

/** Decodes path segments; undefined when a segment is not valid percent-encoding. */
export function decodeSegments(path: string): string[] | undefined {
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}
