/**
 * What every party of a secure aggregate job derives alike from public information (spec, column types, number of
 * participants, ring): the privacy plan, the distributed noise plan, the vector layout, the threshold and the
 * fewest contributors a release may rest on.
 */
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError, invalidJob } from '../errors.js';
import { planAggregatePrivacy, type AggregatePrivacyPlan } from '../job/index.js';
import type { AggregateJob, JobCommon } from '../job/index.js';
import { planSecureNoise, type SecureNoisePlan } from './distributed-noise.js';
import { heLimbRing, type LimbRing } from './limbs.js';
import { secureVectorLayout, type SecureVectorLayout } from './vector-layout.js';

/** SecAgg (and the secure modes generally) need at least this many participants: with two, the sum reveals the other. */
export const MIN_SECURE_AGENTS = 3;

export interface SecureJobPlan {
  readonly plan: AggregatePrivacyPlan;
  readonly noise: SecureNoisePlan | undefined;
  readonly layout: SecureVectorLayout;
  /** Shamir threshold t (SecAgg) and the fewest contributors of any secure job. */
  readonly threshold: number;
  /** Fewest contributors a release may rest on: max(t, quorum, n − tolerated in distributed-dp). */
  readonly requiredContributors: number;
}

/** t = secureThreshold, or ⌊n/2⌋ + 1. @throws FedmeshError INVALID_JOB unless n/2 < t ≤ n */
export function secureThreshold(job: Pick<JobCommon, 'secureThreshold'>, agents: number): number {
  const t = job.secureThreshold ?? Math.floor(agents / 2) + 1;
  if (!(t > agents / 2 && t <= agents)) throw invalidJob('secureThreshold', `must satisfy n/2 < t <= n for n = ${agents} agents, got ${t}`);
  return t;
}

/** @throws FedmeshError INVALID_JOB naming the field */
export function planSecureAggregate(job: AggregateJob, columnType: (column: string) => string, agents: number, ring: LimbRing): SecureJobPlan {
  if (agents < MIN_SECURE_AGENTS) {
    throw new FedmeshError('FAILED_PRECONDITION', `secure aggregation needs at least ${MIN_SECURE_AGENTS} agents (with two, the sum reveals the other's input); ${agents} serve this job`, { field: 'agents' });
  }
  const plan = planAggregatePrivacy(job, columnType);
  const noise = plan.mode === 'distributed-dp' ? planSecureNoise(job, plan, agents) : undefined;
  const layout = secureVectorLayout(job, plan, { ring, agents, ...(job.secureMaxRows !== undefined ? { maxRowsPerAgent: job.secureMaxRows } : {}), ...(noise ? { noise } : {}) });
  const threshold = secureThreshold(job, agents);
  if (job.quorum !== undefined && job.quorum > agents) throw invalidJob('quorum', `${job.quorum} agents required but only ${agents} take part`);
  // The default quorum is every agent asked: a dropout the researcher did not accept fails the job, never shrinks it silently.
  const requiredContributors = Math.max(threshold, job.quorum ?? agents, noise ? noise.minHonestShares : 0);
  return { plan, noise, layout, threshold, requiredContributors };
}

/** The digit ring an HE plan implies: slots bounded by [0, 2^b − 1]. @throws FedmeshError INVALID_JOB */
export function heRingForPlan(plan: HePlan): LimbRing {
  const max = plan.valueBounds.max + 1n;
  const b = max.toString(2).length - 1;
  if (plan.valueBounds.min > 0n || max !== 1n << BigInt(b) || b < 1) {
    throw invalidJob('he.plan.valueBounds', `must be [0, 2^b − 1] (slots hold b-bit digits), got [${plan.valueBounds.min}, ${plan.valueBounds.max}]`);
  }
  return heLimbRing(b);
}

/** @throws FedmeshError INVALID_JOB when the researcher's plan does not fit the job's layout or its agents */
export function checkHePlanFits(plan: HePlan, layout: { readonly vectorLength: number }, agents: number): void {
  if (plan.maxAgents !== agents) throw invalidJob('he.plan.maxAgents', `the HE plan was made for ${plan.maxAgents} agents, but ${agents} take part; let the client plan again`);
  if (plan.vectorLength !== layout.vectorLength) throw invalidJob('he.plan.vectorLength', `the HE plan is for vectors of ${plan.vectorLength} slots, this job's layout has ${layout.vectorLength}`);
}
