import type { DuckDBConnection } from '@duckdb/node-api';
import { keyId, withholdComplement, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { encodePartials } from '../../common/arrow/index.js';
import { FedmeshError } from '../../common/errors.js';
import { publicGroupCombos, MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout, AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { queryGroupStatistics, type GroupStatistics } from '../query/group-statistics.js';
import { groupLabelSql } from '../query/aggregate-sql.js';
import { personHashSql, type ReleasedCells } from '../disclosure/released-cells.js';
import { selectGroupsAtAgent } from './agent-selection.js';
import { candidateCellsFromSource } from './aggregate-source.js';
import type { SqlSession } from '../data/source/index.js';

export interface AggregateOutcome {
  arrow: Uint8Array;
  meta: Record<string, unknown>;
  /**
   * The data-derived group keys this answer releases (mode none: groups at or above the minimum cell size; central-dp:
   * groups selected here); empty with public group keys. Stays at the agent: it is what concept names may name.
   */
  releasedKeys: readonly (readonly unknown[])[];
}


function emptyMeasures(layout: readonly AgentMeasureLayout[]): MeasurePartial[] {
  return layout.map((l) =>
    l.kind === 'moments'
      ? { kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits }
      : l.kind === 'histogram'
        ? { kind: 'histogram', bins: Array<bigint | null>(l.bins).fill(0n) }
        : { kind: 'count' },
  );
}

export interface AggregateContext {
  /** The agent's own DuckDB: its differencing memory, and the data unless `data` is given. */
  conn: DuckDBConnection;
  /** Where the product is queried when not in `conn` (a site's PostgreSQL): the whole query runs there. @default conn */
  data?: SqlSession;
  job: AggregateJob;
  product: ProductInfo;
  policy: CompiledAgentPolicy;
  privacy: AggregatePrivacyPlan;
  salt: string;
  rng: Rng;
  /** Mode none: who asks, for the differencing guard (absent: no guard, e.g. in unit tests of the statistics). */
  release?: { researcher: string; jobId: string; cells: ReleasedCells };
}

/** What mode none releases from this agent, decided on the exact statistics. */
interface ExactRelease {
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
 * the agent, only the number of groups withheld does. A bin below it is sent as null (its edges are public). More
 * released groups than the domain's `maxGroups` refuses the job — a data-dependent refusal, which itself tells the
 * researcher that many groups exist; acceptable in mode none only, which makes no DP claim and whose successful
 * result states the same numbers (released groups, and withheld groups per agent). No DP mode refuses on data.
 */
function decideExactRelease(stats: GroupStatistics, policy: CompiledAgentPolicy): ExactRelease {
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
 * Runs an `aggregate` job on this agent's data. Mode none: exact statistics of the groups and bins that meet the
 * minimum cell size in persons, after the differencing guard; nothing else leaves. central-dp: exact statistics of
 * contribution-bounded rows, for the coordinator to noise. (local-dp runs on the kind seam: jobs/aggregate.)
 */
export async function runAggregate(ctx: AggregateContext): Promise<AggregateOutcome> {
  const { conn, job, product, policy, privacy } = ctx;
  const suppress = privacy.mode === 'none';
  const dataKeys = job.groupBy.length > 0 && !job.groupKeys;
  let exactRelease: ExactRelease | undefined;
  const exact = await queryGroupStatistics(ctx.data ?? conn, job, product, privacy, ctx.salt, {
    binPersons: suppress,
    // With public keys the query reads only those keys (admission bounded their number); in the DP modes a count
    // of data-dependent groups never refuses (central-dp selects below); mode none may refuse, see decideExactRelease.
    ...(suppress && dataKeys ? { refuseAboveGroups: MAX_GROUPS_PER_AGENT } : {}),
    ...(suppress
      ? {
          inspect: async (rows, stats) => {
            exactRelease = decideExactRelease(stats, policy);
            const release = ctx.release;
            if (!release || !stats.plan.hasUnit || exactRelease.groups.length === 0) return;
            const cand = ctx.data ? await candidateCellsFromSource(ctx.data, conn, rows, stats, ctx.salt, policy.minCellSize) : await candidateCells(conn, rows, stats, ctx.salt, policy.minCellSize);
            try {
              await release.cells.checkAndRecord(conn, { researcher: release.researcher, jobId: release.jobId, candidates: cand, minCellSize: policy.minCellSize, maxRememberedPersons: policy.maxRememberedPersons });
            } finally {
              await conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
            }
          },
        }
      : {}),
  });
  const plan = exact.plan;
  let groups: GroupPartial[] = exactRelease ? exactRelease.groups : exact.groups;
  // local-dp runs on the kind seam (jobs/aggregate); old-kind-task.ts refuses it before this.
  if (privacy.mode === 'local-dp') throw new FedmeshError('INTERNAL', 'local-dp aggregate jobs run on the kind seam (jobs/aggregate)');
  if (privacy.mode !== 'none') {
    // Public group keys: send exactly the public combinations (zeros included), nothing data-dependent.
    const combos = job.groupKeys ? publicGroupCombos(job) : undefined;
    if (combos) {
      const byKey = new Map(groups.map((g) => [keyId(g.key), g]));
      groups = combos.map((key) => byKey.get(keyId(key)) ?? { key, count: 0n, measures: emptyMeasures(plan.layout), suppressedBy: [] });
    } else if (dataKeys) groups = selectGroupsAtAgent(groups, privacy, asBufferedRng(ctx.rng));
  }
  return {
    releasedKeys: dataKeys ? groups.map((g) => g.key) : [],
    arrow: encodePartials(groups, plan.keyCount, plan.layout),
    meta: {
      groups: groups.length,
      withheldGroups: exactRelease?.withheldGroups ?? 0,
      suppressedBins: exactRelease?.suppressedBins ?? 0,
      ...(exactRelease && exactRelease.withheldMeasures.length > 0 ? { withheldMeasures: exactRelease.withheldMeasures } : {}),
      minCellSize: suppress ? policy.minCellSize : null,
      cellSize: suppress ? (plan.hasUnit ? 'persons' : 'rows') : null,
      contributionBounded: plan.bounded,
      maxRowsPerPerson: privacy.maxRowsPerPerson,
      ...(privacy.mode === 'central-dp' && dataKeys ? { partitionSelection: 'agent' } : {}),
    },
  };
}
