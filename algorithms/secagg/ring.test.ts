import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ring64Add, ring64Neg, ring64Sub, ring64Sum, ringAdd, ringFromBytes, ringNeg, ringSub, ringSum, ringToBytes } from './ring.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('Z_2^32 arithmetic', () => {
  it('wraps modulo 2^32', () => {
    expect([...ringAdd(Uint32Array.of(0xffffffff, 5), Uint32Array.of(2, 7))]).toEqual([1, 12]);
    expect([...ringSub(Uint32Array.of(0, 5), Uint32Array.of(1, 7))]).toEqual([0xffffffff, 0xfffffffe]);
    expect([...ringNeg(Uint32Array.of(0, 1, 0x80000000))]).toEqual([0, 0xffffffff, 0x80000000]);
  });

  it('is a commutative group and the sum does not depend on order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }).chain((len) => fc.array(fc.array(u32, { minLength: len, maxLength: len }), { minLength: 1, maxLength: 6 })), (rows) => {
        const vs = rows.map((r) => Uint32Array.from(r));
        const s = ringSum(vs);
        expect([...ringSum([...vs].reverse())]).toEqual([...s]);
        const first = vs[0]!;
        expect([...ringAdd(ringSub(s, first), first)]).toEqual([...s]);
        expect([...ringAdd(first, ringNeg(first))].every((x) => x === 0)).toBe(true);
        // Reference: BigInt sum mod 2^32.
        const ref = first.map((_, i) => Number(vs.reduce((acc, v) => acc + BigInt(v[i]!), 0n) % 2n ** 32n));
        expect([...s]).toEqual([...ref]);
      }),
      { numRuns: 50 },
    );
  });

  it('rejects vectors of different lengths and an empty sum', () => {
    expect(() => ringAdd(new Uint32Array(2), new Uint32Array(3))).toThrow(RangeError);
    expect(() => ringSum([])).toThrow(/must not be empty/);
  });

  it('round-trips little-endian bytes, also from an unaligned view', () => {
    const v = Uint32Array.of(1, 0xdeadbeef, 0xffffffff);
    const bytes = ringToBytes(v);
    expect([...bytes.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    expect([...ringFromBytes(unaligned)]).toEqual([...v]);
    expect(() => ringFromBytes(new Uint8Array(5))).toThrow(/multiple of 4/);
  });
});

describe('Z_2^64 arithmetic', () => {
  it('wraps modulo 2^64', () => {
    const max = 2n ** 64n - 1n;
    expect([...ring64Add(BigUint64Array.of(max), BigUint64Array.of(2n))]).toEqual([1n]);
    expect([...ring64Sub(BigUint64Array.of(0n), BigUint64Array.of(1n))]).toEqual([max]);
    expect([...ring64Neg(BigUint64Array.of(1n))]).toEqual([max]);
    expect([...ring64Sum([BigUint64Array.of(max), BigUint64Array.of(max), BigUint64Array.of(3n)])]).toEqual([1n]);
  });
});
