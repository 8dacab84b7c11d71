import { beforeAll, describe, expect, it } from 'vitest';
import { encodeFixedPoint, fixedPointBounds, REQUIRED_NOISE_MARGIN_BITS, selectHeParameters } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { addCiphertexts } from './aggregate.js';
import { decryptReals, decryptVector } from './decrypt.js';
import { encryptVector } from './encrypt.js';
import { generateHeKeyPair } from './keys.js';
import type { HeKeyPair } from './keys.js';
import { getSealContext } from './seal.js';

/** Deterministic test values (xorshift32); never for anything that protects data. */
function testValues(seed: number, length: number, min: bigint, max: bigint): BigInt64Array {
  let s = seed >>> 0 || 1;
  const span = Number(max - min) + 1;
  const out = new BigInt64Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = min + BigInt(s % span);
  }
  return out;
}

function plainSum(vectors: readonly BigInt64Array[], length: number): BigInt64Array {
  const sum = new BigInt64Array(length);
  for (const v of vectors) for (let i = 0; i < length; i++) sum[i]! += v[i]!;
  return sum;
}

const BOUNDS = { min: -50_000n, max: 50_000n };
// Longer than two ciphertexts' worth of slots at n = 4096, and not a multiple of n.
const LENGTH = 2 * 4096 + 1001;

