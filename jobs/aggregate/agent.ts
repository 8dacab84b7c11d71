/**
 * The aggregate kind at the agent (the DP modes spec.ts ports): one local step, the exact statistics of every
 * public group combination — the built-in query (node-agent/query/group-statistics.ts: the job's filters, each
 * person's rows bounded by the agent's keyed hash, values clamped to the declared bounds and put on the plan's grid,
 * the linkage bounding across sites when the job asks for it) — as the job's vector (vector.ts). The noise is the
 * task runner's (local-dp) or the coordinator's (central-dp), by the kind's noise plan; nothing else leaves. On a
 * site's PostgreSQL the query runs there (onSource).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AgentKindContext, AgentKindDef, StatVector } from '../../common/kinds/index.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { queryGroupStatistics } from '../../node-agent/query/group-statistics.js';
import { aggregatePrivacyPlan, type AggregatePlan, type CompiledAggregateJob } from './index.js';
import { aggregateStats, toVector } from './vector.js';
import type { AggregateSpec } from './spec.js';

async function aggregateStep(ctx: AgentKindContext, job: CompiledAggregateJob, db: DuckDBConnection | SqlSession): Promise<StatVector> {
  const plan = aggregatePrivacyPlan(job.spec);
  const product: ProductInfo = { ...ctx.product };
  const exact = await queryGroupStatistics(db, job.spec, product, plan, ctx.salt);
  // The step's account, checked at the coordinator against the plan (reply-check.ts): the bound it applied.
  return { values: toVector(job.spec, plan, aggregateStats(job.spec, plan), exact.groups), report: { contributionBounded: exact.plan.bounded, maxRowsPerPerson: plan.maxRowsPerPerson } };
}

export const aggregateAgentKind: AgentKindDef<AggregateSpec, AggregatePlan, null> = {
  kind: 'aggregate',
  /** Data on a database server: the whole query runs there; only the per-group statistics come back. */
  onSource(ctx, job, _input, session) {
    return aggregateStep(ctx, job, session as SqlSession);
  },
  localStep(ctx, job) {
    return aggregateStep(ctx, job, ctx.conn);
  },
};
