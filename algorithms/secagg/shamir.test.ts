import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { createShamirReconstructor, SHAMIR_PRIME, SHAMIR_SHARE_BYTES, shamirCombine, shamirSplit } from './shamir.js';

const secret32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** A random subset of size k of 0..n−1, chosen by fast-check. */
function subset(n: number, k: number) {
  return fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: k, maxLength: k });
}

describe('Shamir t-of-n over GF(2^521 − 1)', () => {
  it('any t of n shares reconstruct the secret; t − 1 do not', () => {
    const params = fc
      .integer({ min: 1, max: 12 })
      .chain((n) => fc.record({ n: fc.constant(n), t: fc.integer({ min: 1, max: n }) }))
      .chain(({ n, t }) => fc.record({ n: fc.constant(n), t: fc.constant(t), pick: subset(n, t), secret: secret32, seed: fc.integer() }));
    fc.assert(
      fc.property(params, ({ n, t, pick, secret, seed }) => {
        const shares = shamirSplit(secret, t, n, createSeededRng(seed));
        expect(shares.map((s) => s.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        const chosen = pick.map((i) => shares[i]!);
        expect([...shamirCombine(chosen, t, 32)]).toEqual([...secret]);
        if (t >= 2) {
          const fewer = chosen.slice(0, t - 1);
          expect(() => shamirCombine(fewer, t, 32)).toThrow(/below threshold/);
          // Interpolating t − 1 shares as if they were enough gives a wrong value (whp not even a 32-byte one).
          let wrong: number[] | undefined;
          try {
            wrong = [...shamirCombine(fewer, t - 1, 32)];
          } catch (e) {
            expect(String(e)).toMatch(/do not interpolate/);
          }
          if (wrong !== undefined) expect(wrong).not.toEqual([...secret]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a share is a field element of fixed size; shares of equal secrets differ (fresh coefficients)', () => {
    const secret = new Uint8Array(32).fill(7);
    const a = shamirSplit(secret, 3, 5, createSeededRng(1));
    const b = shamirSplit(secret, 3, 5, createSeededRng(2));
    for (const s of a) expect(s.value.length).toBe(SHAMIR_SHARE_BYTES);
    expect([...a[0]!.value]).not.toEqual([...b[0]!.value]);
  });

  it('reconstructs secrets of other lengths, including leading zero bytes', () => {
    const secret = Uint8Array.of(0, 0, 1, 2, 3);
    const shares = shamirSplit(secret, 2, 3, createSeededRng(3));
    expect([...shamirCombine([shares[2]!, shares[0]!], 2, 5)]).toEqual([...secret]);
  });

  it('is efficient for n = 100, t = 67, with a reconstructor reused across secrets', () => {
    const rng = createSeededRng(4);
    const secrets = Array.from({ length: 20 }, (_, k) => new Uint8Array(32).fill(k));
    const all = secrets.map((s) => shamirSplit(s, 67, 100, rng));
    // 50 odd indices and the 17 largest even ones: 67 distinct holders, not a prefix.
    const holders = [...Array.from({ length: 50 }, (_, i) => 2 * i + 1), ...Array.from({ length: 17 }, (_, i) => 100 - 2 * i)];
    const reconstructor = createShamirReconstructor(holders);
    all.forEach((shares, k) => {
      expect([...reconstructor.combine(holders.map((x) => shares[x - 1]!.value), 32)]).toEqual([...secrets[k]!]);
    });
  });

  it('rejects bad arguments with messages naming them', () => {
    const rng = createSeededRng(5);
    expect(() => shamirSplit(new Uint8Array(0), 1, 1, rng)).toThrow(/secret/);
    expect(() => shamirSplit(new Uint8Array(66), 1, 1, rng)).toThrow(/secret/);
    expect(() => shamirSplit(new Uint8Array(32), 4, 3, rng)).toThrow(/threshold \(4\) must be <= shareCount \(3\)/);
    expect(() => shamirSplit(new Uint8Array(32), 0, 3, rng)).toThrow(/threshold/);
    const shares = shamirSplit(new Uint8Array(32).fill(1), 2, 3, rng);
    expect(() => shamirCombine([shares[0]!, shares[0]!], 2)).toThrow(/below threshold/);
    expect(() => shamirCombine([shares[0]!, { index: 1, value: shares[1]!.value }], 2)).toThrow(/two different shares/);
    expect(() => createShamirReconstructor([1, 1])).toThrow(/repeated/);
    expect(() => createShamirReconstructor([0, 1])).toThrow(/positive/);
    const notInField = new Uint8Array(SHAMIR_SHARE_BYTES).fill(0xff);
    expect(BigInt('0x' + Buffer.from(notInField).toString('hex')) >= SHAMIR_PRIME).toBe(true);
    expect(() => createShamirReconstructor([1, 2]).combine([notInField, shares[1]!.value], 32)).toThrow(/not a field element/);
  });
});
