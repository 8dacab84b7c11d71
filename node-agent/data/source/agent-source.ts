/**
 * What an agent over a site's PostgreSQL (`fedmesh agent --database …`) serves, and which tasks it runs there. Its
 * products are the OMOP CDM tables the start checks found (data/source/cdm-check.ts), with the columns and types
 * the server reports; its own DuckDB keeps only its ledger, audit and differencing memory. Job kinds whose agent step
 * is written against the data-source seam run on the server; the others are refused by name rather than failing
 * on a table the DuckDB does not have.
 */
import { FedmeshError } from '../../../common/errors.js';
import { omopTableAnyVersion } from '../omop/cdm-spec.js';
import type { ProductInfo } from '../products.js';
import type { CdmCatalogue } from './cdm-check.js';

/** Job kinds an agent runs on a PostgreSQL source, plain and secure. */
export const SOURCE_KINDS: ReadonlySet<string> = new Set(['cohort', 'characterize', 'survival', 'survival-cox', 'aggregate', 'contingency', 'glm', 'train']);

/** The OMOP tables found on the server as products, in name order; `person_id` is the privacy unit where present. */
export function sourceProducts(catalogue: CdmCatalogue, describe: (schema: string, table: string) => string): ProductInfo[] {
  return [...catalogue.entries()]
    .filter(([name]) => omopTableAnyVersion(name) !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, t]) => ({
      name,
      columns: t.columns.map((c, i) => ({ name: c, type: t.types[i] ?? 'VARCHAR' })),
      privacyUnit: t.columns.includes('person_id') ? 'person_id' : undefined,
      description: describe(t.schema, name),
      source: `postgres:${t.schema}.${name}`,
    }));
}

/**
 * Refuses, before anything is charged or computed, a task this agent cannot run on its PostgreSQL source: a kind
 * not written against the data-source seam. Every secure sum of the kinds listed runs there: the seam's kinds
 * compute their vector through the same source step, the older kinds' secure path runs their statistics, cohorts and
 * counts on the server with the guard's person hashes in the agent's DuckDB (node-agent/secure/secure-guard.ts).
 * @throws FedmeshError FAILED_PRECONDITION naming the kind
 */
export function refuseOffSource(kind: string): void {
  if (!SOURCE_KINDS.has(kind)) {
    throw new FedmeshError('FAILED_PRECONDITION', `kind: ${kind.slice(0, 40)} jobs do not run on this agent's PostgreSQL source yet (supported there: ${[...SOURCE_KINDS].join(', ')})`, { field: 'kind' });
  }
}
