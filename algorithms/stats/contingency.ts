/**
 * Pearson's χ² test of independence for an r × c contingency table, made safe for released (possibly noisy)
 * counts: negative cells are clamped at 0, empty rows and columns are dropped, and every such post-processing
 * step is reported next to the result.
 */
import { chiSquareSf } from './chi-square.js';

/** Options for {@link chiSquareIndependence}. */
export interface ChiSquareIndependenceOptions {
  /**
   * Expected counts below this trigger `lowExpectedWarning` (the usual rule of thumb for the χ² approximation).
   * @default 5
   */
  lowExpectedThreshold?: number;
}

/** Result of {@link chiSquareIndependence}. Arrays keep the input's r × c shape. */
export interface ChiSquareIndependenceResult {
  /** Pearson X² = Σ (O − E)² / E over the retained cells; null when fewer than 2 rows or 2 columns remain. */
  statistic: number | null;
  /** (r' − 1)(c' − 1) for the r' × c' table left after dropping empty rows and columns; 0 when degenerate. */
  df: number;
  /** Upper-tail χ² probability of `statistic` on `df` degrees of freedom; null when degenerate. */
  pValue: number | null;
  /** The counts the test used: the input after clamping negatives to 0 (non-integers kept as they are). */
  observed: number[][];
  /** Expected counts under independence, rowTotal·columnTotal/grandTotal; 0 in dropped rows and columns. */
  expected: number[][];
  rowTotals: number[];
  columnTotals: number[];
  grandTotal: number;
  /** Indices (into the input) of rows whose total was 0 after clamping, left out of the test. */
  droppedRows: number[];
  /** Indices (into the input) of columns whose total was 0 after clamping, left out of the test. */
  droppedColumns: number[];
  /** Smallest expected count among retained cells; null when degenerate. */
  minExpected: number | null;
  /** Number of retained cells with expected count below `lowExpectedThreshold`. */
  cellsExpectedBelowThreshold: number;
  /** True when any retained cell has expected count below `lowExpectedThreshold`: the χ² p-value may be poor. */
  lowExpectedWarning: boolean;
  /**
   * Cochran's rule broken: some expected count < 1, or more than 20% of cells below `lowExpectedThreshold`.
   * A stronger warning than `lowExpectedWarning`.
   */
  cochranRuleViolated: boolean;
  /** Number of input cells that were negative and clamped to 0. */
  clampedCells: number;
  /** Number of input cells that were not integers (kept as they are). */
  nonIntegerCells: number;
  /** Plain-language notes on every post-processing step applied and on what the p-value does not account for. */
  notes: string[];
}

function validateTable(table: unknown): asserts table is readonly (readonly number[])[] {
  if (!Array.isArray(table)) throw new TypeError('table must be an array of rows');
  if (table.length < 2) throw new RangeError(`table must have at least 2 rows, got ${table.length}`);
  let columns = -1;
  table.forEach((row: unknown, i) => {
    if (!Array.isArray(row)) throw new TypeError(`table[${i}] must be an array`);
    if (columns === -1) columns = row.length;
    if (row.length !== columns) throw new RangeError(`table[${i}] has ${row.length} columns, expected ${columns}`);
    row.forEach((v: unknown, j) => {
      if (typeof v !== 'number') throw new TypeError(`table[${i}][${j}] must be a number, got ${typeof v}`);
      if (!Number.isFinite(v)) throw new RangeError(`table[${i}][${j}] must be finite, got ${v}`);
    });
  });
  if (columns < 2) throw new RangeError(`table must have at least 2 columns, got ${columns}`);
}

/**
 * Pearson's χ² test of independence (no continuity correction) for an r × c table of counts.
 *
 * Counts may be noisy DP releases: negative cells are clamped to 0 and non-integer cells are used as they are
 * (both reported in `notes`; clamping is post-processing and costs no privacy). Rows or columns that are
 * empty after clamping carry no information on association and are dropped, and the degrees of freedom are
 * those of the remaining table. The p-value treats the post-processed counts as exact: it does not widen for
 * DP noise.
 *
 * @throws TypeError if table is not an array of arrays of numbers
 * @throws RangeError if table has fewer than 2 rows or columns, ragged rows, non-finite cells, or
 *   options.lowExpectedThreshold is not a finite number ≥ 0
 */
