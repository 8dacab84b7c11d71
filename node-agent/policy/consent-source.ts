/**
 * The consent scope on a data source other than the agent's DuckDB (a site's PostgreSQL): the same rule as
 * consent-scope.ts — the persons who opted out of the task's purpose go into a TEMP table of the task's session, and
 * every product with a privacy unit is shadowed by a TEMP view of the same name that leaves their rows out — written
 * through the session's dialect. PostgreSQL resolves an unqualified name in the session's temporary schema first
 * (pg_temp is implicitly searched before the search path), so every job kind's SQL reads the scoped data without
 * knowing it, exactly as DuckDB's temporary catalog does; the read-only role may create TEMP objects, and they vanish
 * with the session (the source discards them before a connection is reused).
 */
import type { SqlSession } from '../data/source/source.js';
import { INTERNAL_PREFIX } from '../data/products.js';
import { linkageKeepFilter } from '../linkage/linkage-scope.js';
import { optedOutPersons, type PatientConsent } from './consent.js';

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
}

/**
 * Applies the consent scope of `purpose` at `atMs` to `session`, and a linkage-bounded task's keep table
 * (`keepTable`, node-agent/linkage/linkage-scope.ts `writeSourceLinkageKeep`): each view then also keeps only the
 * persons of its product's population that this site is designated for. Nobody opted out and no keep table: nothing
 * is created (the stored tables are the scope).
 * @returns how many persons the scope leaves out (for the agent's own log, never sent)
 */
export async function applySourceConsentScope(session: SqlSession, o: { consents: readonly PatientConsent[]; purpose: string; atMs: number; products: readonly SourceScopedProduct[]; keepTable?: string }): Promise<number> {
  const out = [...optedOutPersons(o.consents, o.purpose, o.atMs)];
  if (out.length === 0 && o.keepTable === undefined) return 0;
  const d = session.dialect;
  const optout = d.tempTable(OPTOUT);
  await session.run(d.dropTempTable(OPTOUT));
  await session.run(`CREATE TEMP TABLE ${optout} (person ${d.typeName('VARCHAR')} PRIMARY KEY)`);
  for (let k = 0; k < out.length; k += BATCH) {
    const chunk = out.slice(k, k + BATCH);
    await session.run(`INSERT INTO ${optout} (person) VALUES ${chunk.map((_, j) => `(${d.placeholder(j + 1)})`).join(', ')}`, chunk);
  }
  for (const p of o.products) {
    if (!p.privacyUnit) continue;
    const stored = `${d.quoteIdent(p.schema)}.${d.quoteIdent(p.name)}`;
    // By bytes, as DuckDB compares: under a case-insensitive column collation opting out `p1` must not remove `P1`.
    // The server's own text of the unit (a NUMERIC 7 is '7', as consent records name it), compared by bytes.
    const unit = d.binaryOrder(d.cast(`t.${d.quoteIdent(p.privacyUnit)}`, 'VARCHAR'));
    const keep = o.keepTable !== undefined ? ` AND ${linkageKeepFilter(o.keepTable, 't', { privacyUnit: p.privacyUnit, population: p.population }, d)}` : '';
    await session.run(`CREATE TEMP VIEW ${d.quoteIdent(p.name)} AS SELECT t.* FROM ${stored} t WHERE NOT EXISTS (SELECT 1 FROM ${optout} o WHERE o.person = ${unit})${keep}`);
  }
  return out.length;
}
