/**
 * The `aggregate` job kind on the kind seam, ported mode by mode (spec.ts `seamRunsAggregate`): local-dp, central-dp
 * (quantiles by a selection block) and none (exact sums in limbs, each agent's withholding as flags: exact-vector.ts),
 * with plain sums and public groups. parse (the built-in spec) → compile (the built-in
 * privacy plan from the spec alone: in the DP modes column types play no part) → one round at the agents (agent.ts:
 * the exact, contribution-bounded statistics of every public group combination, the built-in query) → noise by the
 * kind's noise plan (the built-in samplers in the built-in order: vector.ts), at each agent (local-dp) or once at the
 * coordinator (central-dp) → release (the built-in releases and DP statement: release.ts) → view.
 */
import type { BlockSampler, BlockSelector, CompiledKindJob, KindDef, KindNoisePlan, KindRelease, KindReleaseInfo, RoundRecord, StatBlock, StatLayout } from '../../common/kinds/index.js';
import { kindPrivacyOf, MAX_VECTOR_ENTRIES, pooledMinCellSize } from '../../common/kinds/index.js';
import { FedmeshError } from '../../common/errors.js';
import { planAggregatePrivacy, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { aggregateStats, fromVector, MAX_AGENT_ENTRY, publicCombos, type ChosenQuantiles } from './vector.js';
import { comboKey, distinctCombos } from './group-match.js';
import { dpAggregateResult, releaseCentral, releaseLocal } from './release.js';
import { parseAggregateSpec, seamRunsAggregate, type AggregateSpec } from './spec.js';
import { renderAggregate } from './view.js';
import { aggregateReplyMismatch, dpReplyMismatch } from './reply-check.js';
import { exactLayout, fromExactVector } from './exact-vector.js';
import { exactAggregateResult } from './exact-release.js';
import { fromSecureExactVector, secureExactLayout } from './secure-exact.js';
import { distributedLayout, releaseDistributed } from './distributed.js';
import { jobSecureMaxRows, releaseSecureAggregate } from '../../common/secure/index.js';

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
  // Public combinations that are one group as text (1 and "1") are refused here; as the columns' types make them one
  // group (1.5 and "1.50" of a DECIMAL), at each agent (group-match.ts).
  if (spec.groupKeys) distinctCombos(spec, comboKey);
  // The vector's size is public: groups × statistics. Past the seam's bound the job is refused here, naming what
  // multiplies (the fuzzer's 9 997 groups × a 700-bin histogram failed as an internal error).
  const entries =
    privacy.mode === 'none'
      ? modeNoneLayout(spec, privacy).reduce((n, b) => n + b.length, 0)
      : // (distributed-dp: its layout also refuses what its shares cannot noise: a quantile, a pure-ε budget)
        privacy.mode === 'distributed-dp'
        ? distributedLayout(spec, privacy, jobSecureMaxRows(spec)).reduce((n, b) => n + b.length, 0)
        : aggregateStats(spec, privacy).reduce((n, st) => n + st.length, 0);
  if (entries > MAX_VECTOR_ENTRIES) {
    throw new FedmeshError('RESOURCE_EXHAUSTED', `groupKeys: ${publicCombos(spec).length} groups × their statistics are ${entries} numbers per agent, more than the ${MAX_VECTOR_ENTRIES} a round carries; fewer groups or histogram bins`, { field: 'groupKeys' });
  }
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
    // Named agents travel in the compiled job: an agent not named refuses the task (kind-task-runner.ts).
    ...(spec.agents ? { agents: spec.agents } : {}),
    spec,
    plan: { groups: publicCombos(spec).length },
  };
}

/**
 * Mode none: with plain sums, exact statistics in limbs and each agent's withholding flags (exact-vector.ts); inside a
 * secure sum, the statistics clipped to the job's per-agent row bound, nothing withheld per agent (secure-exact.ts).
 */
function modeNoneLayout(spec: AggregateSpec, plan: AggregatePrivacyPlan): StatBlock[] {
  return (spec.secure ?? 'plain') === 'plain' ? exactLayout(spec, plan) : secureExactLayout(spec, plan, jobSecureMaxRows(spec));
}

/**
 * One block per noised statistic of each group (vector.ts), in grid units: integers, grid 2^0 at the seam. An
 * agent's entry is within ±2^43 grid units (projected there at the agent), so the sum over agents is exact.
 */
function aggregateLayout(job: CompiledAggregateJob): StatLayout {
  const hi = MAX_AGENT_ENTRY;
  if (job.privacy.mode === 'none') return { blocks: modeNoneLayout(job.spec, aggregatePrivacyPlan(job.spec)) };
  // distributed-dp (with secagg): one block per statistic across the groups, the built-in plan's ρ per statistic.
  if (job.privacy.mode === 'distributed-dp') return { blocks: distributedLayout(job.spec, aggregatePrivacyPlan(job.spec), jobSecureMaxRows(job.spec)) };
  return {
    blocks: aggregateStats(job.spec, aggregatePrivacyPlan(job.spec)).map((s) => {
      // central-dp: counts (rows, bins, a quantile's buckets, n) and Σx² are never negative: an agent's negative entry
      // is refused on its own vector, so it cannot cancel the others' counts (red team 43: a quantile's summed buckets
      // below 0 failed the job, a yes/no about the other sites' exact counts). Sums of centred values may be negative.
      // local-dp: an agent's entries carry its discrete Laplace noise, which has no public margin a count stays within
      // (red team 44: honest agents refused), so they are not bounded below; nothing is selected on their sum there.
      const lo = s.stat === 'sum' || job.privacy.mode !== 'central-dp' ? -MAX_AGENT_ENTRY : 0;
      // The sensitivity the sampler was calibrated to, in grid units (L2 for a Gaussian, L1 for a Laplace); a
      // quantile's buckets: one person's largest change to a bucket count.
      const d = 'select' in s.noise ? s.noise.sensitivity : s.noise.info.sensitivity;
      return { name: s.name, length: s.length, perAgent: { lo, hi }, sensitivity: { l1: d, l2Sq: d * d }, gridExponent: 0, exactOnGrid: true, release: 'additive' as const, ...('select' in s.noise ? { selectedAtCoordinator: true } : {}) };
    }),
  };
}

