/**
 * Standard normal CDF, survival function and quantile.
 *
 * Φ is taken from the incomplete gamma function: for z ≥ 0, P(Z > z) = ½·Q(½, z²/2), so each tail keeps its
 * relative accuracy far out (Φ(−37) ≈ 5.7e-300 is still accurate). The quantile starts from the rational
 * approximation of Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) and is polished by Halley steps on Φ, which
 * converge cubically; the result is accurate to a few ulps over (0, 1).
 */
import { regularizedGammaQ } from './gamma.js';
import { requireNumberNotNaN } from './validate.js';

const INV_SQRT_TWO_PI = 1 / Math.sqrt(2 * Math.PI);

/** Upper tail P(Z > z) for z ≥ 0. */
function upperTail(z: number): number {
  return 0.5 * regularizedGammaQ(0.5, 0.5 * z * z);
}

/**
 * Standard normal CDF Φ(x) = P(Z ≤ x).
 * @throws TypeError if x is not a number; RangeError if x is NaN
 */
export function normalCdf(x: number): number {
  requireNumberNotNaN('x', x);
  return x < 0 ? upperTail(-x) : 1 - upperTail(x);
}

/**
 * Standard normal survival function P(Z > x) = 1 − Φ(x), accurate in the upper tail.
 * @throws TypeError if x is not a number; RangeError if x is NaN
 */
export function normalSf(x: number): number {
  requireNumberNotNaN('x', x);
  return x >= 0 ? upperTail(x) : 1 - upperTail(-x);
}

/** Standard normal density. */
export function normalPdf(x: number): number {
  requireNumberNotNaN('x', x);
  return INV_SQRT_TWO_PI * Math.exp(-0.5 * x * x);
}

/** Quantile for a lower-tail probability 0 < q ≤ ½; returns x ≤ 0 with Φ(x) = q. */
function lowerQuantile(q: number): number {
  if (q === 0.5) return 0;
  const t = Math.sqrt(-2 * Math.log(q));
  let x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
  for (let i = 0; i < 8; i++) {
    // Φ(x) − q; the start can land just above 0 when q is within 4.5e-4 of ½.
    const err = (x <= 0 ? upperTail(-x) : 1 - upperTail(x)) - q;
    const u = err / (INV_SQRT_TWO_PI * Math.exp(-0.5 * x * x));
    const step = u / (1 + 0.5 * x * u);
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/**
 * Standard normal quantile Φ⁻¹(p): the x with Φ(x) = p. Returns −Infinity at p = 0 and +Infinity at p = 1.
 * For p > ½ the upper-tail probability 1 − p is used, so precision there is limited by how well 1 − p is
 * represented in the input.
 * @throws TypeError if p is not a number; RangeError if p is NaN or outside [0, 1]
 */
export function normalQuantile(p: number): number {
  requireNumberNotNaN('p', p);
  if (p < 0 || p > 1) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  return p <= 0.5 ? lowerQuantile(p) : -lowerQuantile(1 - p);
}
