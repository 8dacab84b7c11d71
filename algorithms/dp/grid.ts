/**
 * Power-of-two grids: the defence against Mironov's floating-point attack (Mironov 2012, "On Significance of the
 * Least Significant Bits for Differential Privacy"). A real statistic is represented as an integer multiple of a
 * grid size g = 2^k, integer noise is added in grid units, and the release is (integer) × g. Every release is then
 * an exact multiple of g whatever the low bits of the input were, and the set of possible outputs does not depend
 * on the data.
 *
 * Grid rule (`gridForNoiseStd`): g = the largest power of two ≤ σ / 2^GRID_BITS_BELOW_NOISE, with σ the noise
 * standard deviation in real units. With 24 bits, rounding each row to the grid moves it by at most g/2 ≤ σ·2^−25,
 * so even 10^6 rows add at most 0.03σ of (deterministic) rounding error, while the noise parameter in grid units
 * (~2^24 to 2^25) keeps the samplers in exact small-integer arithmetic.
 *
 * Scaling by a power of two and `Math.round` are exact in IEEE 754 doubles (no rounding happens), so snapping is
 * exact; sensitivities are rounded UP to whole grid units.
 */

/** Default number of binary orders of magnitude between the noise std and the grid. */
export const GRID_BITS_BELOW_NOISE = 24;

export interface Grid {
  /** k in g = 2^k. */
  readonly exponent: number;
  /** g = 2^k as a double (exact). */
  readonly size: number;
}

/** The grid 2^k. @throws RangeError if k is not an integer in [−1074, 1023] */
export function gridOfExponent(exponent: number): Grid {
  if (!Number.isInteger(exponent) || exponent < -1074 || exponent > 1023) throw new RangeError(`exponent must be an integer in [-1074, 1023], got ${exponent}`);
  return Object.freeze({ exponent, size: 2 ** exponent });
}

/** The largest power of two ≤ y (y > 0 finite), found by exact doubling/halving (no logarithm). */
export function largestPowerOfTwoAtMost(y: number): { exponent: number; size: number } {
  if (!(y > 0) || !Number.isFinite(y)) throw new RangeError(`value must be a finite number > 0, got ${y}`);
  let e = 0;
  let p = 1;
  while (p * 2 <= y && e < 1023) {
    p *= 2;
    e++;
  }
  while (p > y) {
    p /= 2;
    e--;
  }
  return { exponent: e, size: p };
}

/**
 * The grid for noise of standard deviation `noiseStd` (real units): largest power of two ≤ noiseStd / 2^bitsBelow.
 * @throws RangeError if noiseStd is not finite and > 0, or bitsBelow is not a non-negative integer
 */
export function gridForNoiseStd(noiseStd: number, bitsBelow: number = GRID_BITS_BELOW_NOISE): Grid {
  if (!(noiseStd > 0) || !Number.isFinite(noiseStd)) throw new RangeError(`noiseStd must be a finite number > 0, got ${noiseStd}`);
  if (!Number.isInteger(bitsBelow) || bitsBelow < 0 || bitsBelow > 60) throw new RangeError(`bitsBelow must be an integer in [0, 60], got ${bitsBelow}`);
  const { exponent } = largestPowerOfTwoAtMost(noiseStd);
  return gridOfExponent(Math.max(-1074, exponent - bitsBelow));
}

/** x / 2^k exactly (power-of-two scaling, done in two steps so the scale factor itself never over/underflows). */
function scaleDown(x: number, exponent: number): number {
  const half = Math.trunc(exponent / 2);
  return x * 2 ** -half * 2 ** -(exponent - half);
}

/**
 * round(x / g) as a bigint (ties toward +∞, a fixed monotone rule). Exact: x/g is a power-of-two scaling.
 * @throws RangeError if x is not finite or x/g overflows
 */
