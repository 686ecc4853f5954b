import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, JournalClosedError, journalFileName, readJournal } from '../../local/host/durable/journal.js';
import type { JournalRecord } from '../../local/host/durable/state.js';
import { tempDir } from './helpers.js';

const msg = (seq: number): JournalRecord => ({
  t: 'msg',
  m: { seq, ev: { EventType: 15, EventId: -1, Timestamp: '2024-01-01T00:00:00.000Z', Name: `e${seq}` } },
});

describe('instance journal', () => {
  it('drops a torn last line and truncates it, so the next append starts on a clean line', async () => {
    const file = path.join(await tempDir('journal'), 'a.jsonl');
    await writeFile(file, `${JSON.stringify(msg(0))}\n${JSON.stringify(msg(1))}\n{"t":"msg","m":{"seq":2,"ev`);
    expect(await readJournal(file)).toEqual([msg(0), msg(1)]);
    const journal = new Journal(file);
    await journal.append(msg(2), () => {});
    expect(await readJournal(file)).toEqual([msg(0), msg(1), msg(2)]);
  });

  it('reports a corrupt line in the middle with the file and line number', async () => {
    const file = path.join(await tempDir('journal'), 'b.jsonl');
    await writeFile(file, `${JSON.stringify(msg(0))}\nnot json\n${JSON.stringify(msg(2))}\n`);
    await expect(readJournal(file)).rejects.toThrow(`${file}: corrupt journal line 2`);
  });

  it('makes appends durable in submission order and builds a replacement after earlier appends', async () => {
    const file = path.join(await tempDir('journal'), 'c.jsonl');
    const journal = new Journal(file);
    const applied: number[] = [];
    const writes = Array.from({ length: 40 }, (_, i) =>
      journal.append(msg(i), (r) => applied.push((r as { m: { seq: number } }).m.seq)),
    );
    let seenBeforeReplace = -1;
    const replaced = journal.replace(
      () => {
        seenBeforeReplace = applied.length;
        return msg(99);
      },
      () => {},
    );
    await Promise.all([...writes, replaced]);
    expect(applied).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seenBeforeReplace).toBe(40);
    expect(await readFile(file, 'utf8')).toBe(`${JSON.stringify(msg(99))}\n`);
    await journal.close();
    await expect(journal.append(msg(100), () => {})).rejects.toBeInstanceOf(JournalClosedError);
  });

  it('names files by instance id safely and distinctly', () => {
    expect(journalFileName('parent:0')).toMatch(/^parent_0-[0-9a-f]{16}\.jsonl$/);
    expect(journalFileName('Abc')).not.toBe(journalFileName('abc'));
  });

  it('accepts a file whose last record lacks only its newline as torn, not corrupt', async () => {
    const file = path.join(await tempDir('journal'), 'd.jsonl');
    await writeFile(file, `${JSON.stringify(msg(0))}\n`);
    await appendFile(file, JSON.stringify(msg(1)));
    expect(await readJournal(file)).toEqual([msg(0)]);
  });
});
