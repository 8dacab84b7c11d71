import { keyId, type GroupPartial } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError } from '../../common/errors.js';
import { MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import type { AggregatePrivacyPlan } from '../../common/job/index.js';

/**
 * central-dp without public group keys: this agent's groups are data, so which of them leave is decided by DP
 * partition selection HERE, on this agent's distinct-person counts (the plan requires maxRowsPerPerson 1 and
 * maxSitesPerPerson 1, so a row is a person and a person is at one agent: the agents' selections compose in
 * parallel at the plan's selection cost). When more than MAX_GROUPS_PER_AGENT pass, the largest noisy counts are
 * kept — post-processing of the selection's output. Every run answers: no count of groups can refuse the job.
 * Only the chosen groups' exact statistics leave, for the coordinator to noise; the noisy counts stay here.
 */
export function selectGroupsAtAgent(groups: readonly GroupPartial[], plan: AggregatePrivacyPlan, rng: Rng): GroupPartial[] {
  const selection = plan.dp?.selection;
  if (!selection) throw new FedmeshError('INTERNAL', 'partition selection without a selection budget');
  const out = dp.selectPartitions({ partitions: groups.map((g, i) => ({ key: i, count: g.count })), maxPartitionsPerPerson: 1, budget: selection.budget, maxKept: MAX_GROUPS_PER_AGENT }, rng);
  // Keep the query's order among the chosen (the coordinator combines by key; the order carries nothing new).
  const chosen = new Set(out.kept.map((k) => k.key));
  const kept = groups.filter((_, i) => chosen.has(i));
  if (new Set(kept.map((g) => keyId(g.key))).size !== kept.length) throw new FedmeshError('INTERNAL', 'duplicate group keys from the query');
  return kept;
}
