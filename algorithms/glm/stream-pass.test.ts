/**
 * The stream pass (rows arriving in chunks from a cursor, issue 13) gives glmLocalStats' statistics bit for bit when
 * every chunk but the last has a multiple of 4 rows, and refuses a chunk after a misaligned one (which would change
 * the four-row blocks and so the bits). Negative control: a misaligned split, if it were allowed by adding the rows
 * one design at a time, gives other bits — so the bitwise comparison can fail.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { glmFamily, glmLocalStats, glmStatsToVector, sliceDesign, startGlmStreamPass, addLocalStats, type GlmDesign, type GlmFamilyName, type GlmRoundInput } from './index.js';

/** Public synthetic data (no privacy relevance). */
function design(seed: number, n: number, p: number, family: GlmFamilyName): GlmDesign {
  const rng = createSeededRng(seed);
  const u = (): number => rng.nextUint32() / 2 ** 32;
  const x = new Float64Array(n * p);
  const y = new Float64Array(n);
  const weights = new Float64Array(n);
  const offset = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i * p] = 1;
    for (let j = 1; j < p; j++) x[i * p + j] = 4 * u() - 2;
    weights[i] = 0.5 + u();
    offset[i] = 0.3 * u();
    y[i] = family === 'gaussian' ? 4 * u() - 2 : family === 'binomial' ? (u() < 0.4 ? 1 : 0) : Math.floor(5 * u());
  }
  return { n, p, x, y, weights, offset };
}

const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
const INPUTS: GlmRoundInput[] = [
  { round: 1, beta: null, nullBeta0: null },
  { round: 3, beta: [0.1, -0.3, 0.2, 0.05, -0.1], nullBeta0: -0.2 },
];

function streamed(d: GlmDesign, family: GlmFamilyName, input: GlmRoundInput, cuts: readonly number[], opts = {}): string {
  const pass = startGlmStreamPass(d.p, glmFamily(family), input, opts);
  let from = 0;
  for (const to of [...cuts, d.n]) {
    pass.add(sliceDesign(d, from, to));
    from = to;
  }
  return bits(glmStatsToVector(pass.finish()));
}

describe('startGlmStreamPass', () => {
  for (const family of ['gaussian', 'binomial', 'poisson'] as const) {
    it(`${family}: identical bits to one pass for chunks of 4, 8, 1000 rows and a short last chunk, with and without an η clamp`, () => {
      const d = design(11, 1003, 5, family);
      for (const input of INPUTS) {
        for (const opts of [{}, { etaClamp: [-1, 1] as const }]) {
          const want = bits(glmStatsToVector(glmLocalStats(d, glmFamily(family), input, opts)));
          for (const size of [4, 8, 1000]) {
            const cuts = Array.from({ length: Math.floor((d.n - 1) / size) }, (_, k) => (k + 1) * size);
            expect(streamed(d, family, input, cuts, opts)).toBe(want);
          }
          // Empty chunks are no-ops; one chunk is the whole design.
          expect(streamed(d, family, input, [0, 0, 500, 500], opts)).toBe(want);
          // Negative control: two parties' sums over a misaligned split (rows 0–2, 3–1002) are the same sums in
          // another grouping, and differ in some bit.
          const split = addLocalStats(glmLocalStats(sliceDesign(d, 0, 3), glmFamily(family), input, opts), glmLocalStats(sliceDesign(d, 3, d.n), glmFamily(family), input, opts));
          expect(bits(glmStatsToVector(split))).not.toBe(want);
        }
      }
    });
  }

  it('refuses a chunk after one whose length is not a multiple of 4, and a chunk of another width', () => {
    const d = design(3, 20, 5, 'binomial');
    const pass = startGlmStreamPass(5, glmFamily('binomial'), INPUTS[0]!);
    pass.add(sliceDesign(d, 0, 6));
    expect(() => pass.add(sliceDesign(d, 6, 20))).toThrow(/multiple of 4/);
    const other = startGlmStreamPass(4, glmFamily('binomial'), INPUTS[0]!);
    expect(() => other.add(d)).toThrow(/p = 5, expected 4/);
  });
});
