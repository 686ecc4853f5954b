// The dashboard: GET /api/dashboard/{*path} serves the page Vite built from web/ into dist/web.
//
// The shell is public code with no data in it (the same bytes as in the deployable package), so it is served without
// a credential: a browser cannot attach a function key or a bearer token to a navigation or a <script src>. Every
// piece of data the page shows comes from /api/* with the caller's own credential (function key or Entra ID token),
// through the same auth and roles as any other API client (src/http/auth.ts). See docs/operations.md "Dashboard".
//
// Paths: `assets/<name>-<hash>.<ext>` are immutable (cached a year); anything without an extension is a page of the
// single-page app and answers index.html (never cached, so a new deployment is picked up at once); other files
// (favicon) are cached briefly. No path may leave dist/web: `..`, backslashes, NUL and encoded separators are 404.
import { readFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/** dist/web, next to dist/src (this file compiles to dist/src/functions/dashboard.js). */
export const WEB_ROOT = resolve(__dirname, '..', '..', 'web');

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const HASHED_ASSET = /^assets\/[A-Za-z0-9_.-]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/**
 * The page may talk only to its own origin (the API), load only its own scripts and styles, and be framed by no one;
 * no referrer leaves it (the URL fragment carries a key on the local stack; browsers never send fragments, but the
 * rule keeps page paths out of other sites' logs too).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

export type ResolvedPath =
  | { kind: 'page' }
  | { kind: 'file'; relative: string; contentType: string; cacheControl: string }
  | { kind: 'notFound' };

/** Maps the route's `path` (already URL-decoded by the host) to what to serve; pure, so it is unit-tested. */
export function resolveDashboardPath(path: string | undefined): ResolvedPath {
  const p = (path ?? '').replace(/^\/+/, '');
  // eslint-disable-next-line no-control-regex
  if (p.length > 512 || /[\u0000-\u001f\\%]/.test(p)) return { kind: 'notFound' };
  const segments = p.split('/');
  if (segments.some((s) => s === '..' || s === '.' || (s === '' && p !== ''))) return { kind: 'notFound' };
  const ext = extname(p).toLowerCase();
  if (ext === '') return { kind: 'page' };
  if (p === 'index.html') return { kind: 'page' };
  const contentType = CONTENT_TYPES[ext];
  if (!contentType) return { kind: 'notFound' };
  const cacheControl = HASHED_ASSET.test(p) ? IMMUTABLE : 'public, max-age=300';
  return { kind: 'file', relative: p, contentType, cacheControl };
}

async function readWebFile(relative: string, root: string): Promise<Buffer | undefined> {
  const full = resolve(join(root, relative));
  if (!full.startsWith(root + sep)) return undefined; // belt and braces over resolveDashboardPath
  try {
    return await readFile(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR')
      return undefined;
    throw err;
  }
}

function text(status: number, body: string): HttpResponseInit {
  return {
    status,
    body,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...SECURITY_HEADERS },
  };
}

export async function serveDashboard(req: HttpRequest, root = WEB_ROOT): Promise<HttpResponseInit> {
  const target = resolveDashboardPath(req.params.path);
  if (target.kind === 'notFound') return text(404, 'Not found.');
  if (target.kind === 'page') {
    const html = await readWebFile('index.html', root);
    if (!html) return text(503, 'The dashboard was not built: run `npm run build` (it builds web/ into dist/web).');
    return {
      status: 200,
      body: req.method === 'HEAD' ? undefined : html,
      headers: { 'Content-Type': CONTENT_TYPES['.html']!, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS },
    };
  }
  const bytes = await readWebFile(target.relative, root);
  if (!bytes) return text(404, 'Not found.');
  return {
    status: 200,
    body: req.method === 'HEAD' ? undefined : bytes,
    headers: { 'Content-Type': target.contentType, 'Cache-Control': target.cacheControl, ...SECURITY_HEADERS },
  };
}

app.http('dashboard', {
  route: 'dashboard/{*path}',
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  handler: (req) => serveDashboard(req),
});
