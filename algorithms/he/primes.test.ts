import { describe, expect, it } from 'vitest';
import { isPrime, smallestBatchingPrime } from './primes.js';
import { SEAL_BFV_DEFAULT_COEFF_MODULUS } from './parameters.js';

function sieve(limit: number): boolean[] {
  const p = new Array<boolean>(limit + 1).fill(true);
  p[0] = p[1] = false;
  for (let i = 2; i * i <= limit; i++) if (p[i]) for (let j = i * i; j <= limit; j += i) p[j] = false;
  return p;
}

describe('isPrime', () => {
  it('agrees with a sieve below 20000', () => {
    const p = sieve(20_000);
    for (let i = 0; i <= 20_000; i++) expect(isPrime(BigInt(i)), `n=${i}`).toBe(p[i]);
  });

  it('rejects Carmichael numbers and strong pseudoprimes to small bases', () => {
    for (const n of [561n, 41041n, 825265n, 2047n, 1373653n, 25326001n, 3215031751n, 2152302898747n, 3474749660383n, 341550071728321n]) {
      expect(isPrime(n), String(n)).toBe(false);
    }
  });

  it('accepts large known primes, SEAL default primes among them', () => {
    for (const n of [2n ** 61n - 1n, 2n ** 31n - 1n, 40961n, 65537n, 1032193n, ...SEAL_BFV_DEFAULT_COEFF_MODULUS[4096].primes, ...SEAL_BFV_DEFAULT_COEFF_MODULUS[8192].primes]) {
      expect(isPrime(n), String(n)).toBe(true);
    }
    expect(isPrime((2n ** 31n - 1n) * 1032193n)).toBe(false);
  });

  it('refuses inputs beyond its proven range', () => {
    expect(() => isPrime(2n ** 90n)).toThrow(RangeError);
  });
});

describe('smallestBatchingPrime', () => {
  it('finds SEAL-known batching primes', () => {
    expect(smallestBatchingPrime(4096, 1n)).toBe(40961n);
    expect(smallestBatchingPrime(8192, 1n)).toBe(65537n);
    expect(smallestBatchingPrime(4096, 1_000_000n)).toBe(1032193n); // the value SEAL's PlainModulus.Batching(4096, 20) returns
  });

  it('returns the smallest prime ≡ 1 mod 2n at or above the minimum', () => {
    for (const [n, atLeast] of [[4096, 20_001n], [4096, 123_456_789n], [8192, 5_000_000n]] as const) {
      const t = smallestBatchingPrime(n, atLeast);
      expect(t >= atLeast).toBe(true);
      expect(t % BigInt(2 * n)).toBe(1n);
      expect(isPrime(t)).toBe(true);
      for (let c = t - BigInt(2 * n); c >= atLeast; c -= BigInt(2 * n)) expect(isPrime(c), `smaller candidate ${c}`).toBe(false);
    }
  });

  it('validates its arguments', () => {
    expect(() => smallestBatchingPrime(3000, 1n)).toThrow(/power of two/);
    expect(() => smallestBatchingPrime(4096, 0n)).toThrow(/atLeast/);
  });
});
