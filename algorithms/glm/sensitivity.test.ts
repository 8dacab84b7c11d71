/**
 * The stated per-person sensitivities hold: for rows drawn inside the declared bounds (corners included) and any
 * public β (large values included, so the η clamp is hit), one person's k rows never move a block by more than
 * the stated L2 (and L1). Negative controls: without the clamp, or with a covariate outside its declared bounds,
 * the bound is exceeded.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { glmFamily, glmLocalStats, glmRoundSensitivity, glmStatLayout, glmStatsToVector, type GlmFamilyName, type GlmLocalOptions, type GlmRoundInput, type GlmSensitivity } from './index.js';

type Bounds = readonly (readonly [number, number])[];

function norms(values: Float64Array, p: number): Map<string, { l1: number; l2: number }> {
  const out = new Map<string, { l1: number; l2: number }>();
  for (const b of glmStatLayout(p)) {
    let l1 = 0;
    let l2 = 0;
    for (let i = b.offset; i < b.offset + b.length; i++) {
      l1 += Math.abs(values[i]!);
      l2 += values[i]! ** 2;
    }
    out.set(b.name, { l1, l2: Math.sqrt(l2) });
  }
  return out;
}

/** Worst ratio (observed / stated) over blocks for one person's rows; ≤ 1 means the bound held. */
function worstRatio(family: GlmFamilyName, rows: number[][], ys: number[], input: GlmRoundInput, sens: GlmSensitivity, options: GlmLocalOptions): number {
  const p = rows[0]!.length;
  const s = glmLocalStats({ n: rows.length, p, x: Float64Array.from(rows.flat()), y: Float64Array.from(ys) }, glmFamily(family), input, options);
  const stated = input.round === 1 ? sens.round1 : sens.later;
  let worst = 0;
  for (const [name, n] of norms(glmStatsToVector(s), p)) {
    const b = stated[name as keyof typeof stated];
    if (b.l2Sq === 0) {
      if (n.l2 > 0) return Infinity;
      continue;
    }
    worst = Math.max(worst, n.l2 / Math.sqrt(b.l2Sq) * (1 - 1e-12), n.l1 / b.l1 * (1 - 1e-12));
  }
  return worst;
}

function draw(rng: ReturnType<typeof createSeededRng>, bounds: Bounds, corner: boolean): number[] {
  return bounds.map(([lo, hi]) => {
    const u = rng.nextUint32() / 2 ** 32;
    return corner ? (u < 0.5 ? lo : hi) : lo + u * (hi - lo);
  });
}

const BOUNDS: Bounds = [
  [1, 1],
  [-3, 5],
  [0, 1],
  [0, 1],
  [20, 90],
];
const OUTCOME: Record<GlmFamilyName, readonly [number, number]> = { gaussian: [-10, 40], binomial: [0, 1], poisson: [0, 30] };

describe('glmRoundSensitivity', () => {
  for (const family of ['gaussian', 'binomial', 'poisson'] as const) {
    it(`${family}: one person's k rows stay within the stated L1 and L2 in every block, every round`, () => {
      const rng = createSeededRng(`sens-${family}`);
      const k = 3;
      const sens = glmRoundSensitivity(family, BOUNDS, OUTCOME[family], k);
      const options = { etaClamp: sens.etaClamp };
      const [ylo, yhi] = OUTCOME[family];
      let worst = 0;
      for (let trial = 0; trial < 400; trial++) {
        const corner = trial % 2 === 0;
        const rows = Array.from({ length: k }, () => draw(rng, BOUNDS, corner));
        const ys = rows.map(() => {
          const u = rng.nextUint32() / 2 ** 32;
          if (family === 'binomial') return u < 0.5 ? 0 : 1;
          if (family === 'poisson') return corner ? (u < 0.5 ? 0 : yhi) : Math.floor(u * (yhi + 1));
          return corner ? (u < 0.5 ? ylo : yhi) : ylo + u * (yhi - ylo);
        });
        const scale = trial % 3 === 0 ? 50 : 1;
        const beta = BOUNDS.map(() => scale * ((rng.nextUint32() / 2 ** 32) * 2 - 1));
        const input: GlmRoundInput = trial % 4 === 0 ? { round: 1, beta: null, nullBeta0: null } : { round: 2, beta, nullBeta0: beta[0]! };
        worst = Math.max(worst, worstRatio(family, rows, ys, input, sens, options));
      }
      expect(worst).toBeLessThanOrEqual(1);
      // Not vacuous: the bound is approached (within a factor 20) somewhere.
      expect(worst).toBeGreaterThan(0.05);
    });
  }

  it('negative control: without the η clamp a poisson row exceeds the stated score bound', () => {
    const sens = glmRoundSensitivity('poisson', BOUNDS, OUTCOME.poisson, 1);
    const beta = [0, 2, 0, 0, 0.1];
    const r = worstRatio('poisson', [[1, 5, 0, 0, 90]], [0], { round: 2, beta, nullBeta0: null }, sens, {});
    expect(r).toBeGreaterThan(1);
  });

  it('negative control: a covariate outside its declared bounds exceeds the stated information bound', () => {
    const sens = glmRoundSensitivity('binomial', BOUNDS, OUTCOME.binomial, 1);
    const r = worstRatio('binomial', [[1, 50, 1, 1, 900]], [1], { round: 2, beta: [0, 0, 0, 0, 0], nullBeta0: null }, sens, { etaClamp: sens.etaClamp });
    expect(r).toBeGreaterThan(1);
  });

  it('scales as k² in l2Sq and refuses bad inputs', () => {
    const one = glmRoundSensitivity('binomial', BOUNDS, [0, 1], 1);
    const four = glmRoundSensitivity('binomial', BOUNDS, [0, 1], 4);
    expect(four.later.info.l2Sq / one.later.info.l2Sq).toBeCloseTo(16, 10);
    expect(() => glmRoundSensitivity('binomial', BOUNDS, [0, 2], 1)).toThrow(/binomial outcome/);
    expect(() => glmRoundSensitivity('poisson', [[1, 0]], [0, 5], 1)).toThrow(/covariateBounds\[0\]/);
    expect(() => glmRoundSensitivity('gaussian', BOUNDS, [0, 5], 0)).toThrow(/maxRowsPerPerson/);
  });
});