describe('BFV encrypt → add → decrypt', () => {
  let plan: HePlan;
  let keys: HeKeyPair;

  beforeAll(async () => {
    plan = selectHeParameters({ vectorLength: LENGTH, valueBounds: BOUNDS, agents: 10, polyModulusDegree: 4096 });
    keys = await generateHeKeyPair(plan);
  });

  it('uses SEAL with the recorded coefficient modulus and produces ciphertexts of the exact planned size', async () => {
    expect(plan.ciphertextCount).toBe(3);
    const sc = await getSealContext(plan);
    expect(Array.from(sc.context.keyContextData.parms.coeffModulus).map((q) => q.toString(2).length)).toEqual([36, 36, 37]);
    expect(keys.publicKey.byteLength).toBe(plan.publicKeyByteSize);
    expect(keys.secretKey.byteLength).toBe(plan.secretKeyByteSize);
    const cts = await encryptVector(plan, keys.publicKey, new BigInt64Array(LENGTH));
    expect(cts.map((c) => c.byteLength)).toEqual([65_649, 65_649, 65_649]);
  });

  it('matches the exact sizes at n = 8192 too (last level, key level, secret key)', async () => {
    const big = selectHeParameters({ vectorLength: 8192, valueBounds: { min: -1n, max: 1n }, agents: 3 });
    expect(big.polyModulusDegree).toBe(8192);
    const bigKeys = await generateHeKeyPair(big);
    expect(bigKeys.publicKey.byteLength).toBe(655_473);
    expect(bigKeys.secretKey.byteLength).toBe(327_768);
    const [ct] = await encryptVector(big, bigKeys.publicKey, new BigInt64Array(8192).fill(-1n));
    expect(ct!.byteLength).toBe(131_185);
    expect(big.ciphertextByteSize).toBe(131_185);
    expect((await decryptVector(big, bigKeys.secretKey, [ct!]))[8191]).toBe(-1n);
  });

  it.each([3, 7, 10])('sums %i agents exactly, negative values included', async (agents) => {
    const vectors = Array.from({ length: agents }, (_, a) => testValues(1000 + a, LENGTH, BOUNDS.min, BOUNDS.max));
    const uploads = await Promise.all(vectors.map((v) => encryptVector(plan, keys.publicKey, v)));
    const aggregate = await addCiphertexts(plan, uploads);
    const sum = await decryptVector(plan, keys.secretKey, aggregate);
    const want = plainSum(vectors, LENGTH);
    expect(want.some((x) => x < 0n)).toBe(true);
    expect(sum).toEqual(want);
  });

  it('holds the extreme sums without wrapping: every agent at max, every agent at min', async () => {
    for (const v of [BOUNDS.max, BOUNDS.min]) {
      const upload = await encryptVector(plan, keys.publicKey, new BigInt64Array(LENGTH).fill(v));
      const sum = await decryptVector(plan, keys.secretKey, await addCiphertexts(plan, Array.from({ length: 10 }, () => upload)));
      expect(sum[0]).toBe(10n * v);
      expect(sum[LENGTH - 1]).toBe(10n * v);
    }
  });

  it('accepts Int32Array input and recovers reals through the fixed-point encoding', async () => {
    const f = 8;
    const realPlan = selectHeParameters({ vectorLength: 6, valueBounds: fixedPointBounds(-100, 100, f), agents: 3, polyModulusDegree: 4096 });
    const realKeys = await generateHeKeyPair(realPlan);
    const reals = [
      [1.5, -2.25, 99.99, -100, 0, 3.14159],
      [0.5, 2.25, -0.01, -100, 0, 2.71828],
      [-1, 0, 0, 100, 0.00390625, 1],
    ];
    const uploads = await Promise.all(reals.map((r) => encryptVector(realPlan, realKeys.publicKey, Int32Array.from(encodeFixedPoint(r, f), Number))));
    const sums = await decryptReals(realPlan, realKeys.secretKey, await addCiphertexts(realPlan, uploads), f);
    const want = reals[0]!.map((_, i) => reals.reduce((s, r) => s + Number(encodeFixedPoint([r[i]!], f)[0]!), 0) / 2 ** f);
    expect(Array.from(sums)).toEqual(want);
    sums.forEach((s, i) => expect(Math.abs(s - reals.reduce((acc, r) => acc + r[i]!, 0))).toBeLessThanOrEqual(3 * 2 ** -(f + 1)));
  });

  it('rejects an out-of-bounds value before any encryption (even the malformed key is never looked at)', async () => {
    const values = new BigInt64Array(LENGTH);
    values[5000] = BOUNDS.max + 1n;
    const garbageKey = new Uint8Array(10);
    await expect(encryptVector(plan, garbageKey, values)).rejects.toThrow(
      /value at index 5000 \(50001\) is outside the per-agent bound \[-50000, 50000\]/,
    );
    values[5000] = 0n;
    await expect(encryptVector(plan, garbageKey, values)).rejects.toThrow(/public key is 10 bytes/);
  });

  it('negative control: values beyond the bound really would wrap the sum, which is why they are refused', async () => {
    // A plan with the same SEAL parameters but 40× wider bounds lets the values through; the sum then wraps mod t.
    const wide = { ...plan, valueBounds: { min: -2_000_000n, max: 2_000_000n } };
    const v = new BigInt64Array(LENGTH).fill(2_000_000n);
    const upload = await encryptVector(wide, keys.publicKey, v);
    const sum = await decryptVector(plan, keys.secretKey, await addCiphertexts(plan, Array.from({ length: 10 }, () => upload)));
    expect(sum[0]).not.toBe(20_000_000n);
  });

  it('refuses more contributions than the plan was sized for', async () => {
    const upload = await encryptVector(plan, keys.publicKey, new BigInt64Array(LENGTH));
    await expect(addCiphertexts(plan, Array.from({ length: 11 }, () => upload))).rejects.toThrow(/11 contributions exceed the plan's maxAgents \(10\)/);
    await expect(addCiphertexts(plan, [upload, upload.slice(0, 2)])).rejects.toThrow(/contribution 1 has 2 ciphertexts, expected 3/);
  });

  it('decrypts only with the matching key material', async () => {
    const upload = await encryptVector(plan, keys.publicKey, new BigInt64Array(LENGTH).fill(7n));
    const other = await generateHeKeyPair(plan);
    const wrong = await decryptVector(plan, other.secretKey, upload, { checkNoiseBudget: false });
    expect(wrong[0]).not.toBe(7n);
    await expect(decryptVector(plan, other.secretKey, upload)).rejects.toSatisfy(
      (e: unknown) => e instanceof FedmeshError && e.code === 'FAILED_PRECONDITION' && /noise budget/.test(e.message),
    );
  });

  it('the noise model is conservative: at the widest bounds it allows on the last level, SEAL still has the margin left', async () => {
    // Widest per-agent bound that keeps n = 4096 at its 36-bit last level for 10 agents.
    let lo = 1n;
    let hi = 1n << 30n;
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      try {
        const p = selectHeParameters({ vectorLength: 4096, valueBounds: { min: -mid, max: mid }, agents: 10, polyModulusDegree: 4096 });
        if (p.uploadCoeffModulusCount === 1) lo = mid;
        else hi = mid;
      } catch {
        hi = mid;
      }
    }
    const edge = selectHeParameters({ vectorLength: 4096, valueBounds: { min: -lo, max: lo }, agents: 10, polyModulusDegree: 4096 });
    expect(edge.uploadCoeffModulusCount).toBe(1);
    expect(edge.plainModulus.toString(2).length).toBeGreaterThanOrEqual(21);
    const edgeKeys = await generateHeKeyPair(edge);
    const uploads = await Promise.all(
      Array.from({ length: 10 }, (_, a) => encryptVector(edge, edgeKeys.publicKey, testValues(77 + a, 4096, -lo, lo))),
    );
    const [aggregate] = await addCiphertexts(edge, uploads);
    const sc = await getSealContext(edge);
    const sk = sc.seal.SecretKey();
    sk.loadArray(sc.context, edgeKeys.secretKey.exportBytes());
    const ct = sc.seal.CipherText();
    ct.loadArray(sc.context, aggregate!);
    const decryptor = sc.seal.Decryptor(sc.context, sk);
    try {
      expect(decryptor.invariantNoiseBudget(ct)).toBeGreaterThanOrEqual(REQUIRED_NOISE_MARGIN_BITS);
    } finally {
      decryptor.delete();
      ct.delete();
      sk.delete();
    }
  });
});
