/**
 * Contribution bounding across sites with a privacy-preserving linkage key (issue 15 point 4).
 *
 * Sites that share a linkage key column — an HMAC of a national id under a secret the sites share and the
 * coordinator never holds — can bound a person's contribution across the whole mesh to k rows, instead of
 * k × maxSitesPerPerson under the group-privacy assumption. The protocol ("designated site by hash partition"):
 *
 * 1. At admission the coordinator fixes the job's public site list (the agents it asks, sorted) and a fresh random
 *    salt, and stores both in the job spec every agent receives (bound to the job id by the agents' spec hash).
 * 2. Every site maps each of its rows' linkage keys to ONE site of that list by a job-salted hash of the key. It
 *    computes this for its own persons only, needs nothing from any other site and sends nothing about it.
 * 3. A site counts only the persons mapped to itself (at most k rows each, chosen by its keyed row hash as usual).
 *    A person at any set of sites is therefore counted at one site at most: the mesh-wide contribution is ≤ k rows,
 *    whatever the number of sites they attend, so sensitivity is that of maxSitesPerPerson = 1.
 * 4. Rows whose linkage key is NULL are left out: a NULL links to nobody, so its person could also be counted at
 *    another site (under a key, or as another NULL) and the bound would not hold for them.
 *
 * No site learns which other sites a person attended (nothing is exchanged), and the coordinator sees no key, hash
 * or assignment — only the usual bounded aggregates. The cost is utility: a person is counted only when the site the
 * hash picks is one they attended, i.e. with probability |S|/n for a person at |S| of the job's n sites (1/n for a
 * person at one site). The released statistics are therefore those of a hash sample of the persons, not totals;
 * that is what the result states. The alternatives and why they were not chosen are in the README's threat model.
 *
 * The bucketing hash is md5(salt ‖ key) compared as an 8-hex-digit prefix against public boundaries: md5 is used
 * here as a uniform, portable bucketing function that DuckDB and PostgreSQL both have built in (its collision
 * weakness is irrelevant: the bound holds for ANY deterministic function of the key, since every site computes the
 * same one), not as a security primitive; the secret is in the linkage key itself.
 */
import { invalidJob, quote } from '../errors.js';

/** What a linkage-bounded job carries in `privacy.linkage` (filled in by the coordinator at admission). */
export interface LinkageSpec {
  /** The job's sites (agent names), sorted, no duplicates: the partition persons are mapped onto. */
  sites: string[];
  /** Public per-job salt of the bucketing hash (hex), so a person's designated site changes from job to job. */
  salt: string;
}

/** More sites than this in one linkage-bounded job are refused (the list travels in every task). */
export const MAX_LINKAGE_SITES = 1000;
const SALT = /^[0-9a-f]{16,64}$/;
const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,255}$/;

/** Hex digits of the bucketing hash compared against the boundaries (32 bits: 2^32 buckets, ≥ 4 M per site). */
export const LINKAGE_HASH_HEX_DIGITS = 8;

/** The unit a linkage-bounded result protects, stated in its privacy block. */
export const LINKAGE_UNIT =
  'a person across sites: at most k rows in total across the mesh, bound via the linkage key (each person is counted at ONE site, chosen by a job-salted hash of their linkage key; rows without a linkage key are left out)';

/** The result note of a linkage-bounded job: what the numbers are, and the utility cost. */
export function linkageNote(sites: number): string {
  return (
    `unit: person across sites, bound k via linkage key: each person's rows are counted only at the one of the job's ${sites} site(s) that a job-salted hash of their linkage key designates, ` +
    `so a person at s of these sites is counted with probability s/${sites} (1/${sites} at one site) and never twice; the statistics describe that hash sample of the persons, not mesh totals. ` +
    'Rows whose linkage key is NULL are not counted (each NULL is a distinct, unlinkable person who could not be bounded across sites)'
  );
}

/**
 * Parses `privacy.linkage` of a job spec. A researcher writes `{}` (or `true`); the coordinator replaces it with the
 * site list and salt before storing the job, and agents parse the filled-in form.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function parseLinkage(v: unknown, field = 'privacy.linkage'): Partial<LinkageSpec> {
  if (v === true) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidJob(field, 'must be {} (the coordinator fills in the sites and salt) or true');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'sites' && k !== 'salt') throw invalidJob(`${field}.${k.slice(0, 40)}`, 'unknown field; expected sites, salt');
  if (o.sites === undefined && o.salt === undefined) return {};
  const sites = o.sites;
  if (!Array.isArray(sites) || sites.length < 1 || sites.length > MAX_LINKAGE_SITES) throw invalidJob(`${field}.sites`, `must be a list of 1 to ${MAX_LINKAGE_SITES} agent names`);
  sites.forEach((s, i) => {
    if (typeof s !== 'string' || !SITE_NAME.test(s)) throw invalidJob(`${field}.sites[${i}]`, `must be an agent name, got ${quote(s)}`);
    // Sorted and distinct: every agent derives the same partition, and no two indexes share a name.
    if (i > 0 && !((sites[i - 1] as string) < s)) throw invalidJob(`${field}.sites[${i}]`, 'sites must be sorted and distinct');
  });
  if (typeof o.salt !== 'string' || !SALT.test(o.salt)) throw invalidJob(`${field}.salt`, 'must be 16 to 64 lower-case hex digits');
  return { sites: [...(sites as string[])], salt: o.salt };
}

/** Whether a parsed `privacy.linkage` has been filled in by the coordinator. */
export function isFilledLinkage(l: Partial<LinkageSpec> | undefined): l is LinkageSpec {
  return l !== undefined && Array.isArray(l.sites) && typeof l.salt === 'string';
}

/**
 * The bucket range of site `index` of `n`: a key belongs to it when the first LINKAGE_HASH_HEX_DIGITS hex digits of
 * its hash are ≥ `lo` and (unless `hi` is undefined, for the last site) < `hi`. Lower-case hex strings of equal
 * length compare like the numbers they write, so the test is a plain string comparison in any SQL dialect.
 * The ranges of 0..n−1 partition all 2^32 prefixes: every key belongs to exactly one site.
 * @throws RangeError for an index outside 0..n−1
 */
export function linkageBucket(index: number, n: number): { lo: string; hi: string | undefined } {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LINKAGE_SITES) throw new RangeError(`n must be an integer between 1 and ${MAX_LINKAGE_SITES}`);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`index must be an integer between 0 and ${n - 1}`);
  const total = 2 ** (4 * LINKAGE_HASH_HEX_DIGITS);
  const edge = (i: number): string => Math.floor((i * total) / n).toString(16).padStart(LINKAGE_HASH_HEX_DIGITS, '0');
  return { lo: edge(index), hi: index === n - 1 ? undefined : edge(index + 1) };
}

/** The guarantee input of a linkage-bounded job's result (empty for other jobs); `spec` may be any kind's spec. */
export function linkageGuarantee(spec: unknown): { linkageSites?: number } {
  const linkage = typeof spec === 'object' && spec !== null ? (spec as { privacy?: { linkage?: unknown } }).privacy?.linkage : undefined;
  return isFilledLinkage(linkage as Partial<LinkageSpec> | undefined) ? { linkageSites: (linkage as LinkageSpec).sites.length } : {};
}
