/**
 * Issue 14 item 3: the DP Kaplan–Meier curve's error against ε. A fixed synthetic cohort (500 persons, 60 monthly
 * bins, hazard and censoring 1 % per bin: ≈ 5 → 2 events per bin), discrete Gaussian noise on every released
 * count (σ² = 2/ε², see survivalSigma2ForEpsilon), many replicates per ε; the signed error (bias) and the mean
 * absolute error of Ŝ(t), for the cumulative projection in use and for the old bin-by-bin clamp. Writes an SVG
 * (vega-lite) of the signed error by ε beside the JSON.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { createCryptoRng } from '../common/crypto-rng.js';
import { simulateDpSurvival, survivalSigma2ForEpsilon, syntheticTruth } from '../algorithms/testing/dp-survival-sim.js';
import { ratio, type Ratio, type SuiteReport } from './harness.js';

const EPSILONS = [0.1, 0.2, 0.3, 0.5, 1, 2, 3];

export async function runSurvivalDpBenchmark(outDir: string, replicates = 2000): Promise<SuiteReport> {
  const t0 = performance.now();
  const truth = syntheticTruth(500, 60, 0.01, 0.01);
  const rng = createCryptoRng();
  const rows: Record<string, number | string>[] = [];
  for (const epsilon of EPSILONS) {
    for (const post of ['cumulative', 'per-bin-clamp'] as const) {
      const r = simulateDpSurvival(truth, survivalSigma2ForEpsilon(epsilon), replicates, rng, post);
      rows.push({ epsilon, postProcessing: post, sigma: Math.sqrt(survivalSigma2ForEpsilon(epsilon)), meanBias: r.meanBias, lastBinBias: r.lastBinBias, lastBinBiasSe: r.lastBinBiasSe, meanAbsError: r.meanAbsError, bandCoverage: r.bandCoverage });
    }
  }
  const ratios: Record<string, Ratio> = {};
  const mae = (eps: number, post: string): number => rows.find((r) => r.epsilon === eps && r.postProcessing === post)!.meanAbsError as number;
  ratios.maeEps3OverEps03 = ratio(mae(3, 'cumulative'), mae(0.3, 'cumulative'), { numerator: 'mean |Ŝ − S| at ε = 3', denominator: 'mean |Ŝ − S| at ε = 0.3', target: 1 });
  const bias = (eps: number, post: string): number => Math.abs(rows.find((r) => r.epsilon === eps && r.postProcessing === post)!.lastBinBias as number);
  ratios.lastBinBiasCumulativeOverClamp = ratio(bias(0.3, 'cumulative'), bias(0.3, 'per-bin-clamp'), { numerator: '|bias of Ŝ(last bin)|, cumulative projection, ε = 0.3', denominator: 'the same, old per-bin clamp', target: 1 });
  const svgPath = join(outDir, 'survival-dp.svg');
  await writeFile(svgPath, await plot(rows));
  return {
    results: {
      cohort: { persons: truth.initialAtRisk, bins: truth.times.length, hazardPerBin: 0.01, censoringPerBin: 0.01, events: truth.events.reduce((a, b) => a + b, 0) },
      noise: 'discrete Gaussian on the initial at-risk and every event/censoring count, σ² = 2/ε² (ρ = ε²/2 split over two blocks of L2 sensitivity 1), CSPRNG',
      replicates,
      rows,
      plot: svgPath,
      durationSeconds: (performance.now() - t0) / 1000,
    },
    ratios,
  };
}

async function plot(rows: readonly Record<string, number | string>[]): Promise<string> {
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'DP Kaplan–Meier: signed error of Ŝ at the last bin (mean over replicates, ±2 SE)',
    width: 480,
    height: 280,
    data: { values: rows.map((r) => ({ ...r, lo: (r.lastBinBias as number) - 2 * (r.lastBinBiasSe as number), hi: (r.lastBinBias as number) + 2 * (r.lastBinBiasSe as number) })) },
    encoding: { x: { field: 'epsilon', type: 'quantitative', scale: { type: 'log' }, title: 'ε' }, color: { field: 'postProcessing', type: 'nominal', title: 'post-processing' } },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'lastBinBias', type: 'quantitative', title: 'Ŝ(t_last) − S(t_last)' } } },
      { mark: 'errorbar', encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, data: { values: [{ zero: 0 }] }, encoding: { y: { field: 'zero', type: 'quantitative' }, color: { value: 'gray' } } },
    ],
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
