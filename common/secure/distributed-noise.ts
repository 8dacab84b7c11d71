import * as dp from '../../algorithms/dp/index.js';
import { invalidJob } from '../errors.js';
import { publicGroupCombos } from '../job/index.js';
import type { AggregatePrivacyPlan, AggregateJob } from '../job/index.js';

/** Which noisy statistic a share belongs to. */
export type NoisyStatistic = 'rows' | 'n' | 'sum' | 'sumSq' | 'bin';

export interface MeasureShares {
  /** Per statistic of the measure: the share plan (σᵢ² in grid units) and the central noise it replaces. */
  readonly shares: Partial<Record<NoisyStatistic, { plan: dp.DistributedNoisePlan; central: dp.CalibratedNoise }>>;
}

export interface SecureNoisePlan {
  readonly agents: number;
  readonly tolerated: number;
  /** m = agents − tolerated: the honest shares the charge relies on. */
  readonly minHonestShares: number;
  readonly measures: readonly MeasureShares[];
  /** What the ledgers charge: per statistic the larger of the KLS bound with m shares and the central cost. */
  readonly cost: dp.PrivacyCost;
}

/** Default tolerance: ⌊(n − 1)/3⌋ agents may drop out or collude with the coordinator. */
export function defaultTolerated(agents: number): number {
  return Math.floor((agents - 1) / 3);
}

/**
 * Plans the noise shares of a `distributed-dp` aggregate job: every statistic the central plan would noise gets a
 * discrete Gaussian share per agent (Kairouz, Liu & Steinke 2021), calibrated so that the shares of any
 * n − tolerated honest agents alone give the statistic's ρ. Agents and the coordinator compute it alike from the
 * spec, the column types and n.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function planSecureNoise(job: AggregateJob, plan: AggregatePrivacyPlan, agents: number): SecureNoisePlan {
  if (!plan.dp) throw invalidJob('privacy.mode', 'distributed-dp needs a DP budget');
  const tolerated = job.privacy.tolerated ?? defaultTolerated(agents);
  if (!Number.isInteger(tolerated) || tolerated < 0 || tolerated >= agents) {
    throw invalidJob('privacy.tolerated', `must be an integer in [0, ${agents - 1}] for ${agents} agents, got ${tolerated}`);
  }
  const groups = publicGroupCombos(job)?.length ?? 1;
  const costs: dp.PrivacyCost[] = [];
  const share = (central: dp.CalibratedNoise, dimension: number, field: string): { plan: dp.DistributedNoisePlan; central: dp.CalibratedNoise } => {
    if (central.info.distribution !== 'discrete-gaussian') {
      throw invalidJob('privacy', `distributed-dp adds discrete Gaussian shares: give delta > 0 or rho (a pure-epsilon budget selects Laplace noise) (${field})`);
    }
    let p: dp.DistributedNoisePlan;
    try {
      p = dp.planDistributedNoise({ agents, tolerated, l2Sensitivity: central.info.sensitivity, dimension, rho: central.cost.rho });
    } catch (e) {
      throw invalidJob(field, (e as Error).message);
    }
    costs.push({ rho: Math.max(p.rho, central.cost.rho), epsilon: Infinity, delta: 0 });
    return { plan: p, central };
  };
  const measures = plan.dp.measures.map((mp, i): MeasureShares => {
    const field = `measures[${i}]`;
    switch (mp.fn) {
      case 'count':
        return { shares: { rows: share(mp.noise, groups, field) } };
      case 'histogram': {
        const l = plan.layout[i]!;
        return { shares: { bin: share(mp.noise, groups * (l.kind === 'histogram' ? l.bins : 1), field) } };
      }
      case 'sum':
        return { shares: { sum: share(mp.plan.noise, groups, field) } };
      case 'mean':
      case 'variance':
        return {
          shares: {
            n: share(mp.plan.countNoise, groups, field),
            sum: share(mp.plan.sumNoise, groups, field),
            ...(mp.plan.sumSquaresNoise ? { sumSq: share(mp.plan.sumSquaresNoise, groups, field) } : {}),
          },
        };
      default:
        throw invalidJob(`${field}.fn`, `${mp.fn} is not supported with distributed-dp`);
    }
  });
  return { agents, tolerated, minHonestShares: agents - tolerated, measures, cost: dp.addCosts(...costs) };
}
