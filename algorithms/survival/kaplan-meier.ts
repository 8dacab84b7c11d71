/**
 * Kaplan–Meier estimator from per-bin counts, with Greenwood's variance, pointwise confidence bands on the
 * log(−log) scale, and the median survival with its confidence interval.
 */
import { normalQuantile } from '../stats/index.js';
import { prepareStratum } from './counts.js';
import type { CountPostProcessingOptions, StratumCounts } from './counts.js';

/** Options for {@link kaplanMeier}. */
export interface KaplanMeierOptions extends CountPostProcessingOptions {
  /**
   * Two-sided confidence level of the pointwise bands and of the median's interval.
   * @default 0.95
   */
  confLevel?: number;
  /**
   * Variance of the noise added to each released event count (DP modes), in counts². The variance of log Ŝ gains
   * Σ σ²/(n_i − d_i)² (delta method: ∂ log(1 − d/n)/∂d = −1/(n − d)), so the bands cover the noise as well as the
   * sampling error. Projection makes neighbouring noisy counts dependent; the term treats them as independent.
   * @default 0
   */
  endpointNoiseVariance?: number;
}

/** Median survival and its confidence interval; null where the curve or a band never reaches 0.5. */
export interface MedianSurvival {
  /** Smallest bin time t with S(t) ≤ 0.5. */
  estimate: number | null;
  /** Smallest bin time t whose lower band ≤ 0.5. */
  lower: number | null;
  /** Smallest bin time t whose upper band ≤ 0.5; null (unbounded above) if the upper band never gets there. */
  upper: number | null;
  method: 'pointwise log-log band inverted at 0.5 (Brookmeyer-Crowley interval on the log-log scale)';
}

/** A Kaplan–Meier curve: one entry per time bin, values just after the bin's events. */
export interface KaplanMeierCurve {
  label: string | undefined;
  times: number[];
  /** Counts after post-processing (see `notes`). */
  atRisk: number[];
  events: number[];
  censored: number[];
  /** Ŝ(t_i) = Π_{j≤i} (1 − d_j/n_j). */
  survival: number[];
  /**
   * Greenwood: Var Ŝ(t_i) = Ŝ(t_i)² Σ_{j≤i} d_j / (n_j (n_j − d_j)); 0 where Ŝ is 1 or 0. Can be Infinity (band
   * [0, 1]) only for noisy at-risk counts so close to 0 that n(n − d) underflows.
   */
  variance: number[];
  /** √variance. */
  stdErr: number[];
  /** Lower pointwise band: Ŝ^{exp(+z·σ)} with σ the Greenwood-based s.e. of log(−log Ŝ); equals Ŝ where Ŝ is 1 or 0. */
  lower: number[];
  /** Upper pointwise band: Ŝ^{exp(−z·σ)}. */
  upper: number[];
  confLevel: number;
  bandTransform: 'log-log';
  varianceMethod: 'greenwood';
  median: MedianSurvival;
  /** Post-processing applied to the counts and conventions worth knowing. */
  notes: string[];
}

function firstTimeAtOrBelowHalf(times: readonly number[], values: readonly number[]): number | null {
  const i = values.findIndex((v) => v <= 0.5);
  return i === -1 ? null : times[i]!;
}

/**
 * Kaplan–Meier curve for one stratum from per-bin counts (summed over agents, possibly noisy).
 *
 * Bands are pointwise, on the log(−log S) scale (Kalbfleisch & Prentice), so they stay inside [0, 1]. The
 * median is the smallest bin time with Ŝ ≤ 0.5, and its interval is the set of times whose band contains 0.5
 * (as in R's survfit). Noisy counts are post-processed first, as described by {@link prepareStratum}.
 *
 * @throws TypeError / RangeError naming the offending field of `stratum`, or `options.confLevel` outside (0, 1)
 */
export function kaplanMeier(stratum: StratumCounts, options: KaplanMeierOptions = {}): KaplanMeierCurve {
  const confLevel = options.confLevel ?? 0.95;
  if (typeof confLevel !== 'number' || !(confLevel > 0 && confLevel < 1)) {
    throw new RangeError(`options.confLevel must be a number in (0, 1), got ${String(confLevel)}`);
  }
  const noiseVar = options.endpointNoiseVariance ?? 0;
  if (typeof noiseVar !== 'number' || !(noiseVar >= 0) || !Number.isFinite(noiseVar)) throw new RangeError(`options.endpointNoiseVariance must be a finite number ≥ 0, got ${String(noiseVar)}`);
  const p = prepareStratum('stratum', stratum, options);
  const z = normalQuantile(0.5 + confLevel / 2);
  const m = p.times.length;
  const survival: number[] = [];
  const variance: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  let s = 1;
  let greenwoodSum = 0;
  for (let i = 0; i < m; i++) {
    const n = p.atRisk[i]!;
    const d = p.events[i]!;
    if (d > 0) {
      // d ≤ n after post-processing, and d > 0 implies n > 0.
      s *= 1 - d / n;
      greenwoodSum += d < n ? d / (n * (n - d)) : Infinity;
    }
    if (noiseVar > 0 && n > 0) greenwoodSum += n > d ? noiseVar / ((n - d) * (n - d)) : Infinity;
    survival.push(s);
    if (s === 0 || s === 1) {
      variance.push(0);
      lower.push(s);
      upper.push(s);
      continue;
    }
    variance.push(s * s * greenwoodSum);
    const logS = Math.log(s);
    const sigma = Math.sqrt(greenwoodSum) / Math.abs(logS);
    if (!Number.isFinite(sigma)) {
      // Only reachable with noisy at-risk counts so small that n(n − d) underflows: no information at all.
      lower.push(0);
      upper.push(1);
      continue;
    }
    const w = Math.exp(z * sigma);
    lower.push(Math.pow(s, w));
    upper.push(Math.pow(s, 1 / w));
  }
  const median: MedianSurvival = {
    estimate: firstTimeAtOrBelowHalf(p.times, survival),
    lower: firstTimeAtOrBelowHalf(p.times, lower),
    upper: firstTimeAtOrBelowHalf(p.times, upper),
    method: 'pointwise log-log band inverted at 0.5 (Brookmeyer-Crowley interval on the log-log scale)',
  };
  const notes = [...p.notes];
  if (noiseVar > 0) notes.push(`Greenwood variance widened by the known noise of the event counts (σ² = ${noiseVar.toPrecision(4)} per bin, delta method)`);
  if (survival.some((v) => v === 1) && survival.some((v) => v < 1)) {
    notes.push('before the first event the band is the point [1, 1]');
  }
  if (survival.some((v) => v === 0)) notes.push('once S reaches 0 the variance and band are reported as 0');
  return {
    label: p.label,
    times: p.times,
    atRisk: p.atRisk,
    events: p.events,
    censored: p.censored,
    survival,
    variance,
    stdErr: variance.map(Math.sqrt),
    lower,
    upper,
    confLevel,
    bandTransform: 'log-log',
    varianceMethod: 'greenwood',
    median,
    notes,
  };
}
