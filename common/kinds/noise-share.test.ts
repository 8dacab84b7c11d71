import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { KindJobCommon } from './kind.js';
import { jobRho, rhoOfBlock, rhoPerBlock } from './noise-calibration.js';
import { CENTRAL_DP_MODE } from './privacy-modes.js';
import type { StatLayout } from './stat-layout.js';

/** An L2-bounded update block (sum of per-example gradients clipped to C) that gets 7 of 8 shares, and a count. */
const C = 2;
const D = 50;
const layout: StatLayout = {
  blocks: [
    { name: 'grad', length: D, perAgent: { lo: -1e6, hi: 1e6 }, sensitivity: { l1: C * Math.sqrt(D), l2Sq: C * C }, release: 'additive', rhoShare: 7 },
    { name: 'n', length: 1, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'additive' },
    { name: 'pub', length: 1, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 0, l2Sq: 0 }, release: 'additive', rhoShare: 100 },
  ],
};
const job: KindJobCommon = { kind: 't', product: 'p', privacy: { mode: 'central-dp', epsilon: 4, delta: 1e-5 }, secure: 'plain', maxRounds: 10, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1 };

describe('per-block ρ shares (L2-bounded blocks of unequal weight)', () => {
  it('the noisy blocks\' shares add up to the round\'s ρ (a public block takes none); without shares it is the even split', () => {
    const perRound = jobRho(job) / job.maxRounds;
    const [g, n] = layout.blocks;
    expect(rhoOfBlock(job, layout, g!)).toBeCloseTo((perRound * 7) / 8, 15);
    expect(rhoOfBlock(job, layout, g!) + rhoOfBlock(job, layout, n!)).toBeCloseTo(perRound, 15);
    const even: StatLayout = { blocks: layout.blocks.map(({ rhoShare: _s, ...b }) => b) };
    expect(rhoOfBlock(job, even, even.blocks[0]!)).toBeCloseTo(rhoPerBlock(job, even), 15);
  });

  it('central-dp: σ of the update block is Δ₂/√(2ρ_block) with Δ₂ = C (+ √D grid steps), and the empirical std of 20 000 draws is within 3 %; negative control: the even split\'s σ is rejected', () => {
    const noise = CENTRAL_DP_MODE.roundNoise(job, layout);
    const rhoG = rhoOfBlock(job, layout, layout.blocks[0]!);
    const grid = 2 ** noise[0]!.gridExponent;
    const stated = (C + Math.sqrt(D) * grid) / Math.sqrt(2 * rhoG);
    expect(noise[0]!.std).toBeCloseTo(stated, 9);
    expect(noise[2]!.std).toBe(0);
    const rng = createSeededRng('noise-share');
    const draws: number[] = [];
    const zero = { values: new Float64Array(D + 2) };
    for (let r = 0; r < 400; r++) {
      const out = CENTRAL_DP_MODE.atCoordinator(zero, noise, layout, rng);
      for (let j = 0; j < D; j++) draws.push(out.values[j]!);
      expect(out.values[D + 1]).toBe(0);
    }
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws.length - 1));
    // Relative standard error of a sample SD over 20 000 draws: 1/√40 000 = 0.5 %; 3 % is 6 of them.
    const TOL = 0.03;
    expect(Math.abs(sd / stated - 1)).toBeLessThan(TOL);
    const evenSigma = (C + Math.sqrt(D) * grid) / Math.sqrt(2 * (jobRho(job) / job.maxRounds / 2));
    expect(Math.abs(sd / evenSigma - 1)).toBeGreaterThan(TOL);
  });

  it('a layout with a non-positive share is refused', async () => {
    const { checkLayout } = await import('./stat-layout.js');
    expect(() => checkLayout({ blocks: [{ ...layout.blocks[0]!, rhoShare: 0 }] })).toThrow(/rhoShare/);
  });
});
