/**
 * Kaplan–Meier curves with confidence bands as a standalone SVG document (`fedmesh survival --plot`): the input is
 * validated here, then drawn by the same vega-lite chart the dashboard shows (step functions from S(0) = 1,
 * shaded pointwise bands, the number at risk below).
 */
import { kaplanMeierChart, type KmCurve } from './charts.js';
import { renderVegaLiteSvg } from './vega-svg.js';

/** One stratum's curve; `survival`, `lower` and `upper` hold the values just after each time in `times` (the chart's own curve type). */
export type SurvivalCurveInput = KmCurve;

/** Options for {@link renderSurvivalSvg}. */
export interface SurvivalSvgOptions {
  /** @default 'Kaplan–Meier survival' */
  title?: string;
  /** @default 'Time' */
  xLabel?: string;
}

/** Escapes text for use in SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function validateCurves(curves: unknown): asserts curves is SurvivalCurveInput[] {
  if (!Array.isArray(curves)) throw new TypeError('curves must be an array');
  if (curves.length === 0) throw new RangeError('curves must contain at least one curve');
  curves.forEach((c: unknown, k) => {
    if (typeof c !== 'object' || c === null) throw new TypeError(`curves[${k}] must be an object`);
    const curve = c as Record<string, unknown>;
    if (typeof curve.label !== 'string') throw new TypeError(`curves[${k}].label must be a string`);
    const times = curve.times;
    if (!Array.isArray(times)) throw new TypeError(`curves[${k}].times must be an array`);
    if (curve.atRisk !== undefined) {
      const r = curve.atRisk;
      if (!Array.isArray(r) || r.length !== times.length) throw new RangeError(`curves[${k}].atRisk must be an array as long as curves[${k}].times`);
      r.forEach((v: unknown, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`curves[${k}].atRisk[${i}] must be a finite number >= 0`);
      });
    }
    for (const field of ['times', 'survival', 'lower', 'upper'] as const) {
      const arr = curve[field];
      if (!Array.isArray(arr)) throw new TypeError(`curves[${k}].${field} must be an array`);
      if (arr.length !== times.length) {
        throw new RangeError(`curves[${k}].${field} has ${arr.length} entries, curves[${k}].times has ${times.length}`);
      }
      arr.forEach((v: unknown, i) => {
        if (typeof v !== 'number') throw new TypeError(`curves[${k}].${field}[${i}] must be a number`);
        if (!Number.isFinite(v)) throw new RangeError(`curves[${k}].${field}[${i}] must be finite`);
        if (field === 'times') {
          if (v < 0) throw new RangeError(`curves[${k}].times[${i}] must be >= 0`);
          if (i > 0 && v < (arr[i - 1] as number)) throw new RangeError(`curves[${k}].times must be non-decreasing (at index ${i})`);
        } else if (v < 0 || v > 1) {
          throw new RangeError(`curves[${k}].${field}[${i}] must be in [0, 1], got ${v}`);
        }
      });
    }
  });
}

function text(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`opts.${name} must be a string`);
  return value;
}

/**
 * Renders Kaplan–Meier curves and their bands to a standalone SVG string (vega-lite; text escaped by vega).
 * @throws TypeError / RangeError naming the offending curve field or option
 */
export async function renderSurvivalSvg(curves: SurvivalCurveInput[], opts: SurvivalSvgOptions = {}): Promise<string> {
  validateCurves(curves);
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const title = text('title', opts.title, 'Kaplan–Meier survival');
  const xLabel = text('xLabel', opts.xLabel, 'Time');
  return renderVegaLiteSvg(kaplanMeierChart(curves, { title, xLabel }).spec);
}
