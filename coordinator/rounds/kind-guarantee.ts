import type { PrivacyCost } from '../../algorithms/dp/index.js';
import { describeGuarantee, type DpGuarantee } from '../../common/job/index.js';
import { privacyModeOf, toleratedAgents, type CompiledKindJob } from '../../common/kinds/index.js';
import { chargedEpsilon } from '../job-log.js';
import { linkageGuarantee } from '../../common/job/index.js';

/**
 * The (ε, δ) a kind job's charge is stated at. A job that stated (ε, δ) had its ρ derived from them, so it is stated at
 * exactly those; a ρ-only job as ρ converted to ε at the budget's default δ; an ε-only (Laplace) plan at its ε.
 */
export function statedSpend(job: CompiledKindJob, cost: PrivacyCost | undefined, defaultDelta: number): { epsilon: number; delta: number } {
  const { epsilon, delta, rho } = job.privacy;
  if (cost && rho === undefined && epsilon !== undefined && delta !== undefined && delta > 0) return { epsilon, delta };
  return { epsilon: chargedEpsilon(cost, defaultDelta), delta: cost && cost.delta > 0 ? cost.delta : defaultDelta };
}

/**
 * The DP guarantee of a registry-kind release (glm, survival-cox, …), stated in its privacy block as the built-in
 * kinds state theirs (issue 15 point 7): the unit protected, k, maxSitesPerPerson, the mechanism, (ε, δ) and ρ, the
 * tolerated colluders in distributed-dp and what the coordinator sees. From public parameters only; none in mode none.
 * @param released the kind's own privacy block (its `maxRowsPerPerson`, when the kind bounds rows per person, and
 *   its `mechanism`, when it states one)
 */
export function kindGuarantee(job: CompiledKindJob, released: Record<string, unknown>, agentsAsked: number, defaultDelta: number): DpGuarantee | undefined {
  const { mode } = job.privacy;
  if (mode === 'none') return undefined;
  const cost = privacyModeOf(job).cost(job);
  if (!cost) return undefined;
  const k = typeof released.maxRowsPerPerson === 'number' ? released.maxRowsPerPerson : 1;
  return describeGuarantee({
    mode,
    ...(job.secure === 'secagg' || job.secure === 'he' ? { secure: job.secure } : {}),
    maxRowsPerPerson: k,
    maxSitesPerPerson: job.privacy.maxSitesPerPerson ?? 1,
    ...linkageGuarantee(job.spec),
    // A kind that states its own mechanism (train: which blocks of which rounds carry noise) is quoted as it is.
    mechanism: typeof released.mechanism === 'string' ? released.mechanism : `discrete Gaussian on every statistic block of every round (zCDP; the job's ρ covers all of its ${job.maxRounds} rounds)`,
    spent: { ...statedSpend(job, cost, defaultDelta), rho: cost.rho },
    ...(mode === 'distributed-dp' ? { agents: agentsAsked, tolerated: toleratedAgents(job, agentsAsked) } : {}),
  });
}
