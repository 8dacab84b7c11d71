/**
 * The domain's access-policy gate, one function for every task path (today's task handler and the generic task
 * runner alike): `authorize(request)` decides from the verified identity, the job and the product manifest, before
 * the ledger is charged or any data is read. Without a policy file it allows everything, so the domain's existing
 * rules (allowed modes and kinds, product manifest, minimum cell size) stay exactly as they were; with one, the
 * Cedar policy is checked on top of them.
 */
import { FedmeshError } from '../../common/errors.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import type { JobSpec } from '../../common/job/index.js';
import { manifestProductOf } from '../../common/job/index.js';
import type { AccessPolicy, AccessProduct } from '../../common/policy/index.js';

/** The public parameters a decision reads: a typed job spec, or a registry kind's compiled job via {@link kindGateJob}. */
export type GateJob = Pick<JobSpec, 'kind' | 'privacy' | 'secure' | 'purpose' | 'project'>;

export interface AuthorizationRequest {
  /** The identity the coordinator signed for this task (absent for tasks handed in-process). */
  identity: IdentityAssertionClaims | undefined;
  /** The researcher the task names (the assertion names the same when present). */
  researcher: string;
  job: JobSpec | GateJob;
  /** The product the decision is about. @default the product that gates a typed spec (`manifestProductOf`) */
  product?: string;
}

/**
 * A registry kind's compiled job (glm, survival-cox) as the gate sees it: its kind, product and privacy, and the
 * purpose and project the coordinator signed (the kinds' specs carry none of their own; the default purpose then).
 */
export function kindGateJob(job: { kind: string; product: string; privacy: { mode: string; epsilon?: number; delta?: number; rho?: number } }, identity: IdentityAssertionClaims | undefined): { job: GateJob; product: string } {
  const privacy = { mode: job.privacy.mode, ...(job.privacy.epsilon !== undefined ? { epsilon: job.privacy.epsilon } : {}), ...(job.privacy.delta !== undefined ? { delta: job.privacy.delta } : {}), ...(job.privacy.rho !== undefined ? { rho: job.privacy.rho } : {}) } as GateJob['privacy'];
  return { job: { kind: job.kind as GateJob['kind'], privacy, ...(identity ? { purpose: identity.purpose } : {}), ...(identity?.project ? { project: identity.project } : {}) }, product: job.product };
}

export type AuthorizationResult = { allow: true; policyIds: string[] } | { deny: true; policyIds: string[]; reason: string };

/** What a refusal hook receives (an audit trail connects here): ids and public parameters only, never data. */
export interface PolicyDecisionEvent {
  researcher: string;
  kind: string;
  product: string;
  purpose: string | undefined;
  privacyMode: string;
  decision: 'allow' | 'deny';
  policyIds: string[];
  reason?: string;
}

export interface AgentGateOptions {
  policy: AccessPolicy | undefined;
  agent: string;
  domain: string;
  minCellSize: number;
  /** The published tags and sensitivity of a product (from the manifest), or undefined when it has no description. */
  product: (name: string) => Pick<AccessProduct, 'tags' | 'sensitivity'> | undefined;
  /** Told of every decision made by a policy (not when there is none). @default refusals logged as `policy-refused` */
  onDecision?: ((e: PolicyDecisionEvent) => void) | undefined;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface AgentGate {
  /** Whether a domain access policy decides (otherwise every request is allowed by this gate). */
  readonly decides: boolean;
  authorize(request: AuthorizationRequest): AuthorizationResult;
  /** {@link authorize}, throwing the refusal. @throws FedmeshError POLICY_DENIED naming the policy that denied */
  enforce(request: AuthorizationRequest): void;
}

export function createAgentGate(o: AgentGateOptions): AgentGate {
  const onDecision = o.onDecision ?? ((e: PolicyDecisionEvent) => (e.decision === 'deny' ? o.log?.('policy-refused', { ...e }) : undefined));
  const authorize = (r: AuthorizationRequest): AuthorizationResult => {
    if (!o.policy) return { allow: true, policyIds: [] };
    const name = r.product ?? manifestProductOf(r.job as JobSpec);
    const published = o.product(name);
    const principal = r.identity
      ? { name: r.identity.researcher, authenticatedBy: r.identity.authenticatedBy, attributes: r.identity.attributes }
      : { name: r.researcher, authenticatedBy: 'unverified' };
    const d = o.policy.decide({
      principal,
      job: r.job,
      product: { name, domain: o.domain, tags: published?.tags ?? [], sensitivity: published?.sensitivity ?? 'sensitive' },
      minCellSize: o.minCellSize,
      agent: o.agent,
    });
    const result: AuthorizationResult = d.allow ? { allow: true, policyIds: d.policyIds } : { deny: true, policyIds: d.policyIds, reason: d.reason };
    onDecision({
      researcher: principal.name, kind: r.job.kind, product: name, purpose: r.job.purpose, privacyMode: r.job.privacy.mode,
      decision: d.allow ? 'allow' : 'deny', policyIds: d.policyIds, ...(d.allow ? {} : { reason: d.reason }),
    });
    return result;
  };
  return {
    decides: o.policy !== undefined,
    authorize,
    enforce(r) {
      const d = authorize(r);
      if ('deny' in d) {
        throw new FedmeshError('POLICY_DENIED', `the domain policy of ${o.agent} refuses this job: ${d.reason}`, { field: 'policy', details: { policyIds: d.policyIds } });
      }
    },
  };
}
