import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

/**
 * The TypeScript files `entry` reaches through relative imports: static `import`/`export … from`, dynamic `import()`
 * and any call on a relative `.js` path (a createRequire function under any name, `new URL(…)`), comments left out.
 * Paths relative to `root`; a path that names no file is skipped.
 */
export function importClosure(entry: string, root: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*|\(\s*)['"](\.{1,2}\/[^'"]+\.js)['"]/g)) stack.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return [...seen].map((f) => relative(root, f));
}
