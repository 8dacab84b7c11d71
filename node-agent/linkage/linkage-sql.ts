import { FedmeshError } from '../../common/errors.js';
import { isFilledLinkage, linkageBucket, LINKAGE_HASH_HEX_DIGITS, type LinkageSpec } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { duckdbDialect, type SqlDialect } from '../sql/index.js';

/** The SQL pieces a linkage-bounded job adds to the contribution bounding of an aggregate query. */
export interface LinkageBoundingSql {
  /** Row filters: the linkage key is present and its job-salted hash designates this site. */
  where: string[];
  /** The linkage key column (quoted): the person across sites, one of the columns the row ranking hashes. */
  personKey: string;
  /** What rows are bounded by (k rows per value): the key's text, compared by its bytes whatever the collation. */
  partitionKey: string;
}

/**
 * The contribution-bounding SQL of a linkage-bounded job at this site (protocol in common/job/linkage.ts): keep only
 * rows whose linkage key is not NULL and whose key's job-salted hash falls in this site's bucket of the job's public
 * site list, and bound rows per linkage key (so two local records of one person share their k). Plain string
 * functions only (md5, substr, ||, comparison) in dialect `d`; the key and its hash compare by their bytes
 * (`binaryOrder`), so a server's collation (numeric ordering of digit runs, case-insensitive keys) designates the
 * same site for a key as DuckDB does; every value is a bound parameter through `param`. Returns undefined for a job
 * without linkage.
 * @throws FedmeshError FAILED_PRECONDITION naming the field when the job cannot be linkage-bounded here (no site
 *   list, no declared linkage key, this agent not among the job's sites) — decided from public information only
 */
export function linkageBoundingSql(
  linkage: Partial<LinkageSpec> | undefined,
  product: ProductInfo,
  param: (v: string | number | boolean, castTo?: string) => string,
  d: SqlDialect = duckdbDialect,
): LinkageBoundingSql | undefined {
  if (linkage === undefined) return undefined;
  if (!isFilledLinkage(linkage)) throw new FedmeshError('FAILED_PRECONDITION', 'privacy.linkage: the job reached this agent without its site list and salt (the coordinator fills them in at admission)', { field: 'privacy.linkage' });
  if (!product.linkage) throw new FedmeshError('FAILED_PRECONDITION', `privacy.linkage: product ${product.name} declares no linkageKey at this agent (fedmesh.products.json)`, { field: 'privacy.linkage' });
  const index = linkage.sites.indexOf(product.linkage.site);
  if (index < 0) throw new FedmeshError('FAILED_PRECONDITION', `privacy.linkage.sites: this agent (${product.linkage.site}) is not one of the job's sites`, { field: 'privacy.linkage.sites' });
  const key = d.quoteIdent(product.linkage.column);
  const text = d.binaryOrder(d.cast(key, 'VARCHAR'));
  const { lo, hi } = linkageBucket(index, linkage.sites.length);
  const hash = d.binaryOrder(`left(${d.md5Hex(d.concat([param(linkage.salt, 'VARCHAR'), text]))}, ${LINKAGE_HASH_HEX_DIGITS})`);
  const where = [`${key} IS NOT NULL`, `${hash} >= ${param(lo, 'VARCHAR')}`];
  if (hi !== undefined) where.push(`${hash} < ${param(hi, 'VARCHAR')}`);
  return { where, personKey: key, partitionKey: text };
}
