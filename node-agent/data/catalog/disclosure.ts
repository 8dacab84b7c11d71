/**
 * Coarsening rules for the quality metrics an agent publishes. Pure functions; `quality.ts` applies them.
 *
 * The rules, with k = `minCellSize`:
 * - **Counts** (rows, distinct privacy units): below k they are published only as the string `"< k"`; from k on,
 *   rounded to two significant figures (1234 → 1200, 56 → 56).
 * - **Fractions** (completeness): published only for tables of at least k rows, rounded to a step that stands
 *   for at least k rows (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5 or 1, the finest with step × rows ≥ k), so the
 *   number of missing or present values cannot be read back to better than about k rows. From 100·k rows on
 *   this is plain rounding to two decimals.
 * - **Dates** (coverage): the first and last date are published as the month that holds them when at least k
 *   units (distinct privacy units; rows when the product has none) have a date in that month; otherwise as the
 *   quarter, otherwise as the year, under the same condition; otherwise not at all.
 */

/** A published count: a number of at least k, or `"< k"`. */
export type CoarseCount = number | `< ${number}`;

/** @throws RangeError unless `minCellSize` is an integer ≥ 1. */
export function checkMinCellSize(minCellSize: number): void {
  if (!Number.isInteger(minCellSize) || minCellSize < 1) {
    throw new RangeError(`opts.minCellSize must be an integer >= 1, got ${String(minCellSize)}`);
  }
}

/** Round a non-negative integer to two significant figures. */
export function roundTwoSignificant(n: number): number {
  if (n < 100) return n;
  const unit = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / unit) * unit;
}

/** The published form of a count: `"< k"` below k, else two significant figures. */
export function coarsenCount(n: number, minCellSize: number): CoarseCount {
  checkMinCellSize(minCellSize);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`count must be a non-negative integer, got ${String(n)}`);
  return n < minCellSize ? `< ${minCellSize}` : roundTwoSignificant(n);
}

const FRACTION_STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1];

/**
 * The published form of `part / total`, or undefined when `total < minCellSize` (nothing is published).
 * @throws RangeError unless 0 ≤ part ≤ total are integers.
 */
export function coarsenFraction(part: number, total: number, minCellSize: number): number | undefined {
  checkMinCellSize(minCellSize);
  if (!Number.isInteger(part) || !Number.isInteger(total) || part < 0 || part > total) {
    throw new RangeError(`fraction needs integers 0 <= part <= total, got ${String(part)}/${String(total)}`);
  }
  if (total < minCellSize) return undefined;
  const step = FRACTION_STEPS.find((s) => s * total >= minCellSize) ?? 1;
  // Work in hundredths so that the result is exactly a two-decimal number.
  const stepHundredths = Math.round(step * 100);
  const hundredths = Math.round((part / total) * 100 / stepHundredths) * stepHundredths;
  return Math.min(100, hundredths) / 100;
}

export type DateGranularity = 'month' | 'quarter' | 'year';

/** The month, quarter and year that hold an ISO date, as half-open ISO date ranges and labels. */
export interface DateBuckets {
  month: { label: string; start: string; end: string };
  quarter: { label: string; start: string; end: string };
  year: { label: string; start: string; end: string };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const iso = (year: number, month: number): string => `${pad(year, 4)}-${pad(month, 2)}-01`;

/**
 * Buckets of an ISO date `YYYY-MM-DD` (years 1–9998), or undefined for anything else (infinite or far dates,
 * which are then not published).
 */
export function dateBuckets(date: string): DateBuckets | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (year < 1 || year > 9998 || month < 1 || month > 12) return undefined;
  const q = Math.floor((month - 1) / 3);
  const next = (y: number, mo: number): string => (mo > 12 ? iso(y + 1, mo - 12) : iso(y, mo));
  return {
    month: { label: `${pad(year, 4)}-${pad(month, 2)}`, start: iso(year, month), end: next(year, month + 1) },
    quarter: { label: `${pad(year, 4)}-Q${q + 1}`, start: iso(year, 3 * q + 1), end: next(year, 3 * q + 4) },
    year: { label: pad(year, 4), start: iso(year, 1), end: iso(year + 1, 1) },
  };
}

/**
 * The finest label among month, quarter and year whose count reaches `minCellSize`, or undefined.
 * @param counts units in the month, the quarter and the year that hold the date
 */
export function finestSafeLabel(
  buckets: DateBuckets, counts: Readonly<Record<DateGranularity, number>>, minCellSize: number,
): string | undefined {
  for (const g of ['month', 'quarter', 'year'] as const) {
    if (counts[g] >= minCellSize) return buckets[g].label;
  }
  return undefined;
}
