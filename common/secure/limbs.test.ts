import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heLimbRing, limbsFor, readLimbs, secAggLimbRing, writeLimbs, type LimbRing } from './limbs.js';

/** Adds limb vectors the way the secure layer does: mod 2^32 per position (SecAgg), exactly (HE). */
function addLimbs(ring: LimbRing, vectors: number[][]): (number | bigint)[] {
  return vectors[0]!.map((_, j) => {
    const s = vectors.reduce((a, v) => a + BigInt(v[j]!), 0n);
    return ring.kind === 'secagg' ? Number(s % (1n << 32n)) : s;
  });
}

describe('multi-limb secure sums', () => {
  it('any values within their per-agent bounds sum exactly, with dropouts, for SecAgg and HE rings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 100 }),
        fc.bigInt({ min: -(1n << 70n), max: 0n }),
        fc.bigInt({ min: 0n, max: 1n << 70n }),
        fc.boolean(),
        fc.integer({ min: 8, max: 30 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 100 }),
        (n, lo, hi, secagg, b, fractions) => {
          const ring = secagg ? secAggLimbRing(n) : heLimbRing(b);
          const L = limbsFor(ring, lo, hi, n);
          if (L === undefined) return;
          const contributors = Math.min(n, fractions.length);
          const values = fractions.slice(0, contributors).map((f) => lo + BigInt(Math.floor(f * 2 ** 20)) * (hi - lo) / (1n << 20n));
          const vectors = values.map((x) => {
            const out: number[] = new Array(L).fill(0);
            writeLimbs(ring, L, x, out, 0, false);
            if (ring.kind === 'he') for (const d of out) expect(d).toBeLessThan(2 ** ring.digitBits);
            return out;
          });
          const total = values.reduce((a, x) => a + x, 0n);
          expect(readLimbs(ring, L, addLimbs(ring, vectors), 0, BigInt(n) * lo)).toBe(total);
        },
      ),
      { seed: 4242, numRuns: 300 },
    );
  });

  it('SecAgg digits leave room for n carries; more limbs for wider ranges; none beyond 8', () => {
    expect(secAggLimbRing(10).digitBits).toBe(28);
    expect(secAggLimbRing(3).digitBits).toBe(30);
    expect(limbsFor(secAggLimbRing(10), 0n, (1n << 28n) - 1n, 10)).toBe(1);
    expect(limbsFor(secAggLimbRing(10), 0n, 1n << 30n, 10)).toBe(2);
    expect(limbsFor(secAggLimbRing(10), -(1n << 300n), 1n << 300n, 10)).toBeUndefined();
  });
});
