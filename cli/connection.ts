// Where the API is and how to sign in to it: flags, then environment, then the local stack's `.local/stack.json`
// (written by `npm start`). A token is sent as `Authorization: Bearer`, a function key as `x-functions-key`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './exitCodes.js';

export interface ConnectionFlags {
  url?: string;
  key?: string;
  token?: string;
  stackFile?: string;
}

export interface Connection {
  /** Origin (and base path) of the function app, without `/api`. */
  baseUrl: string;
  auth: { kind: 'token'; token: string } | { kind: 'key'; key: string } | { kind: 'none' };
  /** Where the endpoint came from (shown in errors). */
  source: string;
}

interface StackFile {
  functions?: { baseUrl?: unknown; functionKey?: unknown };
}

function readStackFile(path: string): StackFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StackFile;
  } catch (err) {
    throw new UsageError(`${path} is not valid JSON (${(err as Error).message}); restart the local stack (npm start)`);
  }
}

function normalizeUrl(raw: string, from: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`${from}: '${raw}' is not a URL (e.g. https://my-app.azurewebsites.net)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`${from}: '${raw}' is not http(s)`);
  // Accept the app URL with or without /api.
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}`;
}

export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Connection {
  const stackPath = flags.stackFile ?? env.ACR_CASCADE_STACK_FILE ?? join(cwd, '.local', 'stack.json');
  const stack = flags.url || env.ACR_CASCADE_URL ? undefined : readStackFile(stackPath);
  let baseUrl: string;
  let source: string;
  if (flags.url) [baseUrl, source] = [normalizeUrl(flags.url, '--url'), '--url'];
  else if (env.ACR_CASCADE_URL)
    [baseUrl, source] = [normalizeUrl(env.ACR_CASCADE_URL, 'ACR_CASCADE_URL'), 'ACR_CASCADE_URL'];
  else if (typeof stack?.functions?.baseUrl === 'string')
    [baseUrl, source] = [normalizeUrl(stack.functions.baseUrl, stackPath), stackPath];
  else
    throw new UsageError(
      'no acr-cascade endpoint: pass --url <app url>, set ACR_CASCADE_URL, or start the local stack (npm start), ' +
        `which writes ${stackPath}`,
    );
  const token = flags.token ?? env.ACR_CASCADE_TOKEN;
  const key =
    flags.key ??
    env.ACR_CASCADE_KEY ??
    (source === stackPath && typeof stack?.functions?.functionKey === 'string'
      ? stack.functions.functionKey
      : undefined);
  if (flags.token && flags.key) throw new UsageError('give --token or --key, not both');
  const auth: Connection['auth'] = token ? { kind: 'token', token } : key ? { kind: 'key', key } : { kind: 'none' };
  return { baseUrl, auth, source };
}
