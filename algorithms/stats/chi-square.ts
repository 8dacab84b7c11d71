/** The χ² distribution with ν degrees of freedom: CDF and survival function (p-values) via the incomplete gamma. */
import { regularizedGammaP, regularizedGammaQ } from './gamma.js';
import { requireFiniteNumber, requireNumberNotNaN } from './validate.js';

function checkDf(df: number): void {
  requireFiniteNumber('df', df);
  if (df <= 0) throw new RangeError(`df must be > 0, got ${df}`);
}

/**
 * χ² CDF P(X ≤ x) = P(ν/2, x/2). Returns 0 for x ≤ 0. Non-integer ν is allowed.
 * @throws TypeError if an argument is not a number; RangeError if x is NaN or df is not finite and > 0
 */
export function chiSquareCdf(x: number, df: number): number {
  requireNumberNotNaN('x', x);
  checkDf(df);
  return x <= 0 ? 0 : regularizedGammaP(df / 2, x / 2);
}

/**
 * χ² survival function P(X > x) = Q(ν/2, x/2): the p-value of a statistic x. Returns 1 for x ≤ 0.
 * Computed directly in the upper tail, so tiny p-values keep their relative accuracy.
 * @throws TypeError if an argument is not a number; RangeError if x is NaN or df is not finite and > 0
 */
export function chiSquareSf(x: number, df: number): number {
  requireNumberNotNaN('x', x);
  checkDf(df);
  return x <= 0 ? 1 : regularizedGammaQ(df / 2, x / 2);
}
