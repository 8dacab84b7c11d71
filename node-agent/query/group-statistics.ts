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
   * Per measure index: distinct privacy units per histogram bin or quantile bucket, and one more entry at the end:
   * the persons whose value falls in none (missing, or outside the histogram's edges).
   */
  binPersons: Map<number, bigint[]>;
  /** Per mean/variance measure index: distinct privacy units whose value is missing (NULL). */
  missingPersons: Map<number, bigint>;
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
      const cell: GroupCell = { label: String(r.cell), persons: r.persons === undefined || r.persons === null ? undefined : BigInt(r.persons as bigint), binPersons: new Map(), missingPersons: new Map() };
      cells.push(cell);
      byLabel.set(cell.label, cell);
    }
    if (options.binPersons && plan.hasUnit) {
      for (const i of plan.histogramMeasures) {
        const l = plan.layout[i]!;
        if (l.kind !== 'histogram') continue;
        for (const c of cells) c.binPersons.set(i, Array.from({ length: l.bins + 1 }, () => 0n));
        const label = groupLabelSql(plan.keyCount, d);
        // Grouped by the key columns themselves, the label made outside: T-SQL groups by neither a constant nor a
        // FOR JSON subquery. A NULL bin index (a missing value, or one outside the edges) counts in the last entry.
        const keys = Array.from({ length: plan.keyCount }, (_, k) => `k${k}`);
        const grouped = `SELECT ${[...keys, `b${i}`].join(', ')}, ${d.cast('count(DISTINCT u)', 'BIGINT')} AS persons FROM ${d.tempTable(table)} GROUP BY ${[...keys, `b${i}`].join(', ')}`;
        const binRows = await readRows(conn, `SELECT ${label} AS cell, b${i} AS bin, persons FROM (${grouped}) AS g`, [], product.name);
        for (const b of binRows) {
          const bin = b.bin === null || b.bin === undefined ? l.bins : Number(b.bin);
          const arr = byLabel.get(String(b.cell))?.binPersons.get(i);
          if (arr && Number.isInteger(bin) && bin >= 0 && bin < arr.length) arr[bin] = BigInt(b.persons as bigint);
        }
      }
      for (const i of plan.momentMeasures) {
        const label = groupLabelSql(plan.keyCount, d);
        const keys = Array.from({ length: plan.keyCount }, (_, k) => `k${k}`);
        const grouped = `SELECT ${[...keys].join(', ')}${keys.length > 0 ? ', ' : ''}${d.cast('count(DISTINCT u)', 'BIGINT')} AS persons FROM ${d.tempTable(table)} WHERE c${i} IS NULL${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}`;
        const missing = await readRows(conn, `SELECT ${label} AS cell, persons FROM (${grouped}) AS g`, [], product.name);
        for (const m of missing) byLabel.get(String(m.cell))?.missingPersons.set(i, BigInt(m.persons as bigint));
      }
    }
    const stats: GroupStatistics = { plan, groups, cells };
    if (options.inspect) await options.inspect(table, stats);
    return stats;
  } finally {
    if (materialise) await conn.run(d.dropTempTable(table)).catch(() => undefined);
  }
}
