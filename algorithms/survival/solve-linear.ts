/** Dense linear solve by Gaussian elimination with partial pivoting (for the small log-rank covariance). */

/**
 * Solves A x = b for a small square A. Returns null when A is numerically singular (a pivot below
 * `relTol` × the largest |A_ij|).
 */
export function solveLinear(a: readonly (readonly number[])[], b: readonly number[], relTol = 1e-12): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  const scale = Math.max(0, ...a.flat().map(Math.abs));
  if (scale === 0) return null;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) <= relTol * scale) return null;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const rowC = m[col]!;
    for (let r = col + 1; r < n; r++) {
      const row = m[r]!;
      const f = row[col]! / rowC[col]!;
      for (let k = col; k <= n; k++) row[k] = row[k]! - f * rowC[k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    const row = m[r]!;
    let s = row[n]!;
    for (let k = r + 1; k < n; k++) s -= row[k]! * x[k]!;
    x[r] = s / row[r]!;
  }
  return x;
}
