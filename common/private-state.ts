/**
 * Owner-only modes for state folders and files. A coordinator's state holds every researcher's budget and results;
 * an agent's holds patient data, its contribution-bounding salt and its identity key: nobody else on the machine
 * may read them. Folders are 0700, files 0600; existing ones are tightened (and reported) at start.
 */
import { chmodSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) as 0700, or tightens an existing one to 0700.
 * @returns whether an existing folder's mode had to be tightened
 */
export function ensurePrivateDir(dir: string): boolean {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // mkdir's mode is masked by the umask; set it exactly.
    chmodSync(dir, PRIVATE_DIR_MODE);
    return false;
  }
  if ((statSync(dir).mode & 0o777) === PRIVATE_DIR_MODE) return false;
  chmodSync(dir, PRIVATE_DIR_MODE);
  return true;
}

/**
 * Sets each existing file among `paths` to 0600.
 * @returns the files whose mode had to be tightened
 */
export function restrictFiles(paths: readonly string[]): string[] {
  const changed: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    if ((statSync(p).mode & 0o777) === PRIVATE_FILE_MODE) continue;
    chmodSync(p, PRIVATE_FILE_MODE);
    changed.push(p);
  }
  return changed;
}

/**
 * Replaces a private (0600) file durably: a temporary file beside it, fdatasync, rename over the old one, fsync of the
 * folder. A crash leaves the old content or the new one, never a torn file.
 */
export async function replaceFileDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  // A new file, never through a link planted at the temporary name (it would overwrite the link's target, and the
  // rename would then put the link in place): remove whatever is there, then create exclusively, not following links.
  await rm(tmp, { force: true });
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, PRIVATE_FILE_MODE);
  try {
    await fh.chmod(PRIVATE_FILE_MODE);
    await fh.writeFile(text);
    await fh.datasync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
