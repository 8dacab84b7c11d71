/**
 * Test support: OMOP CDM tables in a PostgreSQL schema, typed from the CDM spec (node-agent/data/omop/cdm-spec.ts),
 * loaded from a folder of OMOP CSVs (Eunomia GiBleed) with `psql \copy`, indexed as the README recommends, and a
 * read-only role for the agent, the way a site's DBA would set it up.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { omopTableAnyVersion, type OmopColumnType } from '../../node-agent/data/omop/cdm-spec.js';
import type { PgCluster } from './postgres.js';

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
 * Creates `schema` in `database` and loads every OMOP CSV of `dir` the CDM spec knows (tables in `only` when
 * given), then indexes and ANALYZEs them. Returns the tables loaded.
 */
export async function loadOmopCsvIntoPostgres(cluster: PgCluster, database: string, schema: string, dir: string, only?: readonly string[]): Promise<string[]> {
  await cluster.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`, database);
  const tables: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.csv')).sort()) {
    const table = f.slice(0, -4);
    if (!omopTableAnyVersion(table) || (only && !only.includes(table))) continue;
    const header = readFileSync(join(dir, f), 'utf8').split('\n', 1)[0]!.trim().split(',').map((c) => c.replace(/^"|"$/g, '').toLowerCase());
    await cluster.exec(createTableSql(schema, table, header), database);
    await cluster.copyCsv(database, `"${schema}"."${table}"`, join(dir, f));
    tables.push(table);
  }
  await cluster.exec([...recommendedIndexSql(schema, tables), `ANALYZE`].join(';\n'), database);
  return tables;
}

/** A login role with SELECT only on the given schemas (USAGE on them, nothing else): what the agent expects. */
export async function createReadOnlyRole(cluster: PgCluster, database: string, role: string, password: string, schemas: readonly string[]): Promise<void> {
  const grants = schemas.flatMap((s) => [`GRANT USAGE ON SCHEMA "${s}" TO "${role}"`, `GRANT SELECT ON ALL TABLES IN SCHEMA "${s}" TO "${role}"`]);
  await cluster.exec([`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`, ...grants].join(';\n'), database);
}

export function folderExists(dir: string): boolean {
  return existsSync(dir);
}
