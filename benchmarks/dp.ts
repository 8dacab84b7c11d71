/**
 * DP benchmarks: exact-sampler throughput with the production (crypto) Rng, and an accuracy table (MAE and RMSE
 * against ε) for count, bounded sum, mean, histogram and median on synthetic data generated in-process, each next
 * to the theoretical error of its mechanism. Returns JSON-able results; the caller writes them.
 */
import {
  createBufferedRng,
  createDiscreteGaussianSampler,
  createDiscreteLaplaceSampler,
  meanVarianceAggregate,
  noiseDistribution,
  planBoundedSum,
  planMeanVariance,
  quantileBuckets,
  quantileCandidates,
  releaseBoundedSum,
  releaseCount,
  releaseHistogram,
  releaseMeanVariance,
  releaseQuantiles,
  boundedSumAggregate,
  type DpBudget,
} from '../algorithms/dp/index.js';
import type { Rng } from '../algorithms/rng.js';
import { createSeededRng } from '../algorithms/testing/seeded-rng.js';
import { createCryptoRng } from '../common/crypto-rng.js';

const THROUGHPUT_SECONDS = 0.4;

function throughput(sample: () => bigint): { samplesPerSecond: number; samples: number } {
  for (let i = 0; i < 2000; i++) sample(); // warm-up
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < THROUGHPUT_SECONDS * 1000) {
    for (let i = 0; i < 5000; i++) sample();
    n += 5000;
    elapsed = performance.now() - start;
  }
  return { samplesPerSecond: Math.round(n / (elapsed / 1000)), samples: n };
}

function samplerThroughput(): Record<string, unknown>[] {
  const rng = createBufferedRng(createCryptoRng());
  const rows: Record<string, unknown>[] = [];
  for (const t of [1, 100, 1e6]) {
    const s = createDiscreteLaplaceSampler(t);
    rows.push({ sampler: 'discrete-laplace', scale: t, rng: 'crypto (64 KiB buffered)', ...throughput(() => s.sample(rng)) });
  }
  for (const sigma of [1, 100, 1e6]) {
    const s = createDiscreteGaussianSampler(sigma * sigma);
    rows.push({ sampler: 'discrete-gaussian', sigma, rng: 'crypto (64 KiB buffered)', ...throughput(() => s.sample(rng)) });
  }
  // σ² with a 2^50 denominator exercises the BigInt acceptance path
  const odd = createDiscreteGaussianSampler(2.7);
  rows.push({ sampler: 'discrete-gaussian', sigma: Math.sqrt(2.7), note: 'sigma2 = 2.7 exactly (BigInt path)', rng: 'crypto (64 KiB buffered)', ...throughput(() => odd.sample(rng)) });
  return rows;
}

function uniform01(rng: Rng): number {
  const b = rng.fill(new Uint8Array(4));
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32;
}

interface ErrorStats {
  mae: number;
  rmse: number;
}
function errorStats(errors: number[]): ErrorStats {
  let a = 0;
  let s = 0;
  for (const e of errors) {
    a += Math.abs(e);
    s += e * e;
  }
  return { mae: a / errors.length, rmse: Math.sqrt(s / errors.length) };
}

function theoryOf(info: { distribution: string; parameter: number }, scale = 1): ErrorStats {
  if (info.distribution === 'discrete-laplace') {
    return { mae: noiseDistribution.discreteLaplaceMeanAbs(info.parameter) * scale, rmse: Math.sqrt(noiseDistribution.discreteLaplaceVariance(info.parameter)) * scale };
  }
  return { mae: noiseDistribution.discreteGaussianMeanAbs(info.parameter) * scale, rmse: Math.sqrt(noiseDistribution.discreteGaussianVariance(info.parameter)) * scale };
}

