/**
 * Training curves of a released `train` job as a standalone SVG document (`fedmesh train --plot curves.svg`):
 * one panel per released metric (loss, test accuracy, test AUC), the round on x, one line per series — the global
 * (pooled, example-weighted) figures from the result's rows and, when the release carries them
 * (`summary.perAgent`: mode none with plain sums only, jobs/train/per-agent.ts), one line per agent. Figures the
 * release withheld (NaN / null, e.g. losses under DP) are left out rather than drawn as zero. Drawn by the same
 * vega-lite renderer as every other chart (vega-svg.ts), so labels are escaped by vega.
 */
import { baseSpec, colour } from './charts.js';
import { renderVegaLiteSvg, type VegaLiteSpec } from './vega-svg.js';

/** The part of a released train result the curves read (a `KindResultView`, or `fedmesh train --json`'s object). */
export interface TrainCurvesInput {
  readonly rows: readonly Record<string, unknown>[];
  readonly summary?: Record<string, unknown> | null;
}

/** One drawn point. `series` is `global train`, `global test` or an agent's name. */
export interface TrainCurvePoint {
  readonly metric: TrainMetric;
  readonly series: string;
  readonly round: number;
  readonly value: number;
}

export type TrainMetric = 'loss' | 'test accuracy' | 'test AUC';

/** Options for {@link renderTrainCurvesSvg}. */
export interface TrainCurvesSvgOptions {
  /** @default 'Federated training per round' */
  title?: string;
}

/** At most this many agents get their own line; a bigger federation is summarised by the global curves alone. */
export const MAX_AGENT_SERIES = 32;
/** Agent names are cut to this length in the legend (names come from the coordinator's config, not from data). */
const MAX_NAME = 64;
const METRICS: readonly TrainMetric[] = ['loss', 'test accuracy', 'test AUC'];

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The points the chart draws: global train and test figures per row, then each agent's test figures.
 * @throws RangeError when the result has no rounds, or no round released any figure
 * @throws TypeError when `result.rows` is not an array
 */
export function trainCurvePoints(result: TrainCurvesInput): TrainCurvePoint[] {
  if (typeof result !== 'object' || result === null || !Array.isArray(result.rows)) throw new TypeError('result.rows must be an array of rounds');
  if (result.rows.length === 0) throw new RangeError('the train result has no rounds: nothing to plot');
  const points: TrainCurvePoint[] = [];
  const add = (metric: TrainMetric, series: string, round: unknown, value: unknown): void => {
    if (finite(round) && finite(value)) points.push({ metric, series, round, value });
  };
  for (const r of result.rows) {
    add('loss', 'global train', r.round, r.trainLoss);
    add('loss', 'global test', r.round, r.testLoss);
    add('test accuracy', 'global test', r.round, r.testAccuracy);
    add('test AUC', 'global test', r.round, r.testAuc);
  }
  const perAgent = result.summary?.perAgent;
  if (typeof perAgent === 'object' && perAgent !== null && !Array.isArray(perAgent)) {
    const agents = Object.keys(perAgent).sort().slice(0, MAX_AGENT_SERIES);
    for (const agent of agents) {
      const list = (perAgent as Record<string, unknown>)[agent];
      if (!Array.isArray(list)) continue;
      const name = agent.slice(0, MAX_NAME);
      for (const e of list as Record<string, unknown>[]) {
        if (typeof e !== 'object' || e === null) continue;
        add('loss', name, e.round, e.testLoss);
        add('test accuracy', name, e.round, e.testAccuracy);
        add('test AUC', name, e.round, e.testAuc);
      }
    }
  }
  if (points.length === 0) throw new RangeError(`the train result has ${result.rows.length} rounds but released no finite loss, accuracy or AUC: nothing to plot`);
  return points;
}

/** The vega-lite spec: one panel per metric that has points, a colour per series shared across panels. */
export function trainCurvesSpec(points: readonly TrainCurvePoint[], title: string): VegaLiteSpec {
  const panels = METRICS.filter((m) => points.some((p) => p.metric === m)).map((metric) => ({
    width: 480,
    height: 200,
    data: { values: points.filter((p) => p.metric === metric).map((p) => ({ round: p.round, series: p.series, [metric]: p.value })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'round', type: 'quantitative', title: 'round', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: metric, type: 'quantitative', title: metric, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', scale: colour, title: 'series', sort: null },
    },
  }));
  return baseSpec(title, { vconcat: panels, resolve: { scale: { color: 'shared' } } });
}

/**
 * Renders a released train result's curves to a standalone SVG string.
 * @throws RangeError / TypeError from {@link trainCurvePoints}, TypeError naming a bad option
 */
export async function renderTrainCurvesSvg(result: TrainCurvesInput, opts: TrainCurvesSvgOptions = {}): Promise<string> {
  const points = trainCurvePoints(result);
  if (opts.title !== undefined && typeof opts.title !== 'string') throw new TypeError('opts.title must be a string');
  return renderVegaLiteSvg(trainCurvesSpec(points, opts.title ?? 'Federated training per round'));
}
