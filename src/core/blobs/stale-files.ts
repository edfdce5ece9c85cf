// Temp files that a process left behind when it died while receiving content (a crash, a kill, a power cut in
// the middle of a publish). A live write keeps its file's modification time fresh, so a file untouched for the
// whole grace period belongs to nobody.
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface Swept {
  files: number;
  bytes: number;
}

/** Removes (unless `dryRun`) the files under `dir`, at any depth, last modified before `beforeMs`. Folders stay. */
export async function removeStaleFiles(dir: string, beforeMs: number, dryRun: boolean): Promise<Swept> {
  const out: Swept = { files: 0, bytes: 0 };
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const sub = await removeStaleFiles(p, beforeMs, dryRun);
      out.files += sub.files;
      out.bytes += sub.bytes;
      continue;
    }
    const st = await fsp.lstat(p).catch(() => null);
    if (!st || st.mtimeMs >= beforeMs) continue;
    if (!dryRun) {
      try {
        await fsp.rm(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // finished or cancelled meanwhile
        throw err;
      }
    }
    out.files += 1;
    out.bytes += st.size;
  }
  return out;
}
