import type { DuckDBConnection } from '@duckdb/node-api';
import { keyId, type GroupPartial, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { encodePartials } from '../../common/arrow/partials-codec.js';
import { FedmeshError } from '../../common/errors.js';
import { publicGroupCombos } from '../../common/job/group-keys.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { queryGroupStatistics } from '../query/group-statistics.js';

export interface AggregateOutcome {
  arrow: Uint8Array;
  meta: Record<string, unknown>;
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
  const exact = await queryGroupStatistics(conn, job, product, privacy, ctx.salt);
  const plan = exact.plan;
  const suppress = privacy.mode === 'none';
  const k = BigInt(policy.minCellSize);
  let suppressedGroups = 0;
  let suppressedBins = 0;
  let groups: GroupPartial[] = !suppress
    ? exact.groups
    : exact.groups.map((g) => {
        if (g.count < k) {
          suppressedGroups++;
          const measures = emptyMeasures(plan.layout).map((m) => (m.kind === 'histogram' ? { ...m, bins: m.bins.map(() => null) } : m));
          return { key: g.key, count: 0n, measures, suppressedBy: ['self'] };
        }
        const measures = g.measures.map((m, i): MeasurePartial => {
          const l = plan.layout[i]!;
          // Quantile buckets go to the coordinator only (it releases one candidate value, never the counts).
          if (m.kind !== 'histogram' || l.kind !== 'histogram' || l.buckets) return m;
          return {
            kind: 'histogram',
            bins: m.bins.map((v) => {
              if (v !== null && v > 0n && v < k) {
                suppressedBins++;
                return null;
              }
              return v;
            }),
          };
        });
        return { ...g, measures };
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
