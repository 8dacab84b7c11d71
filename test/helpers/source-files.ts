import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (this file is test/helpers/source-files.ts). */
export const PROJECT_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** The folders that ship (see package.json "files"): what production runs. */
export const PRODUCT_DIRS = ['algorithms', 'common', 'coordinator', 'node-agent', 'client'];

export function isTestFile(path: string): boolean {
  return /\.(test|spec|stat\.test|bench)\.[cm]?[jt]s$/.test(path) || path.split(sep).includes('__tests__');
}

/** Source files (not tests) under `dir`, recursively; a missing folder gives none. */
export function productSourceFiles(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out; // a product folder may not exist yet
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) productSourceFiles(p, out);
    else if (/\.[cm]?[jt]sx?$/.test(name) && !isTestFile(p)) out.push(p);
  }
  return out;
}

/** Source text without comments (so documentation may name what the code must not use). */
export function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}
