import type { DuckDBConnection } from '@duckdb/node-api';
import { keyId, type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { encodePartials } from '../../common/arrow/partials-codec.js';
import { FedmeshError } from '../../common/errors.js';
import { publicGroupCombos } from '../../common/job/group-keys.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { planAggregate, readBins } from '../query/aggregate-sql.js';

export interface AggregateOutcome {
  arrow: Uint8Array;
  meta: Record<string, unknown>;
}

const MAX_GROUPS = 10_000;

function jsKey(v: unknown): KeyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
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

/**
 * Local DP: this agent adds the full noise of the job's plan to every statistic it sends, and sends nothing it does
 * not noise (statistics a measure does not release are zeroed). Groups are the public combinations only.
 */
function addLocalNoise(job: AggregateJob, plan: AggregatePrivacyPlan, groups: GroupPartial[], rng: Rng): GroupPartial[] {
  const combos = publicGroupCombos(job);
  if (!combos || !plan.dp) throw new FedmeshError('INVALID_JOB', 'groupKeys: local-dp needs public group keys');
  const byKey = new Map(groups.map((g) => [keyId(g.key), g]));
  const measures = plan.dp.measures;
  const countNoise = measures.find((m) => m.fn === 'count');
  return combos.map((key) => {
    const g = byKey.get(keyId(key)) ?? { key, count: 0n, measures: emptyMeasures(plan.layout), suppressedBy: [] };
    const noisy: MeasurePartial[] = g.measures.map((m, i) => {
      const mp = measures[i]!;
      if (m.kind === 'count') return m;
      if (m.kind === 'histogram' && mp.fn === 'histogram') return { kind: 'histogram', bins: m.bins.map((b) => (b ?? 0n) + mp.noise.sample(rng)) };
      if (m.kind === 'moments' && mp.fn === 'sum') return { ...m, n: 0n, sum: m.sum + mp.plan.noise.sample(rng), sumSq: 0n };
      if (m.kind === 'moments' && (mp.fn === 'mean' || mp.fn === 'variance')) {
        const sq = mp.plan.sumSquaresNoise;
        return { ...m, n: m.n + mp.plan.countNoise.sample(rng), sum: m.sum + mp.plan.sumNoise.sample(rng), sumSq: sq ? m.sumSq + sq.sample(rng) : 0n };
      }
      throw new FedmeshError('INTERNAL', `measure ${i}: layout and plan disagree`);
    });
    return { key, count: countNoise && countNoise.fn === 'count' ? g.count + countNoise.noise.sample(rng) : 0n, measures: noisy, suppressedBy: [] };
  });
}

export interface AggregateContext {
  conn: DuckDBConnection;
  job: AggregateJob;
  product: ProductInfo;
  policy: CompiledAgentPolicy;
  privacy: AggregatePrivacyPlan;
  salt: string;
  rng: Rng;
}

/**
 * Runs an `aggregate` job on this agent's data. Mode none: exact statistics with groups and bins below the
 * minimum cell size suppressed here, at the source (their statistics never leave the agent). central-dp: exact
 * statistics of contribution-bounded rows, for the coordinator to noise. local-dp: statistics noised here.
 */
export async function runAggregate(ctx: AggregateContext): Promise<AggregateOutcome> {
  const { conn, job, product, policy, privacy } = ctx;
  const plan = planAggregate(job, product, privacy, { salt: ctx.salt });
  let rows: Record<string, unknown>[];
  try {
    const reader = await conn.runAndReadAll(plan.sql, plan.params);
    rows = reader.getRowObjectsJS() as Record<string, unknown>[];
  } catch (e) {
    throw new FedmeshError('INVALID_JOB', `the query could not run on product ${product.name}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (rows.length > MAX_GROUPS) throw new FedmeshError('POLICY_DENIED', `groupBy yields more than ${MAX_GROUPS} groups; coarsen the grouping`, { field: 'groupBy' });
  const suppress = privacy.mode === 'none';
  const k = BigInt(policy.minCellSize);
  let suppressedGroups = 0;
  let suppressedBins = 0;
  let groups: GroupPartial[] = rows.map((r) => {
    const count = BigInt(r.count as bigint);
    const key = Array.from({ length: plan.keyCount }, (_, i) => jsKey(r[`k${i}`]));
    if (suppress && count < k) {
      suppressedGroups++;
      const measures = emptyMeasures(plan.layout).map((m) => (m.kind === 'histogram' ? { ...m, bins: m.bins.map(() => null) } : m));
      return { key, count: 0n, measures, suppressedBy: ['self'] };
    }
    const measures: MeasurePartial[] = plan.layout.map((l, i) => {
      if (l.kind === 'count') return { kind: 'count' };
      if (l.kind === 'moments') {
        return { kind: 'moments', n: BigInt(r[`m${i}_n`] as bigint), sum: BigInt(r[`m${i}_sum`] as bigint), sumSq: BigInt(r[`m${i}_sumsq`] as bigint), scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits };
      }
      const raw = readBins(r, i, l.bins);
      const bins = raw.map((v) => {
        // Quantile buckets go to the coordinator only (it releases one candidate value, never the counts).
        if (suppress && !l.buckets && v > 0n && v < k) {
          suppressedBins++;
          return null;
        }
        return v;
      });
      return { kind: 'histogram', bins };
    });
    return { key, count, measures, suppressedBy: [] };
  });
  if (privacy.mode === 'local-dp') groups = addLocalNoise(job, privacy, groups, asBufferedRng(ctx.rng));
  else if (privacy.mode !== 'none') {
    // Public group keys: send exactly the public combinations (zeros included), nothing data-dependent.
    const combos = job.groupKeys ? publicGroupCombos(job) : undefined;
    if (combos) {
      const byKey = new Map(groups.map((g) => [keyId(g.key), g]));
      groups = combos.map((key) => byKey.get(keyId(key)) ?? { key, count: 0n, measures: emptyMeasures(plan.layout), suppressedBy: [] });
    }
  }
  return {
    arrow: encodePartials(groups, plan.keyCount, plan.layout),
    meta: { groups: groups.length, suppressedGroups, suppressedBins, minCellSize: suppress ? policy.minCellSize : null, contributionBounded: plan.bounded, maxRowsPerPerson: privacy.maxRowsPerPerson },
  };
}
