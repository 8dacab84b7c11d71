import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileSecAggRoundConfig, ringAddInPlaceCarry } from '../../algorithms/secagg/index.js';
import { heLimbRing, secAggCarryRing, secAggLimbRing } from '../secure/index.js';
import type { KindJobCommon } from './kind.js';
import { DISTRIBUTED_DP_MODE, NONE_MODE } from './privacy-modes.js';
import { checkSecureCombination, heContributionMessage, heKeyMessage, heVectorPlan, participantsBytes, phaseAnswerSlot, secAggVectorPlan, secureQuorum } from './secure-sum.js';
import { checkLayout } from './stat-layout.js';
import { decodeSecureVector, encodeSecureVector, exactSumVectors, planSecureVector, secAggElements, snapVectorToGrid } from './secure-vector.js';
import type { StatLayout, StatVector } from './stat-layout.js';

const layout: StatLayout = {
  blocks: [
    { name: 'xtwx', length: 3, perAgent: { lo: -1e6, hi: 1e6 }, sensitivity: { l1: 3, l2Sq: 3 }, gridExponent: -30, release: 'additive' },
    { name: 'n', length: 1, perAgent: { lo: 0, hi: 1e7 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, release: 'additive' },
  ],
};
const job: KindJobCommon = { kind: 't', product: 'p', privacy: { mode: 'none' }, secure: 'secagg', maxRounds: 4, roundTimeoutMs: 1000, dropout: 'fail', minAgents: 1 };
const none = NONE_MODE.roundNoise(job, layout);

/** Adds limb vectors as the secure layer does: Z_2^32 for SecAgg, exactly for HE. */
function addLimbs(vs: (Uint32Array | BigInt64Array)[]): (number | bigint)[] {
  const out: (number | bigint)[] = [];
  for (let i = 0; i < vs[0]!.length; i++) {
    if (vs[0] instanceof Uint32Array) out.push(vs.reduce((a, v) => (a + (v[i] as number)) >>> 0, 0));
    else out.push(vs.reduce((a, v) => a + (v[i] as bigint), 0n));
  }
  return out;
}

describe('secure vector encoding', () => {
  it('secagg and he sums equal the plain exact sum to the last bit (property over vectors and agent counts)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 27, maxLength: 27 }), (n, xs) => {
        const vectors: StatVector[] = Array.from({ length: n }, (_, a) => snapVectorToGrid(layout, none, { values: Float64Array.from([xs[a * 3]!, xs[a * 3 + 1]!, xs[a * 3 + 2]!, Math.abs(Math.round(xs[a]!))]) }));
        const plain = exactSumVectors(layout, none, vectors);
        for (const ring of [secAggLimbRing(n), heLimbRing(24)]) {
          const plan = planSecureVector(layout, none, ring, n, 't');
          const sums = addLimbs(vectors.map((v) => encodeSecureVector(plan, v, ring.kind === 'he')));
          expect(Array.from(decodeSecureVector(plan, sums).values)).toEqual(Array.from(plain.values));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("the seam's SecAgg (carry ring: each entry one integer of its limbs) equals the plain exact sum to the last bit; control: limbs added apart do not", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 27, maxLength: 27 }), (n, xs) => {
        const vectors: StatVector[] = Array.from({ length: n }, (_, a) => snapVectorToGrid(layout, none, { values: Float64Array.from([xs[a * 3]!, xs[a * 3 + 1]!, xs[a * 3 + 2]!, Math.abs(Math.round(xs[a]!))]) }));
        const plan = planSecureVector(layout, none, secAggCarryRing(), n, 't');
        // xtwx on 2^-30 over ±1e6 needs 2 limbs of 32 bits; n one.
        expect(secAggElements(plan)).toEqual([{ limbs: 2, count: 3 }, { limbs: 1, count: 1 }]);
        const carry = compileSecAggRoundConfig({ roundId: 'r', threshold: 2, vectorLength: plan.vectorLength, elements: secAggElements(plan), participants: ['x', 'y', 'z'].map((id) => ({ id, identityPublicKey: new Uint8Array(32) })) }).carry;
        const encoded = vectors.map((v) => encodeSecureVector(plan, v, false) as Uint32Array);
        const sum = new Uint32Array(plan.vectorLength);
        for (const e of encoded) ringAddInPlaceCarry(sum, e, carry);
        expect(Array.from(decodeSecureVector(plan, sum).values)).toEqual(Array.from(exactSumVectors(layout, none, vectors).values));
      }),
      { numRuns: 60 },
    );
    // Control: three values whose low limbs are all 2^32 − 1 (x = (2^32 − 1)·2^-30): added limb by limb, the carry out
    // of the low limbs is lost and the decoded sum is wrong; carried, it is exact.
    const x = (2 ** 32 - 1) * 2 ** -30;
    const three = [0, 1, 2].map(() => ({ values: Float64Array.from([x, 0, 0, 0]) }));
    const plan = planSecureVector(layout, none, secAggCarryRing(), 3, 't');
    const encoded = three.map((v) => encodeSecureVector(plan, v, false) as Uint32Array);
    expect(decodeSecureVector(plan, addLimbs(encoded)).values[0]).not.toBe(3 * x);
    const carry = compileSecAggRoundConfig({ roundId: 'r', threshold: 2, vectorLength: plan.vectorLength, elements: secAggElements(plan), participants: ['x', 'y', 'z'].map((id) => ({ id, identityPublicKey: new Uint8Array(32) })) }).carry;
    const sum = new Uint32Array(plan.vectorLength);
    for (const e of encoded) ringAddInPlaceCarry(sum, e, carry);
    expect(decodeSecureVector(plan, sum).values[0]).toBe(3 * x);
  });

  it("the kind seam's SecAgg plan is the carry ring (red team 51: a regression to the digit ring would keep every released value and bring the leak back)", () => {
    expect(secAggVectorPlan(job, layout, none, 3).ring).toEqual(secAggCarryRing());
    expect(secAggVectorPlan(job, layout, none, 3).ring).not.toEqual(secAggLimbRing(3));
  });

  it('digit blocks: only the carry ring adds them whole; HE and the digit ring refuse them naming the block, and a malformed group is refused by checkLayout', () => {
    const exact = { sensitivity: 'exact-only' as const, gridExponent: 0, exactOnGrid: true, release: 'additive' as const };
    const digits: StatLayout = { blocks: [{ name: 's.limb0', length: 2, perAgent: { lo: 0, hi: 2 ** 32 - 1 }, ...exact, digit: { index: 0, of: 2 } }, { name: 's.limb1', length: 2, perAgent: { lo: 0, hi: 7 }, ...exact, digit: { index: 1, of: 2 } }] };
    checkLayout(digits);
    const noDigitsNoise = NONE_MODE.roundNoise(job, digits);
    expect(planSecureVector(digits, noDigitsNoise, secAggCarryRing(), 3, 't').blocks).toMatchObject([{ name: 's.limb0', digits: 2, length: 2 }]);
    expect(() => planSecureVector(digits, noDigitsNoise, heLimbRing(24), 3, 't')).toThrow(/secure: block s\.limb0 of kind t cannot be summed under he: its digits would be summed one by one/);
    expect(() => planSecureVector(digits, noDigitsNoise, secAggLimbRing(3), 3, 't')).toThrow(/block s\.limb0 .*digits would be summed one by one/);
    expect(() => checkLayout({ blocks: [{ ...digits.blocks[0]!, digit: { index: 0, of: 0 } }] })).toThrow(/digit must be digit index of/);
    expect(() => checkLayout({ blocks: [digits.blocks[1]!, digits.blocks[0]!] })).toThrow(/digit must be digit index of/);
    expect(() => checkLayout({ blocks: [digits.blocks[0]!, { ...digits.blocks[1]!, length: 3 }] })).toThrow(/layout\.blocks\[1\] \(s\.limb1\)\.digit must be/);
  });

  it('negative control: one agent tampering with one limb changes the decoded sum', () => {
    const n = 3;
    const plan = planSecureVector(layout, none, secAggLimbRing(n), n, 't');
    const vectors = [1, 2, 3].map((k) => ({ values: Float64Array.from([k, -k, 0.5 * k, k]) }));
    const enc = vectors.map((v) => encodeSecureVector(plan, v, false) as Uint32Array);
    enc[1]![0] = (enc[1]![0]! + 1) >>> 0;
    expect(Array.from(decodeSecureVector(plan, addLimbs(enc)).values)).not.toEqual(Array.from(exactSumVectors(layout, none, vectors).values));
  });

  it('refuses up front, naming the block, a block without a grid or with bounds the ring cannot hold', () => {
    const noGrid: StatLayout = { blocks: [{ ...layout.blocks[0]!, gridExponent: undefined }] };
    expect(() => planSecureVector(noGrid, none, secAggLimbRing(3), 3, 't')).toThrow(/block xtwx .* no fixed-point grid/);
    const wide: StatLayout = { blocks: [{ ...layout.blocks[0]!, perAgent: { lo: -1e300, hi: 1e300 } }] };
    expect(() => planSecureVector(wide, none, secAggLimbRing(3), 3, 't')).toThrow(/block xtwx .*bounds/);
    expect(() => planSecureVector(layout, none, secAggLimbRing(3), 3, 't')).not.toThrow();
  });

  it('clamps a value beyond the bounds instead of refusing it', () => {
    const plan = planSecureVector(layout, none, secAggLimbRing(3), 3, 't');
    const v = { values: Float64Array.from([2e6, 0, 0, 0]) };
    const got = decodeSecureVector(plan, encodeSecureVector(plan, v, false) as Uint32Array).values[0]!;
    expect(got).toBe(1e6);
    // Finite values that overflow in grid units (1e308 / 2^-30) are clamped too, not thrown (red team 53).
    const huge = { values: Float64Array.from([1e308, 0, 0, -1e308]) };
    const back = decodeSecureVector(plan, encodeSecureVector(plan, huge, false) as Uint32Array).values;
    expect([back[0], back[3]]).toEqual([1e6, 0]);
  });

  it('distributed-dp widens the bounds by the noise of the shares and needs n', () => {
    const dj: KindJobCommon = { ...job, privacy: { mode: 'distributed-dp', rho: 0.5 } };
    expect(() => DISTRIBUTED_DP_MODE.roundNoise(dj, layout)).toThrow(/number of agents/);
    const noise = DISTRIBUTED_DP_MODE.roundNoise(dj, layout, { agents: 4 });
    const plan = planSecureVector(layout, noise, secAggLimbRing(4), 4, 't');
    expect(plan.blocks[0]!.hi).toBeGreaterThan(BigInt(Math.round(1e6 * 2 ** 30)));
    expect(heVectorPlan(dj, layout, noise, 4).he.ciphertextCount).toBe(1);
  });

  it('the signed HE messages bind the round and the participant list (order-free), so every phase of a round runs over one list', () => {
    const a = { id: 'a1', identityPublicKey: new Uint8Array(32).fill(1) };
    const b = { id: 'a2', identityPublicKey: new Uint8Array(32).fill(2) };
    const c = { id: 'a3', identityPublicKey: new Uint8Array(32).fill(3) };
    const pk = new Uint8Array([9, 9]);
    const key = (ps: (typeof a)[], round = 1) => Buffer.from(heKeyMessage('j', 'h', round, 10, participantsBytes(ps), pk)).toString('hex');
    expect(key([a, b, c])).toBe(key([c, a, b]));
    expect(key([a, b, c])).not.toBe(key([a, b]));
    expect(key([a, b, c])).not.toBe(key([a, b, { ...c, identityPublicKey: new Uint8Array(32).fill(4) }]));
    expect(key([a, b, c], 1)).not.toBe(key([a, b, c], 2));
    const contribution = (ps: (typeof a)[]) => Buffer.from(heContributionMessage('j', 'h', 1, participantsBytes(ps), new Uint8Array(32))).toString('hex');
    expect(contribution([b, a, c])).toBe(contribution([a, b, c]));
    expect(contribution([a, b, c])).not.toBe(contribution([a, c]));
  });

  it('checks the combinations and quorum from public facts only', () => {
    expect(() => checkSecureCombination({ ...job, secure: 'plain', privacy: { mode: 'distributed-dp', rho: 1 } })).toThrow(/distributed-dp needs a secure sum/);
    expect(() => checkSecureCombination({ ...job, secure: 'he', privacy: { mode: 'central-dp', rho: 1 } })).toThrow(/key-holding agent/);
    // he in the modes where the key holder sees only what is released (control for the central-dp refusal).
    expect(() => checkSecureCombination({ ...job, secure: 'he', privacy: { mode: 'none' } })).not.toThrow();
    expect(() => checkSecureCombination({ ...job, secure: 'he', privacy: { mode: 'distributed-dp', rho: 1 } })).not.toThrow();
    expect(() => checkSecureCombination({ ...job, secure: 'secagg', privacy: { mode: 'none' } })).not.toThrow();
    expect(() => secureQuorum(job, 2)).toThrow(/at least 3 agents/);
    expect(secureQuorum(job, 5)).toEqual({ threshold: 3, requiredContributors: 5 });
    expect(secureQuorum({ ...job, dropout: 'continue', minAgents: 3, privacy: { mode: 'distributed-dp', rho: 1 } }, 7)).toEqual({ threshold: 4, requiredContributors: 5 });
    expect(new Set([0, 1, 2].flatMap((r) => (['advertise', 'share', 'mask', 'unmask', 'he-keys'] as const).map((p) => phaseAnswerSlot(r, p)))).size).toBe(15);
  });

  it('the noise shares are drawn with a CSPRNG-fed sampler (seeded here) and land on the grid', () => {
    const dj: KindJobCommon = { ...job, privacy: { mode: 'distributed-dp', rho: 0.5 } };
    const noise = DISTRIBUTED_DP_MODE.roundNoise(dj, layout, { agents: 4 });
    const out = DISTRIBUTED_DP_MODE.atAgent({ values: Float64Array.from([1, 2, 3, 4]) }, noise, layout, createSeededRng(3));
    const size = 2 ** noise[0]!.gridExponent;
    for (const x of out.values.subarray(0, 3)) expect(Number.isInteger(x / size)).toBe(true);
  });
});

