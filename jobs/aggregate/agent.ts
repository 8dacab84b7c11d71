/**
 * The aggregate kind at the agent (the modes spec.ts ports). Mode none: `exactStep` below. The DP modes: one local
 * step, the exact statistics of every public group combination — the built-in query
 * (node-agent/query/group-statistics.ts: the job's filters, each
 * person's rows bounded by the agent's keyed hash, values clamped to the declared bounds and put on the plan's grid,
 * the linkage bounding across sites when the job asks for it) — as the job's vector (vector.ts). The noise is the
 * task runner's (local-dp) or the coordinator's (central-dp), by the kind's noise plan; nothing else leaves. On a
 * site's PostgreSQL the query runs there (onSource).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AgentKindContext, AgentKindDef, StatVector } from '../../common/kinds/index.js';
import { planAggregatePrivacy } from '../../common/job/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { queryGroupStatistics } from '../../node-agent/query/group-statistics.js';
import { aggregatePrivacyPlan, type AggregatePlan, type CompiledAggregateJob } from './index.js';
import { aggregateStats, toVector } from './vector.js';
import { toExactVector } from './exact-vector.js';
import { distinctCombos, keyMatcher, type KeyMatcher } from './group-match.js';
import { candidateCells, decideExactRelease, refuseSmallEdges, type ExactRelease } from '../../node-agent/disclosure/exact-aggregate.js';
import { toSecureExactVector } from './secure-exact.js';
import { toDistributedVector } from './distributed.js';
import { jobSecureMaxRows } from '../../common/secure/index.js';
import { candidateCellsFromSource } from '../../node-agent/jobs/aggregate-source.js';
import { DEFAULT_MAX_GROUPS } from '../../node-agent/policy.js';
import type { AggregateSpec } from './spec.js';

/** A column's type in the agent's catalogue. */
function typeIn(ctx: AgentKindContext): (column: string) => string | undefined {
  return (c) => ctx.product.columns.find((x) => x.name === c)?.type;
}

/**
 * Mode none: the exact statistics with this agent's small cells withheld (node-agent/disclosure/exact-aggregate.ts,
 * the built-in rules: groups, measures and bins of 1 … k − 1 persons, complementary bins), after the differencing
 * guard over the person sets of the cells about to leave; nothing else leaves.
 */
async function exactStep(ctx: AgentKindContext, job: CompiledAggregateJob, db: DuckDBConnection | SqlSession, onSource: boolean, keyOf: KeyMatcher): Promise<StatVector> {
  const plan = aggregatePrivacyPlan(job.spec);
  // The query runs on the grids of the columns' types, as the built-in path's did (an integer column on 2^0);
  // toExactVector shifts its exact sums onto the job's plan (exact-vector.ts, red team 45, H2).
  const typed = planAggregatePrivacy(job.spec, (c) => typeIn(ctx)(c) ?? 'VARCHAR');
  const policy = { minCellSize: ctx.policy.minCellSize, maxGroups: ctx.policy.maxGroups ?? DEFAULT_MAX_GROUPS };
  let release: ExactRelease | undefined;
  const exact = await queryGroupStatistics(db, job.spec, { ...ctx.product }, typed, ctx.salt, {
    binPersons: true,
    inspect: async (rows, stats) => {
      release = decideExactRelease(stats, policy);
      const guard = ctx.guardReleasedSets;
      if (!guard || !stats.plan.hasUnit || release.groups.length === 0) return;
      const k = policy.minCellSize;
      const cand = onSource ? await candidateCellsFromSource(db as SqlSession, ctx.conn, rows, stats, ctx.salt, k) : await candidateCells(ctx.conn, rows, stats, ctx.salt, k);
      try {
        await guard(ctx.conn, cand);
      } finally {
        await ctx.conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
      }
    },
  });
  if (!release) throw new Error('aggregate: the exact statistics were not inspected');
  // The step's account, checked at the coordinator against this agent's registration (reply-check.ts).
  return { values: toExactVector(job.spec, plan, release, keyOf), report: { cellSize: exact.plan.hasUnit ? 'persons' : 'rows', minCellSize: policy.minCellSize } };
}

