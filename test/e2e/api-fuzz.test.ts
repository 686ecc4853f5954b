// Fuzzes every HTTP route of the app on the local stack with malformed values (whitespace, NUL, huge, unicode, path
// traversal, OData/SQL-ish quotes, wrong JSON types) and asserts the one error model: never a 5xx, every refusal a
// `{ error: { code, message, field? } }` whose status is the code's status, and no body carrying a system key.
// Needs `npm run build` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS, type ErrorCode } from '../../src/http/errors.js';
import { startCascadeStack, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;

beforeAll(async () => {
  s = await startCascadeStack('api-fuzz');
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

/** Malformed string values. */
const BAD: readonly string[] = [
  '',
  ' ',
  '\t',
  '\u0000',
  'a\u0000b',
  'x'.repeat(5000),
  '../..',
  '..\\..\\windows',
  '%2e%2e%2f%2e%2e',
  '/subscriptions/../../etc/passwd',
  'ü🚀\u202egnp.exe',
  "' or PartitionKey ne '",
  '{"a":1}',
  'null',
  '-1',
  '1e309',
];

/** Malformed JSON values for body fields (each BAD string too). */
const WRONG_TYPES: readonly unknown[] = [null, 42, true, [], {}, [null], [{}], [42], ...BAD];

/** Bodies for a POST route whose fields are `fields`. */
function bodies(fields: readonly string[]): unknown[] {
  const out: unknown[] = ['', '{oops', 'null', '42', '"text"', '[]', '[1]', JSON.stringify({ unknown: 1 })];
  for (const f of fields) for (const v of WRONG_TYPES) out.push({ [f]: v });
  for (const f of fields) for (const v of BAD) out.push({ [f]: [v] });
  out.push({ tasks: Array.from({ length: 1001 }, (_, i) => `t${i}`) });
  return out;
}

interface Probe {
  method: 'GET' | 'POST';
  /** Path with the value already in it (raw: encoded per probe below). */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

function probes(): Probe[] {
  const out: Probe[] = [];
  for (const raw of BAD) {
    const seg = encodeURIComponent(raw);
    out.push({ method: 'GET', path: `/api/rebuilds/${seg}` });
    out.push({ method: 'POST', path: `/api/rebuilds/${seg}/cancel` });
    out.push({ method: 'GET', path: `/api/rebuilds/${seg}/tasks` });
    out.push({ method: 'GET', path: '/api/index/tasks', query: { top: raw } });
    out.push({ method: 'GET', path: '/api/index/tasks', query: { task: raw } });
    out.push({ method: 'GET', path: '/api/rebuilds', query: { status: raw } });
    out.push({ method: 'GET', path: '/api/rebuilds', query: { top: raw } });
    out.push({ method: 'GET', path: '/api/rebuilds', query: { continuation: raw } });
    out.push({ method: 'GET', path: '/api/credentials', query: { task: raw } });
    out.push({ method: 'GET', path: '/api/credentials', query: { status: raw } });
    out.push({ method: 'GET', path: '/api/plan', query: { image: raw } });
    out.push({ method: 'GET', path: '/api/plan', query: { image: 'myregistry.azurecr.io/a:1', digest: raw } });
    out.push({ method: 'GET', path: '/api/graph', query: { image: raw } });
  }
  for (const body of bodies(['image', 'tasks', 'dryRun'])) out.push({ method: 'POST', path: '/api/rebuilds', body });
  for (const body of bodies(['image', 'digest', 'tasks'])) out.push({ method: 'POST', path: '/api/plan', body });
  for (const body of bodies(['tasks', 'secret'])) {
    // An empty or `{}` body is a valid full check; everything else here is malformed.
    if (body === '' || (typeof body === 'object' && body !== null && Object.keys(body).length === 0)) continue;
    out.push({ method: 'POST', path: '/api/credentials/check', body });
  }
  out.push({ method: 'GET', path: '/api/index' });
  out.push({ method: 'GET', path: '/api/health' });
  return out;
}

describe('every route under fuzzed input', () => {
  it('answers no 5xx, and every refusal in the one error model', async () => {
    const all = probes();
    const failures: string[] = [];
    let refused = 0;
    for (const p of all) {
      const res = await s.call(p.method, p.path, {
        ...(p.query ? { query: p.query } : {}),
        ...(p.body !== undefined ? { body: p.body } : {}),
      });
      const what = `${p.method} ${p.path.slice(0, 80)} ${JSON.stringify(p.query ?? p.body ?? '').slice(0, 80)}`;
      if (res.status >= 500) failures.push(`${res.status} ← ${what}: ${res.text.slice(0, 200)}`);
      if (/code=|runtime\/webhooks/.test(res.text)) failures.push(`system URL in body ← ${what}`);
      if (res.status >= 400 && res.status < 500 && res.text !== '') {
        // The host's own 404 for a path no route matches has no body; every app refusal has the model.
        const err = (res.json as { error?: { code?: string; message?: unknown } }).error;
        const code = err?.code as ErrorCode | undefined;
        if (!code || !(code in ERROR_STATUS) || ERROR_STATUS[code] !== res.status || typeof err?.message !== 'string') {
          failures.push(`${res.status} without the error model ← ${what}: ${res.text.slice(0, 200)}`);
        }
        refused++;
      }
    }
    expect(failures).toEqual([]);
    // The table really exercised refusals (not a run where every probe missed the routes).
    expect(all.length).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(all.length * 0.9);
  }, 600_000);

  it('names the field: whitespace and NUL ids, traversal in a task filter', async () => {
    await expect(s.call('GET', '/api/rebuilds/%20')).resolves.toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidInput', field: 'id' } },
    });
    await expect(s.call('POST', '/api/rebuilds/%09/cancel')).resolves.toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidInput', field: 'id' } },
    });
    await expect(s.call('GET', '/api/credentials', { query: { task: '../..' } })).resolves.toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidInput', field: 'task' } },
    });
    await expect(s.call('GET', '/api/index/tasks', { query: { task: 'myregistry/../x' } })).resolves.toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidInput', field: 'task' } },
    });
    await expect(s.call('GET', '/api/rebuilds/rebuild-nope')).resolves.toMatchObject({
      status: 404,
      json: { error: { code: 'NotFound' } },
    });
  });
});
