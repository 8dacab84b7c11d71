/**
 * Linkage bounding for every job kind (issue 15 point 4), as a person scope in the agent's data scope: the same
 * place consent is applied (node-agent/policy/consent-context.ts). A task whose spec carries a filled-in
 * `privacy.linkage` (common/job/linkage.ts: the job's public site list and salt) reads every product through a view
 * that keeps only the local persons this site is designated for, so cohort, characterize, contingency, survival,
 * glm, Cox, train and aggregate all inherit the bound without knowing about it.
 *
 * Which local persons are kept, from the products that declare a linkage key (the manifest's `linkageKey`), decided
 * per population (common/job/population.ts: the products keyed by the same privacy units; `person` unless the
 * manifest declares another). Two populations number their units independently — a person registry and a device
 * registry both have a unit 17 — so a person is (population, local id), never the id text alone, and each product is
 * read with the keep rows of its own population (red-team F4):
 * - a person's key is the one non-NULL key their rows carry in the keyed products of their population; a person with
 *   no key, or with two different keys (inconsistent data), is left out — they cannot be bounded across sites; a
 *   population with no keyed product at this site keeps nobody (admission refuses such a job first, see
 *   coordinator/linkage/admit-linkage.ts; this is the fail-closed backstop);
 * - the key's job-salted hash must fall in this site's bucket of the job's site list (the partition every site
 *   derives alike), so a person is kept at ONE site of the mesh at most;
 * - two local persons of one population with the same key (a duplicate record at this site) keep only the first
 *   local id: otherwise the one person would contribute 2 × k here. The bound is per population, like the budget,
 *   so one key in two populations keeps one unit in each.
 * A person is therefore counted at one site, under one local id, and each kind's own per-person bound k holds across
 * the mesh: removing a person moves the mesh-wide sum by one site's worth, never maxSitesPerPerson × k.
 * Rows whose privacy unit is NULL are left out too (they belong to nobody the key links).
 *
 * Everything is decided from the task's public spec and this site's own data; nothing is sent, and a refusal
 * (FAILED_PRECONDITION) depends on public information only (the spec, the catalogue).
 *
 * Data on the site's PostgreSQL: the same keep table is built in the task's server session from the stored CDM tables
 * (`writeSourceLinkageKeep`), and the session's TEMP views (node-agent/policy/consent-source.ts) filter by it, so
 * every kind's server-side SQL reads the bounded data as it does on DuckDB. Ids and keys compare by their bytes
 * (the dialect's `binaryOrder`): a case-insensitive column collation must not merge two keys.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { isFilledLinkage, LINKAGE_HASH_HEX_DIGITS, linkageBucket, parseLinkage, type LinkageSpec, DEFAULT_POPULATION, isPopulationName } from '../../common/job/index.js';
import { quoteIdent } from '../data/database.js';
import { INTERNAL_PREFIX } from '../data/products.js';
import type { SqlSession } from '../data/source/source.js';
import { duckdbDialect, type SqlDialect } from '../sql/index.js';

/** The task connection's table of local persons the linkage scope keeps: (pop, person), the privacy-unit value as text. */
export const LINKAGE_KEEP_TABLE = `${INTERNAL_PREFIX}linkage_keep`;

/**
 * A product as the scope sees it: its privacy unit, its population and, when it declares one, its linkage key and
 * this site's name.
 */
export interface LinkageScopedProduct {
  name: string;
  privacyUnit: string | undefined;
  /** The product's population as its catalogue publishes it (absent or malformed: {@link DEFAULT_POPULATION}). */
  population?: string | undefined;
  linkage?: { column: string; site: string } | undefined;
}

/**
 * The population a product is scoped in: the coordinator's rule (common/job/population.ts `populationOf`), so the
 * agent keys persons exactly as admission checked them. The result is a population name (letters, digits, `_ . -`),
 * safe to inline as an SQL string literal.
 */
export function scopePopulation(p: { population?: string | undefined }): string {
  return isPopulationName(p.population) ? p.population : DEFAULT_POPULATION;
}

/**
 * The row filter a product's view applies under a linkage-bounded task: the row's privacy unit is kept for the
 * product's OWN population. `alias` is the product table's alias in the view's SQL.
 */
export function linkageKeepFilter(keepTable: string, alias: string, p: { privacyUnit: string; population?: string | undefined }, d: SqlDialect = duckdbDialect): string {
  return `${d.binaryOrder(d.cast(`${alias}.${d.quoteIdent(p.privacyUnit)}`, 'VARCHAR'))} IN (SELECT person FROM ${keepTable} WHERE pop = '${scopePopulation(p)}')`;
}

/**
 * The `privacy.linkage` of a task's spec JSON, or undefined when the job asks for none — or is an `aggregate` job:
 * its own SQL already bounds rows per linkage key at the designated site (node-agent/linkage/linkage-sql.ts), where two
 * local records of one person share their k instead of one being dropped as this scope does, so it keeps that path
 * (and its golden results). The value is returned raw (parsed inside the task, where a malformed one is refused).
 */
export function taskLinkage(specJson: string): unknown {
  try {
    const spec = JSON.parse(specJson) as { kind?: unknown; privacy?: { linkage?: unknown } } | null;
    if (spec?.kind === 'aggregate') return undefined;
    const privacy = spec?.privacy;
    return typeof privacy === 'object' && privacy !== null ? privacy.linkage : undefined;
  } catch {
    return undefined;
  }
}

const refuse = (message: string, field = 'privacy.linkage'): FedmeshError => new FedmeshError('FAILED_PRECONDITION', `${field}: ${message}`, { field });

