import { describe, expect, it } from 'vitest';
import { asBufferedRng, calibrateNoise } from '../../algorithms/dp/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { kindPrivacyModeOf } from './kind-noise-plan.js';
import { CENTRAL_DP_MODE, DISTRIBUTED_DP_MODE } from './index.js';
import type { CompiledKindJob, KindDef, KindNoisePlan, KindPrivacyMode } from './kind.js';
import { compileKindJob } from './compiled-job.js';
import type { StatLayout } from './stat-layout.js';

/** A kind's own plan: ε-only discrete Laplace on block `a` (sensitivity 1), nothing on the public block `b`. */
const laplace = calibrateNoise({ epsilon: 1 }, { l1: 1n, l2Squared: 1n });
const plan: KindNoisePlan = { cost: laplace.cost, blocks: [{ sample: (r) => laplace.sample(r), std: laplace.info.std }, undefined] };
const def = { noisePlan: () => plan };
const layout: StatLayout = {
  blocks: [
    { name: 'a', length: 4, perAgent: { lo: 0, hi: 100 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, release: 'additive' },
    { name: 'b', length: 2, perAgent: { lo: 0, hi: 100 }, sensitivity: { l1: 0, l2Sq: 0 }, gridExponent: 0, release: 'additive' },
  ],
};
const job = (mode: KindPrivacyMode): CompiledKindJob => ({ kind: 'k', product: 'p', privacy: { mode, epsilon: 1 }, secure: 'plain', maxRounds: 1, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1, spec: {}, plan: {}, hash: '0'.repeat(64) });
const v = { values: Float64Array.from([10, 20, 30, 40, 7, 8]) };

/** The noise as a hand loop over the same buffered stream: one Laplace draw per entry of `a`, in order. */
function expected(seed: number): number[] {
  const r = asBufferedRng(createSeededRng(seed));
  return [10, 20, 30, 40].map((x) => x + Number(laplace.sample(r))).concat([7, 8]);
}

describe('a kind noise plan on the seam (kind-noise-plan.ts)', () => {
  it('central-dp: the coordinator draws one sample per entry of the planned block, in layout order; the agent none', () => {
    const mode = kindPrivacyModeOf(def, job('central-dp'));
    const noise = mode.roundNoise(job('central-dp'), layout, { agents: 3 });
    expect(noise.map((n) => n.std)).toEqual([laplace.info.std, 0]);
    expect(mode.cost(job('central-dp'))).toBe(plan.cost);
    expect(mode.atAgent(v, noise, layout, createSeededRng(1))).toBe(v);
    expect(Array.from(mode.atCoordinator(v, noise, layout, createSeededRng(5)).values)).toEqual(expected(5));
    // Negative control: another seed, other draws.
    expect(Array.from(mode.atCoordinator(v, noise, layout, createSeededRng(6)).values)).not.toEqual(expected(5));
  });

  it('local-dp: each agent draws; the sum states √n times one draw', () => {
    const mode = kindPrivacyModeOf(def, job('local-dp'));
    const noise = mode.roundNoise(job('local-dp'), layout, { agents: 4 });
    expect(noise[0]!.std).toBeCloseTo(2 * laplace.info.std, 12);
    expect(noise[0]!.agentSigma2Grid).toBeCloseTo(laplace.info.std ** 2, 12);
    expect(Array.from(mode.atAgent(v, noise, layout, createSeededRng(9)).values)).toEqual(expected(9));
    expect(mode.atCoordinator(v, noise, layout, createSeededRng(1))).toBe(v);
  });

  it("falls back to the seam's modes without a plan, and for distributed-dp with one", () => {
    expect(kindPrivacyModeOf({}, { ...job('central-dp'), privacy: { mode: 'central-dp', rho: 1 } })).toBe(CENTRAL_DP_MODE);
    expect(kindPrivacyModeOf(def, { ...job('distributed-dp'), privacy: { mode: 'distributed-dp', rho: 1 } })).toBe(DISTRIBUTED_DP_MODE);
    expect(() => kindPrivacyModeOf(def, job('central-dp')).roundNoise(job('central-dp'), { blocks: [layout.blocks[0]!] })).toThrow(RangeError);
  });

  it('a selection block: the coordinator hands it the exact sum in draw order and releases only what it returns; central-dp only', () => {
    const seen: bigint[][] = [];
    // Block a: the Laplace draws; block b: a "selection" that returns the index of its largest entry, reading one
    // draw after block a's (so its place in the stream shows).
    const selecting: KindNoisePlan = {
      cost: laplace.cost,
      blocks: [plan.blocks[0], { select: (exact, r) => (seen.push([...exact]), [exact.indexOf(exact.reduce((a, b) => (b > a ? b : a))), Number(laplace.sample(r))]) }],
    };
    const sel = { noisePlan: () => selecting };
    const mode = kindPrivacyModeOf(sel, job('central-dp'));
    // The layout states the block is selected at the coordinator (compile refuses it outside central-dp).
    const marked: StatLayout = { blocks: [layout.blocks[0]!, { ...layout.blocks[1]!, selectedAtCoordinator: true }] };
    // A plan that selects a block the layout does not mark is a kind's bug, refused.
    expect(() => mode.atCoordinator(v, mode.roundNoise(job('central-dp'), layout), layout, createSeededRng(5))).toThrow(/does not say so/);
    const noise = mode.roundNoise(job('central-dp'), marked);
    expect(noise.map((n) => n.std)).toEqual([laplace.info.std, 0]);
    const out = Array.from(mode.atCoordinator(v, noise, marked, createSeededRng(5)).values);
    expect(seen).toEqual([[7n, 8n]]);
    const r = asBufferedRng(createSeededRng(5));
    const a = [10, 20, 30, 40].map((x) => x + Number(laplace.sample(r)));
    expect(out).toEqual([...a, 1, Number(laplace.sample(r))]);
    // The exact values of b are not in the release.
    expect(out.slice(4)).not.toEqual([7, 8]);
    // A selection longer than its block is a bug, not a truncation.
    const long = { noisePlan: (): KindNoisePlan => ({ cost: laplace.cost, blocks: [undefined, { select: () => [1, 2, 3] }] }) };
    const m2 = kindPrivacyModeOf(long, job('central-dp'));
    expect(() => m2.atCoordinator(v, m2.roundNoise(job('central-dp'), marked), marked, createSeededRng(1))).toThrow(/returned 3 entries for a block of 2/);
    // An agent has only its own share: local-dp refuses a selection block.
    const local = kindPrivacyModeOf(sel, job('local-dp'));
    expect(() => local.roundNoise(job('local-dp'), marked)).toThrow(/central-dp only/);
  });

  it('compile refuses a job outside central-dp whose layout has a block selected at the coordinator (red team 44)', () => {
    const kind = (selected: boolean): KindDef<{ mode: KindPrivacyMode }> => ({
      kind: 'k',
      parse: (raw) => raw as { mode: KindPrivacyMode },
      compile: (spec) => ({ ...job(spec.mode), spec, plan: {} }),
      layout: () => ({ blocks: [{ ...layout.blocks[0]!, ...(selected ? { selectedAtCoordinator: true } : {}) }] }),
      nextRound: () => null,
      release: () => ({ columns: [], rows: [], notes: [], privacy: {} }),
      view: () => '',
    });
    for (const mode of ['none', 'local-dp', 'distributed-dp'] as const) {
      expect(() => compileKindJob(kind(true), { mode })).toThrow(/block a is released by a selection at the coordinator, which needs central-dp, not/);
      // Control: the same layout without the mark compiles.
      expect(() => compileKindJob(kind(false), { mode })).not.toThrow();
    }
    expect(() => compileKindJob(kind(true), { mode: 'central-dp' })).not.toThrow();
  });
});
