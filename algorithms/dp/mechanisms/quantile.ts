import type { Rng } from '../../rng.js';
import { addCosts, type PrivacyCost } from '../accounting/privacy-cost.js';
import { selectionErrorBound } from '../analysis/thresholds.js';
import { asBufferedRng } from '../random-source.js';
import { rationalFromNumber } from '../rational.js';
import { bernoulliExpNegBig } from '../sampling/bernoulli.js';
import { toCount, toPositiveInt } from './common.js';
import { checkBudget } from './noise.js';
import type { DpBudget } from './types.js';

/**
 * DP quantiles by the exponential mechanism over a PUBLIC candidate grid, sampled exactly with permute-and-flip
 * (McKenna & Sheldon 2020): visit the candidates in uniformly random order and stop at the first r whose coin
 * Bernoulli(exp(−ε·(u* − u_r)/(2Δ))) succeeds; u* is the best utility, so the loop ends within one pass. This is
 * ε-DP like the exponential mechanism and never less accurate in expectation. Each coin is an exact
 * Bernoulli(exp(−γ)) with rational γ.
 *
 * Utility of candidate c for quantile q: u(c) = −|rank(c) − q·n|, rank(c) = #{rows < c}. Adding or removing one
 * person with ≤ k rows moves rank(c) − q·n by at most k·max(q, 1 − q) = Δ.
 *
 * Budget: `{ epsilon }` is split evenly across the quantiles; `{ rho }` uses ε = √(2ρ/Q) per quantile (pure ε-DP
 * implies ε²/2-zCDP). No noise std exists for a selection, so instead of std/ci95 each result carries
 * `rankErrorBound95`: with probability ≥ 95%, |rank(value) − q·n| ≤ |rank(best candidate) − q·n| + that bound.
 */
export interface QuantileInput {
  /** Public, strictly increasing candidate values. */
  readonly candidates: readonly number[];
  /**
   * Exact bucket counts, length candidates.length + 1: bucket 0 = #{x < c₀}, bucket j = #{c_{j−1} ≤ x < c_j},
   * last bucket = #{x ≥ c_{m−1}}. See `quantileBuckets`.
   */
  readonly bucketCounts: readonly (bigint | number)[];
  /** Quantiles in [0, 1]. */
  readonly quantiles: readonly number[];
  /** @default 1 */
  readonly maxRowsPerPerson?: bigint | number;
  readonly budget: DpBudget;
}

export interface QuantileResult {
  readonly quantile: number;
  readonly value: number;
  readonly candidateIndex: number;
  readonly rankErrorBound95: number;
  readonly epsilon: number;
}

export interface QuantileRelease {
  readonly results: QuantileResult[];
  readonly rho: number;
  readonly cost: PrivacyCost;
  readonly mechanism: 'permute-and-flip';
}

/** Evenly spaced public candidates lower, …, upper (count ≥ 2). */
export function quantileCandidates(lower: number, upper: number, count: number): number[] {
  if (!(Number.isFinite(lower) && Number.isFinite(upper) && lower < upper)) throw new RangeError('lower must be < upper, both finite');
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`count must be an integer >= 2, got ${count}`);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? upper : lower + ((upper - lower) * i) / (count - 1)));
}

/** Bucket counts of raw rows for `releaseQuantiles` (binary search per row). */
export function quantileBuckets(values: Iterable<number>, candidates: readonly number[]): bigint[] {
  const out = Array.from({ length: candidates.length + 1 }, () => 0n);
  for (const x of values) {
    if (Number.isNaN(x)) continue;
    let lo = 0;
    let hi = candidates.length; // first index with x < c_j
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x < candidates[mid]!) hi = mid;
      else lo = mid + 1;
    }
    out[lo]! += 1n;
  }
  return out;
}

