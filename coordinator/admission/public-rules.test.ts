import { describe, expect, it } from 'vitest';
import type { ProductDescriptor } from '../../common/agent-protocol.js';
import { parseJobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { applyPublicRules, publicRefusal } from './public-rules.js';

/**
 * The coordinator applies each agent's published policy and product manifest at admission (issue 15 items 2, 5).
 * Negative control: with `publicRefusal` returning undefined (the old behaviour) every refusal case below fails.
 */
const ALL_KINDS = ['aggregate', 'cohort', 'characterize', 'survival', 'contingency'];
const product = (name: string, metadata: Record<string, unknown>, privacyUnit = 'person_id'): ProductDescriptor => ({
  name,
  columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'bmi', type: 'DOUBLE' }],
  privacyUnit,
  description: '',
  metadata,
});
const view = (name: string, products: ProductDescriptor[], policy: Partial<AgentView['policy']> = {}): AgentView => ({
  name,
  domain: name,
  connected: true,
  connectedSinceMs: 0,
  lastHeartbeatMs: 0,
  products,
  version: '',
  policy: { minCellSize: 5, allowModes: ['none', 'central-dp'], allowKinds: ALL_KINDS, ...policy },
});
const open = { allowedJobKinds: ['aggregate', 'cohort', 'characterization', 'survival', 'contingency'], sensitivity: 'sensitive' };
const spec = (extra: Record<string, unknown> = {}) => parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 }, ...extra });
const gi = { name: 'GI', entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671 }] } } };

describe('public rules at admission', () => {
  it('an agent policy refusing the kind or the mode, with the code and field the agent would use', () => {
    expect(publicRefusal(spec(), view('a', [product('person', open)], { allowModes: ['none'] }))).toMatchObject({ code: 'POLICY_DENIED', field: 'privacy.mode' });
    expect(publicRefusal(spec(), view('a', [product('person', open)], { allowKinds: ['cohort'] }))).toMatchObject({ code: 'POLICY_DENIED', field: 'kind' });
    expect(publicRefusal(spec(), view('a', [product('person', open)]))).toBeUndefined();
  });

  it('the manifest of the product: kinds (catalog names), modes and declared bounds', () => {
    const a = view('a', [product('person', { ...open, allowedJobKinds: ['cohort'], allowedPrivacyModes: ['none'], bounds: { bmi: [10, 60] } })]);
    expect(publicRefusal(spec(), a)).toMatchObject({ code: 'POLICY_DENIED', field: 'kind' });
    const b = view('b', [product('person', { ...open, allowedPrivacyModes: ['none'] })]);
    expect(publicRefusal(spec(), b)).toMatchObject({ code: 'POLICY_DENIED', field: 'privacy.mode' });
    const c = view('c', [product('person', { ...open, bounds: { bmi: [10, 60] } })]);
    expect(publicRefusal(spec({ measures: [{ fn: 'mean', column: 'bmi', bounds: [0, 100] }] }), c)).toMatchObject({ code: 'INVALID_JOB', field: 'measures[0].bounds' });
    expect(publicRefusal(spec({ measures: [{ fn: 'mean', column: 'bmi', bounds: [10, 60] }] }), c)).toBeUndefined();
  });

  it('cohort-level kinds are gated on product person: characterize needs `characterization` and unit person_id', () => {
    const job = parseJobSpec({ kind: 'characterize', definition: gi, conditionConcepts: [1], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    expect(publicRefusal(job, view('a', [product('person', { ...open, allowedJobKinds: ['aggregate'] })]))).toMatchObject({ code: 'POLICY_DENIED', field: 'kind' });
    expect(publicRefusal(job, view('a', [product('person', open, 'pid')]))).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'kind' });
    expect(publicRefusal(job, view('a', [product('person', open)]))).toBeUndefined();
  });

  it('malformed published metadata is left unchecked here (the agent still enforces its own copy), never crashes', () => {
    const hostile = view('h', [product('person', { allowedJobKinds: 'aggregate', allowedPrivacyModes: [1, 2], bounds: { bmi: 'wide', x: [1] }, semanticTypes: null })]);
    expect(publicRefusal(spec({ measures: [{ fn: 'mean', column: 'bmi', bounds: [0, 100] }] }), hostile)).toBeUndefined();
  });

  it('default quorum: one refusing agent refuses the job naming it; explicit quorum: excluded and reported; too few left: FAILED_PRECONDITION', () => {
    const agents = [view('a1', [product('person', open)]), view('a2', [product('person', open)], { allowModes: ['none'] })];
    expect(() => applyPublicRules(spec(), agents)).toThrow(/privacy\.mode: by default every agent serving the job must answer, and by its published rules agent a2 would refuse it — a2: privacy mode central-dp is not allowed by this domain \(allowed: none\)\. Nothing was charged/);
    const ok = applyPublicRules(spec({ quorum: 1 }), agents);
    expect(ok.agents.map((a) => a.name)).toEqual(['a1']);
    expect(ok.excluded).toEqual([{ agent: 'a2', reason: expect.stringMatching(/^POLICY_DENIED: privacy mode central-dp is not allowed/) }]);
    expect(() => applyPublicRules(spec({ quorum: 2 }), agents)).toThrow(/quorum: 2 agents required but only 1 allow this job by their published rules — a2:/);
    expect(applyPublicRules(spec({ privacy: { mode: 'none' } }), agents)).toEqual({ agents, excluded: [] });
  });
});
