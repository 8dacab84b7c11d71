import { describe, expect, it } from 'vitest';
import { planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { aggregateReplyMismatch, type ReplyingAgent } from './reply-check.js';

const agent: ReplyingAgent = {
  products: [{ name: 'person', privacyUnit: 'person_id' }],
  policy: { minCellSize: 10 },
};

describe('the coordinator releases data-dependent groups only from agents that selected them', () => {
  const job = parseJobSpec({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }) as AggregateJob;
  const plan = planAggregatePrivacy(job, () => 'BIGINT');
  const bounded = { contributionBounded: true, maxRowsPerPerson: 1 };

  it('an agent that sent its groups without DP partition selection is refused (an older agent, or a lying one)', () => {
    expect(aggregateReplyMismatch(job, plan, agent, bounded)).toMatch(/partitionSelection "none", but the plan selects the groups at each agent/);
    expect(aggregateReplyMismatch(job, plan, agent, { ...bounded, partitionSelection: 'agent' })).toBeUndefined();
  });

  it('with public group keys no selection is expected', () => {
    const keyed = parseJobSpec({ ...job, groupKeys: { gender_concept_id: [8507, 8532] } }) as AggregateJob;
    expect(aggregateReplyMismatch(keyed, planAggregatePrivacy(keyed, () => 'BIGINT'), agent, bounded)).toBeUndefined();
  });
});
