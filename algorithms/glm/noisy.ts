/**
 * Post-processing helpers for fits from noisy statistics (the DP modes). Pure, and they read only released values,
 * so they cost no privacy.
 *
 * - `makePositiveDefinite`: noise can make the summed XᵀWX indefinite, and the Cholesky step then refuses it as
 *   singular. The smallest diagonal shift λ·I (λ doubled from 1e-10 of the mean diagonal, so at most twice the least that works) that makes
 *   the factorisation succeed is a ridge step; it is applied only when needed and reported.
 * - `glmCoefficientNoiseStd`: the standard deviation the noise in the last round's score adds to each coefficient,
 *   to first order: β = β_prev + H⁻¹U, so independent noise of s.d. σ in every entry of U adds
 *   Cov = σ²·H⁻¹H⁻¹, i.e. σ·√((H⁻²)_jj) per coefficient (noise in H itself is second order near convergence).
 */
import { packedIndex, packedLength } from './local-stats.js';
import { GlmSingularDesignError, choleskyPacked } from './solve.js';

export interface PositiveDefiniteResult {
  /** The packed matrix, shifted if needed. */
  readonly packed: Float64Array;
  /** The diagonal shift λ added (0 when the matrix was already positive definite). */
  readonly ridge: number;
}

/**
 * The packed symmetric matrix with the smallest tried ridge λ·I that makes it positive definite.
 * @throws RangeError if the length does not match p, or no ridge up to 1e6 × the mean |diagonal| works
 */
export function makePositiveDefinite(p: number, packed: ArrayLike<number>): PositiveDefiniteResult {
  if (packed.length !== packedLength(p)) throw new RangeError(`makePositiveDefinite: packed length ${packed.length}, expected ${packedLength(p)}`);
  const base = Float64Array.from(packed);
  let scale = 0;
  for (let j = 0; j < p; j++) scale += Math.abs(base[packedIndex(p, j, j)]!);
  scale = scale / p || 1;
  for (let ridge = 0, step = 1e-10 * scale; ridge <= 1e6 * scale; ridge = ridge === 0 ? step : ridge * 2) {
    const m = Float64Array.from(base);
    for (let j = 0; j < p; j++) m[packedIndex(p, j, j)] = m[packedIndex(p, j, j)]! + ridge;
    try {
      choleskyPacked(p, m);
      return { packed: m, ridge };
    } catch (e) {
      if (!(e instanceof GlmSingularDesignError)) throw e;
    }
  }
  throw new RangeError('makePositiveDefinite: no ridge up to 1e6 × the mean diagonal makes the matrix positive definite');
}

/**
 * Per-coefficient standard deviation added by noise of s.d. `rhsNoiseStd` in each entry of the score.
 * `covUnscaled` is H⁻¹ (row-major p×p, as `GlmSummary.covUnscaled`).
 */
export function glmCoefficientNoiseStd(p: number, covUnscaled: ArrayLike<number>, rhsNoiseStd: number): number[] {
  if (covUnscaled.length !== p * p) throw new RangeError(`glmCoefficientNoiseStd: covariance length ${covUnscaled.length}, expected ${p * p}`);
  if (!(rhsNoiseStd >= 0)) throw new RangeError('glmCoefficientNoiseStd: rhsNoiseStd must be >= 0');
  const out = new Array<number>(p);
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let k = 0; k < p; k++) s += covUnscaled[j * p + k]! ** 2;
    out[j] = rhsNoiseStd * Math.sqrt(s);
  }
  return out;
}
