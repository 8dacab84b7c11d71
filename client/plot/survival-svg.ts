/**
 * Kaplan–Meier curves with confidence bands as a standalone SVG document, hand-written (no dependency): step
 * functions starting at S(0) = 1, shaded pointwise bands, axes with ticks, labels, a legend and a title.
 */

/** One stratum's curve; `survival`, `lower` and `upper` hold the values just after each time in `times`. */
export interface SurvivalCurveInput {
  label: string;
  times: number[];
  survival: number[];
  lower: number[];
  upper: number[];
}

/** Options for {@link renderSurvivalSvg}. */
export interface SurvivalSvgOptions {
  /** @default 'Kaplan–Meier survival' */
  title?: string;
  /** @default 'Time' */
  xLabel?: string;
  /** @default 'Survival probability' */
  yLabel?: string;
  /** Width in pixels, at least 200. @default 720 */
  width?: number;
  /** Height in pixels, at least 150. @default 480 */
  height?: number;
}

// Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const MARGIN = { top: 48, right: 24, bottom: 56, left: 72 };

/** Escapes text for use in SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Compact number formatting for coordinates. */
function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Tick values 0, step, 2·step, … ≤ max, with step 1, 2 or 5 × 10^k giving about `target` intervals. */
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

function validateCurves(curves: unknown): asserts curves is SurvivalCurveInput[] {
  if (!Array.isArray(curves)) throw new TypeError('curves must be an array');
  if (curves.length === 0) throw new RangeError('curves must contain at least one curve');
  curves.forEach((c: unknown, k) => {
    if (typeof c !== 'object' || c === null) throw new TypeError(`curves[${k}] must be an object`);
    const curve = c as Record<string, unknown>;
    if (typeof curve.label !== 'string') throw new TypeError(`curves[${k}].label must be a string`);
    const times = curve.times;
    if (!Array.isArray(times)) throw new TypeError(`curves[${k}].times must be an array`);
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

function dimension(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`opts.${name} must be a number`);
  if (!Number.isFinite(value) || value < min) throw new RangeError(`opts.${name} must be a finite number >= ${min}, got ${value}`);
  return value;
}

function text(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`opts.${name} must be a string`);
  return value;
}

/**
 * Renders Kaplan–Meier curves (one `<path class="km-curve">` per stratum, drawn as right-continuous steps from
 * S(0) = 1) and their bands (`<path class="km-band">`) to a standalone SVG string.
 * @throws TypeError / RangeError naming the offending curve field or option
 */
export function renderSurvivalSvg(curves: SurvivalCurveInput[], opts: SurvivalSvgOptions = {}): string {
  validateCurves(curves);
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const width = dimension('width', opts.width, 720, 200);
  const height = dimension('height', opts.height, 480, 150);
  const title = text('title', opts.title, 'Kaplan–Meier survival');
  const xLabel = text('xLabel', opts.xLabel, 'Time');
  const yLabel = text('yLabel', opts.yLabel, 'Survival probability');

  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const maxTime = Math.max(0, ...curves.flatMap((c) => c.times));
  const xTicks = niceTicks(maxTime);
  const xMax = xTicks.at(-1)!;
  const yTicks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const x = (t: number): string => num(MARGIN.left + (t / xMax) * plotW);
  const y = (s: number): string => num(MARGIN.top + (1 - s) * plotH);
  const x0 = MARGIN.left;
  const yBottom = MARGIN.top + plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`);

  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const t of xTicks) out.push(`<line x1="${x(t)}" y1="${num(MARGIN.top)}" x2="${x(t)}" y2="${num(yBottom)}"/>`);
  for (const s of yTicks) out.push(`<line x1="${num(x0)}" y1="${y(s)}" x2="${num(x0 + plotW)}" y2="${y(s)}"/>`);
  out.push('</g>');

  out.push('<g class="bands">');
  curves.forEach((c, k) => {
    if (c.times.length === 0) return;
    const m = c.times.length;
    const d: string[] = [`M${x(0)} ${y(1)}`];
    for (let i = 0; i < m; i++) d.push(`H${x(c.times[i]!)}`, `V${y(c.upper[i]!)}`);
    d.push(`V${y(c.lower[m - 1]!)}`);
    for (let i = m - 1; i >= 1; i--) d.push(`V${y(c.lower[i - 1]!)}`, `H${x(c.times[i - 1]!)}`);
    d.push(`V${y(1)}`, `H${x(0)}`, 'Z');
    out.push(`<path class="km-band" data-stratum="${k}" d="${d.join(' ')}" fill="${PALETTE[k % PALETTE.length]}" fill-opacity="0.15" stroke="none"/>`);
  });
  out.push('</g>');

  out.push('<g class="curves" fill="none" stroke-width="2">');
  curves.forEach((c, k) => {
    const d: string[] = [`M${x(0)} ${y(1)}`];
    c.times.forEach((t, i) => d.push(`H${x(t)}`, `V${y(c.survival[i]!)}`));
    out.push(`<path class="km-curve" data-stratum="${k}" d="${d.join(' ')}" stroke="${PALETTE[k % PALETTE.length]}"><title>${escapeXml(c.label)}</title></path>`);
  });
  out.push('</g>');

  out.push('<g class="axes" stroke="#333333" stroke-width="1">');
  out.push(`<line x1="${num(x0)}" y1="${num(yBottom)}" x2="${num(x0 + plotW)}" y2="${num(yBottom)}"/>`);
  out.push(`<line x1="${num(x0)}" y1="${num(MARGIN.top)}" x2="${num(x0)}" y2="${num(yBottom)}"/>`);
  for (const t of xTicks) out.push(`<line x1="${x(t)}" y1="${num(yBottom)}" x2="${x(t)}" y2="${num(yBottom + 5)}"/>`);
  for (const s of yTicks) out.push(`<line x1="${num(x0 - 5)}" y1="${y(s)}" x2="${num(x0)}" y2="${y(s)}"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels" fill="#333333">');
  for (const t of xTicks) out.push(`<text x="${x(t)}" y="${num(yBottom + 18)}" text-anchor="middle">${escapeXml(String(t))}</text>`);
  for (const s of yTicks) out.push(`<text x="${num(x0 - 8)}" y="${y(s)}" text-anchor="end" dominant-baseline="middle">${s.toFixed(1)}</text>`);
  out.push('</g>');

  out.push(`<text class="title" x="${num(width / 2)}" y="28" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text class="x-label" x="${num(x0 + plotW / 2)}" y="${num(height - 14)}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  const yMid = MARGIN.top + plotH / 2;
  out.push(`<text class="y-label" x="20" y="${num(yMid)}" text-anchor="middle" transform="rotate(-90 20 ${num(yMid)})">${escapeXml(yLabel)}</text>`);

  const legendX = x0 + plotW - 170;
  const rowH = 18;
  out.push(`<g class="legend" transform="translate(${num(legendX)} ${num(MARGIN.top + 8)})">`);
  out.push(`<rect x="0" y="0" width="162" height="${num(8 + rowH * curves.length)}" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`);
  curves.forEach((c, k) => {
    const cy = 4 + rowH * k + rowH / 2;
    const colour = PALETTE[k % PALETTE.length]!;
    out.push(`<line x1="8" y1="${num(cy)}" x2="30" y2="${num(cy)}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="36" y="${num(cy)}" dominant-baseline="middle">${escapeXml(c.label)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n');
}
