import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Z_975 } from '../../algorithms/dp/index.js';
import { normalCdf, normalQuantile } from '../../algorithms/stats/index.js';
import { PRODUCT_DIRS, PROJECT_ROOT, productSourceFiles, stripComments } from '../helpers/source-files.js';

/** The "1.96" of every stated 95% interval is defined once (issue 9 found it in 4 files) and is the right number. */
const LITERAL = /(?<![\d.])1\.9(?:59|6)\d*/;
const HOME = join('algorithms', 'dp', 'analysis', 'special-functions.ts');

function literalSites(files: { path: string; text: string }[]): string[] {
  return files.filter((f) => LITERAL.test(stripComments(f.text))).map((f) => f.path);
}

describe('Z_975, the 97.5% normal quantile', () => {
  it('is the standard normal quantile: Φ(Z) = 0.975 to 1e-15, and normalQuantile(0.975) agrees to 1e-12', () => {
    expect(Math.abs(normalCdf(Z_975) - 0.975)).toBeLessThan(1e-15);
    expect(Math.abs(normalQuantile(0.975) - Z_975)).toBeLessThan(1e-12);
  });

  it('is written as a number in one product file only', () => {
    const files = PRODUCT_DIRS.flatMap((d) => productSourceFiles(join(PROJECT_ROOT, d))).map((p) => ({ path: relative(PROJECT_ROOT, p), text: readFileSync(p, 'utf8') }));
    expect(literalSites(files)).toEqual([HOME]);
  });

  it('negative control: the scan finds a second definition and a rounded 1.96, not comments or other numbers', () => {
    const planted = [
      { path: 'a.ts', text: 'const Z = 1.959963984540054;' },
      { path: 'b.ts', text: 'const lo = v - 1.96 * s;' },
      { path: 'c.ts', text: '// ⌈1.96σ⌉ in a comment\nconst x = 21.96; const y = 1.9;' },
    ];
    expect(literalSites(planted)).toEqual(['a.ts', 'b.ts']);
  });
});