describe('bounds with agent noise', () => {
  it('a local-dp vector past the bounds by its noise is accepted by the widened layout; one past the margin is not', async () => {
    const { LOCAL_DP_MODE } = await import('./privacy-modes.js');
    const { checkAgentVector } = await import('./stat-layout.js');
    const { layoutWithAgentNoise } = await import('./secure-vector.js');
    const lj: KindJobCommon = { ...job, secure: 'plain', privacy: { mode: 'local-dp', rho: 1 } };
    const tight: StatLayout = { blocks: [{ name: 'c', length: 1, perAgent: { lo: 0, hi: 10 }, sensitivity: { l1: 1, l2Sq: 1 }, release: 'additive' }] };
    const noise = LOCAL_DP_MODE.roundNoise(lj, tight);
    const sd = Math.sqrt(noise[0]!.agentSigma2Grid) * 2 ** noise[0]!.gridExponent;
    expect(() => checkAgentVector(tight, { values: Float64Array.from([-3 * sd]) }, 'a')).toThrow(/outside/);
    expect(() => checkAgentVector(layoutWithAgentNoise(tight, noise), { values: Float64Array.from([-3 * sd]) }, 'a')).not.toThrow();
    expect(() => checkAgentVector(layoutWithAgentNoise(tight, noise), { values: Float64Array.from([-13 * sd]) }, 'a')).toThrow(/outside/);
  });
});

