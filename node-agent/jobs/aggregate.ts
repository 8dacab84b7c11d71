import type { DuckDBConnection } from '@duckdb/node-api';
import type { GroupPartial, KeyValue, MeasurePartial } from '../../algorithms/aggregate/index.js';
import { encodePartials } from '../../common/arrow/partials-codec.js';
import { FedmeshError } from '../../common/errors.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { planAggregate } from '../query/aggregate-sql.js';

export interface AggregateOutcome {
  arrow: Uint8Array;
  meta: { groups: number; suppressedGroups: number; suppressedBins: number; minCellSize: number | null };
}

const MAX_GROUPS = 10_000;

function jsKey(v: unknown): KeyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/**
 * Runs an `aggregate` job on this agent's data and returns exact per-group sufficient statistics as Arrow.
 * In mode `none`, groups and histogram bins below the minimum cell size are suppressed here, at the source:
 * their statistics never leave the agent (zeros are sent with the suppressed flag).
 */
export async function runAggregate(conn: DuckDBConnection, job: AggregateJob, product: ProductInfo, policy: CompiledAgentPolicy): Promise<AggregateOutcome> {
  const plan = planAggregate(job, product);
  let rows: Record<string, unknown>[];
  try {
    const reader = await conn.runAndReadAll(plan.sql, plan.params);
    rows = reader.getRowObjectsJS() as Record<string, unknown>[];
  } catch (e) {
    throw new FedmeshError('INVALID_JOB', `the query could not run on product ${product.name}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (rows.length > MAX_GROUPS) {
    throw new FedmeshError('POLICY_DENIED', `groupBy yields ${rows.length > MAX_GROUPS ? `more than ${MAX_GROUPS}` : rows.length} groups; coarsen the grouping`, { field: 'groupBy' });
  }
  const suppress = job.privacy.mode === 'none';
  const k = policy.minCellSize;
  let suppressedGroups = 0;
  let suppressedBins = 0;
  const groups: GroupPartial[] = rows.map((r) => {
    const count = BigInt(r.count as bigint);
    const key = Array.from({ length: plan.keyCount }, (_, i) => jsKey(r[`k${i}`]));
    if (suppress && count < BigInt(k)) {
      suppressedGroups++;
      const measures: MeasurePartial[] = plan.layout.map((l) =>
        l.kind === 'moments' ? { kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: l.scaleBits } : l.kind === 'histogram' ? { kind: 'histogram', bins: Array<bigint | null>(l.bins).fill(null) } : { kind: 'count' },
      );
      return { key, count: 0n, measures, suppressedBy: ['self'] };
    }
    const measures: MeasurePartial[] = plan.layout.map((l, i) => {
      if (l.kind === 'count') return { kind: 'count' };
      if (l.kind === 'moments') {
        return { kind: 'moments', n: BigInt(r[`m${i}_n`] as bigint), sum: BigInt(r[`m${i}_sum`] as bigint), sumSq: BigInt(r[`m${i}_sumsq`] as bigint), scaleBits: l.scaleBits };
      }
      const bins = Array.from({ length: l.bins }, (_, b) => {
        const v = BigInt(r[`m${i}_b${b}`] as bigint);
        if (suppress && v > 0n && v < BigInt(k)) {
          suppressedBins++;
          return null;
        }
        return v;
      });
      return { kind: 'histogram', bins };
    });
    return { key, count, measures, suppressedBy: [] };
  });
  return {
    arrow: encodePartials(groups, plan.keyCount, plan.layout),
    meta: { groups: groups.length, suppressedGroups, suppressedBins, minCellSize: suppress ? k : null },
  };
}
