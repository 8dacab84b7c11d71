import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  assertWithinBounds,
  assertWithinPlan,
  decodeFixedPoint,
  encodeFixedPoint,
  fixedPointBounds,
  fromCentredResidue,
  toCentredResidue,
} from './encoding.js';

describe('fixed-point encoding', () => {
  it('scales by 2^fractionalBits and rounds half to even', () => {
    expect(Array.from(encodeFixedPoint([1.5, -1.5, 0.25, 2.5 / 4, -2.5 / 4, 3.5 / 4], 2))).toEqual([6n, -6n, 1n, 2n, -2n, 4n]);
    expect(Array.from(encodeFixedPoint([0.1], 16))).toEqual([6554n]);
  });

  it('round-trips within half a grid step', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 50 }), fc.integer({ min: 0, max: 24 }), (xs, f) => {
        const back = decodeFixedPoint(encodeFixedPoint(xs, f), f);
        xs.forEach((x, i) => expect(Math.abs(back[i]! - x)).toBeLessThanOrEqual(2 ** -(f + 1)));
      }),
    );
  });

  it('names the index of a value it cannot encode', () => {
    expect(() => encodeFixedPoint([1, Number.NaN], 8)).toThrow(/index 1 is not finite/);
    expect(() => encodeFixedPoint([0, 0, 2 ** 50], 8)).toThrow(/index 2.*too large/);
    expect(() => encodeFixedPoint([1], 53)).toThrow(/fractionalBits/);
  });

  it('gives integer bounds containing every encoded in-range real', () => {
    const b = fixedPointBounds(-1.3, 2.7, 4);
    expect(b).toEqual({ min: -21n, max: 43n });
    fc.assert(
      fc.property(fc.double({ min: -1.3, max: 2.7, noNaN: true }), (x) => {
        const v = encodeFixedPoint([x], 4)[0]!;
        expect(v >= b.min && v <= b.max).toBe(true);
      }),
    );
  });
});

describe('pre-encryption bound check', () => {
  const plan = { vectorLength: 5, valueBounds: { min: -100n, max: 100n }, plainModulus: 40961n };

  it('accepts values within bounds, both vector types', () => {
    expect(() => assertWithinPlan(new BigInt64Array([-100n, 0n, 100n, 5n, -5n]), plan)).not.toThrow();
    expect(() => assertWithinPlan(Int32Array.from([-100, 0, 100, 5, -5]), plan)).not.toThrow();
  });

  it('rejects the first value out of bounds, naming its index and the bound', () => {
    expect(() => assertWithinPlan(new BigInt64Array([0n, 0n, 0n, 101n, 0n]), plan)).toThrow(
      /value at index 3 \(101\) is outside the per-agent bound \[-100, 100\].*plain modulus 40961/,
    );
    expect(() => assertWithinPlan(Int32Array.from([0, -101, 0, 0, 0]), plan)).toThrow(/index 1 \(-101\).*\[-100, 100\]/);
    expect(() => assertWithinBounds(new BigInt64Array([0n, 200n]), plan, 4096)).toThrow(/index 4097/);
  });

  it('rejects a vector of the wrong length or type', () => {
    expect(() => assertWithinPlan(new BigInt64Array(4), plan)).toThrow(/length 4.*length 5/);
    expect(() => assertWithinPlan(new Float64Array(5) as never, plan)).toThrow(TypeError);
  });
});

describe('centred residues', () => {
  it('map signed integers into [0, t) and back', () => {
    const t = 40961n;
    fc.assert(
      fc.property(fc.bigInt({ min: -20480n, max: 20480n }), (v) => {
        const r = toCentredResidue(v, t);
        expect(r >= 0n && r < t).toBe(true);
        expect(fromCentredResidue(r, t)).toBe(v);
      }),
    );
    expect(toCentredResidue(-1n, t)).toBe(40960n);
    expect(fromCentredResidue(20481n, t)).toBe(-20480n);
    expect(() => toCentredResidue(20481n, t)).toThrow(RangeError);
    expect(() => fromCentredResidue(t, t)).toThrow(RangeError);
  });
});
