// Host keys, generated on first start and reused afterwards (like the real host's secrets store).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './fs-util.js';

export interface HostKeys {
  /** `_master`: admin level, admin API, any webhook. */
  master: string;
  /** Host function key `default`: function-level HTTP triggers. */
  function: string;
  /** System key `eventgrid_extension`: the Event Grid webhook. */
  eventGrid: string;
  /** System key `durabletask_extension`: the Durable HTTP API under /runtime/webhooks/durabletask. */
  durableTask: string;
}

interface KeysFile {
  masterKey: string;
  functionKeys: { default: string };
  systemKeys: { eventgrid_extension: string; durabletask_extension: string };
}

function newKey(): string {
  // URL-safe so it can travel in `code=` unencoded.
  return randomBytes(32).toString('base64url');
}

function isKeysFile(v: unknown): v is KeysFile {
  const k = v as KeysFile | undefined;
  return (
    typeof k?.masterKey === 'string' &&
    typeof k.functionKeys?.default === 'string' &&
    typeof k.systemKeys?.eventgrid_extension === 'string' &&
    typeof k.systemKeys?.durabletask_extension === 'string'
  );
}

/** Reads `<stateDir>/keys.json`, creating it (mode 0600) on first start. */
export async function loadOrCreateKeys(stateDir: string): Promise<HostKeys> {
  const file = path.join(stateDir, 'keys.json');
  let stored: KeysFile | undefined;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (!isKeysFile(parsed))
      throw new Error(`${file} is not a keys file written by this host; delete it to regenerate`);
    stored = parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!stored) {
    stored = {
      masterKey: newKey(),
      functionKeys: { default: newKey() },
      systemKeys: { eventgrid_extension: newKey(), durabletask_extension: newKey() },
    };
    await mkdir(stateDir, { recursive: true });
    await writeFileAtomic(file, JSON.stringify(stored, null, 2) + '\n', 0o600);
  }
  return {
    master: stored.masterKey,
    function: stored.functionKeys.default,
    eventGrid: stored.systemKeys.eventgrid_extension,
    durableTask: stored.systemKeys.durabletask_extension,
  };
}

/** Constant-time comparison against any of the accepted keys. */
export function keyMatches(given: string | undefined, ...accepted: string[]): boolean {
  if (!given) return false;
  const g = Buffer.from(given);
  let ok = false;
  for (const key of accepted) {
    const k = Buffer.from(key);
    if (k.length === g.length && timingSafeEqual(k, g)) ok = true;
  }
  return ok;
}

/** The key a request presents: `x-functions-key` header or `code` query parameter. */
export function presentedKey(
  headers: Record<string, string | string[] | undefined>,
  query: URLSearchParams,
): string | undefined {
  const h = headers['x-functions-key'];
  const header = Array.isArray(h) ? h[0] : h;
  return header ?? query.get('code') ?? undefined;
}
