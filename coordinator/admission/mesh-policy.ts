/**
 * The mesh-wide access policy (`fedmesh coordinator --policy FILE.cedar`), pre-checked at submission before anything
 * is stored or charged: the researcher (with attributes), the job and each asked agent's copy of the product (its
 * domain and published tags). A deny at any asked agent refuses the job, naming the agent and the policy.
 */
import { FedmeshError } from '../../common/errors.js';
import { manifestProductOf } from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
import type { AccessPolicy } from '../../common/policy/index.js';
import type { KindJobCommon } from '../../common/kinds/index.js';
import type { AgentView } from '../agent-registry.js';
import type { Principal } from '../principal.js';

const tagsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string').slice(0, 32) : []);

/** @throws FedmeshError POLICY_DENIED naming the policy (and agent) that denied; nothing has been charged */
export function checkMeshPolicy(policy: AccessPolicy | undefined, caller: Principal, spec: JobSpec, agents: readonly AgentView[]): void {
  decideAtAgents(policy, caller, spec, manifestProductOf(spec), agents);
}

/**
 * {@link checkMeshPolicy} for a registry kind's compiled job (glm, survival-cox): the action is its kind, the
 * resource its product; its spec states no purpose, so the default purpose (HRESCH) is decided on, the purpose its
 * tasks are signed with.
 * @throws FedmeshError POLICY_DENIED naming the policy (and agent) that denied; nothing has been charged
 */
export function checkKindMeshPolicy(policy: AccessPolicy | undefined, caller: Principal, job: KindJobCommon, agents: readonly AgentView[]): void {
  const privacy = { mode: job.privacy.mode, ...(job.privacy.epsilon !== undefined ? { epsilon: job.privacy.epsilon } : {}), ...(job.privacy.rho !== undefined ? { rho: job.privacy.rho } : {}) } as JobSpec['privacy'];
  // Purpose and project as the kind's spec states them (glm, survival-cox, train accept both; else the default purpose).
  const spec = (job as { spec?: { purpose?: unknown; project?: unknown } }).spec;
  const purpose = typeof spec?.purpose === 'string' ? { purpose: spec.purpose } : {};
  const project = typeof spec?.project === 'string' ? { project: spec.project } : {};
  decideAtAgents(policy, caller, { kind: job.kind as JobSpec['kind'], privacy, ...purpose, ...project }, job.product, agents);
}

function decideAtAgents(policy: AccessPolicy | undefined, caller: Principal, job: Pick<JobSpec, 'kind' | 'privacy' | 'secure' | 'purpose' | 'project'>, name: string, agents: readonly AgentView[]): void {
  if (!policy) return;
  // With no agent to ask, the policy still decides (on the product alone): an empty list must not skip the check.
  const asked: readonly AgentView[] = agents.length > 0 ? agents : [{ name: '', domain: '', products: [], policy: { minCellSize: 0, allowModes: [], allowKinds: [] } } as unknown as AgentView];
  for (const a of asked) {
    const product = a.products.find((p) => p.name === name);
    const d = policy.decide({
      principal: { name: caller.name, authenticatedBy: caller.authenticatedBy ?? 'certificate', ...(caller.attributes ? { attributes: caller.attributes } : {}) },
      job,
      product: { name, domain: a.domain, tags: tagsOf(product?.metadata['tags']), sensitivity: typeof product?.metadata['sensitivity'] === 'string' ? product.metadata['sensitivity'] : 'sensitive' },
      minCellSize: a.policy.minCellSize,
      agent: a.name,
    });
    if (!d.allow) throw new FedmeshError('POLICY_DENIED', `the mesh policy refuses this job${a.name ? ` at agent ${a.name}` : ''}: ${d.reason}. Nothing was charged`, { field: 'policy', details: { policyIds: d.policyIds, agent: a.name } });
  }
}
