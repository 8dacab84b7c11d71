import { REAL_SCALE_BITS, isIntegerType } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import { FedmeshError, invalidJob } from '../errors.js';
import type { AggregateJob, Measure, PrivacySpec, QuantileMeasure } from './spec.js';

/**
 * What an agent computes for one measure. Moments are sums of clamped values (centred at `center`) snapped to
 * the grid 2^-scaleBits, and of their squares snapped to 2^-sqScaleBits. Negative scale bits mean a grid coarser
 * than 1 (large noise). Both sides derive this from the public job spec and the column types alone.
 */
export type AgentMeasureLayout =
  | { kind: 'count' }
  | { kind: 'moments'; lower: number; upper: number; center: number; scaleBits: number; sqScaleBits: number; squares: boolean }
  | { kind: 'histogram'; bins: number; buckets?: { candidates: number[]; lower: number; upper: number } };

export type MeasureNoisePlan =
  | { fn: 'count'; noise: dp.CalibratedNoise }
  | { fn: 'sum'; plan: dp.BoundedSumPlan }
  | { fn: 'mean' | 'variance'; plan: dp.MeanVariancePlan }
  | { fn: 'histogram'; noise: dp.CalibratedNoise }
  | { fn: 'quantile'; budget: dp.DpBudget; candidates: number[]; cost: dp.PrivacyCost };

/** Bucket layout of a quantile measure: counts below, between and above the public candidates (clamped values). */
export function quantileLayout(m: QuantileMeasure): AgentMeasureLayout {
  const candidates = dp.quantileCandidates(m.bounds[0], m.bounds[1], m.candidates ?? 101);
  return { kind: 'histogram', bins: candidates.length + 1, buckets: { candidates, lower: m.bounds[0], upper: m.bounds[1] } };
}

export interface AggregatePrivacyPlan {
  mode: PrivacySpec['mode'];
  /** Rows per privacy unit after contribution bounding (DP modes). */
  maxRowsPerPerson: number;
  /** The public assumption on sites per person that the sensitivity is multiplied by. */
  maxSitesPerPerson: number;
  layout: AgentMeasureLayout[];
  /** Present in the DP modes. */
  dp?: {
    budget: dp.DpBudget;
    /** The (ε, δ) the budget was derived from, as the researcher gave it. */
    requested: { epsilon?: number; delta?: number; rho?: number };
    measures: MeasureNoisePlan[];
    /** DP partition selection when groups are data-dependent (central-dp, groupBy without groupKeys). */
    selection?: { budget: dp.DpBudget & { delta: number } };
    /** Total cost of the job: charged once, up front. */
    cost: dp.PrivacyCost;
    budgetSplit: string;
  };
}

/** The DP budget of a job: ρ (Gaussian), ε with δ > 0 (Gaussian at the ρ that converts to (ε, δ)), or ε alone (Laplace). */
export function jobBudget(p: PrivacySpec): dp.DpBudget {
  if (p.rho !== undefined) return { rho: p.rho };
  if (p.epsilon === undefined) throw invalidJob('privacy.epsilon', 'a DP mode needs epsilon or rho');
  if (p.delta !== undefined && p.delta > 0) return { rho: dp.rhoForEpsilonDelta(p.epsilon, p.delta) };
  return { epsilon: p.epsilon };
}

/** The budget of a central-dp job with partition selection given (ε, δ): ρ such that its full cost is (ε, δ). */
function selectionJobBudget(p: PrivacySpec): dp.DpBudget {
  const half = p.delta! / 2;
  const epsilon = p.epsilon === undefined ? undefined : p.epsilon + Math.log1p(-half);
  if (epsilon !== undefined && !(epsilon > 0)) throw invalidJob('privacy.epsilon', `too small for partition selection at delta ${p.delta}: needs more than ${-Math.log1p(-half)}`);
  return jobBudget({ ...p, epsilon, delta: half });
}

/**
 * The finest grid exponent (≤ `bits`) on which a value of magnitude up to `bound` stays within 2^61 grid units: one
 * row's value on the grid must fit a SQL engine's BIGINT (PostgreSQL rounds each row to BIGINT before summing), or the
 * query fails only when some row is that large — a yes/no about a few persons in mode none, where a narrow filter
 * isolates them (red team 46: a mean of an income column bounded [0, 200 000] failed on PostgreSQL when one person
 * above 46 341 matched, Σx² being on the 2^-32 grid). From the public bounds only, so every party plans alike.
 */
