/**
 * A domain's published job policy (which kinds and privacy modes it accepts), one pure check shared by the agent
 * (before computing) and the coordinator (at admission, on the copy the agent registered), so a refusal decided
 * from public information never costs the researcher budget.
 */
import { FedmeshError } from '../errors.js';

export interface DomainJobPolicy {
  readonly allowModes: readonly string[];
  readonly allowKinds: readonly string[];
}

/** @throws FedmeshError POLICY_DENIED naming the field (`kind` or `privacy.mode`) */
export function enforceDomainPolicy(policy: DomainJobPolicy, kind: string, mode: string): void {
  if (!policy.allowKinds.includes(kind)) throw new FedmeshError('POLICY_DENIED', `kind: this domain does not accept ${kind} jobs (allowed: ${policy.allowKinds.join(', ') || 'none'})`, { field: 'kind' });
  if (!policy.allowModes.includes(mode)) {
    throw new FedmeshError('POLICY_DENIED', `privacy mode ${mode} is not allowed by this domain (allowed: ${policy.allowModes.join(', ')})`, { field: 'privacy.mode' });
  }
}