/**
 * Mode none inside a secure sum: the exact statistics of every public combination, nothing withheld per agent (the
 * release applies the minimum cell size to the totals), clipped to the job's per-agent row bound (secure-exact.ts).
 * What cannot be withheld alone inside the sum is refused (`refuseSmallEdges`: a measure's missing values, values at
 * a bound or beyond a histogram's edges of 1 … k − 1 persons), and the differencing guard sees every non-empty local
 * cell (from one person: this agent never learns which totals are released), as on the built-in secure path.
 */
async function secureExactStep(ctx: AgentKindContext, job: CompiledAggregateJob, db: DuckDBConnection | SqlSession, onSource: boolean, keyOf: KeyMatcher): Promise<StatVector> {
  const typed = planAggregatePrivacy(job.spec, (c) => typeIn(ctx)(c) ?? 'VARCHAR');
  const exact = await queryGroupStatistics(db, job.spec, { ...ctx.product }, typed, ctx.salt, {
    binPersons: true,
    inspect: async (rows, stats) => {
      if (!stats.plan.hasUnit) return;
      refuseSmallEdges(stats, ctx.policy.minCellSize);
      const guard = ctx.guardReleasedSets;
      if (!guard || stats.cells.length === 0) return;
      const cand = onSource ? await candidateCellsFromSource(db as SqlSession, ctx.conn, rows, stats, ctx.salt, 1) : await candidateCells(ctx.conn, rows, stats, ctx.salt, 1);
      try {
        await guard(ctx.conn, cand);
      } finally {
        await ctx.conn.run(`DROP TABLE IF EXISTS "${cand}"`).catch(() => undefined);
      }
    },
  });
  return { values: toSecureExactVector(job.spec, aggregatePrivacyPlan(job.spec), exact.groups, jobSecureMaxRows(job.spec), keyOf) };
}

async function aggregateStep(ctx: AgentKindContext, job: CompiledAggregateJob, db: DuckDBConnection | SqlSession, onSource = false): Promise<StatVector> {
  // The query's groups matched to the public combinations by the key columns' types (group-match.ts); two
  // combinations that are one group here are refused before anything is read.
  const keyOf = keyMatcher(job.spec, typeIn(ctx));
  if (job.spec.groupKeys) distinctCombos(job.spec, keyOf);
  if (job.privacy.mode === 'none') return job.secure === 'plain' ? exactStep(ctx, job, db, onSource, keyOf) : secureExactStep(ctx, job, db, onSource, keyOf);
  const plan = aggregatePrivacyPlan(job.spec);
  const product: ProductInfo = { ...ctx.product };
  const exact = await queryGroupStatistics(db, job.spec, product, plan, ctx.salt);
  // distributed-dp: the same statistics, one block per statistic across the groups (distributed.ts); its shares are
  // the task runner's, after the projection onto the public bounds.
  if (job.privacy.mode === 'distributed-dp') return { values: toDistributedVector(job.spec, plan, exact.groups, keyOf) };
  // The step's account, checked at the coordinator against the plan (reply-check.ts): the bound it applied.
  return { values: toVector(job.spec, plan, aggregateStats(job.spec, plan), exact.groups, keyOf), report: { contributionBounded: exact.plan.bounded, maxRowsPerPerson: plan.maxRowsPerPerson } };
}

export const aggregateAgentKind: AgentKindDef<AggregateSpec, AggregatePlan, null> = {
  kind: 'aggregate',
  // A public reference product without a unit: its rows are the cells in mode none, as on the built-in path.
  publicRowsInModeNone: true,
  /** Data on a database server: the whole query runs there; only the per-group statistics come back. */
  onSource(ctx, job, _input, session) {
    return aggregateStep(ctx, job, session as SqlSession, true);
  },
  localStep(ctx, job) {
    return aggregateStep(ctx, job, ctx.conn);
  },
};
