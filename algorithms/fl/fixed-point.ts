/**
 * Model updates as fixed-point integers with public bounds, so the kind-agnostic privacy modes and secure sums
 * (which work on integer grids with declared bounds) apply to them like to any other statistics block.
 *
 * An update is first clipped to a public L2 norm C (every entry is then within [−C, C]), then snapped to the grid
 * 2^gridExponent by rounding to nearest: the loss of precision is at most 2^(gridExponent−1) per entry per agent,
 * so at most n·2^(gridExponent−1) in a sum over n agents.
 */

/** Scales `v` in place so that ‖v‖₂ ≤ clip; returns the norm before clipping. @throws RangeError if clip ≤ 0 */
export function clipL2(v: Float64Array | Float32Array, clip: number): number {
  if (!(clip > 0) || !Number.isFinite(clip)) throw new RangeError(`clip must be a finite number > 0, got ${clip}`);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const norm = Math.sqrt(s);
  if (norm > clip) {
    const f = clip / norm;
    for (let i = 0; i < v.length; i++) v[i] = v[i]! * f;
  }
  return norm;
}

/** Rounds every entry to the nearest multiple of 2^gridExponent (returned as doubles on the grid). */
export function toGrid(v: ArrayLike<number>, gridExponent: number): Float64Array {
  const step = 2 ** gridExponent;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.round(v[i]! / step) * step;
  return out;
}

/** The largest per-entry rounding error of {@link toGrid} (half a grid step). */
export const gridError = (gridExponent: number): number => 2 ** (gridExponent - 1);