describe('snapVectorToGrid keeps a value within its public bounds (red team 27)', () => {
  // −11.7 = −39 × 0.3 is not on the 2^-22 grid: rounding it to nearest went outward, and the coordinator's exact check
  // refused the agent, a refusal that answered whether the data passed a bound the researcher chose.
  const offGrid: StatLayout = { blocks: [{ name: 'delta', length: 2, perAgent: { lo: -11.7, hi: 11.7 }, sensitivity: { l1: 0.3, l2Sq: 0.09 }, gridExponent: -22, release: 'additive' }] };
  const noise = NONE_MODE.roundNoise(job, offGrid);
  const size = 2 ** -22;
  it('a value at an off-grid bound snaps inward, onto the grid; control: rounding to nearest would leave the bounds', () => {
    expect(Math.round(-11.7 / size) * size).toBeLessThan(-11.7);
    const v = snapVectorToGrid(offGrid, noise, { values: Float64Array.from([-11.7, 11.7]) }).values;
    expect(v[0]).toBeGreaterThanOrEqual(-11.7);
    expect(v[1]).toBeLessThanOrEqual(11.7);
    for (const x of v) expect(Number.isInteger(x / size)).toBe(true);
    expect(v[0]! + 11.7).toBeLessThan(size);
  });
  it('a value already beyond the bounds (agent-side noise) is rounded to nearest as before, and inner values are untouched', () => {
    const v = snapVectorToGrid(offGrid, noise, { values: Float64Array.from([-12.3, 1.25]) }).values;
    expect(v[0]).toBe(Math.round(-12.3 / size) * size);
    expect(v[1]).toBe(1.25);
  });
});
