import { uniformBigInt, type Rng } from '../../rng.js';
import { approximateZcdpCost, type PrivacyCost } from '../accounting/privacy-cost.js';
import { gaussianPartitionThreshold, laplacePartitionThreshold } from '../analysis/thresholds.js';
import { toCount, toPositiveInt } from './common.js';
import { calibrateNoise } from './noise.js';
import type { DpBudget, NoiseInfo } from './types.js';

/**
 * DP partition selection for group-by over data-dependent keys: every observed group gets independent noise on its
 * distinct-person count, and a group is released (with that noisy count) only if the noisy count reaches a
 * threshold τ (Korolova et al. 2009; Wilson et al. 2020, "Differentially Private SQL with Bounded User
 * Contribution", Laplace thresholding; here with discrete noise).
 *
 * Guarantee. A person is in at most k groups and counts at most once per group. For groups present with and
 * without that person, the counts form a k-dimensional vector of L1 sensitivity k and L2 sensitivity √k, protected
 * by the noise (ε = k/t for the discrete Laplace, ρ = k/(2σ²) for the discrete Gaussian). Groups that exist only
 * because of the person (count 1) are released with probability P(Z ≥ τ − 1) each; τ is the smallest integer with
 * δₐ := k · P(Z ≥ τ − 1) ≤ δ. Conditioning on "none of them is released" (an event of probability ≥ 1 − δₐ)
 * leaves exactly the noisy counts of the common groups, so the mechanism is δₐ-approximately ρ-zCDP
 * (Bun & Steinke 2016, Def. 8.1), and for the Laplace also (ε − ln(1 − δₐ), δₐ)-DP. The Gaussian tail is
 * bounded by P(N(0, σ²) ≥ τ − 2) (see `discreteGaussianTailBound`).
 *
 * Post-processing stated in the output: released counts are biased upward by the selection (only groups above τ
 * are kept).
 */
export interface PartitionSelectionInput<K> {
  /** Observed groups with their exact distinct-person counts. */
  readonly partitions: Iterable<{ readonly key: K; readonly count: bigint | number }>;
  /** Maximum number of groups one person contributes to (k). @default 1 */
  readonly maxPartitionsPerPerson?: bigint | number;
  /** `{ epsilon, delta }` (discrete Laplace) or `{ rho, delta }` (discrete Gaussian). */
  readonly budget: DpBudget & { readonly delta: number };
  /**
   * Public cap on the groups released: when more pass the threshold, the `maxKept` largest noisy counts are kept
   * (ties in a uniformly random order). A function of the mechanism's output only, so post-processing: no extra
   * privacy cost, and the outcome never depends on the data except through the DP release. @default unlimited
   */
  readonly maxKept?: number;
}

export interface SelectedPartition<K> {
  readonly key: K;
  readonly value: number;
  readonly std: number;
  readonly ci95: [number, number];
}

export interface PartitionSelectionRelease<K> {
  readonly kept: SelectedPartition<K>[];
  /** Keep iff noisy count ≥ threshold. */
  readonly threshold: number;
  readonly rho: number;
  readonly cost: PrivacyCost;
  readonly noise: NoiseInfo;
  readonly postProcessing: readonly string[];
}

/**
 * The `maxKept` largest noisy counts; among those tied at the cut, a uniformly random subset (partial Fisher–Yates),
 * so the choice depends on the released noisy counts and fresh randomness only. At most `maxKept` random draws.
 */
function keepLargest<K>(kept: SelectedPartition<K>[], maxKept: number, rng: Rng): SelectedPartition<K>[] {
  if (kept.length <= maxKept) return kept;
  const sorted = [...kept].sort((a, b) => b.value - a.value);
  const cut = sorted[maxKept - 1]!.value;
  const above = sorted.filter((p) => p.value > cut);
  const atCut = sorted.filter((p) => p.value === cut);
  const need = maxKept - above.length;
  for (let i = 0; i < need; i++) {
    const j = i + Number(uniformBigInt(rng, BigInt(atCut.length - i)));
    [atCut[i], atCut[j]] = [atCut[j]!, atCut[i]!];
  }
  return [...above, ...atCut.slice(0, need)];
}

/** @throws RangeError/TypeError naming the bad field */
export function selectPartitions<K>(input: PartitionSelectionInput<K>, rng: Rng): PartitionSelectionRelease<K> {
  const { budget } = input;
  const delta = budget?.delta;
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw new RangeError(`budget.delta must be in (0, 1), got ${String(delta)}`);
  const k = toPositiveInt(input.maxPartitionsPerPerson, 'maxPartitionsPerPerson');
  if (k > 1_000_000n) throw new RangeError('maxPartitionsPerPerson must be <= 1000000');
  const maxKept = input.maxKept ?? Infinity;
  if (maxKept !== Infinity && !(Number.isSafeInteger(maxKept) && maxKept >= 1)) throw new RangeError(`maxKept must be a positive integer, got ${String(input.maxKept)}`);
  const noiseBudget: DpBudget = budget.rho !== undefined ? { rho: budget.rho } : { epsilon: budget.epsilon };
  const noise = calibrateNoise(noiseBudget, { l1: k, l2Squared: k });
  const kN = Number(k);
  const th =
    noise.info.distribution === 'discrete-laplace'
      ? laplacePartitionThreshold(noise.info.parameter, kN, delta)
      : gaussianPartitionThreshold(noise.info.parameter, kN, delta);
  const deltaA = Math.min(delta, th.delta * (1 + 1e-9));
  const cost = approximateZcdpCost(noise.cost.rho, noise.cost.epsilon, deltaA);
  const tau = BigInt(th.threshold);
  const h = noise.ci95HalfWidth;
  const kept: SelectedPartition<K>[] = [];
  let i = 0;
  for (const p of input.partitions) {
    const c = toCount(p.count, `partitions[${i}].count`);
    const noisy = c + noise.sample(rng);
    if (noisy >= tau) {
      const v = Number(noisy);
      kept.push({ key: p.key, value: v, std: noise.info.std, ci95: [v - h, v + h] });
    }
    i++;
  }
  return {
    kept: keepLargest(kept, maxKept, rng),
    threshold: th.threshold,
    rho: cost.rho,
    cost,
    noise: noise.info,
    postProcessing: [
      `groups kept only if noisy count >= ${th.threshold}; kept counts are biased upward by this selection`,
      ...(maxKept !== Infinity ? [`at most ${maxKept} groups kept: when more pass the threshold, the ${maxKept} largest noisy counts (post-processing, no extra cost)`] : []),
    ],
  };
}
