/**
 * The consent scope on a data source other than the agent's DuckDB (a site's PostgreSQL): the same rule as
 * consent-scope.ts — the persons who opted out of the task's purpose go into a TEMP table of the task's session, and
 * every product with a privacy unit is shadowed by a TEMP view of the same name that leaves their rows out — written
 * through the session's dialect. PostgreSQL resolves an unqualified name in the session's temporary schema first
 * (pg_temp is implicitly searched before the search path), so every job kind's SQL reads the scoped data without
 * knowing it, exactly as DuckDB's temporary catalog does; the read-only role may create TEMP objects, and they vanish
 * with the session (the source discards them before a connection is reused).
 *
 * The views also leave out the rows whose privacy unit is NULL, as on DuckDB (consent-scope.ts `unitNotNull` says
 * why). A product whose unit the server declares NOT NULL (the OMOP DDL's `person_id`) has no such rows, so when
 * nobody opted out and the job is not linkage-bounded it is read as stored, with the server's own plans.
 */
import type { SqlSession } from '../data/source/source.js';
import { INTERNAL_PREFIX } from '../data/products.js';
import { linkageKeepFilter } from '../linkage/linkage-scope.js';
import { optedOutPersons, type PatientConsent } from './consent.js';
import { unitNotNull } from './consent-scope.js';

/** The opt-out table's name on the source (the same as in the agent's DuckDB). */
const OPTOUT = `${INTERNAL_PREFIX}consent_optout`;
/** Values per INSERT (each a bound parameter; PostgreSQL allows 65535 per statement). */
const BATCH = 1000;

export interface SourceScopedProduct {
  name: string;
  privacyUnit: string | undefined;
  /** The schema the stored table lives in (the view reads it schema-qualified, never itself). */
  schema: string;
  /** The product's population (common/job/population.ts): a linkage-bounded task keeps its rows by that population's keep rows. */
  population?: string | undefined;
  /** The server enforces NOT NULL on the privacy unit (CdmCatalogue `notNull`). @default false */
  unitNotNull?: boolean | undefined;
}

/**
 * Applies the consent scope of `purpose` at `atMs` to `session`, and a linkage-bounded task's keep table
 * (`keepTable`, node-agent/linkage/linkage-scope.ts `writeSourceLinkageKeep`): each view then also keeps only the
 * persons of its product's population that this site is designated for. Nobody opted out and no keep table: only the
 * products whose unit may be NULL get a view (the other stored tables are the scope).
 * @returns how many persons the scope leaves out (for the agent's own log, never sent)
 */
export async function applySourceConsentScope(session: SqlSession, o: { consents: readonly PatientConsent[]; purpose: string; atMs: number; products: readonly SourceScopedProduct[]; keepTable?: string }): Promise<number> {
  const out = [...optedOutPersons(o.consents, o.purpose, o.atMs)];
  const scoped = o.products.filter((p) => p.privacyUnit && (out.length > 0 || o.keepTable !== undefined || p.unitNotNull !== true));
  if (scoped.length === 0) return out.length;
  const d = session.dialect;
  const optout = d.tempTable(OPTOUT);
  if (out.length > 0) {
    await session.run(d.dropTempTable(OPTOUT));
    await session.run(`CREATE TEMP TABLE ${optout} (person ${d.typeName('VARCHAR')} PRIMARY KEY)`);
    for (let k = 0; k < out.length; k += BATCH) {
      const chunk = out.slice(k, k + BATCH);
      await session.run(`INSERT INTO ${optout} (person) VALUES ${chunk.map((_, j) => `(${d.placeholder(j + 1)})`).join(', ')}`, chunk);
    }
  }
  for (const p of scoped) {
    const unitColumn = p.privacyUnit!;
    const stored = `${d.quoteIdent(p.schema)}.${d.quoteIdent(p.name)}`;
    const where = [unitNotNull('t', unitColumn, (c) => d.quoteIdent(c))];
    // By bytes, as DuckDB compares: under a case-insensitive column collation opting out `p1` must not remove `P1`.
    // The server's own text of the unit (a NUMERIC 7 is '7', as consent records name it), compared by bytes.
    const unit = d.binaryOrder(d.cast(`t.${d.quoteIdent(unitColumn)}`, 'VARCHAR'));
    if (out.length > 0) where.push(`NOT EXISTS (SELECT 1 FROM ${optout} o WHERE o.person = ${unit})`);
    if (o.keepTable !== undefined) where.push(linkageKeepFilter(o.keepTable, 't', { privacyUnit: unitColumn, population: p.population }, d));
    await session.run(`CREATE TEMP VIEW ${d.quoteIdent(p.name)} AS SELECT t.* FROM ${stored} t WHERE ${where.join(' AND ')}`);
  }
  return out.length;
}