/**
 * The filled-in linkage of a task, checked against this site's products (public information only).
 * @throws FedmeshError FAILED_PRECONDITION naming the field: not filled in by the coordinator, no product here
 *   declares a linkage key, or this agent is not one of the job's sites
 */
export function checkTaskLinkage(raw: unknown, products: readonly LinkageScopedProduct[]): { linkage: LinkageSpec; index: number } {
  let linkage: Partial<LinkageSpec>;
  try {
    linkage = parseLinkage(raw);
  } catch (e) {
    throw refuse(`the job's linkage is malformed (${e instanceof Error ? e.message.slice(0, 200) : 'unparsable'})`);
  }
  if (!isFilledLinkage(linkage)) throw refuse('the job reached this agent without its site list and salt (the coordinator fills them in at admission)');
  const keyed = products.filter((p) => p.privacyUnit && p.linkage);
  if (keyed.length === 0) throw refuse('no product at this agent declares a linkageKey (fedmesh.products.json), so its persons cannot be bounded across sites');
  const site = keyed[0]!.linkage!.site;
  const index = linkage.sites.indexOf(site);
  if (index < 0) throw refuse(`this agent (${site}) is not one of the job's sites`, 'privacy.linkage.sites');
  return { linkage, index };
}

/**
 * Writes the task connection's keep table: the local persons (population, privacy-unit value as text) this site is
 * designated for under the job's linkage (rules in the file comment). The hash is computed in SQL over this site's own keys; the
 * salt and bucket bounds are inlined as literals (CREATE TABLE AS takes no parameters) after checking they are hex.
 * @param db the database the stored tables are in (read schema-qualified, never through the task's views)
 * @returns the keep table's name, for the consent scope's views (consent-scope.ts) to filter by {@link linkageKeepFilter}
 */
/**
 * The query of the keep table (rules in the file comment) in dialect `d`, reading each keyed product's stored table
 * `stored(p)` (never the task's views). Ids and keys are text compared by their bytes on every engine, so a server
 * collation (case-insensitive, or ordering digits after letters) cannot merge two keys or pick another "least" id.
 * The salt and bucket bounds are inlined as literals after checking they are hex.
 */
export function linkageKeepQuery<P extends LinkageScopedProduct>(d: SqlDialect, raw: unknown, products: readonly P[], stored: (p: P) => string): string {
  const { linkage, index } = checkTaskLinkage(raw, products);
  const { lo, hi } = linkageBucket(index, linkage.sites.length);
  for (const v of [linkage.salt, lo, hi ?? '']) if (!/^[0-9a-f]*$/.test(v)) throw new RangeError('linkage salt and bucket bounds must be lower-case hex');
  const keyed = products.filter((p) => p.privacyUnit && p.linkage);
  const text = (x: string): string => d.binaryOrder(d.cast(x, 'VARCHAR'));
  const keys = keyed
    .map((p) => {
      const key = `t.${d.quoteIdent(p.linkage!.column)}`;
      const unit = `t.${d.quoteIdent(p.privacyUnit!)}`;
      return `SELECT '${scopePopulation(p)}' AS pop, ${text(unit)} AS person, ${text(key)} AS k FROM ${stored(p)} t WHERE ${key} IS NOT NULL AND ${unit} IS NOT NULL`;
    })
    .join(' UNION ');
  const hash = d.binaryOrder(`left(${d.md5Hex(d.concat([`'${linkage.salt}'`, 'k']))}, ${LINKAGE_HASH_HEX_DIGITS})`);
  const inBucket = `${hash} >= '${lo}'${hi !== undefined ? ` AND ${hash} < '${hi}'` : ''}`;
  // Per population: one key per person, one local id per key (the least): GROUP BYs, not a window (DuckDB 1.5's
  // top-N window rewrite failed on it).
  return `SELECT pop, min(person) AS person FROM (SELECT pop, person, min(k) AS k FROM (${keys}) AS keyed GROUP BY pop, person HAVING count(DISTINCT k) = 1) AS one_key WHERE ${inBucket} GROUP BY pop, k`;
}

/**
 * Writes the task connection's keep table: the local persons (population, privacy-unit value as text) this site is
 * designated for under the job's linkage (rules in the file comment).
 * @param db the database the stored tables are in (read schema-qualified, never through the task's views)
 * @returns the keep table's name, for the consent scope's views (consent-scope.ts) to filter by {@link linkageKeepFilter}
 */
export async function writeLinkageKeep(conn: DuckDBConnection, db: string, raw: unknown, products: readonly LinkageScopedProduct[]): Promise<string> {
  const query = linkageKeepQuery(duckdbDialect, raw, products, (p) => `${quoteIdent(db)}.main.${quoteIdent(p.name)}`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${LINKAGE_KEEP_TABLE} AS ${query}`);
  return LINKAGE_KEEP_TABLE;
}

/**
 * The same keep table in a session of the site's own database server (a TEMP table of the session, vanishing with
 * it), from the stored CDM tables of the catalogue's schema: a PostgreSQL agent bounds linkage as a DuckDB agent does.
 * @returns the keep table as statements refer to it, for {@link linkageKeepFilter}
 */
export async function writeSourceLinkageKeep(session: SqlSession, raw: unknown, products: readonly (LinkageScopedProduct & { schema: string })[]): Promise<string> {
  const d = session.dialect;
  const query = linkageKeepQuery(d, raw, products, (p) => `${d.quoteIdent(p.schema)}.${d.quoteIdent(p.name)}`);
  for (const stmt of d.createTempTableAs(LINKAGE_KEEP_TABLE, query)) await session.run(stmt);
  return d.tempTable(LINKAGE_KEEP_TABLE);
}
