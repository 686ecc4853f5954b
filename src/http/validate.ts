// One validator per kind of input at the HTTP edge. Each returns the clean value or throws ApiError (400 naming the
// field; 403 OutsideManagedScopes for a well-formed id outside the managed scopes). Echoed values are cut short and
// stripped of control characters so an error message never carries a 5,000-char or binary input back.
import type { HttpRequest } from '@azure/functions';
import { SETTING_SPECS } from '../config/settings.js';
import {
  formatImageRef,
  ImageRefError,
  isAncestorOrSelf,
  isDigest,
  parseImageRef,
  parseResourceId,
  parseSecretUri,
  ResourceIdError,
  SecretUriError,
} from '../domain/index.js';
import { taskAddress } from '../azure/adapters.js';
import { ApiError, invalid } from './errors.js';
import { CASCADE_STATUSES, type CascadeStatus } from './status.js';

export const MAX_TASKS_PER_REQUEST = 1000;
const MAX_ID = 200;
const MAX_RESOURCE_ID = 1000;

/** A value fit to quote in a message. */
export function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return `'${clean.length > 80 ? `${clean.slice(0, 80)}…` : clean}'`;
}

/** A cascade or check id from a route or query: printable ASCII without separators, 1–200 characters. */
export function instanceId(v: unknown, field = 'id'): string {
  if (typeof v !== 'string' || v === '') throw invalid(field, `${field} is required`);
  if (v.length > MAX_ID || !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(v)) {
    throw invalid(field, `${quote(v)} is not an id (letters, digits, '.', '_', ':', '-'; at most ${MAX_ID})`);
  }
  return v;
}

/** An ACR task resource id inside the managed scopes. */
export function taskId(v: unknown, field: string, managedScopes: readonly string[]): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalid(field, `${field} must be an ACR task resource id`);
  if (v.length > MAX_RESOURCE_ID) throw invalid(field, `${field} is longer than ${MAX_RESOURCE_ID} characters`);
  try {
    taskAddress(v);
  } catch (err) {
    if (err instanceof TypeError || err instanceof ResourceIdError) {
      throw invalid(field, `${quote(v)} is not an ACR task id (/subscriptions/…/registries/{registry}/tasks/{task})`);
    }
    throw err;
  }
  if (!managedScopes.some((s) => isAncestorOrSelf(s, v))) {
    throw new ApiError(
      'OutsideManagedScopes',
      `task ${quote(v)} is outside the managed scopes (${SETTING_SPECS.managedScopes.env})`,
      field,
    );
  }
  return v;
}

/** A non-empty list of task ids (deduplicated, case-insensitively). */
export function taskIds(v: unknown, field: string, managedScopes: readonly string[]): string[] {
  if (!Array.isArray(v) || v.length === 0) throw invalid(field, `${field} must be a non-empty array of task ids`);
  if (v.length > MAX_TASKS_PER_REQUEST) throw invalid(field, `at most ${MAX_TASKS_PER_REQUEST} tasks per request`);
  const out: string[] = [];
  v.forEach((t: unknown, i) => {
    const id = taskId(t, `${field}[${i}]`, managedScopes);
    if (!out.some((x) => x.toLowerCase() === id.toLowerCase())) out.push(id);
  });
  return out;
}

/** A list of ACR registry resource ids inside the managed scopes (deduplicated, case-insensitively). */
export function registryIds(v: unknown, field: string, managedScopes: readonly string[]): string[] {
  if (!Array.isArray(v) || v.length === 0) throw invalid(field, `${field} must be a non-empty array of registry ids`);
  if (v.length > MAX_TASKS_PER_REQUEST) throw invalid(field, `at most ${MAX_TASKS_PER_REQUEST} registries per request`);
  const out: string[] = [];
  v.forEach((r: unknown, i) => {
    const f = `${field}[${i}]`;
    if (typeof r !== 'string' || r.length > MAX_RESOURCE_ID || !isRegistryId(r)) {
      throw invalid(
        f,
        `${quote(r)} is not an ACR registry id (/subscriptions/…/providers/Microsoft.ContainerRegistry/registries/{name})`,
      );
    }
    if (!managedScopes.some((s) => isAncestorOrSelf(s, r) || isAncestorOrSelf(r, s))) {
      throw new ApiError(
        'OutsideManagedScopes',
        `registry ${quote(r)} is outside the managed scopes (${SETTING_SPECS.managedScopes.env})`,
        f,
      );
    }
    if (!out.some((x) => x.toLowerCase() === r.toLowerCase())) out.push(r);
  });
  return out;
}

