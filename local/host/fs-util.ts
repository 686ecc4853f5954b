// Crash-safe file writes: write a temp file, fsync it, rename over the target, fsync the directory.
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

let tmpCounter = 0;

export async function fsyncDir(dir: string): Promise<void> {
  // Directory fsync makes a rename durable; some platforms (Windows) cannot open directories, which is fine.
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}

export async function writeFileAtomic(file: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.datasync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(path.dirname(file));
}
