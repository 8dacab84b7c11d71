import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { toKeyValue, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { AggregatePrivacyPlan, AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { duckdbSession, type SqlSession } from '../data/source/index.js';
import { groupLabelSql, planAggregate, type AggregatePlan } from './aggregate-sql.js';

/** What the agent knows about each group beyond its statistics: never sent, used for disclosure control. */
export interface GroupCell {
  /** The group's cell label (JSON of its key values), the same text SQL computes from the key columns. */
  label: string;
  /** Distinct privacy units in the group (mode none); undefined in the DP modes or without a privacy unit. */
  persons: bigint | undefined;
  /**
   * Per measure index: distinct privacy units per histogram bin or quantile bucket, then three more entries, the
   * persons whose value falls in none: missing, below the first edge, above the last (quantile values are clamped
   * to their bounds, so only missing ones).
   */
  binPersons: Map<number, bigint[]>;
  /**
   * Per sum/mean/variance measure index: distinct privacy units whose value is missing (NULL), at or below its lower
   * bound, and at or above its upper bound (clamped there: their count is what narrow bounds would disclose).
   */
  edgePersons: Map<number, EdgePersons>;
}

/** Values a group's column may take and still count as few-valued: n, Σx and Σx² then solve for each value's count. */
export const FEW_VALUES = 3;

/** Persons of a sum/mean/variance measure's group that its exact moments could give away as counts. */
export interface EdgePersons {
  missing: bigint;
  atLower: bigint;
  atUpper: bigint;
  /**
   * Persons per distinct value when the group's values take at most FEW_VALUES of them, else empty. A 0/1 column's
   * sum is the number of ones, whatever its bounds (red team 32, D1); with three values, n, Σx and Σx² are three
   * equations for the three counts.
   */
  values: bigint[];
}

export interface GroupStatistics {
  plan: AggregatePlan;
  groups: GroupPartial[];
  /** Parallel to `groups`. */
  cells: GroupCell[];
}

export interface GroupStatisticsOptions {
  /** Count distinct persons per histogram bin too (mode none: a bin's cell size is its number of persons). */
  binPersons?: boolean;
  /**
   * Runs while the job's materialised rows still exist as temp table `table` (columns k<i>, b<i>, u), e.g. to
   * check and record the person sets of the cells about to be released. May throw to refuse the job.
   */
  inspect?: (table: string, stats: GroupStatistics) => Promise<void>;
  /**
   * Refuse when the query yields more groups than this. Only for mode none without public keys, where the number of
   * groups (released plus withheld) is in the result anyway; a DP job must never refuse on a count of groups.
   * @default unlimited
   */
  refuseAboveGroups?: number;
}

/**
 * A failed statement: the data source's own error (PostgreSQL: cancelled, connection lost, …), else INVALID_JOB.
 * The engine's text is never passed on: it can quote a row's value (a conversion or overflow error names it).
 */
function queryError(e: unknown, product: string): FedmeshError {
  if (e instanceof FedmeshError) return e;
  return new FedmeshError('INVALID_JOB', `the query could not run on product ${product} (the database's message is not passed on: it can quote data values)`, { cause: e });
}

async function readRows(db: SqlSession, sql: string, params: (string | number | boolean)[], product: string): Promise<Record<string, unknown>[]> {
  try {
    return await db.all(sql, params);
  } catch (e) {
    throw queryError(e, product);
  }
}

/**
 * Runs an aggregate job's parameterised SQL and returns the EXACT statistics per group (contribution-bounded in the
 * DP modes), before any suppression or noise, with the distinct persons per group (and per bin on request). Both
 * the plaintext and the secure paths start here. For mode none's disclosure control the job's rows are materialised
 * in a temp table (dropped before returning); otherwise one statement computes the statistics.
 * @throws FedmeshError INVALID_JOB when the query fails; POLICY_DENIED above `options.refuseAboveGroups` groups
 */
export async function queryGroupStatistics(db: DuckDBConnection | SqlSession, job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, salt: string, options: GroupStatisticsOptions = {}): Promise<GroupStatistics> {
  // On a site's PostgreSQL the whole query runs there (dialect layer); only the per-group rows come back.
  const conn = 'dialect' in db ? db : duckdbSession(db);
  const d = conn.dialect;
  const plan = planAggregate(job, product, privacy, { salt, dialect: d });
  // Materialise the rows only when something besides the statistics reads them (mode none's disclosure control).
  const materialise = options.binPersons === true || options.inspect !== undefined;
  const table = `fedmesh_rows_${randomBytes(8).toString('hex')}`;
  try {
    if (materialise) {
      try {
        // Only the statement that fills the table takes the row parameters (DROP and ANALYZE take none).
        for (const st of plan.rowsStatements(table)) await conn.run(st.sql, st.params);
      } catch (e) {
        throw queryError(e, product.name);
      }
    }
    const rows = materialise ? await readRows(conn, plan.statsSql(table), plan.statsParams, product.name) : await readRows(conn, plan.inlineSql, plan.inlineParams, product.name);
    const cap = options.refuseAboveGroups;
    if (cap !== undefined && rows.length > cap) throw new FedmeshError('POLICY_DENIED', `groupBy yields more than ${cap} groups (released and withheld); coarsen the grouping or give public groupKeys`, { field: 'groupBy' });
    const groups: GroupPartial[] = [];
    const cells: GroupCell[] = [];
    const byLabel = new Map<string, GroupCell>();
    for (const r of rows) {
      const key = Array.from({ length: plan.keyCount }, (_, i) => toKeyValue(r[`k${i}`]));
      const measures: MeasurePartial[] = plan.layout.map((l, i) => {
        if (l.kind === 'count') return { kind: 'count' };
        if (l.kind === 'moments') {
          return { kind: 'moments', n: BigInt(r[`m${i}_n`] as bigint), sum: BigInt(r[`m${i}_sum`] as bigint), sumSq: BigInt(r[`m${i}_sumsq`] as bigint), scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits };
        }
        return { kind: 'histogram', bins: plan.readBins(r, i) };
      });
      groups.push({ key, count: BigInt(r.count as bigint), measures, suppressedBy: [] });
      const cell: GroupCell = { label: String(r.cell), persons: r.persons === undefined || r.persons === null ? undefined : BigInt(r.persons as bigint), binPersons: new Map(), edgePersons: new Map() };
      cells.push(cell);
      byLabel.set(cell.label, cell);
    }
    if (options.binPersons && plan.hasUnit) {
      // Grouped by the key columns themselves, the label made outside: T-SQL groups by neither a constant nor a
      // FOR JSON subquery.
      const label = groupLabelSql(plan.keyCount, d);
      const keys = Array.from({ length: plan.keyCount }, (_, k) => `k${k}`);
      for (const i of plan.histogramMeasures) {
        const l = plan.layout[i]!;
        if (l.kind !== 'histogram') continue;
        for (const c of cells) c.binPersons.set(i, Array.from({ length: l.bins + 3 }, () => 0n));
        // A value in no bin counts in one of the last three entries: missing, below, above.
        const m = job.measures[i]!;
        const firstEdge = m.fn === 'histogram' ? d.cast(`'${String(m.bins[0])}'`, 'DOUBLE') : undefined;
        const slot = `CASE WHEN b${i} IS NOT NULL THEN b${i} WHEN m${i} IS NULL THEN ${l.bins}${firstEdge ? ` WHEN m${i} < ${firstEdge} THEN ${l.bins + 1}` : ''} ELSE ${l.bins + 2} END`;
        const grouped = `SELECT ${[...keys, 'slot'].join(', ')}, ${d.cast('count(DISTINCT u)', 'BIGINT')} AS persons FROM (SELECT *, ${slot} AS slot FROM ${d.tempTable(table)}) AS s GROUP BY ${[...keys, 'slot'].join(', ')}`;
        const binRows = await readRows(conn, `SELECT ${label} AS cell, slot AS bin, persons FROM (${grouped}) AS g`, [], product.name);
        for (const b of binRows) {
          const bin = Number(b.bin);
          const arr = byLabel.get(String(b.cell))?.binPersons.get(i);
          if (arr && Number.isInteger(bin) && bin >= 0 && bin < arr.length) arr[bin] = BigInt(b.persons as bigint);
        }
      }
      for (const i of plan.momentMeasures) {
        const l = plan.layout[i]!;
        if (l.kind !== 'moments') continue;
        // c<i> is the value clamped to the bounds less the centre; a value at a bound is within a hair of it (the
        // same double arithmetic, with a margin of 1e-9 of the range against any rounding difference).
        const eps = 1e-9 * (l.upper - l.lower);
        const lit = (x: number): string => d.cast(`'${String(x)}'`, 'DOUBLE');
        const persons = (cond: string): string => d.cast(`count(DISTINCT CASE WHEN ${cond} THEN u END)`, 'BIGINT');
        // The group's least and largest value by window (no join on keys that may be NULL): a value strictly between
        // them is the third one when the least and largest of those agree. Values are compared as the sums add them,
        // on the measure's grid (red team 38, F2: 30 and 30.000000001 are one value there).
        const by = keys.length > 0 ? `PARTITION BY ${keys.join(', ')}` : '';
        const grid = d.roundToInteger(`c${i} * ${lit(2 ** l.scaleBits)}`);
        const inner = `SELECT ${[...keys, 'u'].join(', ')}, c${i} AS c, g, min(g) OVER (${by}) AS lo, max(g) OVER (${by}) AS hi FROM (SELECT *, ${grid} AS g FROM ${d.tempTable(table)}) AS t`;
        const mid = 'g > lo AND g < hi';
        const cols = [
          `${persons('c IS NULL')} AS missing`,
          `${persons(`c <= ${lit(l.lower - l.center + eps)}`)} AS atlower`,
          `${persons(`c >= ${lit(l.upper - l.center - eps)}`)} AS atupper`,
          `${persons('g = lo')} AS atmin`,
          `${persons('g = hi AND hi > lo')} AS atmax`,
          `${persons(mid)} AS atmid`,
          `min(CASE WHEN ${mid} THEN g END) AS midlo`,
          `max(CASE WHEN ${mid} THEN g END) AS midhi`,
        ];
        const grouped = `SELECT ${[...keys, ...cols].join(', ')} FROM (${inner}) AS w${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}`;
        const edges = await readRows(conn, `SELECT ${label} AS cell, missing, atlower, atupper, atmin, atmax, atmid, midlo, midhi FROM (${grouped}) AS g`, [], product.name);
        for (const r of edges) {
          const few = r.midlo === null || r.midlo === undefined || String(r.midlo) === String(r.midhi);
          const values = few ? [r.atmin, r.atmax, r.atmid].map((v) => BigInt(v as bigint)).filter((v) => v > 0n) : [];
          byLabel.get(String(r.cell))?.edgePersons.set(i, { missing: BigInt(r.missing as bigint), atLower: BigInt(r.atlower as bigint), atUpper: BigInt(r.atupper as bigint), values });
        }
      }
    }
    const stats: GroupStatistics = { plan, groups, cells };
    if (options.inspect) await options.inspect(table, stats);
    return stats;
  } finally {
    if (materialise) await conn.run(d.dropTempTable(table)).catch(() => undefined);
  }
}