function isRegistryId(v: string): boolean {
  try {
    const p = parseResourceId(v);
    return p.resourceType.toLowerCase() === 'microsoft.containerregistry/registries' && p.types.length === 1;
  } catch (err) {
    if (err instanceof ResourceIdError) return false;
    throw err;
  }
}

/** An image reference (optionally with @digest) and an optional separate digest. */
export function image(
  ref: unknown,
  digest: unknown = undefined,
  field = 'image',
): { ref: string; digest?: string; loginServer: string } {
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw invalid(field, `${field} is required: a full image reference such as myregistry.azurecr.io/base/node:20`);
  }
  if (ref.length > MAX_RESOURCE_ID) throw invalid(field, `${field} is longer than ${MAX_RESOURCE_ID} characters`);
  let parsed;
  try {
    parsed = parseImageRef(ref.trim());
  } catch (err) {
    if (err instanceof ImageRefError) throw invalid(field, err.message.slice(0, 300));
    throw err;
  }
  let d = parsed.digest;
  if (digest !== undefined && digest !== null && digest !== '') {
    if (!isDigest(digest)) throw invalid('digest', `${quote(digest)} is not sha256:<64 lower-case hex>`);
    d = digest;
  }
  return {
    ref: formatImageRef({ ...parsed, digest: undefined }),
    ...(d ? { digest: d } : {}),
    loginServer: parsed.loginServer,
  };
}

/** A Key Vault secret URI. */
export function secretUri(v: unknown, field = 'secret'): { vaultUrl: string; name: string } {
  if (typeof v !== 'string') throw invalid(field, `${field} must be a Key Vault secret URI string`);
  try {
    const ref = parseSecretUri(v);
    return { vaultUrl: ref.vaultUrl, name: ref.name };
  } catch (err) {
    if (err instanceof SecretUriError) throw invalid(field, `${quote(v)} is not a Key Vault secret URI`);
    throw err;
  }
}

/** `top` from a query: an integer 1–max, default `fallback`. */
/** ACR's task and registry names (5–50 alphanumerics for a registry; a task name may also hold '-' and '_'). */
const TASK_NAME = /^(?:[A-Za-z0-9]{1,50}\/)?[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/;

/** `?task=` of the index listing: comma-separated `registry/task` (or bare task) names, as the CLI shows them. */
export function taskNames(v: string | null, field = 'task'): string[] | undefined {
  if (v === null) return undefined;
  const names = v.split(',').map((n) => n.trim());
  const bad = names.find((n) => !TASK_NAME.test(n));
  if (bad !== undefined) throw invalid(field, `${quote(bad)} is not a task name ('<registry>/<task>' or '<task>')`);
  if (names.length > 100) throw invalid(field, 'at most 100 task names');
  return names.map((n) => n.toLowerCase());
}

export function top(v: string | null, fallback = 50, max = 1000): number {
  if (v === null) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > max) {
    throw invalid('top', `top must be an integer between 1 and ${max}`);
  }
  return n;
}

/** One value from a closed set (case-insensitive), returned in its canonical spelling. */
export function oneOf<T extends string>(v: string, allowed: readonly T[], field: string): T {
  const m = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
  if (!m) throw invalid(field, `${quote(v)} is not one of ${allowed.join(', ')}`);
  return m;
}

/** `status` filters of a cascade listing (repeated or comma-separated). */
export function cascadeStatuses(req: HttpRequest): CascadeStatus[] {
  return req.query
    .getAll('status')
    .flatMap((s) => s.split(','))
    .filter((s) => s.trim() !== '')
    .map((s) => oneOf(s, CASCADE_STATUSES, 'status'));
}

/** A continuation token from a previous page (opaque base64url). */
export function continuation(v: string | null): string | undefined {
  if (v === null || v === '') return undefined;
  if (v.length > 2000 || !/^[A-Za-z0-9_-]+$/.test(v))
    throw invalid('continuation', 'not a continuation token from this API');
  return v;
}

/**
 * The request body as a JSON object with only `allowed` keys. An empty body is `{}` when `emptyIsObject` (routes
 * whose every field is optional).
 */
export async function jsonObject(
  req: HttpRequest,
  allowed: readonly string[],
  emptyIsObject = false,
): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.trim() === '') {
    if (emptyIsObject) return {};
    throw invalid('body', `a JSON object body is required (fields: ${allowed.join(', ')})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('body', 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'the body must be a JSON object');
  }
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k))
      throw invalid(k.slice(0, 80), `unknown field ${quote(k)} (expected ${allowed.join(', ')})`);
  }
  return body as Record<string, unknown>;
}

export function optionalBoolean(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(field, `${field} must be true or false`);
  return v;
}

/** A 400 naming `field`, for rules that belong to one route (e.g. "image or tasks"). */
export const invalidField = invalid;
