import type { DuckDBConnection } from '@duckdb/node-api';
import type { GroupPartial, KeyValue, MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { AggregatePrivacyPlan } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import { planAggregate, readBins } from '../query/aggregate-sql.js';

function jsKey(v: unknown): KeyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/**
 * Exact statistics per public group for a secure job: the same parameterised SQL as the plaintext job (contribution
 * bounding in the DP modes), with NO per-agent suppression — small cells are handled on the released totals,
 * because nothing per agent is ever seen in the clear.
 */
export async function secureStatistics(conn: DuckDBConnection, job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, salt: string): Promise<GroupPartial[]> {
  const plan = planAggregate(job, product, privacy, { salt });
  let rows: Record<string, unknown>[];
  try {
    rows = (await conn.runAndReadAll(plan.sql, plan.params)).getRowObjectsJS() as Record<string, unknown>[];
  } catch (e) {
    throw new FedmeshError('INVALID_JOB', `the query could not run on product ${product.name}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  return rows.map((r) => {
    const key = Array.from({ length: plan.keyCount }, (_, i) => jsKey(r[`k${i}`]));
    const measures: MeasurePartial[] = plan.layout.map((l, i) => {
      if (l.kind === 'count') return { kind: 'count' };
      if (l.kind === 'moments') {
        return { kind: 'moments', n: BigInt(r[`m${i}_n`] as bigint), sum: BigInt(r[`m${i}_sum`] as bigint), sumSq: BigInt(r[`m${i}_sumsq`] as bigint), scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits };
      }
      return { kind: 'histogram', bins: readBins(r, i, l.bins) };
    });
    return { key, count: BigInt(r.count as bigint), measures, suppressedBy: [] };
  });
}
