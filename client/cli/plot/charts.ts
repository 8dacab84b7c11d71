/**
 * Chart builders: released numbers in, a vega-lite spec out, with the data rows the chart draws kept beside it so
 * a caller (the dashboard's JSON endpoint, a test) can compare them with the result they came from. Pure.
 */
import { Z_975 } from '../../../algorithms/dp/analysis/special-functions.js';
import { PALETTE } from './palette.js';
import type { VegaLiteSpec } from './vega-svg.js';

export type ChartRow = Record<string, string | number | null>;

/** One chart: its spec (inline data), and the rows it draws. */
export interface Chart {
  /** Stable within a job: `histogram-<field>`, `km`, `attrition`, `forest`, ... */
  id: string;
  title: string;
  rows: ChartRow[];
  spec: VegaLiteSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const CONFIG = { font: 'sans-serif', axis: { labelFontSize: 12, titleFontSize: 12, labelColor: '#222222', titleColor: '#222222' }, legend: { labelFontSize: 12 }, title: { fontSize: 15 } };
export const colour = { range: [...PALETTE] };

/** A vega-lite spec with the house schema, fonts and white background. */
export function baseSpec(title: string, rest: Record<string, unknown>): VegaLiteSpec {
  return { $schema: SCHEMA, title, config: CONFIG, background: 'white', ...rest } as VegaLiteSpec;
}

/** Bars of one histogram field per group (`group` null without groupBy); error bars from ±Z_975 std when released. */
export function histogramChart(id: string, title: string, rows: { group: string | null; bin: string; order: number; count: number; std?: number }[]): Chart {
  const data: ChartRow[] = rows.map((r) => ({ group: r.group, bin: r.bin, order: r.order, count: r.count, ...(r.std !== undefined ? { lower: r.count - Z_975 * r.std, upper: r.count + Z_975 * r.std } : {}) }));
  const grouped = rows.some((r) => r.group !== null);
  const x = { field: 'bin', type: 'ordinal', sort: { field: 'order' }, title: 'bin' };
  const layers: Record<string, unknown>[] = [
    { mark: { type: 'bar' }, encoding: { x, y: { field: 'count', type: 'quantitative', title: 'count' }, ...(grouped ? { color: { field: 'group', type: 'nominal', scale: colour }, xOffset: { field: 'group' } } : { color: { value: PALETTE[0] } }) } },
  ];
  if (rows.some((r) => r.std !== undefined)) layers.push({ mark: { type: 'rule', color: '#222222' }, encoding: { x, y: { field: 'lower', type: 'quantitative' }, y2: { field: 'upper' }, ...(grouped ? { xOffset: { field: 'group' } } : {}) } });
  return { id, title, rows: data, spec: baseSpec(title, { width: 480, height: 260, data: { values: data }, layer: layers }) };
}

/** One bar per group of a scalar measure (count, mean, sum), with its 95% interval when released. */
export function groupedBarChart(id: string, title: string, measure: string, rows: { group: string; value: number; lower?: number; upper?: number }[]): Chart {
  const data: ChartRow[] = rows.map((r) => ({ group: r.group, value: r.value, ...(r.lower !== undefined ? { lower: r.lower, upper: r.upper ?? null } : {}) }));
  const x = { field: 'group', type: 'nominal', title: 'group', sort: null };
  const layers: Record<string, unknown>[] = [{ mark: 'bar', encoding: { x, y: { field: 'value', type: 'quantitative', title: measure }, color: { value: PALETTE[0] } } }];
  if (rows.some((r) => r.lower !== undefined)) layers.push({ mark: { type: 'rule', color: '#222222' }, encoding: { x, y: { field: 'lower', type: 'quantitative' }, y2: { field: 'upper' } } });
  return { id, title, rows: data, spec: baseSpec(title, { width: Math.max(160, 60 * rows.length), height: 240, data: { values: data }, layer: layers }) };
}

export interface KmCurve {
  label: string;
  times: number[];
  survival: number[];
  lower: number[];
  upper: number[];
  atRisk?: number[];
}

/**
 * Persons at risk at `t`: at-risk counts are released at each time of the grid (persons still followed just before
 * it), so the number at tick t is the count at the first released time ≥ t; past the last time it is not known.
 */
export function atRiskAt(c: KmCurve, t: number): number | null {
  if (!c.atRisk) return null;
  const i = c.times.findIndex((x) => x >= t);
  return i < 0 ? null : (c.atRisk[i] ?? null);
}

/** 1-2-5 ticks from 0 covering `max`, about `target` intervals. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * pow).find((s) => s >= raw)!;
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; k * step <= top + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/**
 * Kaplan–Meier step curves from S(0) = 1 with shaded pointwise bands, and under them the number at risk at the
 * x-axis ticks (the table readers of survival papers look for).
 */
export function kaplanMeierChart(curves: KmCurve[], opts: { title?: string; xLabel?: string } = {}): Chart {
  const title = opts.title ?? 'Kaplan–Meier survival';
  const rows: ChartRow[] = [];
  for (const c of curves) {
    rows.push({ stratum: c.label, time: 0, survival: 1, lower: 1, upper: 1 });
    c.times.forEach((t, i) => rows.push({ stratum: c.label, time: t, survival: c.survival[i]!, lower: c.lower[i]!, upper: c.upper[i]! }));
  }
  const maxTime = Math.max(0, ...curves.flatMap((c) => c.times));
  const ticks = niceTicks(maxTime);
  const risk: ChartRow[] = curves.flatMap((c) => ticks.map((t) => ({ stratum: c.label, time: t, atRisk: atRiskAt(c, t) }))).filter((r) => r.atRisk !== null);
  const x = { field: 'time', type: 'quantitative', title: opts.xLabel ?? 'Time', scale: { domain: [0, ticks.at(-1)!] }, axis: { values: ticks } };
  const color = { field: 'stratum', type: 'nominal', scale: colour, title: 'stratum' };
  const curve = {
    width: 560,
    height: 300,
    data: { values: rows },
    layer: [
      { mark: { type: 'area', interpolate: 'step-after', opacity: 0.18 }, encoding: { x, y: { field: 'lower', type: 'quantitative', scale: { domain: [0, 1] } }, y2: { field: 'upper' }, color } },
      { mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 }, encoding: { x, y: { field: 'survival', type: 'quantitative', title: 'Survival probability', scale: { domain: [0, 1] } }, color } },
    ],
  };
  const table = {
    width: 560,
    height: { step: 18 },
    title: { text: 'Number at risk', fontSize: 12, anchor: 'start' },
    data: { values: risk },
    mark: { type: 'text', fontSize: 11 },
    encoding: { x: { ...x, title: null, axis: null }, y: { field: 'stratum', type: 'nominal', title: null }, text: { field: 'atRisk', type: 'quantitative' }, color },
  };
  return { id: 'km', title, rows, spec: baseSpec(title, { vconcat: risk.length > 0 ? [curve, table] : [curve], resolve: { scale: { color: 'shared' } } }) };
}

