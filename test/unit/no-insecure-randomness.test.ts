import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRODUCT_DIRS, PROJECT_ROOT as ROOT, productSourceFiles, stripComments } from '../helpers/source-files.js';

/**
 * Privacy noise must come from the injected Rng (a CSPRNG in production) and the exact samplers. This scans the
 * product source (not tests) for insecure or floating-point randomness:
 *  - anywhere in algorithms/, common/, coordinator/, node-agent/, client/: Math.random, tf.random*, randomNormal,
 *    randomUniform;
 *  - in algorithms/dp/ outside accounting/ and analysis/ (the sampling path: samplers, grid, mechanisms,
 *    distributed shares): any Math.log / log1p / log2 / log10 call, the tell-tale of −b·ln(u) noise.
 */
const FORBIDDEN_EVERYWHERE: [RegExp, string][] = [
  [/Math\s*\.\s*random\b/, 'Math.random'],
  [/\btf\s*\.\s*random\w*/, 'tf.random*'],
  [/\brandomNormal\b/, 'randomNormal'],
  [/\brandomUniform\b/, 'randomUniform'],
];
const FORBIDDEN_IN_DP_SAMPLING: [RegExp, string][] = [[/Math\s*\.\s*log(1p|2|10)?\s*\(/, 'Math.log(']];
const DP_FLOAT_ALLOWED = [join('algorithms', 'dp', 'accounting') + sep, join('algorithms', 'dp', 'analysis') + sep];

function findViolations(files: { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    const code = stripComments(text);
    const rel = path;
    const rules = [...FORBIDDEN_EVERYWHERE];
    const inDp = rel.startsWith(join('algorithms', 'dp') + sep);
    if (inDp && !DP_FLOAT_ALLOWED.some((d) => rel.startsWith(d))) rules.push(...FORBIDDEN_IN_DP_SAMPLING);
    for (const [re, label] of rules) if (re.test(code)) found.push(`${rel}: ${label}`);
  }
  return found;
}

describe('no insecure randomness in product code', () => {
  it('finds no Math.random, tf.random*, randomNormal, randomUniform, or Math.log in DP sampling files', () => {
    const files: string[] = [];
    for (const d of PRODUCT_DIRS) productSourceFiles(join(ROOT, d), files);
    expect(files.length).toBeGreaterThan(0);
    const violations = findViolations(files.map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') })));
    expect(violations).toEqual([]);
  });

  it('negative control: the scanner flags planted violations', () => {
    const planted = [
      { path: join('common', 'x.ts'), text: 'const u = Math.random();' },
      { path: join('node-agent', 'y.ts'), text: 'tf.randomNormal([2])' },
      { path: join('algorithms', 'dp', 'sampling', 'z.ts'), text: 'const x = -b * Math.log(u);' },
      { path: join('algorithms', 'dp', 'accounting', 'ok.ts'), text: 'const e = Math.log(1 / delta);' },
      { path: join('client', 'doc.ts'), text: '// Math.random is never used' },
    ];
    expect(findViolations(planted)).toEqual([
      `${join('common', 'x.ts')}: Math.random`,
      `${join('node-agent', 'y.ts')}: tf.random*`,
      `${join('node-agent', 'y.ts')}: randomNormal`,
      `${join('algorithms', 'dp', 'sampling', 'z.ts')}: Math.log(`,
    ]);
  });
});
