/**
 * Small symmetric positive-definite matrices for the Cox fit: Cholesky factorisation, solve and inverse. The
 * information matrix of a Cox model is p × p with p the number of coefficients (a handful to a few dozen), so a
 * plain O(p³) factorisation is all that is needed; what matters is detecting a singular (non-identifiable) model
 * instead of returning huge, meaningless coefficients.
 */

/**
 * Lower-triangular Cholesky factor L of a symmetric A (A = L Lᵀ), or null when A is not numerically positive
 * definite: a pivot at or below `relTol` × the largest diagonal entry (as R's cholesky2 flags a column singular).
 */
export function cholesky(a: readonly (readonly number[])[], relTol = 1e-12): number[][] | null {
  const p = a.length;
  const scale = Math.max(0, ...a.map((row, i) => Math.abs(row[i]!)));
  if (!(scale > 0) || !Number.isFinite(scale)) return null;
  const l = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let j = 0; j < p; j++) {
    let d = a[j]![j]!;
    for (let k = 0; k < j; k++) d -= l[j]![k]! * l[j]![k]!;
    if (!(d > relTol * scale)) return null;
    const ljj = Math.sqrt(d);
    l[j]![j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = s / ljj;
    }
  }
  return l;
}

/** Solves L Lᵀ x = b for a Cholesky factor L. */
export function choleskySolve(l: readonly (readonly number[])[], b: readonly number[]): number[] {
  const p = b.length;
  const y = new Array<number>(p).fill(0);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * y[k]!;
    y[i] = s / l[i]![i]!;
  }
  const x = new Array<number>(p).fill(0);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= l[k]![i]! * x[k]!;
    x[i] = s / l[i]![i]!;
  }
  return x;
}

/** A⁻¹ from the Cholesky factor of A (column by column), symmetrised against rounding. */
export function choleskyInverse(l: readonly (readonly number[])[]): number[][] {
  const p = l.length;
  const cols = Array.from({ length: p }, (_, j) => choleskySolve(l, Array.from({ length: p }, (_, i) => (i === j ? 1 : 0))));
  return Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => 0.5 * (cols[j]![i]! + cols[i]![j]!)));
}
