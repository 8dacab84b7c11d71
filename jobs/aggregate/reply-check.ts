import { FedmeshError, quote } from '../../common/errors.js';
import type { AggregatePrivacyPlan, AggregateJob } from '../../common/job/index.js';
import type { ReplyingAgent } from '../../common/kinds/index.js';

export type { ReplyingAgent } from '../../common/kinds/index.js';

/**
 * What an agent says it did must be what the job's plan assumed, or the result is not released: noise calibrated to
 * "each person contributes at most k rows" protects nobody if the agent did not bound contributions, and a mode
 * `none` release is only as safe as the cell size the agent applied. The agent's report (`meta`) is checked here
 * for every answering agent; a mismatch fails the job naming the agent.
 * @returns undefined when the report matches, else the reason
 */
export function aggregateReplyMismatch(job: AggregateJob, plan: AggregatePrivacyPlan, agent: ReplyingAgent, meta: Readonly<Record<string, unknown>>): string | undefined {
  if (job.privacy.mode === 'none') {
    const product = agent.products.find((p) => p.name === job.product);
    const expected = product?.privacyUnit ? 'persons' : 'rows';
    if (meta.cellSize !== expected) return `it applied the minimum cell size to ${quote(meta.cellSize ?? 'an unreported unit')}, not to ${expected}`;
    if (meta.minCellSize !== agent.policy.minCellSize) return `it reported minimum cell size ${quote(meta.minCellSize)}, not the ${agent.policy.minCellSize} it registered`;
    return undefined;
  }
  return dpReplyMismatch(plan, meta);
}

/**
 * The DP modes' part of the check, which needs nothing of the agent: the contribution bound and the partition
 * selection the plan assumes. The seam's aggregate (index.ts, `replyMismatch`) checks each plain reply with it.
 */
export function dpReplyMismatch(plan: AggregatePrivacyPlan, meta: Readonly<Record<string, unknown>>): string | undefined {
  if (meta.contributionBounded !== true) return `it reported contributionBounded ${quote(meta.contributionBounded)}, but the plan bounds each person's contribution`;
  if (meta.maxRowsPerPerson !== plan.maxRowsPerPerson) return `it reported maxRowsPerPerson ${quote(meta.maxRowsPerPerson)}, but the plan assumes ${plan.maxRowsPerPerson}`;
  // Without public keys the groups an agent sends must be those its DP partition selection chose.
  if (plan.dp?.selection && meta.partitionSelection !== 'agent') return `it reported partitionSelection ${quote(meta.partitionSelection ?? 'none')}, but the plan selects the groups at each agent`;
  return undefined;
}

/** @throws FedmeshError FAILED_PRECONDITION naming the agent, with the answered/missing details a failed job keeps */
export function refuseMismatch(agent: string, reason: string, details: { answered: string[]; missing: string[] }): FedmeshError {
  return new FedmeshError('FAILED_PRECONDITION', `result not released: agent ${agent} did not compute what the plan assumed (${reason})`, { details });
}
