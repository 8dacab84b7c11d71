import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { addCosts, rhoForEpsilonDelta } from '../../algorithms/dp/index.js';
import { epsilonSpent, fitsBudget } from '../job/index.js';
import { isFedmeshError } from '../errors.js';
import { CENTRAL_DP_MODE, NONE_MODE } from './privacy-modes.js';
import { checkAgentVector, checkLayout, decodeVector, encodeVector, sumVectors, type StatLayout } from './stat-layout.js';
import { createKindRegistry } from './registry.js';
import { compiledJobHash } from './compiled-job.js';
import { decodeRoundPayload, encodeRoundPayload } from './task-payload.js';
import type { KindJobCommon } from './kind.js';

const layout: StatLayout = {
  blocks: [
    { name: 'a', length: 3, perAgent: { lo: -10, hi: 10 }, sensitivity: { l1: 3, l2Sq: 3 }, release: 'additive' },
    { name: 'n', length: 1, perAgent: { lo: 0, hi: 1e6 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'additive' },
  ],
};
const job: KindJobCommon = { kind: 't', product: 'p', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, secure: 'plain', maxRounds: 5, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1 };

describe('stat layout and vector', () => {
  it('round-trips a vector through bytes and sums entry-wise', () => {
    const v = { values: Float64Array.from([1.5, -2, 3.25, 7]) };
    expect(Array.from(decodeVector(layout, encodeVector(v), 'x').values)).toEqual([1.5, -2, 3.25, 7]);
    expect(Array.from(sumVectors([v, v]).values)).toEqual([3, -4, 6.5, 14]);
  });
  it('refuses a reply of the wrong byte length before reading it, and values outside public bounds', () => {
    expect(() => decodeVector(layout, new Uint8Array(31), 'x')).toThrow(/31 bytes/);
    expect(() => checkAgentVector(layout, { values: Float64Array.from([1, 2, 11, 0]) }, 'x')).toThrow(/a\[2\] outside/);
    expect(() => checkAgentVector(layout, { values: Float64Array.from([1, 2, Number.NaN, 0]) }, 'x')).toThrow(/a\[2\]/);
    // The message names the block, never the value.
    try {
      checkAgentVector(layout, { values: Float64Array.from([1, 2, 11.123, 0]) }, 'x');
    } catch (e) {
      expect(isFedmeshError(e) && !e.message.includes('11.123')).toBe(true);
    }
    expect(() => checkAgentVector(layout, { values: Float64Array.from([1, 2, 3, 4]) }, 'x')).not.toThrow();
  });
  it('checks layouts', () => {
    expect(() => checkLayout({ blocks: [] })).toThrow(/empty/);
    expect(() => checkLayout({ blocks: [layout.blocks[0]!, layout.blocks[0]!] })).toThrow(/unique/);
    expect(() => checkLayout(layout)).not.toThrow();
  });
  it('hashes compiled jobs canonically (key order does not matter, content does)', () => {
    const a = compiledJobHash({ ...job, spec: { x: 1, y: [1, 2] }, plan: {} });
    const b = compiledJobHash({ plan: {}, spec: { y: [1, 2], x: 1 }, ...job });
    const c = compiledJobHash({ ...job, spec: { x: 2, y: [1, 2] }, plan: {} });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });
  it('round payload refuses bad input with the field named', () => {
    const h = 'a'.repeat(64);
    expect(decodeRoundPayload(encodeRoundPayload({ hash: h, input: { beta: [1] } }))).toEqual({ hash: h, input: { beta: [1] } });
    expect(() => decodeRoundPayload(new TextEncoder().encode('{"hash":"zz","input":1}'))).toThrow(/payload/);
    expect(() => decodeRoundPayload(new Uint8Array())).toThrow(/payload/);
  });
  it('registry refuses duplicates', () => {
    expect(() => createKindRegistry([{ kind: 'glm' }, { kind: 'glm' }])).toThrow(/twice/);
    expect(createKindRegistry([{ kind: 'glm' }]).has('glm')).toBe(true);
  });
});

describe('privacy modes on the vector', () => {
  it('none is the identity and charges nothing', () => {
    const v = { values: Float64Array.from([1, 2, 3, 4]) };
    expect(NONE_MODE.cost({ ...job, privacy: { mode: 'none' } })).toBeUndefined();
    expect(NONE_MODE.atCoordinator(v, NONE_MODE.roundNoise(job, layout), layout, createSeededRng(1))).toBe(v);
  });

  it('a discrete Gaussian job costs plain ρ-zCDP, so two (ε = 0.5, δ = 1e-6) jobs fit a budget of (3, 1e-6) (red team 29, F2)', () => {
    const half = { ...job, privacy: { mode: 'central-dp' as const, epsilon: 0.5, delta: 1e-6 } };
    const cost = CENTRAL_DP_MODE.cost(half)!;
    expect(cost).toEqual({ rho: rhoForEpsilonDelta(0.5, 1e-6), epsilon: Infinity, delta: 0 });
    // One job alone is stated at exactly its (ε, δ): the conversion back gives ε.
    expect(epsilonSpent(cost, 1e-6)).toBeCloseTo(0.5, 9);
    const two = addCosts(cost, cost);
    expect(epsilonSpent(two, 1e-6)).toBeGreaterThan(0.5);
    expect(epsilonSpent(two, 1e-6)).toBeLessThan(1);
    expect(fitsBudget(cost, cost, { epsilon: 3, delta: 1e-6 })).toBe(true);
    // Negative control: the old cost, which also carried the job's δ as an approximate-zCDP δ, left no δ for a second.
    const old = { rho: cost.rho, epsilon: 0.5, delta: 1e-6 };
    expect(epsilonSpent(addCosts(old, old), 1e-6)).toBe(Infinity);
    expect(fitsBudget(old, old, { epsilon: 3, delta: 1e-6 })).toBe(false);
  });

  it('central-dp: the whole job costs the stated ρ once; each block gets σ² = Δ²/(2ρ/(R·B)) (widened by the grid)', () => {
    const cost = CENTRAL_DP_MODE.cost(job)!;
    const noise = CENTRAL_DP_MODE.roundNoise(job, layout);
    const rhoBlock = cost.rho / job.maxRounds / layout.blocks.length;
    // Block a: Δ₂ = √3, so σ ≥ √3 / √(2ρ_block); the grid widening adds under 1e-6 relative.
    const sigmaA = Math.sqrt(3) / Math.sqrt(2 * rhoBlock);
    expect(noise[0]!.std / sigmaA).toBeGreaterThanOrEqual(1);
    expect(noise[0]!.std / sigmaA).toBeLessThan(1 + 1e-5);
    // The rounds' ρ add up to the job's ρ (zCDP composition).
    const perBlockRho = noise.map((n, i) => (layout.blocks[i]!.sensitivity as { l2Sq: number }).l2Sq / (2 * n.std ** 2));
    expect(perBlockRho.reduce((a, b) => a + b, 0) * job.maxRounds).toBeLessThanOrEqual(cost.rho * (1 + 1e-12));
  });

  it('central-dp noise has the stated standard deviation (tolerance 6 %, 3000 draws); negative control: half the σ is rejected', () => {
    const rng = createSeededRng('central-dp-std');
    const noise = CENTRAL_DP_MODE.roundNoise(job, layout);
    const sum = { values: Float64Array.from([1, 2, 3, 100]) };
    const draws: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const out = CENTRAL_DP_MODE.atCoordinator(sum, noise, layout, rng);
      for (let j = 0; j < 3; j++) draws.push(out.values[j]! - sum.values[j]!);
    }
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws.length - 1));
    // sd of the sample sd ≈ σ/√(2n) ≈ 1.3 % here: 6 % is over 4 standard errors.
    const within = (stated: number): boolean => Math.abs(sd / stated - 1) < 0.06;
    expect(within(noise[0]!.std)).toBe(true);
    expect(within(noise[0]!.std / 2)).toBe(false);
    expect(Math.abs(mean)).toBeLessThan((4 * noise[0]!.std) / Math.sqrt(draws.length));
  });

  it('central-dp refuses a block that is exact-only, naming privacy.mode', () => {
    const exact: StatLayout = { blocks: [{ ...layout.blocks[0]!, sensitivity: 'exact-only' }] };
    expect(() => CENTRAL_DP_MODE.roundNoise(job, exact)).toThrow(/cannot be released under central-dp/);
  });
});
