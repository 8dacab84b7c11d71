/**
 * Test support: OMOP CDM tables in a PostgreSQL schema, typed from the CDM spec (node-agent/data/omop/cdm-spec.ts),
 * loaded from a folder of OMOP CSVs (Eunomia GiBleed) into DuckDB and copied from there with `psql \copy` (so both
 * engines hold the same values), indexed as the README recommends, and a read-only role for the agent, the way a
 * site's DBA would set it up.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { omopTableAnyVersion, type OmopColumnType } from '../node-agent/data/omop/cdm-spec.js';
import type { PgCluster } from './postgres-cluster.js';

export function pgType(t: OmopColumnType | undefined): string {
  switch (t) {
    case 'integer':
      return 'BIGINT';
    case 'float':
      return 'DOUBLE PRECISION';
    case 'date':
      return 'DATE';
    case 'datetime':
      return 'TIMESTAMP';
    default:
      return 'TEXT';
  }
}

/** `CREATE TABLE schema.table (…)` with the columns given (names from a CSV header), typed from the CDM spec. */
export function createTableSql(schema: string, table: string, columns: readonly string[]): string {
  const spec = omopTableAnyVersion(table);
  const cols = columns.map((c) => `"${c}" ${pgType(spec?.columns.find((x) => x.name === c)?.type)}`);
  return `CREATE TABLE "${schema}"."${table}" (${cols.join(', ')})`;
}

/** The indexes the README recommends for cohort SQL on a PostgreSQL CDM (person_id + concept, person_id + date). */
export function recommendedIndexSql(schema: string, tables: readonly string[]): string[] {
  const idx: Record<string, string[]> = {
    person: ['person_id'],
    observation_period: ['person_id, observation_period_start_date'],
    condition_occurrence: ['condition_concept_id, person_id', 'person_id, condition_start_date'],
    drug_exposure: ['drug_concept_id, person_id', 'person_id, drug_exposure_start_date'],
    measurement: ['measurement_concept_id, person_id', 'person_id, measurement_date'],
    visit_occurrence: ['person_id, visit_start_date'],
    procedure_occurrence: ['procedure_concept_id, person_id'],
    observation: ['observation_concept_id, person_id'],
    death: ['person_id'],
    concept_ancestor: ['ancestor_concept_id', 'descendant_concept_id'],
    concept: ['concept_id'],
  };
  return tables.flatMap((t) => (idx[t] ?? []).map((cols, i) => `CREATE INDEX "${t}_fm_${i}" ON "${schema}"."${t}" (${cols})`));
}

/**
 * Copies DuckDB tables into PostgreSQL: each is written by DuckDB as CSV into `tmpDir` and loaded with `psql \copy`
 * into `schemaOf(table)` (created when missing), typed from the CDM spec; then the README's indexes and ANALYZE.
 * The data on both engines is then the same, value for value.
 */
export async function copyDuckDbTablesToPostgres(
  duck: (sql: string) => Promise<unknown>,
  tables: readonly { name: string; columns: readonly string[] }[],
  cluster: PgCluster,
  database: string,
  schemaOf: (table: string) => string,
  tmpDir: string,
): Promise<void> {
  for (const s of new Set(tables.map((t) => schemaOf(t.name)))) await cluster.exec(`CREATE SCHEMA IF NOT EXISTS "${s}"`, database);
  for (const t of tables) {
    const file = join(tmpDir, `${t.name}.csv`);
    await duck(`COPY (SELECT * FROM "${t.name}") TO '${file.replace(/'/g, "''")}' (FORMAT csv, HEADER true)`);
    await cluster.exec(createTableSql(schemaOf(t.name), t.name, t.columns), database);
    await cluster.copyCsv(database, `"${schemaOf(t.name)}"."${t.name}"`, file);
  }
  const bySchema = new Map<string, string[]>();
  for (const t of tables) bySchema.set(schemaOf(t.name), [...(bySchema.get(schemaOf(t.name)) ?? []), t.name]);
  await cluster.exec([...[...bySchema].flatMap(([s, ts]) => recommendedIndexSql(s, ts)), 'ANALYZE'].join(';\n'), database);
}

/** A login role with SELECT only on the given schemas (USAGE on them, nothing else): what the agent expects. */
export async function createReadOnlyRole(cluster: PgCluster, database: string, role: string, password: string, schemas: readonly string[]): Promise<void> {
  const grants = schemas.flatMap((s) => [`GRANT USAGE ON SCHEMA "${s}" TO "${role}"`, `GRANT SELECT ON ALL TABLES IN SCHEMA "${s}" TO "${role}"`]);
  await cluster.exec([`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`, ...grants].join(';\n'), database);
}

/** The DuckDB twin of {@link loadOmopCsvIntoPostgres}: the same CSVs, the same CDM-spec types, one table each. */
export async function loadOmopCsvIntoDuckDb(run: (sql: string) => Promise<unknown>, dir: string): Promise<{ name: string; columns: string[] }[]> {
  const tables: { name: string; columns: string[] }[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.csv')).sort()) {
    const table = f.slice(0, -4);
    const spec = omopTableAnyVersion(table);
    if (!spec) continue;
    const header = readFileSync(join(dir, f), 'utf8').split('\n', 1)[0]!.trim().split(',').map((c) => c.replace(/^"|"$/g, '').toLowerCase());
    const duck = (t: OmopColumnType | undefined): string => (t === 'integer' ? 'BIGINT' : t === 'float' ? 'DOUBLE' : t === 'date' ? 'DATE' : t === 'datetime' ? 'TIMESTAMP' : 'VARCHAR');
    // Eunomia writes some integers as "5.0": through DOUBLE (exact for ids below 2^53).
    const cast = (c: string): string => {
      const t = spec.columns.find((x) => x.name === c)?.type;
      const v = `NULLIF("${c}", '')`;
      return t === 'integer' ? `CAST(CAST(${v} AS DOUBLE) AS BIGINT)` : `CAST(${v} AS ${duck(t)})`;
    };
    const select = header.map((c) => `${cast(c)} AS "${c}"`).join(', ');
    await run(`CREATE TABLE "${table}" AS SELECT ${select} FROM read_csv('${join(dir, f).replace(/'/g, "''")}', header = true, all_varchar = true)`);
    tables.push({ name: table, columns: header });
  }
  return tables;
}

/** OMOP vocabulary tables (a site often keeps them in their own schema). */
export const VOCABULARY_TABLES: readonly string[] = ['concept', 'concept_ancestor', 'concept_relationship', 'concept_synonym', 'concept_class', 'domain', 'vocabulary', 'relationship', 'drug_strength'];
