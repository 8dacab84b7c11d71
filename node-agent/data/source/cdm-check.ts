/**
 * The start-time checks of a PostgreSQL CDM: the schemas exist and are usable, the role cannot write, and the OMOP
 * tables found have the columns of the CDM DDL (OMOP CDM v5.3/v5.4, node-agent/data/omop/cdm-spec.ts). Each
 * failure names what is wrong so a DBA can fix it; none echoes data.
 */
import type pg from 'pg';
import { FedmeshError } from '../../../common/errors.js';
import { omopTableAnyVersion, REQUIRED_TABLES } from '../omop/cdm-spec.js';

/** The schemas a role's write privileges are checked in: every one but the system's and the sessions' TEMP ones. */
const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/**
 * OMOP table (lower case) → the schema it was found in, its columns (lower case) and their types in DuckDB's
 * spelling (BIGINT, INTEGER, DOUBLE, VARCHAR, DATE, TIMESTAMP, BOOLEAN): what the agent publishes as the
 * product's schema, the same as for the same table in its DuckDB.
 */
export type CdmCatalogue = ReadonlyMap<string, {
  readonly schema: string;
  readonly columns: readonly string[];
  readonly types: readonly string[];
  /**
   * Per column, whether the server enforces NOT NULL on it (a table's declared constraint; never for a view or a
   * foreign table, whose constraints the server does not check, nor for a table with legacy inheritance children,
   * which may DROP NOT NULL while the parent still says NOT NULL and a read of the parent returns their rows: red
   * team 27): the consent scope need not filter such a unit.
   */
  readonly notNull: readonly boolean[];
}>;

/** A PostgreSQL type (format_type) in DuckDB's spelling, so jobs are checked against one vocabulary of types. */
/**
 * Whether the server enforces NOT NULL on column `a` of relation `c` (pg_attribute a, pg_class c) for every row a read
 * of `c` returns: a declared constraint on a partitioned table none of whose partitions, at any depth, is a foreign
 * table (the server checks no constraint there: red team 28), or on a plain table without
 * inheritance children (a legacy child may DROP NOT NULL while the parent keeps it, and a read of the parent returns the
 * child's rows: red team 27); never on a view, a materialised view or a foreign table, whose constraints are not checked.
 */
export const ENFORCED_NOT_NULL_SQL = `(a.attnotnull AND (
  (c.relkind = 'p' AND NOT EXISTS (
    WITH RECURSIVE part(oid) AS (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = c.oid
                                 UNION SELECT i.inhrelid FROM pg_inherits i JOIN part ON i.inhparent = part.oid)
    SELECT 1 FROM part JOIN pg_class k ON k.oid = part.oid WHERE k.relkind = 'f'))
  OR (c.relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid))))`;

export function duckdbTypeOf(pgType: string): string {
  const t = pgType.toLowerCase();
  if (t === 'bigint') return 'BIGINT';
  if (t === 'integer' || t === 'smallint') return 'INTEGER';
  if (t === 'double precision' || t === 'real') return 'DOUBLE';
  // OMOP's NUMERIC values (value_as_number, quantity) are DOUBLE in the DuckDB agent; format_type spells a declared
  // precision `numeric(10,2)`, and `smallint`/`real` aside the other numeric spellings (decimal) are numeric too.
  if (t === 'numeric' || t.startsWith('numeric(')) return 'DOUBLE';
  if (t === 'date') return 'DATE';
  if (t.startsWith('timestamp')) return 'TIMESTAMP';
  if (t === 'boolean') return 'BOOLEAN';
  return 'VARCHAR';
}

const fail = (message: string, field = 'database'): FedmeshError => new FedmeshError('FAILED_PRECONDITION', message, { field });
const list = (xs: readonly string[], max = 8): string => (xs.length > max ? `${xs.slice(0, max).join(', ')} and ${xs.length - max} more` : xs.join(', '));

/**
 * @throws FedmeshError FAILED_PRECONDITION naming the missing schema, the write privilege the role holds, or the
 *   missing tables and columns
 */