function gridBitsWithin(bound: number, bits: number): number {
  return bound > 0 ? Math.min(bits, 61 - Math.ceil(Math.log2(bound))) : bits;
}

function momentsLayoutNone(m: Measure & { bounds: [number, number] }, type: string, field: string): AgentMeasureLayout {
  const s = isIntegerType(type) && Number.isInteger(m.bounds[0]) && Number.isInteger(m.bounds[1]) ? 0 : REAL_SCALE_BITS;
  const bound = Math.max(Math.abs(m.bounds[0]), Math.abs(m.bounds[1]));
  // Mode none sums exactly: a grid coarser than 1 for the values themselves would round them, so bounds past 2^61 are
  // refused from the spec (Σx² may take a coarser grid: its relative rounding stays below 2^-60).
  if (gridBitsWithin(bound, s) < 0) throw invalidJob(`${field}.bounds`, `mode none sums values exactly, one row within 2^61 grid units: bounds beyond ±2^61 (here ${bound}) cannot be; narrow them`);
  return { kind: 'moments', lower: m.bounds[0], upper: m.bounds[1], center: 0, scaleBits: gridBitsWithin(bound, s), sqScaleBits: gridBitsWithin(bound * bound, 2 * s), squares: m.fn === 'variance' || m.fn === 'mean' || m.fn === 'sum' };
}

