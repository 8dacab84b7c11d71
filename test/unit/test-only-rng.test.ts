import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { createServerRng } from '../../common/crypto-rng.js';
import { PRODUCT_DIRS, PROJECT_ROOT, productSourceFiles, stripComments } from '../helpers/source-files.js';

/**
 * The golden tests inject a seeded Rng through the `testOnlyRng` constructor option of the coordinator and the
 * agent. Production must never reach it: the only product code that names it is the two declarations and the one
 * line each that hands it to `createServerRng`; no CLI command, config reader or environment variable sets it.
 */
const ALLOWED: Record<string, RegExp> = {
  [join('coordinator', 'coordinator.ts')]: /^\s*(.*createServerRng\(options\.testOnlyRng\).*)$/,
  [join('coordinator', 'options.ts')]: /^\s*(testOnlyRng\?: Rng;)$/,
  [join('node-agent', 'agent.ts')]: /^\s*(testOnlyRng\?: Rng;|this\.rng = createServerRng\(options\.testOnlyRng\);)$/,
};

function seamUses(files: { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    const lines = stripComments(text).split('\n');
    lines.forEach((line, i) => {
      if (!/testOnlyRng|(?<!function )createServerRng\([^)]/.test(line)) return;
      if (ALLOWED[path]?.test(line)) return;
      found.push(`${path}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  return found;
}

describe('the test-only Rng seam', () => {
  it('is named by no product code other than its two declarations and hand-overs (so the CLI cannot set it)', () => {
    const files = PRODUCT_DIRS.flatMap((d) => productSourceFiles(join(PROJECT_ROOT, d))).concat(productSourceFiles(join(PROJECT_ROOT, 'benchmarks')));
    const texts = files.map((p) => ({ path: relative(PROJECT_ROOT, p), text: readFileSync(p, 'utf8') }));
    expect(seamUses(texts)).toEqual([]);
    // Positive control on the real files: both declarations and both hand-overs are where the scanner looks.
    const named = texts.filter((t) => /testOnlyRng/.test(stripComments(t.text))).map((t) => t.path).sort();
    expect(named).toEqual(Object.keys(ALLOWED).sort());
    expect(texts.some((t) => /process\.env[^\n]*(testOnlyRng|seed)/i.test(stripComments(t.text)))).toBe(false);
  });

  it('negative control: the scanner flags a CLI or an environment variable setting it', () => {
    const planted = [
      { path: join('client', 'commands', 'servers.ts'), text: 'Coordinator.create({ stateDir, testOnlyRng: createSeededRng(1) });' },
      { path: join('node-agent', 'agent.ts'), text: 'this.rng = createServerRng(options.testOnlyRng ?? seedFrom(process.env.FEDMESH_SEED));' },
      { path: join('common', 'x.ts'), text: 'const r = createServerRng(createSeededRng(2));' },
      { path: join('node-agent', 'agent.ts'), text: '  testOnlyRng?: Rng;' },
    ];
    expect(seamUses(planted).map((f) => f.split(':')[0])).toEqual([planted[0]!.path, planted[1]!.path, planted[2]!.path]);
  });

  it('createServerRng: without the seam, two servers draw independent bytes; with it, the same seed replays', () => {
    const a = createServerRng().fill(new Uint8Array(32));
    const b = createServerRng().fill(new Uint8Array(32));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false); // 2^-256 chance of a false failure
    const s1 = createServerRng(createSeededRng('golden')).fill(new Uint8Array(64));
    const s2 = createServerRng(createSeededRng('golden')).fill(new Uint8Array(64));
    expect(Buffer.from(s1).equals(Buffer.from(s2))).toBe(true);
    const other = createServerRng(createSeededRng('other')).fill(new Uint8Array(64));
    expect(Buffer.from(s1).equals(Buffer.from(other))).toBe(false);
  });
});
