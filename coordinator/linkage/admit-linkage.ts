import { randomBytes } from 'node:crypto';
import { FedmeshError } from '../../common/errors.js';
import { MAX_LINKAGE_SITES, type LinkageSpec, COHORT_LEVEL_TABLES, populationOf, namedProductOf, type JobSpec } from '../../common/job/index.js';
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
 * Which of `agents` cannot take part in a linkage-bounded job reading `products` there (public catalogue only).
 * Aggregate jobs bound rows per linkage key in their own SQL, so their product itself must declare the key; every
 * other kind is bounded by the agents' person scope (node-agent/linkage/linkage-scope.ts), which takes a person's
 * key from any product of the same population, so one product of each population the job reads must declare one.
 * @param products at each agent, the names of the products the job reads (undefined: the cohort-level OMOP tables)
 */
export function sitesWithoutLinkageKey(agents: readonly AgentView[], product: string | undefined, ownProduct: boolean): string[] {
  return agents
    .filter((a) => {
      if (ownProduct && product !== undefined) return publishedLinkageKey(a, product) === undefined;
      const read = a.products.filter((p) => (product !== undefined ? p.name === product : COHORT_LEVEL_TABLES.includes(p.name)));
      const populations = new Set(read.map((p) => populationOf(p)));
      const keyed = new Set(a.products.filter((p) => publishedLinkageKey(a, p.name) !== undefined).map((p) => populationOf(p)));
      return populations.size === 0 || [...populations].some((pop) => !keyed.has(pop));
    })
    .map((a) => a.name)
    .sort();
}

/** The refusal of a linkage-bounded job some asked sites cannot bound (INVALID_JOB → gRPC INVALID_ARGUMENT). */
function missingKeyError(missing: readonly string[], asked: number, what: string): FedmeshError {
  const why = missing.length === asked ? `no site declares a linkageKey for ${what}` : `${what} has no linkageKey at ${missing.length} of the ${asked} sites the job would ask: ${names(missing)}`;
  return new FedmeshError('INVALID_JOB', `privacy.linkage: ${why}; every site must declare one (fedmesh.products.json) for its persons to be bounded across sites — or leave those sites out with "agents", or drop privacy.linkage`, { field: 'privacy.linkage' });
}

/** The job's public partition: the asked agents' names in plain code-unit order (the order agents check), a fresh salt. */
function partition(agents: readonly AgentView[]): LinkageSpec {
  if (agents.length > MAX_LINKAGE_SITES) throw new FedmeshError('INVALID_JOB', `privacy.linkage: at most ${MAX_LINKAGE_SITES} sites`, { field: 'privacy.linkage' });
  return { sites: agents.map((a) => a.name).sort(), salt: randomBytes(16).toString('hex') };
}

/**
 * Admission of a linkage-bounded job of the built-in kinds (`privacy.linkage`, common/job/linkage.ts), from the
 * public catalogue only: every agent the job will ask must publish a linkage key (see sitesWithoutLinkageKey) — one
 * site without it would count its persons outside the partition and break the bound — and then the job's public
 * partition is fixed here: the asked agents' names, sorted, and a fresh random salt. Both travel in the stored spec
 * every agent plans from (and binds by hash to the job id), so all sites derive the same partition. The coordinator
 * never sees a key or a hash of one. Also drops any maxSitesPerPerson assumption the job carried (the linkage bound
 * replaces it). Mode none never gets here (the spec parser refuses linkage there: it bounds nothing).
 * @throws FedmeshError INVALID_JOB (INVALID_ARGUMENT) naming `privacy.linkage` and the sites without a linkage key
 */
export function admitLinkage(spec: JobSpec, agents: readonly AgentView[]): void {
  if (spec.privacy.linkage === undefined) return;
  const product = namedProductOf(spec);
  const missing = sitesWithoutLinkageKey(agents, product, spec.kind === 'aggregate');
  if (missing.length > 0) throw missingKeyError(missing, agents.length, product !== undefined ? `product ${product}` : 'the OMOP person tables');
  spec.privacy.linkage = partition(agents);
  delete spec.privacy.maxSitesPerPerson;
}

/**
 * The same for a registry kind (glm, survival-cox, train): the raw spec with `privacy.linkage` filled in for the
 * agents admission chose, and no sites-per-person assumption, to be compiled again (the agents compile and hash
 * that spec). Unchanged when the job asks for no linkage.
 * @throws FedmeshError INVALID_JOB (INVALID_ARGUMENT) naming `privacy.linkage` and the sites without a linkage key
 */
export function fillKindLinkage(raw: unknown, product: string, agents: readonly AgentView[]): unknown {
  const privacy = typeof raw === 'object' && raw !== null ? (raw as { privacy?: unknown }).privacy : undefined;
  if (typeof privacy !== 'object' || privacy === null || (privacy as { linkage?: unknown }).linkage === undefined) return raw;
  const missing = sitesWithoutLinkageKey(agents, product, false);
  if (missing.length > 0) throw missingKeyError(missing, agents.length, `product ${product}`);
  const { maxSitesPerPerson: _m, ...rest } = privacy as Record<string, unknown>;
  return { ...(raw as object), privacy: { ...rest, linkage: partition(agents) } };
}

/** Whether a raw spec asks for linkage bounding (the mesh's sites-per-person assumption is then not applied). */
export function asksLinkage(raw: unknown): boolean {
  const privacy = typeof raw === 'object' && raw !== null ? (raw as { privacy?: unknown }).privacy : undefined;
  return typeof privacy === 'object' && privacy !== null && (privacy as { linkage?: unknown }).linkage !== undefined;
}

