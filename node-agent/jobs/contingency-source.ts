/**
 * A contingency table's counts on a site's own database server, shared by the kind seam's step
 * (jobs/contingency/agent-source.ts) and the built-in secure HE path (node-agent/secure/secure-guard.ts): one GROUP BY
 * compiled through the dialect layer (node-agent/sql/contingency-counts.ts), run on the server, and, for the
 * differencing guard, the persons of the candidate places read through a cursor into a task-private TEMP table of
 * the agent's DuckDB and keyed-hashed there with the same hash as every DuckDB job, so the guard's memory is shared.
 */
import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { SqlSession } from '../data/source/index.js';
import type { ProductInfo } from '../data/products.js';
import { hashPairsFromSource } from '../disclosure/source-pairs.js';
import { PERSON_COLUMN_CANDIDATES } from '../analytics/contingency.js';
import { placeLabel, type ContingencyQueryInput, type CountColumn, type CountFilter, type CountLevel } from '../sql/contingency-counts.js';
import type { SqlType } from '../sql/index.js';

const PUSHABLE: Readonly<Record<string, SqlType>> = { BIGINT: 'BIGINT', INTEGER: 'BIGINT', DOUBLE: 'DOUBLE', BOOLEAN: 'BOOLEAN', VARCHAR: 'VARCHAR' };

/** The public shape of a contingency spec, as the seam's kind and the built-in job both state it. */
export interface ContingencyShape {
  readonly rowColumn: string;
  readonly colColumn: string;
  readonly rowLevels: readonly unknown[];
  readonly colLevels: readonly unknown[];
  readonly where?: readonly { readonly column: string; readonly op: string; readonly value?: unknown }[];
}

/** The compiler's input for this job on this product, or undefined when it cannot be pushed down exactly. */
export function contingencySourceQuery(spec: ContingencyShape, product: Pick<ProductInfo, 'name' | 'columns' | 'privacyUnit'>): ContingencyQueryInput | undefined {
  const column = (name: string): CountColumn | undefined => {
    const c = product.columns.find((x) => x.name === name);
    const t = c && PUSHABLE[c.type.toUpperCase()];
    return t ? { name, type: t } : undefined;
  };
  const person = product.privacyUnit ? column(product.privacyUnit) ?? (product.columns.some((c) => c.name === product.privacyUnit) ? { name: product.privacyUnit, type: 'VARCHAR' as SqlType } : undefined) : undefined;
  const row = column(spec.rowColumn);
  const col = column(spec.colColumn);
  // A unit stored as a double (or NUMERIC) is pushed down too: the server prints it '123', as every other kind on a
  // PostgreSQL agent (cohort kinds, aggregate, glm, train, consent) does, so the guard's keyed hashes of one person
  // agree across kinds; staged in DuckDB it would print '123.0' (red team 17, F7; red team 18, F1 and F3).
  if (!person || !row || !col) return undefined;
  const where: CountFilter[] = [];
  for (const f of spec.where ?? []) {
    const c = column(f.column);
    if (!c) return undefined;
    where.push(f.op === 'is null' || f.op === 'is not null' ? ({ column: c, op: f.op } as CountFilter) : ({ column: c, op: f.op, value: f.value } as CountFilter));
  }
  // JSON true/false levels: the DuckDB step refuses them (analytics/contingency.ts checkLevels); staged, this agent
  // refuses them the same way rather than count them (red team).
  if ([...spec.rowLevels, ...spec.colLevels].some((l) => typeof l === 'boolean')) return undefined;
  return { table: product.name, person, row, col, rowLevels: spec.rowLevels as CountLevel[], colLevels: spec.colLevels as CountLevel[], where };
}

/**
 * The product's columns the DuckDB contingency step reads (row, column, the filters' and the privacy unit): a spec
 * the server cannot count exactly stages only these, never the whole product. The filters are applied by the step, so
 * every row is staged.
 */
export function contingencyStagedColumns(spec: ContingencyShape, product: Pick<ProductInfo, 'columns' | 'privacyUnit'>): ProductInfo['columns'] {
  // Without a declared unit the step takes the first person column it finds (PERSON_COLUMN_CANDIDATES): stage it too.
  const person = product.privacyUnit || PERSON_COLUMN_CANDIDATES.find((c) => product.columns.some((x) => x.name === c));
  const wanted = new Set([spec.rowColumn, spec.colColumn, ...(spec.where ?? []).map((f) => f.column), ...(person ? [person] : [])]);
  return product.columns.filter((c) => wanted.has(c.name));
}

/**
 * The persons of the places a compiled person query returns (`compileContingencyPersons`), as a local TEMP table
 * `(cell, h)` of keyed hashes for the differencing guard. Returns its name; the caller drops it.
 */
export async function contingencyCandidatesFromSource(session: SqlSession, conn: DuckDBConnection, persons: { sql: string; params: (string | number | boolean)[] }, nCols: number, salt: string): Promise<string> {
  const cand = `fedmesh_ct_cells_${randomBytes(6).toString('hex')}`;
  await hashPairsFromSource(session, conn, { ...persons, cellOf: (r) => placeLabel(Number(r['place']), nCols) }, salt, cand);
  return cand;
}
