/**
 * What the agent accepts as a data file in its `--data` folder: a regular file, reached directly or through a
 * symbolic link (a data folder often links to files kept elsewhere), no larger than a stated bound. A link that
 * dangles, loops, or leads to a folder, device, FIFO or socket is refused with a reason the operator can act on,
 * never followed and never a crash.
 */
import { lstat, stat } from 'node:fs/promises';

/** The largest data file the agent reads (64 GiB): a bound on what one file may make DuckDB scan. */
export const MAX_DATA_FILE_BYTES = 64 * 1024 ** 3;

export type DataFileCheck =
  | { ok: true; size: number; mtimeMs: number; symlink: boolean }
  | { ok: false; reason: string };

/**
 * Checks one entry of the data folder.
 * @param maxBytes the size bound, @default MAX_DATA_FILE_BYTES
 */
export async function checkDataFile(path: string, maxBytes: number = MAX_DATA_FILE_BYTES): Promise<DataFileCheck> {
  let link;
  try {
    link = await lstat(path);
  } catch (e) {
    return { ok: false, reason: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const symlink = link.isSymbolicLink();
  let target = link;
  if (symlink) {
    try {
      target = await stat(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return { ok: false, reason: 'symbolic link loop; not followed' };
      if (code === 'ENOENT') return { ok: false, reason: 'symbolic link to nothing (dangling); not followed' };
      return { ok: false, reason: `symbolic link cannot be followed (${code ?? 'error'})` };
    }
    if (target.isDirectory()) return { ok: false, reason: 'symbolic link to a folder; only links to files are followed' };
  }
  if (!target.isFile()) return { ok: false, reason: `${symlink ? 'symbolic link to ' : ''}not a regular file (device, FIFO or socket); not read` };
  if (target.size > maxBytes) return { ok: false, reason: `${target.size} bytes, larger than the ${maxBytes} bytes a data file may have; not read` };
  return { ok: true, size: target.size, mtimeMs: target.mtimeMs, symlink };
}
