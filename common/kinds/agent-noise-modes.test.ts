import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { KindJobCommon } from './kind.js';
import { CENTRAL_DP_MODE, DISTRIBUTED_DP_MODE, LOCAL_DP_MODE } from './privacy-modes.js';
import type { StatLayout } from './stat-layout.js';

const layout: StatLayout = {
  blocks: [
    { name: 'a', length: 3, perAgent: { lo: -10, hi: 10 }, sensitivity: { l1: 3, l2Sq: 3 }, release: 'additive' },
    { name: 'pub', length: 1, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 0, l2Sq: 0 }, release: 'additive' },
  ],
};
const base: KindJobCommon = { kind: 't', product: 'p', privacy: { mode: 'local-dp', epsilon: 1, delta: 1e-6 }, secure: 'secagg', maxRounds: 5, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1 };

/** Sample SD of the noise in block a of the sum of `agents` agents' noisy vectors, over `reps` repetitions. */
function sumNoiseSd(job: KindJobCommon, agents: number, reps: number, seed: string): { sd: number; mean: number; draws: number } {
  const mode = job.privacy.mode === 'local-dp' ? LOCAL_DP_MODE : DISTRIBUTED_DP_MODE;
  const noise = mode.roundNoise(job, layout, { agents });
  const rng = createSeededRng(seed);
  const v = { values: Float64Array.from([1, 2, 3, 100]) };
  const draws: number[] = [];
  for (let r = 0; r < reps; r++) {
    const sum = new Float64Array(4);
    for (let a = 0; a < agents; a++) {
      const out = mode.atAgent(v, noise, layout, rng);
      for (let j = 0; j < 4; j++) sum[j]! += out.values[j]!;
      // A public block (sensitivity 0) gets no noise at all.
      expect(out.values[3]).toBe(100);
    }
    for (let j = 0; j < 3; j++) draws.push(sum[j]! - agents * v.values[j]!);
  }
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  return { sd: Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws.length - 1)), mean, draws: draws.length };
}

describe('agent-side privacy modes over the vector', () => {
  // 1500 draws: the sample SD's relative standard error is 1/√(2·1500) ≈ 1.8 %; 8 % is over 4 standard errors.
  const TOL = 0.08;

  it('local-dp: each agent adds the full central noise; the sum of n carries √n × it (stated std within 8 %); negative control: the central std is rejected', () => {
    const n = 4;
    const stated = LOCAL_DP_MODE.roundNoise(base, layout, { agents: n })[0]!.std;
    const central = CENTRAL_DP_MODE.roundNoise({ ...base, privacy: { ...base.privacy, mode: 'central-dp' } }, layout)[0]!.std;
    expect(stated / central).toBeCloseTo(Math.sqrt(n), 6);
    const { sd, mean, draws } = sumNoiseSd(base, n, 500, 'local-dp');
    expect(Math.abs(sd / stated - 1)).toBeLessThan(TOL);
    expect(Math.abs(sd / central - 1)).toBeGreaterThan(TOL);
    expect(Math.abs(mean)).toBeLessThan((4 * stated) / Math.sqrt(draws));
  });

  it('distributed-dp: the shares of n agents add up to the stated std (within 8 %), and m = n − tolerated honest shares alone carry at least the central variance; negative control: one share alone is rejected', () => {
    const job: KindJobCommon = { ...base, privacy: { mode: 'distributed-dp', epsilon: 1, delta: 1e-6 } };
    const n = 7;
    const noise = DISTRIBUTED_DP_MODE.roundNoise(job, layout, { agents: n })[0]!;
    const central = CENTRAL_DP_MODE.roundNoise({ ...job, privacy: { ...job.privacy, mode: 'central-dp' } }, layout)[0]!;
    const m = n - Math.floor((n - 1) / 3);
    expect(m * noise.agentSigma2Grid).toBeGreaterThanOrEqual(central.sigma2Grid * (1 - 1e-9));
    const { sd } = sumNoiseSd(job, n, 500, 'distributed-dp');
    expect(Math.abs(sd / noise.std - 1)).toBeLessThan(TOL);
    const oneShare = Math.sqrt(noise.agentSigma2Grid) * 2 ** noise.gridExponent;
    expect(Math.abs(sd / oneShare - 1)).toBeGreaterThan(TOL);
  });

  it('maxSitesPerPerson multiplies the sensitivity: m sites give m times the noise std', () => {
    const one = LOCAL_DP_MODE.roundNoise(base, layout)[0]!.std;
    const three = LOCAL_DP_MODE.roundNoise({ ...base, privacy: { ...base.privacy, maxSitesPerPerson: 3 } }, layout)[0]!.std;
    expect(three / one).toBeGreaterThan(2.99);
    expect(three / one).toBeLessThan(3.01);
  });

  it('the whole job costs the stated ρ once in every DP mode', () => {
    for (const mode of [LOCAL_DP_MODE, DISTRIBUTED_DP_MODE, CENTRAL_DP_MODE]) expect(mode.cost({ ...base, privacy: { mode: 'local-dp', rho: 0.3 } })!.rho).toBe(0.3);
  });
});