export function snapToGrid(x: number, grid: Grid): bigint {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`value must be a finite number, got ${String(x)}`);
  const y = scaleDown(x, grid.exponent);
  if (!Number.isFinite(y)) throw new RangeError(`value ${x} is too large for grid 2^${grid.exponent}`);
  return BigInt(Math.round(y));
}

/** ⌈|bound| / g⌉: a bound rounded UP to whole grid units. */
export function ceilToGrid(bound: number, grid: Grid): bigint {
  if (typeof bound !== 'number' || !Number.isFinite(bound)) throw new RangeError(`bound must be a finite number, got ${String(bound)}`);
  const y = scaleDown(Math.abs(bound), grid.exponent);
  if (!Number.isFinite(y)) throw new RangeError(`bound ${bound} is too large for grid 2^${grid.exponent}`);
  if (y === 0 && bound !== 0) return 1n; // underflowed: still strictly positive, so one unit
  return BigInt(Math.ceil(y));
}

/** k·g as a double. Exact when |k| < 2^53; beyond that every double is a multiple of g anyway. */
export function fromGrid(k: bigint, grid: Grid): number {
  const half = Math.trunc(grid.exponent / 2);
  return Number(k) * 2 ** half * 2 ** (grid.exponent - half);
}

/** Integer range every snapped value of [lower, upper] falls in: [⌊lower/g⌋, ⌈upper/g⌉]. */
export function gridRange(lower: number, upper: number, grid: Grid): { lo: bigint; hi: bigint } {
  if (!(lower <= upper)) throw new RangeError(`lower must be <= upper, got [${lower}, ${upper}]`);
  const lo = scaleDown(lower, grid.exponent);
  const hi = scaleDown(upper, grid.exponent);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`bounds are too large for grid 2^${grid.exponent}`);
  // An underflow to 0 of a non-zero bound must still round outward.
  const loK = lo === 0 && lower < 0 ? -1n : BigInt(Math.floor(lo));
  const hiK = hi === 0 && upper > 0 ? 1n : BigInt(Math.ceil(hi));
  return { lo: loK, hi: hiK };
}

/**
 * Clamp to [lower, upper], snap to the grid, and clamp again in grid units (so the per-row bound holds exactly).
 * @throws RangeError if x is NaN
 */
export function clampAndSnap(x: number, lower: number, upper: number, grid: Grid): bigint {
  if (Number.isNaN(x)) throw new RangeError('value must not be NaN');
  const c = x < lower ? lower : x > upper ? upper : x;
  const k = snapToGrid(c, grid);
  const { lo, hi } = gridRange(lower, upper, grid);
  return k < lo ? lo : k > hi ? hi : k;
}

/** The per-row contribution bound in grid units, max(|⌊lower/g⌋|, |⌈upper/g⌉|), rounded UP. */
export function rowBoundInGridUnits(lower: number, upper: number, grid: Grid): bigint {
  const { lo, hi } = gridRange(lower, upper, grid);
  const a = lo < 0n ? -lo : lo;
  const b = hi < 0n ? -hi : hi;
  return a > b ? a : b;
}

/**
 * Σ clampAndSnap(x) over the rows, exactly, as a bigint: the aggregate an agent computes for a bounded sum.
 * @throws RangeError naming the row if a value is NaN or not a number
 */
export function sumOnGrid(values: Iterable<number>, lower: number, upper: number, grid: Grid): bigint {
  const { lo, hi } = gridRange(lower, upper, grid);
  let sum = 0n;
  let i = 0;
  for (const x of values) {
    if (typeof x !== 'number' || Number.isNaN(x)) throw new RangeError(`values[${i}] must be a number, got ${String(x)}`);
    const c = x < lower ? lower : x > upper ? upper : x;
    let k = BigInt(Math.round(scaleDown(c, grid.exponent)));
    if (k < lo) k = lo;
    else if (k > hi) k = hi;
    sum += k;
    i++;
  }
  return sum;
}
