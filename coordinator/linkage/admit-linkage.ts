import { randomBytes } from 'node:crypto';
import { FedmeshError } from '../../common/errors.js';
import { isFilledLinkage, MAX_LINKAGE_SITES } from '../../common/job/linkage.js';
import type { JobSpec } from '../../common/job/spec.js';
import type { AgentView } from '../agent-registry.js';

/** Longest list of site names quoted in a refusal (the rest are counted). */
const MAX_NAMED_SITES = 20;

function names(list: readonly string[]): string {
  const shown = list.slice(0, MAX_NAMED_SITES).join(', ');
  return list.length > MAX_NAMED_SITES ? `${shown} and ${list.length - MAX_NAMED_SITES} more` : shown;
}

/** The linkage-key column an agent's catalogue publishes for a product (public metadata, never data). */
export function publishedLinkageKey(agent: AgentView, product: string): string | undefined {
  const key = agent.products.find((p) => p.name === product)?.metadata['linkageKey'];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

/**
 * Admission of a linkage-bounded job (`privacy.linkage`, common/job/linkage.ts), from the public catalogue only:
 * every agent the job will ask must publish a linkage key for the product — one site without it would count its
 * persons outside the partition and break the bound — and then the job's public partition is fixed here: the asked
 * agents' names, sorted, and a fresh random salt. Both travel in the stored spec every agent plans from (and binds
 * by hash to the job id), so all sites derive the same partition. The coordinator never sees a key or a hash of one.
 * Also drops any maxSitesPerPerson assumption the job carried (the linkage bound replaces it).
 * @throws FedmeshError INVALID_JOB (INVALID_ARGUMENT) naming `privacy.linkage` and the sites without a linkage key
 */
export function admitLinkage(spec: JobSpec, agents: readonly AgentView[]): void {
  if (spec.privacy.linkage === undefined) return;
  if (spec.kind !== 'aggregate') throw new FedmeshError('INVALID_JOB', 'privacy.linkage: applies to aggregate jobs only', { field: 'privacy.linkage' });
  const product = spec.product;
  const missing = agents.filter((a) => publishedLinkageKey(a, product) === undefined).map((a) => a.name).sort();
  if (missing.length > 0) {
    const declared = agents.length - missing.length;
    const why = declared === 0 ? `no site declares a linkageKey for product ${product}` : `product ${product} has no linkageKey at ${missing.length} of the ${agents.length} sites the job would ask: ${names(missing)}`;
    throw new FedmeshError('INVALID_JOB', `privacy.linkage: ${why}; every site must declare one (fedmesh.products.json) for its persons to be bounded across sites — or leave those sites out with "agents", or drop privacy.linkage`, { field: 'privacy.linkage' });
  }
  if (agents.length > MAX_LINKAGE_SITES) throw new FedmeshError('INVALID_JOB', `privacy.linkage: at most ${MAX_LINKAGE_SITES} sites`, { field: 'privacy.linkage' });
  // Plain code-unit order, the order the agents' parser checks.
  const sites = agents.map((a) => a.name).sort();
  spec.privacy.linkage = { sites, salt: randomBytes(16).toString('hex') };
  delete spec.privacy.maxSitesPerPerson;
}

/** The guarantee input of a linkage-bounded job's result (empty for other jobs). */
export function linkageGuarantee(spec: JobSpec): { linkageSites?: number } {
  return isFilledLinkage(spec.privacy.linkage) ? { linkageSites: spec.privacy.linkage.sites.length } : {};
}
