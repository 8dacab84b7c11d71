import { createDiscreteGaussianSampler } from '../dp/index.js';
import type { Rng } from '../rng.js';
import { kaplanMeier } from '../survival/index.js';
import type { CountPostProcessingOptions, StratumCounts } from '../survival/index.js';

/**
 * Simulation of DP Kaplan–Meier releases for the benchmark and the statistical test: a fixed cohort's exact
 * per-bin counts, discrete Gaussian noise added to the initial at-risk and to every event and censoring count
 * (as the survival job releases them), and the error of the resulting curve against the exact curve.
 */
export interface SurvivalTruth {
  times: number[];
  initialAtRisk: number;
  events: number[];
  censored: number[];
  /** The exact product-limit curve of these counts. */
  survival: number[];
}

/** A deterministic cohort: `persons` at time 0, a constant hazard and censoring rate per bin (counts rounded). */
export function syntheticTruth(persons: number, bins: number, hazard: number, censoring: number): SurvivalTruth {
  const times = Array.from({ length: bins }, (_, i) => (i + 1) * 30);
  const events: number[] = [];
  const censored: number[] = [];
  let n = persons;
  const survival: number[] = [];
  let s = 1;
  for (let i = 0; i < bins; i++) {
    const d = Math.round(n * hazard);
    const c = Math.round((n - d) * censoring);
    events.push(d);
    censored.push(c);
    if (n > 0) s *= 1 - d / n;
    survival.push(s);
    n -= d + c;
  }
  return { times, initialAtRisk: persons, events, censored, survival };
}

export interface DpSurvivalError {
  /** Mean over replicates of Ŝ(t_i) − S(t_i), per bin. */
  biasByBin: number[];
  /** Mean over bins of biasByBin (signed). */
  meanBias: number;
  /** Mean over replicates and bins of |Ŝ − S|. */
  meanAbsError: number;
  /** Standard error of the signed error at the last bin, over replicates. */
  lastBinBiasSe: number;
  lastBinBias: number;
  /** Share of replicates × bins whose band [lower, upper] contains the exact S(t). */
  bandCoverage: number;
}

/** Runs `replicates` noisy releases with noise variance `sigma2` per count; `post` selects the post-processing. */
export function simulateDpSurvival(truth: SurvivalTruth, sigma2: number, replicates: number, rng: Rng, post: CountPostProcessingOptions['noisyEndpoints'], widenBands = true): DpSurvivalError {
  const noise = createDiscreteGaussianSampler(sigma2);
  const m = truth.times.length;
  const sum = Array<number>(m).fill(0);
  let abs = 0;
  let covered = 0;
  const last: number[] = [];
  const draw = (x: number): number => x + Number(noise.sample(rng));
  for (let r = 0; r < replicates; r++) {
    const s: StratumCounts = { times: truth.times, initialAtRisk: draw(truth.initialAtRisk), events: truth.events.map(draw), censored: truth.censored.map(draw) };
    const curve = kaplanMeier(s, { noisyEndpoints: post, endpointNoiseVariance: widenBands ? sigma2 : 0 });
    curve.survival.forEach((v, i) => {
      const err = v - truth.survival[i]!;
      sum[i]! += err;
      abs += Math.abs(err);
      if (curve.lower[i]! <= truth.survival[i]! && truth.survival[i]! <= curve.upper[i]!) covered++;
    });
    last.push(curve.survival[m - 1]! - truth.survival[m - 1]!);
  }
  const biasByBin = sum.map((v) => v / replicates);
  const lastBinBias = last.reduce((a, b) => a + b, 0) / replicates;
  const lastVar = last.reduce((a, b) => a + (b - lastBinBias) ** 2, 0) / (replicates - 1);
  return {
    biasByBin,
    meanBias: biasByBin.reduce((a, b) => a + b, 0) / m,
    meanAbsError: abs / (replicates * m),
    lastBinBias,
    lastBinBiasSe: Math.sqrt(lastVar / replicates),
    bandCoverage: covered / (replicates * m),
  };
}

/**
 * σ² per released count for a survival job at ε under zCDP: ρ = ε²/2 (the zCDP of ε-DP-equivalent budget, a
 * convention for this plot), split equally between the two blocks (initial at-risk, endpoints), each of L2
 * sensitivity 1: σ² = 1 / (2 · ρ/2) = 2/ε².
 */
export function survivalSigma2ForEpsilon(epsilon: number): number {
  return 2 / (epsilon * epsilon);
}
