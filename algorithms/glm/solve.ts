/**
 * The coordinator's side of one Fisher scoring step: a Cholesky factorisation of the summed XᵀWX (symmetric
 * positive definite for a full-rank design), the solve for the next β, and the inverse for the covariance.
 *
 * R's glm.fit uses a pivoted QR of √W·X and drops aliased columns (their coefficients become NA). A federated
 * fit only ever sees XᵀWX, so an aliased or numerically singular design is detected here — a Cholesky pivot
 * that is a negligible fraction of its diagonal — and refused with the column named, instead of being fitted.
 */
import { packedIndex, packedLength } from './local-stats.js';

/**
 * Pivot below this fraction of the column's own diagonal means the column is (numerically) a linear combination
 * of the previous ones: 1 − R² < 1e-10 in the weighted regression of that column on the earlier columns.
 */
export const ALIASED_TOLERANCE = 1e-10;

/** A design whose XᵀWX is singular: `column` (0-based) is aliased with the columns before it. */
export class GlmSingularDesignError extends Error {
  readonly column: number;
  constructor(column: number, reason: string) {
    super(`design column ${column} ${reason}`);
    this.name = 'GlmSingularDesignError';
    this.column = column;
  }
}

/**
 * Lower-triangular Cholesky factor L (row-major p×p, XᵀWX = L·Lᵀ) of a packed symmetric matrix.
 * @throws GlmSingularDesignError naming the first aliased or empty column
 * @throws RangeError if the packed length does not match p
 */
export function choleskyPacked(p: number, packed: Float64Array | readonly number[]): Float64Array {
  if (packed.length !== packedLength(p)) throw new RangeError(`choleskyPacked: packed length ${packed.length}, expected ${packedLength(p)}`);
  const l = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    const ajj = packed[packedIndex(p, j, j)]!;
    if (!(Number.isFinite(ajj) && ajj > 0)) throw new GlmSingularDesignError(j, 'has no weight (all zero, or not finite)');
    let d = ajj;
    for (let k = 0; k < j; k++) d -= l[j * p + k]! * l[j * p + k]!;
    if (!(d > ALIASED_TOLERANCE * ajj)) throw new GlmSingularDesignError(j, 'is aliased: a linear combination of the columns before it');
    const ljj = Math.sqrt(d);
    l[j * p + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = packed[packedIndex(p, j, i)]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      l[i * p + j] = s / ljj;
    }
  }
  return l;
}

/** Solves L·Lᵀ·x = b given the Cholesky factor. */
export function choleskySolve(p: number, l: Float64Array, b: ArrayLike<number>): Float64Array {
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * p + k]! * z[k]!;
    z[i] = s / l[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < p; k++) s -= l[k * p + i]! * x[k]!;
    x[i] = s / l[i * p + i]!;
  }
  return x;
}

/** (L·Lᵀ)⁻¹ as a full row-major p×p matrix: the unscaled covariance of β̂. */
export function choleskyInverse(p: number, l: Float64Array): Float64Array {
  const inv = new Float64Array(p * p);
  const e = new Float64Array(p);
  for (let c = 0; c < p; c++) {
    e.fill(0);
    e[c] = 1;
    const col = choleskySolve(p, l, e);
    for (let r = 0; r < p; r++) inv[r * p + c] = col[r]!;
  }
  // Symmetrise: the two triangles agree to rounding; averaging makes SEs independent of the solve order.
  for (let r = 0; r < p; r++) {
    for (let c = r + 1; c < p; c++) {
      const m = 0.5 * (inv[r * p + c]! + inv[c * p + r]!);
      inv[r * p + c] = m;
      inv[c * p + r] = m;
    }
  }
  return inv;
}

/**
 * The next β from a round's summed statistics: round 1 solves XᵀWX·β = XᵀWz; later rounds take the Newton step
 * β + (XᵀWX)⁻¹·U, which is the same IRLS update written with the score (see local-stats.ts).
 * @throws GlmSingularDesignError if XᵀWX is singular (an aliased or empty column) — the caller refuses the model
 */
export function solveStep(p: number, info: Float64Array | readonly number[], rhs: ArrayLike<number>, beta: readonly number[] | null): number[] {
  if (rhs.length !== p) throw new RangeError(`solveStep: rhs has length ${rhs.length}, expected ${p}`);
  if (beta !== null && beta.length !== p) throw new RangeError(`solveStep: beta has length ${beta.length}, expected ${p}`);
  const l = choleskyPacked(p, info);
  const x = choleskySolve(p, l, rhs);
  const out = new Array<number>(p);
  for (let j = 0; j < p; j++) out[j] = (beta === null ? 0 : beta[j]!) + x[j]!;
  return out;
}

/** R's convergence rule: |dev − dev_old| / (|dev| + 0.1) < ε. */
export function devianceConverged(dev: number, devOld: number, epsilon: number): boolean {
  return Math.abs(dev - devOld) / (Math.abs(dev) + 0.1) < epsilon;
}
