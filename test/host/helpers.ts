// Shared helpers for the host's tests: temp folders, fixture copies, polling.
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, 'fixtures');

/** Fixture copies live outside the repo; this lets their `require('@azure/functions')` find the project's copy. */
export const NODE_PATH_ENV = { NODE_PATH: path.resolve(__dirname, '../../node_modules') };

let counter = 0;

export function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `host-${label}-${++counter}-`));
}

/** Copies a fixture app to a temp folder and adds files (local.settings.json is git-ignored, so tests write it). */
export async function copyFixture(name: string, files: Record<string, unknown> = {}): Promise<string> {
  const dir = await tempDir(name);
  await cp(path.join(FIXTURES, name), dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(path.join(dir, file), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** Polls `read` until `done` accepts its value; fails with the last value after the deadline. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 20_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs}ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function requestJson<T = unknown>(url: string, init: RequestInit = {}): Promise<JsonResponse<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: body as T };
}
