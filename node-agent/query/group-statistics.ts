import type { DuckDBConnection } from '@duckdb/node-api';
import { toKeyValue, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { AggregatePrivacyPlan } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import { planAggregate, readBins, type AggregatePlan } from './aggregate-sql.js';

const MAX_GROUPS = 10_000;

/**
 * Runs an aggregate job's parameterised SQL and returns the EXACT statistics per group (contribution-bounded in the
 * DP modes), before any suppression or noise. Both the plaintext and the secure paths start here.
 * @throws FedmeshError INVALID_JOB when the query fails; POLICY_DENIED for too many groups
 */
export async function queryGroupStatistics(conn: DuckDBConnection, job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, salt: string): Promise<{ plan: AggregatePlan; groups: GroupPartial[] }> {
  const plan = planAggregate(job, product, privacy, { salt });
  let rows: Record<string, unknown>[];
  try {
    rows = (await conn.runAndReadAll(plan.sql, plan.params)).getRowObjectsJS() as Record<string, unknown>[];
  } catch (e) {
    throw new FedmeshError('INVALID_JOB', `the query could not run on product ${product.name}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (rows.length > MAX_GROUPS) throw new FedmeshError('POLICY_DENIED', `groupBy yields more than ${MAX_GROUPS} groups; coarsen the grouping`, { field: 'groupBy' });
  const groups = rows.map((r): GroupPartial => {
    const key = Array.from({ length: plan.keyCount }, (_, i) => toKeyValue(r[`k${i}`]));
    const measures: MeasurePartial[] = plan.layout.map((l, i) => {
      if (l.kind === 'count') return { kind: 'count' };
      if (l.kind === 'moments') {
        return { kind: 'moments', n: BigInt(r[`m${i}_n`] as bigint), sum: BigInt(r[`m${i}_sum`] as bigint), sumSq: BigInt(r[`m${i}_sumsq`] as bigint), scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits };
      }
      return { kind: 'histogram', bins: readBins(r, i, l.bins) };
    });
    return { key, count: BigInt(r.count as bigint), measures, suppressedBy: [] };
  });
  return { plan, groups };
}