/** @throws RangeError/TypeError naming the bad field */
export function releaseQuantiles(input: QuantileInput, rng: Rng): QuantileRelease {
  const { candidates, quantiles } = input;
  if (!Array.isArray(candidates) || candidates.length < 1) throw new RangeError('candidates must be a non-empty array');
  for (let i = 0; i < candidates.length; i++) {
    if (!Number.isFinite(candidates[i]!)) throw new RangeError(`candidates[${i}] must be finite`);
    if (i > 0 && !(candidates[i]! > candidates[i - 1]!)) throw new RangeError(`candidates must be strictly increasing (at index ${i})`);
  }
  if (!Array.isArray(input.bucketCounts) || input.bucketCounts.length !== candidates.length + 1) {
    throw new RangeError(`bucketCounts must have length candidates.length + 1 = ${candidates.length + 1}`);
  }
  if (!Array.isArray(quantiles) || quantiles.length < 1) throw new RangeError('quantiles must be a non-empty array');
  quantiles.forEach((q, i) => {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantiles[${i}] must be in [0, 1], got ${q}`);
  });
  checkBudget(input.budget);
  const k = toPositiveInt(input.maxRowsPerPerson, 'maxRowsPerPerson');
  const buckets = input.bucketCounts.map((c, i) => toCount(c, `bucketCounts[${i}]`));
  const ranks: bigint[] = [];
  let acc = 0n;
  for (let j = 0; j < candidates.length; j++) {
    acc += buckets[j]!;
    ranks.push(acc);
  }
  const n = acc + buckets[candidates.length]!;
  const epsEach = epsilonPerQuantile(input.budget, quantiles.length);
  const eps = rationalFromNumber(epsEach, 'epsilon per quantile');
  const src = asBufferedRng(rng);
  const m = candidates.length;
  const chosenIndexes: number[] = [];
  for (const q of quantiles) {
    const qr = rationalFromNumber(q, 'quantile');
    // Scaled distances E_j = |rank_j·q.den − q.num·n| = q.den·|rank_j − q·n|.
    const target = qr.num * n;
    const E = ranks.map((r) => {
      const d = r * qr.den - target;
      return d < 0n ? -d : d;
    });
    let best = E[0]!;
    for (const e of E) if (e < best) best = e;
    // γ_j = ε·(E_j − E*)/q.den / (2Δ), Δ = k·max(q.num, q.den − q.num)/q.den, so γ_j = ε.num·(E_j − E*) / (ε.den·2k·M).
    const M = qr.num > qr.den - qr.num ? qr.num : qr.den - qr.num;
    const gammaDen = eps.den * 2n * k * (M === 0n ? 1n : M);
    const order = Array.from({ length: m }, (_, i) => i);
    let chosen = -1;
    for (let i = 0; i < m; i++) {
      const j = i + src.uniformInt(m - i);
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
      const r = order[i]!;
      if (bernoulliExpNegBig(src, eps.num * (E[r]! - best), gammaDen)) {
        chosen = r;
        break;
      }
    }
    if (chosen < 0) throw new Error('permute-and-flip: no candidate accepted (unreachable: the best is accepted surely)');
    chosenIndexes.push(chosen);
  }
  return quantileSelections(input, chosenIndexes);
}

/** ε of each quantile's selection: the budget's ε split evenly, or ε = √(2ρ/Q), a hair below so rounding never overspends. */
function epsilonPerQuantile(budget: DpBudget, quantiles: number): number {
  return budget.epsilon !== undefined ? (budget.epsilon / quantiles) * (1 - 2 ** -40) : Math.sqrt((2 * budget.rho) / quantiles) * (1 - 2 ** -40);
}

/**
 * The release of quantiles whose candidates were already chosen (`chosen[i]` the index selected for `quantiles[i]`,
 * by `releaseQuantiles` here or where the exact bucket counts were, e.g. the kind seam's coordinator in its draw
 * order): values, each one's rank-error bound and ε, and the cost. Post-processing of public parameters only.
 * @throws RangeError naming the bad field
 */
export function quantileSelections(input: Omit<QuantileInput, 'bucketCounts'>, chosen: readonly number[]): QuantileRelease {
  const { candidates, quantiles } = input;
  if (chosen.length !== quantiles.length) throw new RangeError(`chosen must have one index per quantile (${quantiles.length}), got ${chosen.length}`);
  checkBudget(input.budget);
  const k = toPositiveInt(input.maxRowsPerPerson, 'maxRowsPerPerson');
  const epsEach = epsilonPerQuantile(input.budget, quantiles.length);
  const results = quantiles.map((q, i): QuantileResult => {
    const c = chosen[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= candidates.length) throw new RangeError(`chosen[${i}] must be a candidate index in 0..${candidates.length - 1}, got ${c}`);
    return { quantile: q, value: candidates[c]!, candidateIndex: c, rankErrorBound95: selectionErrorBound(Number(k) * Math.max(q, 1 - q), epsEach, candidates.length), epsilon: epsEach };
  });
  const cost = addCosts(...quantiles.map(() => ({ rho: (epsEach * epsEach) / 2, epsilon: epsEach, delta: 0 })));
  return { results, rho: cost.rho, cost, mechanism: 'permute-and-flip' };
}
