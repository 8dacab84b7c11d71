import type { DuckDBConnection } from '@duckdb/node-api';
import { keyId, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { encodePartials } from '../../common/arrow/index.js';
import { FedmeshError } from '../../common/errors.js';
import { publicGroupCombos, MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout, AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { queryGroupStatistics } from '../query/group-statistics.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';
import { candidateCells, decideExactRelease, type ExactRelease } from '../disclosure/exact-aggregate.js';
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