export async function checkCdmSchema(client: pg.ClientBase, o: { schema: string; vocabulary: string; user: string }): Promise<CdmCatalogue> {
  const schemas = [...new Set([o.schema, o.vocabulary])];
  const found = (await client.query<{ nspname: string; usable: boolean }>(
    `SELECT nspname, has_schema_privilege(oid, 'USAGE') AS usable FROM pg_namespace WHERE nspname = ANY($1::text[])`,
    [schemas],
  )).rows;
  for (const [s, field] of [[o.schema, 'schema'], [o.vocabulary, 'vocabularySchema']] as const) {
    const row = found.find((r) => r.nspname === s);
    if (!row) throw fail(`${field}: schema ${s} does not exist in this database`, field);
    if (!row.usable) throw fail(`${field}: role ${o.user} has no USAGE privilege on schema ${s}`, field);
  }

  // Read-only: no superuser, no write privilege on any table of any schema of the database (not only the CDM's: the
  // agent's role must not be able to change anything there), no CREATE in any schema nor of schemas. TEMP tables are
  // the session's own and stay allowed (the agent stages working tables there).
  const role = (await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0];
  if (role?.rolsuper) throw fail(`database: role ${o.user} is a superuser; give the agent a role with SELECT only on the CDM (see README, "PostgreSQL")`);
  const writable = (await client.query<{ t: string; p: string }>(
    `SELECT n.nspname || '.' || c.relname AS t,
            concat_ws(',', CASE WHEN has_any_column_privilege(c.oid, 'INSERT') THEN 'INSERT' END,
                           CASE WHEN has_any_column_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,
                           CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END,
                           CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'TRUNCATE' END) AS p
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND (has_any_column_privilege(c.oid, 'INSERT') OR has_any_column_privilege(c.oid, 'UPDATE')
             OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
      ORDER BY CASE WHEN n.nspname = ANY($1::text[]) THEN 0 ELSE 1 END, 1`,
    [schemas],
  )).rows;
  if (writable.length > 0) {
    const where = writable.some((w) => schemas.includes(w.t.slice(0, w.t.indexOf('.')))) ? 'the CDM' : 'this database';
    throw fail(`database: role ${o.user} can write to ${where} (${list(writable.map((w) => `${w.p} on ${w.t}`), 4)}); the agent needs a read-only role (GRANT SELECT only)`);
  }
  const creatable = (await client.query<{ nspname: string }>(`SELECT n.nspname FROM pg_namespace n WHERE ${USER_SCHEMA} AND has_schema_privilege(n.oid, 'CREATE') ORDER BY 1`)).rows;
  if (creatable.length > 0) {
    // Databases made before PostgreSQL 15 grant CREATE on public to everyone.
    const hint = creatable.some((r) => r.nspname === 'public') ? ' (on a database older than PostgreSQL 15: REVOKE CREATE ON SCHEMA public FROM PUBLIC)' : '';
    throw fail(`database: role ${o.user} can CREATE in schema ${list(creatable.map((r) => r.nspname), 4)}; the agent needs a read-only role${hint}`);
  }
  const db = (await client.query<{ create: boolean }>(`SELECT has_database_privilege(current_database(), 'CREATE') AS create`)).rows[0];
  if (db?.create) throw fail(`database: role ${o.user} can CREATE schemas in this database; the agent needs a read-only role (REVOKE CREATE ON DATABASE)`);
  // The one thing it must be able to create: its session's TEMP working tables (every kind stages there).
  const temp = (await client.query<{ temp: boolean }>(`SELECT has_database_privilege(current_database(), 'TEMPORARY') AS temp`)).rows[0];
  if (!temp?.temp) throw fail(`database: role ${o.user} cannot create TEMP tables in this database, where the agent keeps its working tables (GRANT TEMPORARY ON DATABASE … TO ${o.user})`);

  // Tables and views the role may read, CDM schema first (search_path order).
  const cols = (await client.query<{ s: string; t: string; c: string; ty: string; nn: boolean; readable: boolean }>(
    `SELECT n.nspname AS s, lower(c.relname) AS t, lower(a.attname) AS c, format_type(a.atttypid, NULL) AS ty,
            ${ENFORCED_NOT_NULL_SQL} AS nn,
            has_table_privilege(c.oid, 'SELECT') AS readable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY CASE WHEN n.nspname = $2 THEN 0 ELSE 1 END, c.relname, a.attnum`,
    [schemas, o.schema],
  )).rows;
  const catalogue = new Map<string, { schema: string; columns: string[]; types: string[]; notNull: boolean[] }>();
  const unreadable = new Set<string>();
  for (const r of cols) {
    if (!r.readable) {
      unreadable.add(`${r.s}.${r.t}`);
      continue;
    }
    const entry = catalogue.get(r.t);
    if (!entry) catalogue.set(r.t, { schema: r.s, columns: [r.c], types: [duckdbTypeOf(r.ty)], notNull: [r.nn] });
    else if (entry.schema === r.s) {
      entry.columns.push(r.c);
      entry.types.push(duckdbTypeOf(r.ty));
      entry.notNull.push(r.nn);
    }
  }
  const missingTables = REQUIRED_TABLES.filter((t) => !catalogue.has(t));
  if (missingTables.length > 0) {
    const hint = unreadable.size > 0 ? ` (role ${o.user} has no SELECT on ${list([...unreadable], 4)})` : '';
    throw fail(`schema: OMOP tables missing from ${o.schema}: ${missingTables.join(', ')}${hint}`, 'schema');
  }
  const problems: string[] = [];
  for (const [table, { columns }] of catalogue) {
    const spec = omopTableAnyVersion(table);
    if (!spec) continue;
    const have = new Set(columns);
    // Columns of the CDM DDL in both v5.3 and v5.4: every conformant CDM has them (NULL-able or not).
    const missing = spec.columns.filter((c) => c.onlyIn === undefined && !have.has(c.name)).map((c) => c.name);
    if (missing.length > 0) problems.push(`${table} lacks ${list(missing, 5)}`);
  }
  if (problems.length > 0) throw fail(`schema: OMOP tables without the CDM columns: ${list(problems, 4)}`, 'schema');
  return catalogue;
}
