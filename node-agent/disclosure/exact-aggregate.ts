/**
 * Mode none disclosure control of aggregate statistics at the source, shared by the kind seam's aggregate step
 * (jobs/aggregate/agent.ts) and the built-in path that still serves data-derived groups (node-agent/jobs/aggregate.ts):
 * which groups, measures and bins leave, decided on the exact statistics, and the person sets of the cells about to
 * leave for the differencing guard.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { withholdComplement, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../../common/errors.js';
import { FEW_VALUES, type GroupStatistics } from '../query/group-statistics.js';
import { groupLabelSql } from '../query/aggregate-sql.js';
import { personHashSql } from './released-cells.js';

/** The part of the agent's policy the decision reads. */
export interface ExactReleasePolicy {
  readonly minCellSize: number;
  readonly maxGroups: number;
}

/** What mode none releases from this agent, decided on the exact statistics. */
export interface ExactRelease {
  groups: GroupPartial[];
  withheldGroups: number;
  suppressedBins: number;
  /**
   * [index in `groups`, measure index]: a sum, mean or variance this agent withholds for the group (missing values, or
   * values at a bound, of 1 … k − 1 persons): the coordinator releases neither it nor its `_n` and `_missing`; for a
   * quantile, only its `_missing` (missing values of 1 … k − 1 persons).
   */
  withheldMeasures: [number, number][];
}

/**
 * Mode none disclosure control at the source. The cell size of a group or histogram bin is its number of distinct
 * privacy units (persons), not rows. A group below the minimum cell size is withheld entirely: its key never leaves
 * the agent, only the number of groups withheld does. A bin below it is withheld (null here; on the kind seam sent as
 * zero with a withheld flag: jobs/aggregate/exact-vector.ts), its edges being public. More
 * released groups than the domain's `maxGroups` refuses the job — a data-dependent refusal, which itself tells the
 * researcher that many groups exist; acceptable in mode none only, which makes no DP claim and whose successful
 * result states the same numbers (released groups, and withheld groups per agent). No DP mode refuses on data.
 */
export function decideExactRelease(stats: GroupStatistics, policy: ExactReleasePolicy): ExactRelease {
  const k = BigInt(policy.minCellSize);
  const plan = stats.plan;
  let withheldGroups = 0;
  let suppressedBins = 0;
  const groups: GroupPartial[] = [];
  const withheldMeasures: [number, number][] = [];
  stats.groups.forEach((g, gi) => {
    const cell = stats.cells[gi]!;
    // Products without a privacy unit reach mode none only as public reference data: rows are the cell size.
    if ((cell.persons ?? g.count) < k) {
      withheldGroups++;
      return;
    }
    const at = groups.length;
    const small = (n: bigint): boolean => n > 0n && n < k;
    const measures = g.measures.map((m, i): MeasurePartial => {
      const l = plan.layout[i]!;
      if (m.kind === 'moments') {
        // A sum, mean or variance is a count in disguise when few persons sit at a bound (bounds [c, c], or [c, c + 1]
        // on whole numbers, make Σx a count: red team 31, F3) or miss a value (count − Σx/mean: red team 31, F2). When
        // any of those is of 1 … k − 1 persons (rows, for a product without a unit), the measure stays here for this
        // group: the coordinator releases neither it nor its _n and _missing.
        const e = cell.edgePersons.get(i);
        // No person counts for a product with a unit would be a bug: withheld (fails closed), never released unchecked.
        // So is one of few values (a 0/1 column's sum is its number of ones: red team 32, D1).
        const parts = e ? [e.missing, e.atLower, e.atUpper, ...e.values] : cell.persons !== undefined ? [1n] : [g.count - m.n];
        if (parts.some(small)) withheldMeasures.push([at, i]);
        return m;
      }
      if (m.kind !== 'histogram' || l.kind !== 'histogram') return m;
      const persons = cell.binPersons.get(i);
      const sizes = m.bins.map((v, b) => (persons ? persons[b]! : (v ?? 0n)));
      // The values in no bin, as separate parts: missing, below the first edge, above the last (their sum, for a
      // product without a unit). Each is readable from another measure of the column (red team 31, F2).
      const outside = persons ? persons.slice(m.bins.length) : [g.count - m.bins.reduce<bigint>((a, b) => a + (b ?? 0n), 0n)];
      // Quantile buckets are cells too (red team 30, F1): the coordinator's quantiles leave withheld buckets out, so
      // they are of values in buckets of at least k persons, with the same complementary rule as a histogram's bins.
      const bins = m.bins.map((v, b) => (v !== null && v > 0n && sizes[b]! < k ? null : v));
      withholdComplement(bins, m.bins, g.count, sizes, outside, k);
      if (l.buckets) {
        if (small(outside[0]!)) withheldMeasures.push([at, i]);
      } else suppressedBins += bins.filter((b, j) => b === null && m.bins[j] !== null).length;
      return { kind: 'histogram', bins };
    });
    groups.push({ ...g, measures });
  });
  if (groups.length > policy.maxGroups) {
    throw new FedmeshError('POLICY_DENIED', `groupBy: this job would release more than ${policy.maxGroups} groups from this agent (its disclosure limit on levels); coarsen the grouping or filter`, { field: 'groupBy' });
  }
  return { groups, withheldGroups, suppressedBins, withheldMeasures };
}

