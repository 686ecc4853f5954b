// Per-instance append-only journal (JSON lines). Each event costs one small append + fdatasync, so an episode's
// I/O does not grow with the history and never touches other instances' files. Appends queued while a write is in
// flight are committed together (group commit). A whole-file replacement (creation, continue-as-new) goes through
// temp file + rename.
import { createHash } from 'node:crypto';
import { open, readdir, readFile, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../fs-util.js';
import type { JournalRecord } from './state.js';

export const JOURNAL_SUFFIX = '.jsonl';

/** A file name for an instance id: readable prefix + hash, safe on case-insensitive file systems. */
export function journalFileName(instanceId: string): string {
  const readable = instanceId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  const hash = createHash('sha256').update(instanceId).digest('hex').slice(0, 16);
  return `${readable}-${hash}${JOURNAL_SUFFIX}`;
}

type Op<R> =
  | { kind: 'append'; rec: R; onDurable: (rec: R) => void }
  | { kind: 'replace'; build: () => R; onDurable: (rec: R) => void }
  | { kind: 'remove' };

interface Queued<R> {
  op: Op<R>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class JournalClosedError extends Error {
  constructor(file: string) {
    super(`journal ${file} is closed`);
    this.name = 'JournalClosedError';
  }
}

/** `R` is the record type: orchestration records by default, entity records for entity journals. */
export class Journal<R = JournalRecord> {
  readonly file: string;
  readonly #queue: Queued<R>[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(file: string) {
    this.file = file;
  }

  /** Appends a record; `onDurable` runs (in queue order) once it is on disk. */
  append(rec: R, onDurable: (rec: R) => void): Promise<void> {
    return this.#push({ kind: 'append', rec, onDurable });
  }

  /** Replaces the whole file with one record built when earlier queued writes are done. */
  replace(build: () => R, onDurable: (rec: R) => void): Promise<void> {
    return this.#push({ kind: 'replace', build, onDurable });
  }

  remove(): Promise<void> {
    return this.#push({ kind: 'remove' });
  }

  /** Finishes queued writes, then refuses new ones. */
  async close(): Promise<void> {
    await this.#draining;
    this.#closed = true;
  }

  #push(op: Op<R>): Promise<void> {
    if (this.#closed) return Promise.reject(new JournalClosedError(this.file));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#draining ??= this.#drain().finally(() => {
        this.#draining = undefined;
      });
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.op.kind === 'append') {
        let n = 0;
        while (n < this.#queue.length && this.#queue[n]!.op.kind === 'append') n++;
        const batch = this.#queue.splice(0, n);
        try {
          const text = batch.map((q) => JSON.stringify((q.op as { rec: R }).rec) + '\n').join('');
          const handle = await open(this.file, 'a');
          try {
            await handle.write(text);
            await handle.datasync();
          } finally {
            await handle.close();
          }
        } catch (err) {
          for (const q of batch) q.reject(err as Error);
          continue;
        }
        for (const q of batch) this.#settle(q, (q.op as { rec: R }).rec);
      } else {
        this.#queue.shift();
        try {
          if (head.op.kind === 'replace') {
            const rec = head.op.build();
            await writeFileAtomic(this.file, JSON.stringify(rec) + '\n');
            this.#settle(head, rec);
          } else {
            await unlink(this.file).catch((err: NodeJS.ErrnoException) => {
              if (err.code !== 'ENOENT') throw err;
            });
            head.resolve();
          }
        } catch (err) {
          head.reject(err as Error);
        }
      }
    }
  }

  #settle(q: Queued<R>, rec: R): void {
    try {
      (q.op as { onDurable: (rec: R) => void }).onDurable(rec);
      q.resolve();
    } catch (err) {
      q.reject(err as Error);
    }
  }
}

/**
 * Reads a journal. A torn last line (a write cut short by a crash) is dropped and truncated away so later appends
 * start on a clean line; a bad line anywhere else is corruption and throws.
 */
export async function readJournal<R = JournalRecord>(file: string): Promise<R[]> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const records: R[] = [];
  let lastNonEmpty = lines.length - 1;
  while (lastNonEmpty >= 0 && lines[lastNonEmpty]!.trim() === '') lastNonEmpty--;
  let validBytes = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const terminated = i < lines.length - 1;
    if (line.trim() === '') {
      if (terminated) validBytes += Buffer.byteLength(line) + 1;
      continue;
    }
    let rec: R;
    try {
      rec = JSON.parse(line) as R;
    } catch (err) {
      if (i === lastNonEmpty) break; // torn tail
      throw new Error(`${file}: corrupt journal line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
    // Every record is written with its newline in one write; without it the write was cut short.
    if (!terminated) break;
    records.push(rec);
    validBytes += Buffer.byteLength(line) + 1;
  }
  if (validBytes < Buffer.byteLength(text)) await truncate(file, validBytes);
  return records;
}

export async function listJournals(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => n.endsWith(JOURNAL_SUFFIX)).map((n) => path.join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
