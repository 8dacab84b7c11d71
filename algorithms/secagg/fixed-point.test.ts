import { describe, expect, it } from 'vitest';
import type { Rng } from '../rng.js';
import { createSeededRng } from '../testing/seeded-rng.js';
import { checkFixedPointSumBound, createFixedPointCodec, decodeFixedPoint, encodeFixedPoint } from './fixed-point.js';
import { ringSum } from './ring.js';

/** Negative control: deterministic truncation toward zero, the classic biased encoder. */
function encodeTruncating(values: ArrayLike<number>, scale: number): Uint32Array {
  return Uint32Array.from(Array.from(values, (v) => Math.trunc(v * scale) >>> 0));
}

/**
 * Statistical check that an encoder is unbiased: encode `value` N times, decode, compare the mean with `value`.
 * Each encoding is ⌊v·s⌋ or ⌊v·s⌋+1 (Bernoulli(r) on top of the floor), so the mean has standard deviation
 * sqrt(r(1−r)/N)/s; we accept |mean − value| ≤ 5 σ (false failure rate ≈ 6e-7 per value at a fixed seed).
 */
function isUnbiased(encode: (values: Float64Array) => Uint32Array, value: number, scale: number, n: number): boolean {
  const encoded = encode(new Float64Array(n).fill(value));
  const decoded = decodeFixedPoint(encoded, scale);
  const mean = decoded.reduce((a, b) => a + b, 0) / n;
  const r = value * scale - Math.floor(value * scale);
  const sigma = Math.sqrt(Math.max(r * (1 - r), 1e-12) / n) / scale;
  return Math.abs(mean - value) <= 5 * sigma;
}

describe('fixed-point encoding', () => {
  it('encodes exactly representable values exactly, negatives in two\'s complement', () => {
    const rng = createSeededRng(1);
    const enc = encodeFixedPoint([1.5, -2.25, 0, -0.0009765625], 1024, rng);
    expect([...enc]).toEqual([1536, (-2304 >>> 0), 0, (-1 >>> 0)]);
    expect([...decodeFixedPoint(enc, 1024)]).toEqual([1.5, -2.25, 0, -0.0009765625]);
  });

  it('rounds each value to one of its two neighbours on the grid', () => {
    const rng = createSeededRng(2);
    const values = Array.from({ length: 1000 }, (_, i) => (i - 500) / 77);
    const dec = decodeFixedPoint(encodeFixedPoint(values, 16, rng), 16);
    values.forEach((v, i) => {
      expect(dec[i]! === Math.floor(v * 16) / 16 || dec[i]! === Math.ceil(v * 16) / 16).toBe(true);
    });
  });

  it('stochastic rounding is unbiased (5σ at N = 20000), and the truncating negative control is not', () => {
    const scale = 4;
    const n = 20_000;
    const rng = createSeededRng('unbiased');
    for (const value of [0.3, -1.7, 2.0625, -0.01]) {
      expect(isUnbiased((vs) => encodeFixedPoint(vs, scale, rng), value, scale, n), `stochastic, value ${value}`).toBe(true);
      expect(isUnbiased((vs) => encodeTruncating(vs, scale), value, scale, n), `truncating, value ${value}`).toBe(false);
    }
  });

  it('a constant Rng biases the rounding and the test notices (the check has power)', () => {
    const zeros: Rng = { fill: (b) => b.fill(0) };
    // u = 0 < r always rounds up: biased.
    expect(isUnbiased((vs) => encodeFixedPoint(vs, 4, zeros), 0.3, 4, 20_000)).toBe(false);
  });

  it('draws all its randomness from the injected Rng (same seed, same encoding)', () => {
    const values = Array.from({ length: 5000 }, (_, i) => Math.sin(i));
    expect([...encodeFixedPoint(values, 256, createSeededRng(9))]).toEqual([...encodeFixedPoint(values, 256, createSeededRng(9))]);
  });

  it('rejects bad arguments naming them', () => {
    const rng = createSeededRng(3);
    expect(() => encodeFixedPoint([1], 0, rng)).toThrow(/scale/);
    expect(() => encodeFixedPoint([Number.NaN], 1, rng)).toThrow(/values\[0\] must be finite/);
    expect(() => encodeFixedPoint([0, 2 ** 31], 1, rng)).toThrow(/values\[1\].*signed 32-bit/);
    expect(() => decodeFixedPoint(new Uint32Array(1), -1)).toThrow(RangeError);
  });
});

describe('overflow bound', () => {
  it('accepts the largest safe configuration and rejects one step beyond, naming the overflow', () => {
    // 100 agents × 2^24 fits (≤ 2^31 − 1 needs max·scale ≤ 21474836); 100 × 21474837 does not.
    expect(() => checkFixedPointSumBound({ minValue: -1, maxValue: 1, scale: 21474836, agents: 100 })).not.toThrow();
    expect(() => checkFixedPointSumBound({ minValue: -1, maxValue: 1, scale: 21474837, agents: 100 })).toThrow(/overflow/);
    // The negative side: −2^31 itself is representable.
    expect(() => checkFixedPointSumBound({ minValue: -(2 ** 31), maxValue: 0, scale: 1, agents: 1 })).not.toThrow();
    expect(() => checkFixedPointSumBound({ minValue: -(2 ** 31) - 1, maxValue: 0, scale: 1, agents: 1 })).toThrow(RangeError);
    // A fractional bound rounds up (stochastic rounding may go to the ceiling).
    expect(() => checkFixedPointSumBound({ minValue: 0, maxValue: 0.5, scale: 2 ** 32 - 1, agents: 1 })).toThrow(/overflow/);
  });

  it('names the bad argument', () => {
    const ok = { minValue: 0, maxValue: 1, scale: 16, agents: 3 };
    expect(() => checkFixedPointSumBound({ ...ok, agents: 0 })).toThrow(/agents/);
    expect(() => checkFixedPointSumBound({ ...ok, minValue: 2 })).toThrow(/minValue/);
    expect(() => checkFixedPointSumBound({ ...ok, maxValue: Number.POSITIVE_INFINITY })).toThrow(/maxValue/);
    expect(() => checkFixedPointSumBound({ ...ok, scale: Number.NaN })).toThrow(/scale/);
  });

  it('inside the bound the ring sum of worst-case inputs decodes exactly; outside it would have wrapped', () => {
    const rng = createSeededRng(4);
    const agents = 10;
    const scale = 2 ** 20;
    const codec = createFixedPointCodec({ minValue: -200, maxValue: 200, scale, agents });
    const worst = Array.from({ length: agents }, () => codec.encode([200, -200], rng));
    expect([...codec.decode(ringSum(worst))]).toEqual([2000, -2000]);
    // The same inputs at a scale the bound rejects really do wrap: the check is not over-cautious.
    expect(() => createFixedPointCodec({ minValue: -1500, maxValue: 1500, scale, agents })).toThrow(/overflow/);
    const wrapped = decodeFixedPoint(ringSum(Array.from({ length: agents }, () => encodeFixedPoint([1500], scale, rng))), scale);
    expect(wrapped[0]).not.toBe(15000);
  });

  it('the codec refuses values outside its declared bounds, naming the index', () => {
    const codec = createFixedPointCodec({ minValue: 0, maxValue: 1, scale: 1024, agents: 5 });
    expect(() => codec.encode([0.5, 1.5], createSeededRng(5))).toThrow(/values\[1\]/);
    expect(() => codec.encode([Number.NaN], createSeededRng(5))).toThrow(/values\[0\]/);
  });
});