/**
 * The person sets of the cells mode none is about to release (groups and bins of at least k persons), as a temp
 * table for the differencing guard; the same rule as `decideExactRelease`, on the same materialised rows. Inside a
 * secure sum nothing is withheld per agent, so the secure path passes k = 1 (every non-empty cell).
 */
// sql: duckdb-only (the rows are a TEMP table of the agent's own DuckDB)
export async function candidateCells(conn: DuckDBConnection, rows: string, stats: GroupStatistics, salt: string, k: number): Promise<string> {
  const table = `${rows}_cells`;
  const label = groupLabelSql(stats.plan.keyCount);
  const h = personHashSql('u', '$1');
  const parts = [`SELECT ${label} AS cell, ${h} AS h FROM "${rows}" WHERE u IS NOT NULL`];
  for (const i of stats.plan.histogramMeasures) parts.push(`SELECT ${label} || '#m${i}b' || CAST(b${i} AS VARCHAR), ${h} FROM "${rows}" WHERE u IS NOT NULL AND b${i} IS NOT NULL`);
  await conn.run(
    `CREATE TEMP TABLE "${table}" AS WITH d AS (SELECT DISTINCT cell, h FROM (${parts.join(' UNION ALL ')})) SELECT cell, h FROM d WHERE cell IN (SELECT cell FROM d GROUP BY cell HAVING count(*) >= $2)`,
    [salt, k],
  );
  return table;
}

/**
 * Mode none inside a secure sum: what the plain path withholds per group at each agent (a sum, mean or variance whose
 * missing values, values at a bound or one of its few values are of 1 … k − 1 persons; red team 31, F2 and F3; red
 * team 32, D1) cannot be withheld alone
 * inside the sum, and the totals do not show it. So this agent refuses the job, naming the measure, never the group.
 * A histogram's values in no bin are three parts at the plain path (missing, below the first edge, above the last),
 * each read elsewhere (a mean's _missing, a second histogram's edges); the totals give only their sum, so the
 * coordinator's complementary rule cannot see a small one: the agent refuses when any is of 1 … k − 1 persons (a
 * quantile's missing values likewise; its values are clamped into its buckets).
 * @throws FedmeshError PERMISSION_DENIED naming the measure
 */
export function refuseSmallEdges(stats: GroupStatistics, minCellSize: number): void {
  const small = (n: bigint): boolean => n > 0n && n < BigInt(minCellSize);
  for (const cell of stats.cells) {
    for (const [i, e] of cell.edgePersons) {
      if ([e.missing, e.atLower, e.atUpper, ...e.values].some(small)) {
        throw new FedmeshError('POLICY_DENIED', `measures[${i}]: at one of this agent's groups, 1 … ${minCellSize - 1} persons' values are missing, at a bound of the measure, or one of its few values (at most ${FEW_VALUES} distinct); inside a secure sum they cannot be withheld alone (widen the bounds to hold every value, or use a DP mode)`, { field: `measures[${i}]` });
      }
    }
    for (const [i, persons] of cell.binPersons) {
      // The last three entries: missing, below the first edge, above the last (a quantile clamps, so only missing).
      const [missing, below, above] = persons.slice(-3) as [bigint, bigint, bigint];
      const l = stats.plan.layout[i];
      const quantile = l?.kind === 'histogram' && l.buckets !== undefined;
      if ((quantile ? [missing] : [missing, below, above]).some(small)) {
        const fix = quantile ? 'filter the missing values out with where' : 'use edges around every value and filter missing values out with where';
        throw new FedmeshError('POLICY_DENIED', `measures[${i}]: at one of this agent's groups, 1 … ${minCellSize - 1} persons' values are missing${quantile ? '' : ', below the first edge or above the last'}; inside a secure sum they cannot be withheld alone (${fix}, or use a DP mode)`, { field: `measures[${i}]` });
      }
    }
  }
}
