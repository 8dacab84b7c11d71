/**
 * Owner-only modes for state folders and files. A coordinator's state holds every researcher's budget and results;
 * an agent's holds patient data, its contribution-bounding salt and its identity key: nobody else on the machine
 * may read them. Folders are 0700, files 0600; existing ones are tightened (and reported) at start.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';

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
