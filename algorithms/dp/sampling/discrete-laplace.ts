import type { Rng } from '../../rng.js';
import { asBufferedRng, type BufferedRng } from '../random-source.js';
import { isPositive, toRational, type Rational } from '../rational.js';
import { bernoulliExpNegBig, bernoulliExpNegFast, bernoulliExpNegOne, MAX_FAST_DENOMINATOR } from './bernoulli.js';

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Exact discrete Laplace sampler, P(x) ∝ exp(−|x|/t) on the integers, for a rational scale t = s/u
 * (Canonne, Kamath, Steinke 2020, Algorithm 2):
 *   U ← Uniform{0..s−1}; accept with Bernoulli(exp(−U/s)); V ← number of successes of Bernoulli(e^−1) before the
 *   first failure; X ← U + s·V is geometric with P(X = x) ∝ exp(−x/s); Y ← ⌊X/u⌋ is geometric with
 *   P(Y = y) ∝ exp(−y·u/s) = exp(−y/t); a random sign B, rejecting (B = −, Y = 0) so 0 is not counted twice.
 */
export interface DiscreteLaplaceSampler {
  /** The scale t as an exact rational. */
  readonly scale: Rational;
  /** One sample. */
  sample(rng: Rng): bigint;
}

/**
 * @internal The loop on numbers when s, u ≤ 2^52. Returns a number, or a bigint in the (astronomically rare) case
 * that U + s·V leaves the safe-integer range: that attempt is finished on BigInt, never discarded, so the output
 * distribution stays exact.
 */
export function laplaceFast(src: BufferedRng, s: number, u: number): number | bigint {
  for (;;) {
    const U = src.uniformInt(s);
    if (!bernoulliExpNegFast(src, U, s)) continue;
    let V = 0;
    while (bernoulliExpNegOne(src)) V++;
    const sv = s * V;
    if (sv > SAFE - s) {
      const Yb = (BigInt(U) + BigInt(s) * BigInt(V)) / BigInt(u);
      const Bb = src.nextBit();
      if (Bb === 1 && Yb === 0n) continue;
      return Bb === 1 ? -Yb : Yb;
    }
    const X = U + sv;
    const r = X % u;
    const Y = (X - r) / u; // exact: X − r is a multiple of u
    const B = src.nextBit();
    if (B === 1 && Y === 0) continue;
    return B === 1 ? -Y : Y;
  }
}

function laplaceBig(src: BufferedRng, s: bigint, u: bigint): bigint {
  for (;;) {
    const U = src.uniformBigInt(s);
    if (!bernoulliExpNegBig(src, U, s)) continue;
    let V = 0n;
    while (bernoulliExpNegOne(src)) V++;
    const Y = (U + s * V) / u; // floor, all non-negative
    const B = src.nextBit();
    if (B === 1 && Y === 0n) continue;
    return B === 1 ? -Y : Y;
  }
}

/**
 * A reusable exact discrete Laplace sampler with scale t (P(x) ∝ exp(−|x|/t)).
 * @throws RangeError if scale is not > 0
 */
export function createDiscreteLaplaceSampler(scale: Rational | number): DiscreteLaplaceSampler {
  const t = toRational(scale, 'scale');
  if (!isPositive(t)) throw new RangeError('scale must be > 0');
  const s = t.num;
  const u = t.den;
  const fast = s <= BigInt(MAX_FAST_DENOMINATOR) && u <= BigInt(MAX_FAST_DENOMINATOR);
  const sN = Number(s);
  const uN = Number(u);
  return {
    scale: t,
    sample(rng: Rng): bigint {
      const src = asBufferedRng(rng);
      if (fast) {
        const y = laplaceFast(src, sN, uN);
        return typeof y === 'bigint' ? y : BigInt(y);
      }
      return laplaceBig(src, s, u);
    },
  };
}

/** One exact discrete Laplace sample with scale t. @throws RangeError if scale is not > 0 */
export function sampleDiscreteLaplace(rng: Rng, scale: Rational | number): bigint {
  return createDiscreteLaplaceSampler(scale).sample(rng);
}
