/**
 * Multi-limb integers in a SecAgg round (`SecAggRoundConfig.elements`): each value's limbs carry into one another,
 * so the unmasked sum of a wide value is the one integer Σ x mod 2^(32·limbs) and never its limbs' own sums, which
 * would show how the agents' values carry between limbs (the digit-sum leak). Exact: bit for bit against BigInt.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIdentityKeyPair, createNodeSecAggCrypto } from '../../common/crypto/index.js';
import { createSeededRng } from '../testing/seeded-rng.js';
import { compileSecAggRoundConfig } from './config.js';
import { runSecAggRoundInMemory } from './in-memory.js';
import type { SecAggElementRun } from './messages.js';
import { ringAddInPlaceCarry, ringSubInPlaceCarry } from './ring.js';

const crypto = createNodeSecAggCrypto();

/** Limbs (least significant first) of x mod 2^(32·limbs). */
function toLimbs(x: bigint, limbs: number): number[] {
  const m = 1n << BigInt(32 * limbs);
  let r = ((x % m) + m) % m;
  const out: number[] = [];
  for (let j = 0; j < limbs; j++, r >>= 32n) out.push(Number(r & 0xffffffffn));
  return out;
}
function fromLimbs(v: ArrayLike<number>, at: number, limbs: number): bigint {
  let x = 0n;
  for (let j = limbs - 1; j >= 0; j--) x = (x << 32n) | BigInt(v[at + j]!);
  return x;
}
function encode(values: readonly bigint[][], runs: readonly SecAggElementRun[]): Uint32Array {
  const out: number[] = [];
  let k = 0;
  for (const r of runs) for (let e = 0; e < r.count; e++, k++) out.push(...toLimbs(values.map((v) => v[k]!).reduce((a, b) => a + b, 0n), r.limbs));
  return Uint32Array.from(out);
}

/** Runs a round of `inputs` (one bigint per element per agent) and returns the unmasked limbs. */
function secureSum(inputs: readonly bigint[][], runs: readonly SecAggElementRun[] | undefined, flat: readonly SecAggElementRun[], seed: string, drop: Parameters<typeof runSecAggRoundInMemory>[0]['dropBefore'] = {}): Uint32Array {
  const n = inputs.length;
  const vectorLength = flat.reduce((a, r) => a + r.limbs * r.count, 0);
  const ids = inputs.map((_, i) => `agent-${i}`);
  const identities = ids.map(() => createIdentityKeyPair());
  const config = { roundId: `carry/${seed}`, threshold: Math.floor(n / 2) + 1, vectorLength, ...(runs ? { elements: runs } : {}), participants: ids.map((id, i) => ({ id, identityPublicKey: identities[i]!.publicKey })) };
  const agents = ids.map((id, i) => ({ id, identityPrivateKey: identities[i]!.privateKey, input: encode([inputs[i]!], flat), rng: createSeededRng(`${seed}/${id}`) }));
  return runSecAggRoundInMemory({ config, crypto, agents, dropBefore: drop }).sum;
}

