import type { Rng } from '../../rng.js';
import { asBufferedRng, type BufferedRng } from '../random-source.js';
import { toRational, type Rational } from '../rational.js';

/**
 * Exact Bernoulli samplers (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential Privacy",
 * Algorithm 1 and the remarks before it). No floating-point operation decides an outcome: every probability is a
 * ratio of integers, and every integer handled as a JavaScript number is checked to stay below 2^53, where number
 * arithmetic is exact; larger values take the BigInt path.
 */

/** Largest denominator the number path accepts: 2·r must stay below 2^53 for every remainder r < d. */
export const MAX_FAST_DENOMINATOR = 2 ** 52;

/**
 * Bernoulli(n/d) for safe integers 0 ≤ n, 0 < d ≤ 2^52, by comparing a lazily drawn uniform U = 0.b1b2… in [0,1)
 * with the binary expansion of n/d, one bit at a time (2 bits expected). Returns U < n/d.
 */
export function bernoulliRatioFast(src: BufferedRng, n: number, d: number): boolean {
  if (n <= 0) return false;
  if (n >= d) return true;
  let r = n;
  for (;;) {
    r *= 2;
    let pbit = 0;
    if (r >= d) {
      pbit = 1;
      r -= d;
    }
    const b = src.nextBit();
    if (b !== pbit) return b < pbit;
    if (r === 0) return false; // the remaining bits of n/d are all 0, so U ≥ n/d
  }
}

/** Bernoulli(n/d) for bigints n ≥ 0, d > 0 (same lazy bit comparison). */
export function bernoulliRatioBig(src: BufferedRng, n: bigint, d: bigint): boolean {
  if (n <= 0n) return false;
  if (n >= d) return true;
  if (d <= 4503599627370496n) return bernoulliRatioFast(src, Number(n), Number(d));
  let r = n;
  for (;;) {
    r <<= 1n;
    let pbit = 0;
    if (r >= d) {
      pbit = 1;
      r -= d;
    }
    const b = src.nextBit();
    if (b !== pbit) return b < pbit;
    if (r === 0n) return false;
  }
}

/** Bernoulli(exp(−n/d)) for 0 ≤ n ≤ d (γ ∈ [0,1]), safe-integer inputs: CKS Algorithm 1, first part. */
function bernoulliExpNegUnitFast(src: BufferedRng, n: number, d: number): boolean {
  // K counts the successes of Bernoulli(γ/1), Bernoulli(γ/2), … until the first failure; P[K odd] = exp(−γ).
  let k = 1;
  for (;;) {
    const dk = d * k;
    const a = dk <= MAX_FAST_DENOMINATOR ? bernoulliRatioFast(src, n, dk) : bernoulliRatioBig(src, BigInt(n), BigInt(d) * BigInt(k));
    if (!a) break;
    k++;
  }
  return (k & 1) === 1;
}

function bernoulliExpNegUnitBig(src: BufferedRng, n: bigint, d: bigint): boolean {
  let k = 1n;
  while (bernoulliRatioBig(src, n, d * k)) k++;
  return (k & 1n) === 1n;
}

/** Bernoulli(exp(−1)). */
export function bernoulliExpNegOne(src: BufferedRng): boolean {
  return bernoulliExpNegUnitFast(src, 1, 1);
}

/**
 * Bernoulli(exp(−n/d)) for safe integers n ≥ 0, 0 < d ≤ 2^52 (CKS Algorithm 1): ⌊γ⌋ independent Bernoulli(e^−1)
 * trials must all succeed, then one Bernoulli(exp(−(γ − ⌊γ⌋))).
 */
export function bernoulliExpNegFast(src: BufferedRng, n: number, d: number): boolean {
  if (n <= d) return bernoulliExpNegUnitFast(src, n, d);
  const r = n % d; // exact for integers below 2^53
  const q = (n - r) / d; // exact: n − r is a multiple of d
  for (let i = 0; i < q; i++) if (!bernoulliExpNegOne(src)) return false;
  return bernoulliExpNegUnitFast(src, r, d);
}

/** Bernoulli(exp(−n/d)) for bigints n ≥ 0, d > 0. */
export function bernoulliExpNegBig(src: BufferedRng, n: bigint, d: bigint): boolean {
  if (d <= 4503599627370496n && n <= 4503599627370496n) return bernoulliExpNegFast(src, Number(n), Number(d));
  if (n <= d) return bernoulliExpNegUnitBig(src, n, d);
  const q = n / d;
  const r = n - q * d;
  for (let i = 0n; i < q; i++) if (!bernoulliExpNegOne(src)) return false;
  return bernoulliExpNegUnitBig(src, r, d);
}

/**
 * Bernoulli(p) for a rational p ∈ [0, 1], sampled exactly.
 * @throws RangeError if p is outside [0, 1]
 */
export function sampleBernoulli(rng: Rng, p: Rational | number): boolean {
  const r = toRational(p, 'p');
  if (r.num < 0n || r.num > r.den) throw new RangeError('p must be in [0, 1]');
  return bernoulliRatioBig(asBufferedRng(rng), r.num, r.den);
}

/**
 * Bernoulli(exp(−γ)) for a rational γ ≥ 0, sampled exactly.
 * @throws RangeError if gamma < 0
 */
export function sampleBernoulliExp(rng: Rng, gamma: Rational | number): boolean {
  const g = toRational(gamma, 'gamma');
  if (g.num < 0n) throw new RangeError('gamma must be >= 0');
  return bernoulliExpNegBig(asBufferedRng(rng), g.num, g.den);
}
