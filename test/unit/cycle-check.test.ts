import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/source-files.js';

const run = promisify(execFile);

/**
 * `npm run check:cycles` must catch type-only cycles too (ARCHITECTURE.md: "No cycles, type-only ones included").
 * dpdm's `-T` (`--transform`) compiles type imports away before it looks, which is how the type-only cycle
 * spec.ts ↔ cohort-jobs.ts went unseen. This runs dpdm with the script's own flags on two tiny fixtures.
 */
const script = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['check:cycles']!;
/** The script's flags, without its file globs. */
const flags = script
  .split(/\s+/)
  .slice(1)
  .filter((a) => !a.startsWith("'"));
const dpdm = join(PROJECT_ROOT, 'node_modules', '.bin', 'dpdm');

/** The fixture resolves `./b.js` to `b.ts` as the project does (NodeNext). */
const TSCONFIG = JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } });

async function exitCode(files: Record<string, string>, extraFlags: string[] = []): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-cycles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries({ 'tsconfig.json': TSCONFIG, ...files })) writeFileSync(join(dir, name), text);
  try {
    await run(dpdm, [...flags, ...extraFlags, 'a.ts'], { cwd: dir });
    return 0;
  } catch (e) {
    return (e as { code: number }).code;
  }
}
const dirs: string[] = [];

describe('the cycle check', () => {
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('does not transform type imports away', () => {
    expect(script.startsWith('dpdm ')).toBe(true);
    expect(flags).not.toContain('-T');
    expect(flags).not.toContain('--transform');
    expect(flags.join(' ')).toContain('--exit-code circular:1');
  });

  const cyclic = { 'a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n", 'b.ts': "import type { A } from './a.js';\nexport type B = { a?: A };\n" };

  it('fails on a cycle made of type-only imports', async () => {
    expect(await exitCode(cyclic)).toBe(1);
  });

  it('negative control: with -T, as before, the same type-only cycle passes unseen', async () => {
    expect(await exitCode(cyclic, ['-T'])).toBe(0);
  });

  it('negative control: passes the same files once the shared type is in a leaf', async () => {
    const leaf = { 'a.ts': "import type { B } from './b.js';\nexport type A = { b?: B };\n", 'b.ts': "import type { Leaf } from './leaf.js';\nexport type B = { leaf?: Leaf };\n", 'leaf.ts': 'export type Leaf = string;\n' };
    expect(await exitCode(leaf)).toBe(0);
  });
});
