/**
 * Privacy-safe quality metrics of one data product: row count, distinct privacy units, completeness per column
 * and date coverage per date column, each coarsened by the rules in `disclosure.ts` before it leaves this module.
 * Two DuckDB queries per product, whatever the number of columns: one scan for counts, completeness and date
 * extremes, one for the unit counts in the months, quarters and years holding the extremes.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../../common/errors.js';
import { sqlIdent } from '../omop/sql.js';
import { isTemporalType } from './column-types.js';
import {
  checkMinCellSize, coarsenCount, coarsenFraction, dateBuckets, finestSafeLabel,
  type CoarseCount, type DateBuckets, type DateGranularity,
} from './disclosure.js';
import type { ProductDescription } from './types.js';

export interface QualityOptions {
  /** The smallest count published as a number; also the cell size every published date bucket must reach. */
  minCellSize: number;
}

/** Published first and last date of a column: `YYYY-MM`, `YYYY-Qn` or `YYYY`; absent when no bucket is safe. */
export interface DateCoverage {
  from?: string;
  to?: string;
}

export interface QualityMetrics {
  product: string;
  /** The k the metrics were coarsened with. */
  minCellSize: number;
  /** Rows, as `"< k"` or rounded to two significant figures. */
  rowCount: CoarseCount;
  /** Distinct non-null privacy units, coarsened like `rowCount`; absent when the product has no privacy unit. */
  privacyUnits?: CoarseCount;
  /**
   * Per column, the fraction of non-null values, rounded to two decimals or coarser (see `disclosure.ts`);
   * absent for a product with fewer than k rows.
   */
  completeness?: Record<string, number>;
  /** Per DATE / TIMESTAMP column with at least one safe bucket. */
  dateCoverage: Record<string, DateCoverage>;
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0);

async function actualColumns(conn: DuckDBConnection, table: string): Promise<Array<{ name: string; type: string }>> {
  const reader = await conn.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'main' AND table_catalog = current_database() AND table_name = $1
      ORDER BY ordinal_position`, [table]);
  return reader.getRowObjectsJS().map((r) => ({ name: String(r['column_name']), type: String(r['data_type']) }));
}

/**
 * Compute the quality metrics of `product` for publication in the catalog.
 *
 * Disclosure rules (k = `opts.minCellSize`), so that no exact small number leaves the agent:
 * - `rowCount` and `privacyUnits`: `"< k"` below k, else rounded to two significant figures;
 * - `completeness`: only for products of at least k rows; each fraction rounded to a step that stands for at
 *   least k rows (two decimals from 100·k rows on);
 * - `dateCoverage`: the first (last) date is given as the month holding it when at least k distinct privacy units
 *   (rows, without a privacy unit) have a date in that month; else the quarter, else the year, on the same
 *   condition; else left out. Nothing is published for products of fewer than k rows.
 *
 * Table and column names are taken from DuckDB's own catalog (the product's name must be a table or view there),
 * and quoted; the only values in the SQL are bound parameters.
 *
 * @throws RangeError unless `opts.minCellSize` is an integer ≥ 1.
 * @throws FedmeshError `NOT_FOUND` when the database has no table or view named `product.name`.
 */
export async function computeQualityMetrics(
  conn: DuckDBConnection, product: ProductDescription, opts: QualityOptions,
): Promise<QualityMetrics> {
  const k = opts.minCellSize;
  checkMinCellSize(k);
  const columns = await actualColumns(conn, product.name);
  if (columns.length === 0) throw new FedmeshError('NOT_FOUND', `no data product '${product.name}'`, { field: 'product' });
  const table = sqlIdent(product.name);
  const unit = product.privacyUnit !== undefined && columns.some((c) => c.name === product.privacyUnit)
    ? sqlIdent(product.privacyUnit) : undefined;
  const dates = columns.filter((c) => isTemporalType(c.type));

  const select = [
    'count(*) AS n',
    unit === undefined ? 'NULL AS units' : `count(DISTINCT ${unit}) AS units`,
    ...columns.map((c, i) => `count(${sqlIdent(c.name)}) AS c${i}`),
    ...dates.flatMap((c, i) => [
      `CAST(CAST(min(${sqlIdent(c.name)}) AS DATE) AS VARCHAR) AS dmin${i}`,
      `CAST(CAST(max(${sqlIdent(c.name)}) AS DATE) AS VARCHAR) AS dmax${i}`,
    ]),
  ];
  const scan = (await conn.runAndReadAll(`SELECT ${select.join(', ')} FROM ${table}`)).getRowObjectsJS()[0] ?? {};
  const n = num(scan['n']);

  const metrics: QualityMetrics = { product: product.name, minCellSize: k, rowCount: coarsenCount(n, k), dateCoverage: {} };
  if (unit !== undefined) metrics.privacyUnits = coarsenCount(num(scan['units']), k);
  if (n < k) return metrics;

  metrics.completeness = Object.fromEntries(columns.map((c, i) => [c.name, coarsenFraction(num(scan[`c${i}`]), n, k) as number]));

  // One pass counting units in the buckets that hold each column's first and last date. Every date is ≥ the
  // minimum, so "in the first month" is "before the month's end" (and likewise for the last date).
  const counted = (expr: string): string => (unit === undefined ? `count(*) FILTER (WHERE ${expr})` : `count(DISTINCT ${unit}) FILTER (WHERE ${expr})`);
  const params: string[] = [];
  const parts: string[] = [];
  const plan: Array<{ column: string; first?: DateBuckets; last?: DateBuckets; alias: number }> = [];
  const grains: readonly DateGranularity[] = ['month', 'quarter', 'year'];
  dates.forEach((c, i) => {
    const first = typeof scan[`dmin${i}`] === 'string' ? dateBuckets(scan[`dmin${i}`] as string) : undefined;
    const last = typeof scan[`dmax${i}`] === 'string' ? dateBuckets(scan[`dmax${i}`] as string) : undefined;
    if (first === undefined && last === undefined) return;
    const col = sqlIdent(c.name);
    const alias = plan.length;
    for (const g of grains) {
      if (first !== undefined) {
        params.push(first[g].end);
        parts.push(`${counted(`${col} < CAST($${params.length} AS DATE)`)} AS f${alias}_${g}`);
      }
      if (last !== undefined) {
        params.push(last[g].start);
        parts.push(`${counted(`${col} >= CAST($${params.length} AS DATE)`)} AS l${alias}_${g}`);
      }
    }
    const entry: (typeof plan)[number] = { column: c.name, alias };
    if (first !== undefined) entry.first = first;
    if (last !== undefined) entry.last = last;
    plan.push(entry);
  });
  if (parts.length === 0) return metrics;
  const buckets = (await conn.runAndReadAll(`SELECT ${parts.join(', ')} FROM ${table}`, params)).getRowObjectsJS()[0] ?? {};
  const countsOf = (prefix: string): Record<DateGranularity, number> =>
    ({ month: num(buckets[`${prefix}_month`]), quarter: num(buckets[`${prefix}_quarter`]), year: num(buckets[`${prefix}_year`]) });
  for (const p of plan) {
    const coverage: DateCoverage = {};
    const from = p.first === undefined ? undefined : finestSafeLabel(p.first, countsOf(`f${p.alias}`), k);
    const to = p.last === undefined ? undefined : finestSafeLabel(p.last, countsOf(`l${p.alias}`), k);
    if (from !== undefined) coverage.from = from;
    if (to !== undefined) coverage.to = to;
    if (from !== undefined || to !== undefined) metrics.dateCoverage[p.column] = coverage;
  }
  return metrics;
}