/**
 * Plans the privacy of an aggregate job from public information only (spec and column types): the agents'
 * layout (grids, centring), the noise of every measure and the job's total cost. Agents and the coordinator call
 * it independently and get the same plan.
 *
 * Budget split: equal shares between the measures (and partition selection, when used); within a mean or variance
 * the shares of the DP core apply (count/sum, or count/sum/sum of squares). Per measure, the noise covers the whole
 * vector over groups: a person contributes at most k rows in total, so each measure's L1 and L2 sensitivity over all
 * groups is k × (per-row bound), whatever the number of groups.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function planAggregatePrivacy(job: AggregateJob, columnType: (column: string) => string): AggregatePrivacyPlan {
  const p = job.privacy;
  const k = p.maxRowsPerPerson ?? 1;
  // A person at up to m sites contributes k rows at each: the released totals move by up to m·k.
  const sites = p.maxSitesPerPerson ?? 1;
  const ks = k * sites;
  if (p.mode === 'none') {
    return {
      mode: 'none',
      maxRowsPerPerson: k,
      maxSitesPerPerson: sites,
      layout: job.measures.map((m, i) =>
        m.fn === 'count' ? { kind: 'count' } : m.fn === 'histogram' ? { kind: 'histogram', bins: m.bins.length - 1 } : m.fn === 'quantile' ? quantileLayout(m) : momentsLayoutNone(m, columnType(m.column), `measures[${i}]`),
      ),
    };
  }
  const needsSelection = job.groupBy.length > 0 && !job.groupKeys;
  if (needsSelection && p.mode !== 'central-dp') {
    throw invalidJob('groupKeys', `mode ${p.mode} with groupBy needs public groupKeys (one list of values per groupBy column)`);
  }
  if (needsSelection) {
    if (!(p.delta !== undefined && p.delta > 0)) {
      throw invalidJob('privacy.delta', 'groupBy without public groupKeys uses DP partition selection, which needs delta > 0 (or give groupKeys)');
    }
    if (k !== 1) throw invalidJob('privacy.maxRowsPerPerson', 'DP partition selection needs maxRowsPerPerson 1 (or give public groupKeys)');
    if (sites !== 1) throw invalidJob('privacy.maxSitesPerPerson', 'DP partition selection assumes each person is at one site; with maxSitesPerPerson > 1 give public groupKeys');
  }
  // With partition selection, half of δ pays for the selection and half for the zCDP → (ε, δ) conversion. The
  // selection's δₐ also costs −ln(1 − δₐ) in ε (conditioning, see approximateZcdpCost): it is taken off ε before the
  // conversion, so the stated and charged ε equal the requested ε rather than exceeding it by ~δ/2.
  const budget = needsSelection && p.rho === undefined ? selectionJobBudget(p) : jobBudget(p);
  const parts = job.measures.length + (needsSelection ? 1 : 0);
  let shares: dp.DpBudget[];
  try {
    shares = dp.splitBudget(budget, Array.from({ length: parts }, () => 1));
  } catch (e) {
    throw invalidJob('privacy', (e as Error).message);
  }
  const layout: AgentMeasureLayout[] = [];
  const measures: MeasureNoisePlan[] = job.measures.map((m, i) => {
    const share = shares[i]!;
    const field = `measures[${i}]`;
    try {
      if (m.fn === 'count') {
        layout.push({ kind: 'count' });
        return { fn: 'count', noise: dp.calibrateNoise(share, { l1: BigInt(ks), l2Squared: BigInt(ks * ks) }) };
      }
      if (m.fn === 'quantile') {
        // Permute-and-flip picks a candidate from exact bucket counts: it needs the combined counts, so central-dp only.
        if (p.mode !== 'central-dp') throw invalidJob(`${field}.fn`, `quantile needs mode central-dp (or none); ${p.mode} is not supported for quantiles`);
        const l = quantileLayout(m);
        layout.push(l);
        const cost: dp.PrivacyCost = share.rho !== undefined ? { rho: share.rho, epsilon: Infinity, delta: 0 } : { rho: (share.epsilon * share.epsilon) / 2, epsilon: share.epsilon, delta: 0 };
        return { fn: 'quantile', budget: share, candidates: l.kind === 'histogram' ? l.buckets!.candidates : [], cost };
      }
      if (m.fn === 'histogram') {
        layout.push({ kind: 'histogram', bins: m.bins.length - 1 });
        return { fn: 'histogram', noise: dp.calibrateNoise(share, { l1: BigInt(ks), l2Squared: BigInt(ks * ks) }) };
      }
      const [lower, upper] = m.bounds;
      if (m.fn === 'sum') {
        const plan = dp.planBoundedSum({ lower, upper, maxRowsPerPerson: ks, budget: share });
        layout.push({ kind: 'moments', lower, upper, center: 0, scaleBits: -plan.grid.exponent, sqScaleBits: 0, squares: false });
        return { fn: 'sum', plan };
      }
      const plan = dp.planMeanVariance({ lower, upper, maxRowsPerPerson: ks, budget: share, statistic: m.fn === 'mean' ? 'mean' : 'mean-variance' });
      layout.push({
        kind: 'moments',
        lower,
        upper,
        center: plan.center,
        scaleBits: -plan.sumGrid.exponent,
        sqScaleBits: plan.sumSquaresGrid ? -plan.sumSquaresGrid.exponent : 0,
        squares: plan.sumSquaresGrid !== undefined,
      });
      return { fn: m.fn, plan };
    } catch (e) {
      if (e instanceof FedmeshError) throw e;
      throw invalidJob(field, (e as Error).message);
    }
  });
  const costs = measures.map((m) => (m.fn === 'count' || m.fn === 'histogram' ? m.noise.cost : m.fn === 'quantile' ? m.cost : m.fn === 'sum' ? m.plan.noise.cost : m.plan.cost));
  let selection: { budget: dp.DpBudget & { delta: number } } | undefined;
  if (needsSelection) {
    const share = shares[parts - 1]!;
    selection = { budget: { ...share, delta: p.delta! / 2 } as dp.DpBudget & { delta: number } };
    // Worst case: the selection's δₐ is at most the δ it was asked for.
    costs.push(share.rho !== undefined ? dp.approximateZcdpCost(share.rho, Infinity, p.delta! / 2) : dp.approximateZcdpCost((share.epsilon * share.epsilon) / 2, share.epsilon, p.delta! / 2));
  }
  return {
    mode: p.mode,
    maxRowsPerPerson: k,
    maxSitesPerPerson: sites,
    layout,
    dp: {
      budget,
      requested: { ...(p.epsilon !== undefined ? { epsilon: p.epsilon } : {}), ...(p.delta !== undefined ? { delta: p.delta } : {}), ...(p.rho !== undefined ? { rho: p.rho } : {}) },
      measures,
      ...(selection ? { selection } : {}),
      cost: dp.addCosts(...costs),
      budgetSplit: `equal shares over ${parts} release(s): ${[...job.measures.map((m) => m.fn), ...(needsSelection ? ['partition selection'] : [])].join(', ')}`,
    },
  };
}
