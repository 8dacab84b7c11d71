import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { createBufferedRng } from './random-source.js';
import { compare, isqrt, rational, rationalFromNumber, roundUpToSignificantBits, toNumber } from './rational.js';

describe('rationals', () => {
  it('converts doubles exactly from their binary value', () => {
    expect(rationalFromNumber(0.1)).toEqual({ num: 3602879701896397n, den: 36028797018963968n });
    expect(rationalFromNumber(-2.5)).toEqual({ num: -5n, den: 2n });
    expect(rationalFromNumber(5e-324)).toEqual({ num: 1n, den: 1n << 1074n });
    expect(() => rationalFromNumber(NaN, 'sigma2')).toThrow(/sigma2/);
  });
  it('rounds up to significant bits, never down', () => {
    const x = rationalFromNumber(Math.PI);
    const r = roundUpToSignificantBits(x, 20);
    expect(compare(r, x)).toBe(1);
    expect(toNumber(r) / Math.PI - 1).toBeLessThan(2 ** -19);
    expect(roundUpToSignificantBits(rational(1n << 80n), 20)).toEqual(rational(1n << 80n));
  });
  it('isqrt is exact', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 99n, 100n, (1n << 120n) - 1n, 1n << 120n]) {
      const s = isqrt(n);
      expect(s * s <= n && (s + 1n) * (s + 1n) > n).toBe(true);
    }
  });
});

describe('BufferedRng', () => {
  it('draws uniform integers without bias over small and large ranges', () => {
    const src = createBufferedRng(createSeededRng('u'), 64);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[src.uniformInt(3)]!++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(600);
    const big = 2 ** 40 + 7;
    for (let i = 0; i < 1000; i++) {
      const v = src.uniformInt(big);
      expect(v >= 0 && v < big && Number.isInteger(v)).toBe(true);
    }
    const n = (1n << 100n) + 3n;
    for (let i = 0; i < 100; i++) {
      const v = src.uniformBigInt(n);
      expect(v >= 0n && v < n).toBe(true);
    }
  });
  it('rejects bad arguments', () => {
    expect(() => createBufferedRng(createSeededRng(1), 10)).toThrow(/bufferBytes/);
    expect(() => createBufferedRng(createSeededRng(1)).uniformInt(0)).toThrow(/n must be/);
  });
});
