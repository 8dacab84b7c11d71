/**
 * The test loss a DP regression job releases (pure): Σ (clamp(ŷ_i) − clamp(y_i))² over the rows, prediction and
 * label each clamped to the public label bounds [lo, hi], so one row adds at most (hi − lo)² — the sensitivity the
 * noise is calibrated for (jobs/train/privacy.ts). Float64, from the network's own forward pass (denseLogits).
 */
import { denseLogits, type DenseNet } from './dp-grad.js';

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/**
 * @param x row-major rows × net.inputs; `y` the labels (one output unit: the net's single linear output is ŷ)
 * @throws RangeError for a net with more than one output, or bounds not lo < hi (a NaN prediction counts as the largest error)
 */
export function clampedSquaredErrorSum(net: DenseNet, weights: ArrayLike<number>, x: ArrayLike<number>, y: ArrayLike<number>, n: number, bounds: readonly [number, number]): number {
  const [lo, hi] = bounds;
  if (!(lo < hi)) throw new RangeError('clampedSquaredErrorSum: bounds must be [lo, hi] with lo < hi');
  if (net.layers.at(-1)?.units !== 1) throw new RangeError('clampedSquaredErrorSum: the net must have one output unit');
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = denseLogits(net, weights, x, i * net.inputs)[0]!;
    // A NaN prediction (an overflowing model) would escape the clamp: it counts as the largest error.
    const e = Number.isNaN(p) ? hi - lo : clamp(p, lo, hi) - clamp(y[i]!, lo, hi);
    sum += e * e;
  }
  return sum;
}