describe('SecAgg: multi-limb integers carry', () => {
  it('carrying add and subtract equal BigInt arithmetic mod 2^(32·limbs) per element (property)', () => {
    const runs = fc.array(fc.record({ limbs: fc.integer({ min: 1, max: 4 }), count: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(runs, fc.integer(), (rs, seed) => {
        const rng = createSeededRng(seed);
        const big = (limbs: number): bigint => fromLimbs(Uint32Array.from({ length: limbs }, () => rng.nextUint32()), 0, limbs);
        const a: bigint[] = [];
        const b: bigint[] = [];
        for (const r of rs) {
          for (let e = 0; e < r.count; e++) {
            a.push(big(r.limbs));
            b.push(big(r.limbs));
          }
        }
        const carry = compileSecAggRoundConfig({ roundId: 'r', threshold: 2, vectorLength: rs.reduce((s, r) => s + r.limbs * r.count, 0), elements: rs, participants: ['x', 'y', 'z'].map((id) => ({ id, identityPublicKey: new Uint8Array(32) })) }).carry;
        const sum = ringAddInPlaceCarry(encode([a], rs), encode([b], rs), carry);
        const diff = ringSubInPlaceCarry(encode([a], rs), encode([b], rs), carry);
        expect([...sum]).toEqual([...encode([a.map((x, i) => x + b[i]!)], rs)]);
        expect([...diff]).toEqual([...encode([a.map((x, i) => x - b[i]!)], rs)]);
      }),
      { numRuns: 200 },
    );
  });

  it('the unmasked sum of wide values is Σx mod 2^(32·limbs), bit for bit, with negative values (4 agents)', () => {
    const runs = [{ limbs: 1, count: 2 }, { limbs: 2, count: 3 }, { limbs: 3, count: 1 }];
    const inputs = [0, 1, 2, 3].map((i) => [5n, -7n, (1n << 40n) + BigInt(i), -(1n << 33n) * BigInt(i + 1), (1n << 63n) - 1n, (1n << 90n) - BigInt(i) * 12345n]);
    const sum = secureSum(inputs, runs, runs, 'wide');
    expect([...sum]).toEqual([...encode(inputs, runs)]);
  });

  it('dropouts cancel with carries: agents dropped before masking (their pairwise masks rebuilt and removed) leave the exact sum of the others', () => {
    const runs = [{ limbs: 3, count: 2 }, { limbs: 1, count: 1 }];
    const inputs = [0, 1, 2, 3, 4, 5, 6].map((i) => [(1n << 95n) - BigInt(i) * 977n, -((1n << 40n) + BigInt(i)), BigInt(i)]);
    const sum = secureSum(inputs, runs, runs, 'dropouts', { maskInput: ['agent-2', 'agent-5'] });
    expect([...sum]).toEqual([...encode(inputs.filter((_, i) => i !== 2 && i !== 5), runs)]);
    // Control: the sum over all seven differs (the dropped agents' values are really left out).
    expect([...sum]).not.toEqual([...encode(inputs, runs)]);
  });

  it('only the total is unmasked: two sets of inputs with equal totals but different limb sums give the same bytes; control: without elements the limb sums show', () => {
    const runs = [{ limbs: 2, count: 1 }];
    // Totals 3·2^32 in both: A's low limbs carry (3·(2^32 − 1) + 3), B's do not (its high limbs hold it all).
    const carries = [[(1n << 32n) - 1n], [(1n << 32n) - 1n], [(1n << 32n) - 1n], [3n]];
    const flatB = [[1n << 32n], [1n << 32n], [1n << 32n], [0n]];
    const totalA = 3n << 32n;
    const wideA = secureSum(carries, runs, runs, 'equal-a');
    const wideB = secureSum(flatB, runs, runs, 'equal-b');
    expect([...wideA]).toEqual([...wideB]);
    expect(fromLimbs(wideA, 0, 2)).toBe(totalA);
    // The digit view (no elements: each limb summed on its own) tells the two apart.
    const limbA = secureSum(carries, undefined, runs, 'limb-a');
    const limbB = secureSum(flatB, undefined, runs, 'limb-b');
    expect([...limbA]).not.toEqual([...limbB]);
  });

  it('refuses elements that do not cover the vector, or a limb count out of range', () => {
    const base = { roundId: 'r', threshold: 2, participants: ['x', 'y', 'z'].map((id) => ({ id, identityPublicKey: new Uint8Array(32) })) };
    expect(() => compileSecAggRoundConfig({ ...base, vectorLength: 5, elements: [{ limbs: 2, count: 2 }] })).toThrow(/cover 4 limbs, config.vectorLength is 5/);
    expect(() => compileSecAggRoundConfig({ ...base, vectorLength: 4, elements: [{ limbs: 2, count: 3 }] })).toThrow(/cover more than/);
    expect(() => compileSecAggRoundConfig({ ...base, vectorLength: 9, elements: [{ limbs: 9, count: 1 }] })).toThrow(/limbs must be an integer in \[1, 8\]/);
    expect(() => compileSecAggRoundConfig({ ...base, vectorLength: 2, elements: [{ limbs: 1, count: 0 }, { limbs: 1, count: 2 }] })).toThrow(/count must be a positive integer/);
    expect(compileSecAggRoundConfig({ ...base, vectorLength: 4, elements: [{ limbs: 1, count: 4 }] }).carry).toBeUndefined();
    expect([...compileSecAggRoundConfig({ ...base, vectorLength: 5, elements: [{ limbs: 1, count: 1 }, { limbs: 2, count: 2 }] }).carry!]).toEqual([0, 1, 0, 1, 0]);
  });
});