/** Persons remaining after each inclusion rule, in order. */
export function attritionChart(steps: { rule: string; persons: number }[]): Chart {
  const title = 'Cohort attrition';
  const rows: ChartRow[] = steps.map((s, i) => ({ step: i, rule: s.rule, persons: s.persons }));
  const spec = baseSpec(title, {
    width: 420,
    height: { step: 24 },
    data: { values: rows },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'rule', type: 'nominal', sort: { field: 'step' }, title: 'inclusion rule' }, x: { field: 'persons', type: 'quantitative', title: 'persons remaining' }, color: { value: PALETTE[2] } } },
      { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { y: { field: 'rule', type: 'nominal', sort: { field: 'step' } }, x: { field: 'persons', type: 'quantitative' }, text: { field: 'persons', type: 'quantitative', format: ',.0f' } } },
    ],
  });
  return { id: 'attrition', title, rows, spec };
}

/** Coefficients with 95% intervals and a reference line (0 for a linear predictor, 1 for ratios on a log axis). */
export function forestChart(title: string, rows: { term: string; estimate: number; lower: number; upper: number }[], ratio: boolean): Chart {
  const data: ChartRow[] = rows.map((r) => ({ ...r }));
  const scale = ratio ? { type: 'log' } : { zero: false };
  const y = { field: 'term', type: 'nominal', sort: null, title: null };
  const spec = baseSpec(title, {
    width: 420,
    height: { step: 26 },
    layer: [
      { data: { values: data }, mark: { type: 'rule', strokeWidth: 2, color: PALETTE[0] }, encoding: { y, x: { field: 'lower', type: 'quantitative', scale, title: ratio ? 'ratio (95% CI, log scale)' : 'estimate (95% CI)' }, x2: { field: 'upper' } } },
      { data: { values: data }, mark: { type: 'point', filled: true, size: 60, color: PALETTE[1] }, encoding: { y, x: { field: 'estimate', type: 'quantitative' } } },
      { data: { values: [{ ref: ratio ? 1 : 0 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555555' }, encoding: { x: { field: 'ref', type: 'quantitative' } } },
    ],
  });
  return { id: 'forest', title, rows: data, spec };
}

/** Loss (or any metric) per round: one line per agent and the global model. */
export function trainingChart(points: { round: number; series: string; value: number }[], metric = 'loss'): Chart {
  const title = `Training ${metric} per round`;
  const rows: ChartRow[] = points.map((p) => ({ ...p }));
  const spec = baseSpec(title, {
    width: 480,
    height: 260,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: { x: { field: 'round', type: 'quantitative', title: 'round' }, y: { field: 'value', type: 'quantitative', title: metric }, color: { field: 'series', type: 'nominal', scale: colour, title: null } },
  });
  return { id: 'training', title, rows, spec };
}