/** The built-in plan's samplers, block by block, and its cost (charged once, at the coordinator and every agent). */
function aggregateNoisePlan(job: CompiledAggregateJob): KindNoisePlan {
  const plan = aggregatePrivacyPlan(job.spec);
  return {
    cost: plan.dp!.cost,
    blocks: aggregateStats(job.spec, plan).map((s): BlockSampler | BlockSelector => {
      const n = s.noise;
      return 'select' in n ? { select: (exact, rng) => n.select(exact, rng) } : { sample: (rng) => n.sample(rng), std: n.info.std };
    }),
  };
}

/**
 * The plan with every sampler drawing 0: the released vector already carries the plan's noise (drawn by the seam in
 * releaseCentral's order), so releaseCentral run on it does only its post-processing — the same values, intervals and
 * notes as drawing itself. Its RNG is then never read.
 */
function drawn(plan: AggregatePrivacyPlan): AggregatePrivacyPlan {
  const zero = <T extends { sample: unknown }>(n: T): T => ({ ...n, sample: () => 0n });
  return {
    ...plan,
    dp: {
      ...plan.dp!,
      measures: plan.dp!.measures.map((m) =>
        m.fn === 'count' || m.fn === 'histogram'
          ? { ...m, noise: zero(m.noise) }
          : m.fn === 'sum'
            ? { ...m, plan: { ...m.plan, noise: zero(m.plan.noise) } }
            : m.fn === 'mean' || m.fn === 'variance'
              ? { ...m, plan: { ...m.plan, countNoise: zero(m.plan.countNoise), sumNoise: zero(m.plan.sumNoise), ...(m.plan.sumSquaresNoise ? { sumSquaresNoise: zero(m.plan.sumSquaresNoise) } : {}) } }
              : m,
      ),
    },
  };
}

const NO_RNG = { fill(): never { throw new Error('releaseCentral drew randomness on the seam: its noise is the seam\'s') } };

function releaseAggregate(job: CompiledAggregateJob, history: readonly RoundRecord[], info: KindReleaseInfo): KindRelease {
  const last = history[history.length - 1]!;
  const plan = aggregatePrivacyPlan(job.spec);
  if (job.privacy.mode === 'none' && job.secure !== 'plain') {
    // The minimum cell size on the totals: the largest any contributing agent published (as the built-in secure path),
    // never guessed when one is not known.
    const minCellSize = pooledMinCellSize(last.answered, info);
    const maxRowsPerAgent = jobSecureMaxRows(job.spec);
    const totals = fromSecureExactVector(job.spec, plan, last.released, maxRowsPerAgent);
    const { columns, rows, suppressed, privacy, notes } = releaseSecureAggregate({ job: job.spec, plan, layout: { maxRowsPerAgent }, totals, contributors: last.answered.length, minCellSize });
    return { columns, rows, suppressed, privacy, notes };
  }
  if (job.privacy.mode === 'none') {
    const { combined, withheld } = fromExactVector(job.spec, plan, last.released, last.answered.length);
    // (an agent whose published size is not known, e.g. not connected since a restart, is not stated as 0)
    const minCellSize = Object.fromEntries(last.answered.flatMap((a) => (info.minCellSize?.[a] !== undefined ? [[a, info.minCellSize[a]]] : [])));
    // No count of withheld groups: with public keys it would tell a small group from an empty one (exact-vector.ts).
    return exactAggregateResult(job.spec, combined, withheld, minCellSize);
  }
  if (job.privacy.mode === 'distributed-dp') return { ...releaseDistributed(job, plan, last, jobSecureMaxRows(job.spec)), suppressed: [] };
  const chosen: ChosenQuantiles = new Map();
  const groups = fromVector(job.spec, plan, aggregateStats(job.spec, plan), last.released, chosen);
  const released = job.privacy.mode === 'central-dp' ? releaseCentral(job.spec, drawn(plan), groups, NO_RNG, (combo, measure) => chosen.get(combo)?.get(measure)) : releaseLocal(job.spec, plan, groups, last.answered.length);
  const { columns, rows, privacy, notes } = dpAggregateResult(job.spec, plan, released);
  return { columns, rows, suppressed: [], privacy, notes };
}

export const aggregateKind: KindDef<AggregateSpec, AggregatePlan, null> = {
  kind: 'aggregate',
  builtInSpec: true,
  accepts: (raw) => seamRunsAggregate(raw),
  noisePlan: aggregateNoisePlan,
  parse: parseAggregateSpec,
  compile: compileAggregate,
  layout: (job) => aggregateLayout(job),
  // One round: the noisy statistics are the whole release.
  nextRound: (_job, history) => (history.length === 0 ? null : undefined),
  // Each agent states the contribution bound it applied (agent.ts); one that did not bound as planned fails the job.
  // Mode none: the unit and the minimum cell size it applied must be the ones it published.
  replyMismatch: (job, report, agent) => (job.privacy.mode === 'none' ? (agent ? aggregateReplyMismatch(job.spec, aggregatePrivacyPlan(job.spec), agent, report) : 'its registration is not known') : dpReplyMismatch(aggregatePrivacyPlan(job.spec), report)),
  release: (job, history, info) => releaseAggregate(job, history, info),
  view: renderAggregate,
};