function accuracyTable(): Record<string, unknown>[] {
  const dataRng = createSeededRng('fedmesh-dp-benchmark-data');
  const n = 10_000;
  // synthetic "lab values" in [0, 100]: a skewed mixture
  const values = Array.from({ length: n }, () => {
    const u = uniform01(dataRng);
    return u < 0.7 ? 40 + 20 * uniform01(dataRng) : 100 * uniform01(dataRng) ** 2;
  });
  const sorted = [...values].sort((a, b) => a - b);
  const trueSum = values.reduce((a, b) => a + b, 0);
  const trueMean = trueSum / n;
  const bins = 10;
  const trueHist = Array.from({ length: bins }, () => 0);
  for (const v of values) trueHist[Math.min(bins - 1, Math.floor(v / 10))]!++;
  const candidates = quantileCandidates(0, 100, 201);
  const buckets = quantileBuckets(values, candidates);
  const rng = createCryptoRng();
  const rows: Record<string, unknown>[] = [];
  const trials = 200;
  for (const epsilon of [0.1, 0.5, 1, 2, 5]) {
    for (const kind of ['laplace', 'gaussian'] as const) {
      // Same zCDP for both: the Gaussian gets ρ = ε²/2, what pure ε-DP implies.
      const budget: DpBudget = kind === 'laplace' ? { epsilon } : { rho: (epsilon * epsilon) / 2 };
      const base = { epsilon, noise: kind === 'laplace' ? 'discrete-laplace (pure ε-DP)' : 'discrete-gaussian (ρ = ε²/2)', n };

      let info = releaseCount({ count: n, budget }, rng).noise;
      const countErr = Array.from({ length: trials }, () => releaseCount({ count: n, budget }, rng).value - n);
      rows.push({ ...base, statistic: 'count', empirical: errorStats(countErr), theoretical: theoryOf(info) });

      const sumPlan = planBoundedSum({ lower: 0, upper: 100, budget });
      const agg = boundedSumAggregate(values, sumPlan);
      const sumErr = Array.from({ length: trials }, () => releaseBoundedSum(sumPlan, agg, rng).value - trueSum);
      rows.push({ ...base, statistic: 'sum [0,100]', empirical: errorStats(sumErr), theoretical: theoryOf(sumPlan.noise.info, sumPlan.grid.size) });

      const mPlan = planMeanVariance({ lower: 0, upper: 100, budget });
      const stats = meanVarianceAggregate(values, mPlan);
      const meanErr = Array.from({ length: trials }, () => releaseMeanVariance(mPlan, stats, rng).mean.value - trueMean);
      const sdS = mPlan.sumNoise.info.std * mPlan.sumGrid.size;
      const sdC = mPlan.countNoise.info.std;
      const muC = trueMean - mPlan.center;
      const meanTheoryRmse = Math.sqrt(sdS * sdS + muC * muC * sdC * sdC) / n;
      rows.push({
        ...base,
        statistic: 'mean [0,100] (budget split count 1/2, sum 1/2)',
        empirical: errorStats(meanErr),
        theoretical: { rmse: meanTheoryRmse, mae: meanTheoryRmse * Math.sqrt(2 / Math.PI), note: 'delta method, before clamping' },
      });

      const histErr: number[] = [];
      for (let t = 0; t < trials / 4; t++) {
        const r = releaseHistogram({ counts: trueHist, budget }, rng);
        info = r.noise;
        r.values.forEach((v, i) => histErr.push(v - trueHist[i]!));
      }
      rows.push({ ...base, statistic: `histogram (${bins} public bins, per-bin error)`, empirical: errorStats(histErr), theoretical: theoryOf(info) });

      const rankErr: number[] = [];
      const valueErr: number[] = [];
      let bound = 0;
      const trueMedian = sorted[Math.floor(n / 2)]!;
      for (let t = 0; t < trials / 4; t++) {
        const r = releaseQuantiles({ candidates, bucketCounts: buckets, quantiles: [0.5], budget }, rng).results[0]!;
        bound = r.rankErrorBound95;
        let rank = 0;
        while (rank < n && sorted[rank]! < r.value) rank++;
        rankErr.push(rank - n / 2);
        valueErr.push(r.value - trueMedian);
      }
      rows.push({
        ...base,
        statistic: 'median (permute-and-flip, 201 candidates)',
        empirical: { ...errorStats(valueErr), rankMae: errorStats(rankErr).mae },
        theoretical: { rankErrorBound95: bound, note: 'rank error beyond the best candidate, with probability >= 95%' },
      });
    }
  }
  return rows;
}

/** Runs the DP benchmarks (~15 s on a 2-core machine). */
export async function runDpBenchmarks(): Promise<Record<string, unknown>> {
  const started = performance.now();
  const samplers = samplerThroughput();
  const accuracy = accuracyTable();
  return {
    name: 'dp',
    description: 'Exact discrete samplers (CKS 2020) throughput with the crypto Rng; accuracy vs epsilon of the aggregate mechanisms',
    samplerThroughput: samplers,
    accuracy,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
