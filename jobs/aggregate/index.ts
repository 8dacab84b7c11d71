/**
 * The `aggregate` job kind on the kind seam, ported mode by mode (spec.ts `seamRunsAggregate`): today local-dp with
 * plain sums. parse (the built-in spec) → compile (the built-in privacy plan from the spec alone: in the DP modes
 * column types play no part) → one round at the agents (agent.ts: the exact statistics of every public group
 * combination, the built-in query) → each agent's noise by the kind's noise plan (the built-in samplers, in the
 * built-in order: local-dp.ts) → release (the built-in local-dp release and statement: release.ts) → view.
 */
import type { CompiledKindJob, KindDef, KindNoisePlan, KindRelease, RoundRecord, StatLayout } from '../../common/kinds/index.js';
import { kindPrivacyOf } from '../../common/kinds/index.js';
import { planAggregatePrivacy, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { fromVector, localCombos, localStats } from './local-dp.js';
import { dpAggregateResult, releaseLocal } from './release.js';
import { parseAggregateSpec, seamRunsAggregate, type AggregateSpec } from './spec.js';
import { renderAggregate } from './view.js';

/** The public plan of a compiled aggregate job: its group combinations, in vector order. */
export interface AggregatePlan {
  readonly groups: number;
}

export type CompiledAggregateJob = CompiledKindJob<AggregateSpec, AggregatePlan>;

/**
 * The built-in privacy plan of the job. In the DP modes it reads no column type (the fixed-point grids follow the
 * bounds and the noise), so the coordinator, every agent and the client plan alike from the spec.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function aggregatePrivacyPlan(spec: AggregateSpec): AggregatePrivacyPlan {
  return planAggregatePrivacy(spec, () => 'DOUBLE');
}

function compileAggregate(spec: AggregateSpec): Omit<CompiledAggregateJob, 'hash'> {
  // Refuses what the mode cannot run (data-derived groups, quantiles, a budget it cannot calibrate) before anything.
  const privacy = aggregatePrivacyPlan(spec);
  localStats(spec, privacy);
  return {
    kind: 'aggregate',
    product: spec.product,
    privacy: kindPrivacyOf(spec.privacy),
    secure: spec.secure ?? 'plain',
    maxRounds: 1,
    roundTimeoutMs: spec.timeoutMs ?? 30_000,
    // Every asked agent answers unless the researcher set a quorum, as on the built-in path.
    dropout: spec.quorum === undefined ? 'fail' : 'continue',
    minAgents: spec.quorum ?? 1,
    spec,
    plan: { groups: localCombos(spec).length },
  };
}

/**
 * One block per noised statistic of each group (local-dp.ts), in grid units: integers, grid 2^0 at the seam. What an
 * agent sends is already noisy, so its entries have no public margin but the doubles' exact range.
 */
function aggregateLayout(job: CompiledAggregateJob): StatLayout {
  const lo = -Number.MAX_SAFE_INTEGER;
  const hi = Number.MAX_SAFE_INTEGER;
  return {
    blocks: localStats(job.spec, aggregatePrivacyPlan(job.spec)).map((s) => {
      // The sensitivity the sampler was calibrated to, in grid units (L2 for a Gaussian, L1 for a Laplace).
      const d = s.noise.info.sensitivity;
      return { name: s.name, length: s.length, perAgent: { lo, hi }, sensitivity: { l1: d, l2Sq: d * d }, gridExponent: 0, exactOnGrid: true, release: 'additive' as const };
    }),
  };
}

/** The built-in plan's samplers, block by block, and its cost (charged once, at the coordinator and every agent). */
function aggregateNoisePlan(job: CompiledAggregateJob): KindNoisePlan {
  const plan = aggregatePrivacyPlan(job.spec);
  return {
    cost: plan.dp!.cost,
    blocks: localStats(job.spec, plan).map((s) => ({ sample: (rng: Parameters<typeof s.noise.sample>[0]) => s.noise.sample(rng), std: s.noise.info.std })),
  };
}

function releaseAggregate(job: CompiledAggregateJob, history: readonly RoundRecord[]): KindRelease {
  const last = history[history.length - 1]!;
  const plan = aggregatePrivacyPlan(job.spec);
  const groups = fromVector(job.spec, plan, localStats(job.spec, plan), last.released);
  const { columns, rows, privacy, notes } = dpAggregateResult(job.spec, plan, releaseLocal(job.spec, plan, groups, last.answered.length));
  return { columns, rows, suppressed: [], privacy, notes };
}

export const aggregateKind: KindDef<AggregateSpec, AggregatePlan, null> = {
  kind: 'aggregate',
  builtInSpec: true,
  accepts: seamRunsAggregate,
  noisePlan: aggregateNoisePlan,
  parse: parseAggregateSpec,
  compile: compileAggregate,
  layout: (job) => aggregateLayout(job),
  // One round: the noisy statistics are the whole release.
  nextRound: (_job, history) => (history.length === 0 ? null : undefined),
  release: (job, history) => releaseAggregate(job, history),
  view: renderAggregate,
};