export function chiSquareIndependence(
  table: readonly (readonly number[])[],
  options: ChiSquareIndependenceOptions = {},
): ChiSquareIndependenceResult {
  validateTable(table);
  const threshold = options.lowExpectedThreshold ?? 5;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) {
    throw new RangeError(`options.lowExpectedThreshold must be a finite number >= 0, got ${String(threshold)}`);
  }
  const r = table.length;
  const c = table[0]!.length;
  let clampedCells = 0;
  let nonIntegerCells = 0;
  const observed = table.map((row) =>
    row.map((v) => {
      if (!Number.isInteger(v)) nonIntegerCells++;
      if (v < 0) {
        clampedCells++;
        return 0;
      }
      return v === 0 ? 0 : v; // normalises −0
    }),
  );
  const rowTotals = observed.map((row) => row.reduce((s, v) => s + v, 0));
  const columnTotals = Array.from({ length: c }, (_, j) => observed.reduce((s, row) => s + row[j]!, 0));
  const grandTotal = rowTotals.reduce((s, v) => s + v, 0);
  const keptRows = [...Array(r).keys()].filter((i) => rowTotals[i]! > 0);
  const keptColumns = [...Array(c).keys()].filter((j) => columnTotals[j]! > 0);
  const droppedRows = [...Array(r).keys()].filter((i) => rowTotals[i]! <= 0);
  const droppedColumns = [...Array(c).keys()].filter((j) => columnTotals[j]! <= 0);

  const expected = observed.map((row, i) =>
    row.map((_, j) => (grandTotal > 0 ? (rowTotals[i]! * columnTotals[j]!) / grandTotal : 0)),
  );

  const notes: string[] = [];
  if (clampedCells > 0) notes.push(`${clampedCells} negative cell(s) clamped to 0 (post-processing of noisy counts)`);
  if (nonIntegerCells > 0) notes.push(`${nonIntegerCells} non-integer cell(s) used as they are (not rounded)`);
  if (droppedRows.length > 0) notes.push(`empty row(s) dropped from the test: ${droppedRows.join(', ')}`);
  if (droppedColumns.length > 0) notes.push(`empty column(s) dropped from the test: ${droppedColumns.join(', ')}`);
  if (clampedCells > 0 || nonIntegerCells > 0) {
    notes.push('the p-value treats the post-processed counts as exact and does not account for DP noise');
  }

  const base = { observed, expected, rowTotals, columnTotals, grandTotal, droppedRows, droppedColumns, clampedCells, nonIntegerCells };
  if (keptRows.length < 2 || keptColumns.length < 2) {
    notes.push(`fewer than 2 non-empty rows and columns remain (${keptRows.length} × ${keptColumns.length}): no test`);
    return {
      ...base,
      statistic: null,
      df: 0,
      pValue: null,
      minExpected: null,
      cellsExpectedBelowThreshold: 0,
      lowExpectedWarning: false,
      cochranRuleViolated: false,
      notes,
    };
  }

  let statistic = 0;
  let minExpected = Infinity;
  let below = 0;
  for (const i of keptRows) {
    for (const j of keptColumns) {
      const e = expected[i]![j]!;
      const diff = observed[i]![j]! - e;
      statistic += (diff * diff) / e;
      if (e < minExpected) minExpected = e;
      if (e < threshold) below++;
    }
  }
  const df = (keptRows.length - 1) * (keptColumns.length - 1);
  const cells = keptRows.length * keptColumns.length;
  const lowExpectedWarning = below > 0;
  const cochranRuleViolated = minExpected < 1 || below > 0.2 * cells;
  if (lowExpectedWarning) {
    notes.push(`${below} of ${cells} expected count(s) below ${threshold}: the χ² approximation may be poor`);
  }
  return {
    ...base,
    statistic,
    df,
    pValue: chiSquareSf(statistic, df),
    minExpected,
    cellsExpectedBelowThreshold: below,
    lowExpectedWarning,
    cochranRuleViolated,
    notes,
  };
}
