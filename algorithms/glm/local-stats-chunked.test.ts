/**
 * The chunked local step gives glmLocalStats' statistics bit for bit for any chunk size (rows visited in the same
 * order, four-row blocks carried across chunk boundaries), and really yields to the event loop between chunks.
 * Negative controls: the same rows in another order differ in some bit (so the bitwise comparison can fail), and
 * the one-pass version lets no timer callback run while it computes.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { glmFamily, glmLocalStats, glmLocalStatsChunked, glmStatsToVector, type GlmDesign, type GlmFamilyName, type GlmRoundInput } from './index.js';

/** Public synthetic data (no privacy relevance): x uniform in [−2, 2], outcome valid for the family. */
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

function reversed(d: GlmDesign): GlmDesign {
  const idx = Array.from({ length: d.n }, (_, i) => d.n - 1 - i);
  const x = new Float64Array(d.x.length);
  idx.forEach((src, i) => x.set(d.x.subarray(src * d.p, (src + 1) * d.p), i * d.p));
  const pick = (a: Float64Array | undefined) => (a ? Float64Array.from(idx, (i) => a[i]!) : undefined);
  return { n: d.n, p: d.p, x, y: pick(d.y)!, weights: pick(d.weights)!, offset: pick(d.offset)! };
}

const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
const INPUTS: GlmRoundInput[] = [
  { round: 1, beta: null, nullBeta0: null },
  { round: 2, beta: [0.1, -0.3, 0.2, 0.05, -0.1], nullBeta0: -0.2 },
];

describe('glmLocalStatsChunked', () => {
  for (const family of ['gaussian', 'binomial', 'poisson'] as const) {
    it(`${family}: identical bits to one pass for chunk sizes 1, 3, 5, 7, 1000 and the default, with and without an η clamp`, async () => {
      const d = design(7, 1003, 5, family);
      for (const input of INPUTS) {
        for (const opts of [{}, { etaClamp: [-1, 1] as const }]) {
          const want = bits(glmStatsToVector(glmLocalStats(d, glmFamily(family), input, opts)));
          for (const chunkRows of [1, 3, 5, 7, 1000, undefined]) {
            const got = await glmLocalStatsChunked(d, glmFamily(family), input, opts, chunkRows === undefined ? {} : { chunkRows });
            expect(bits(glmStatsToVector(got))).toBe(want);
          }
          // Negative control: the same rows in reverse order differ in some bit.
          expect(bits(glmStatsToVector(glmLocalStats(reversed(d), glmFamily(family), input, opts)))).not.toBe(want);
        }
      }
    });
  }

  it('yields to the event loop between chunks (the one-pass version does not)', async () => {
    const d = design(3, 20_000, 5, 'binomial');
    let ticks = 0;
    let on = true;
    const tick = (): void => {
      ticks++;
      if (on) setImmediate(tick);
    };
    setImmediate(tick);
    await glmLocalStatsChunked(d, glmFamily('binomial'), INPUTS[0]!, {}, { chunkRows: 1000 });
    const chunked = ticks;
    ticks = 0;
    glmLocalStats(d, glmFamily('binomial'), INPUTS[0]!);
    const onePass = ticks;
    on = false;
    // 20 chunks: 19 yields, each lets the ticker run once (give or take the first).
    expect(chunked).toBeGreaterThanOrEqual(18);
    expect(onePass).toBe(0);
  });

  it('stops at an aborted signal and refuses a bad chunk size', async () => {
    const d = design(5, 5000, 3, 'gaussian');
    const ac = new AbortController();
    const run = glmLocalStatsChunked(d, glmFamily('gaussian'), INPUTS[0]!, {}, { chunkRows: 100, signal: ac.signal });
    ac.abort(new Error('deadline'));
    await expect(run).rejects.toThrow('deadline');
    await expect(glmLocalStatsChunked(d, glmFamily('gaussian'), INPUTS[0]!, {}, { chunkRows: 0 })).rejects.toThrow(/chunkRows/);
  });
});
