/**
 * Independent reference ("oracle") for the Circe cohort definitions in
 * ../shared/data/cohorts/circe/*.json, evaluated on the whole Eunomia GiBleed
 * data set in ONE in-memory DuckDB.
 *
 * The SQL files in ./circe/<stem>.sql are hand-written from the Circe semantics
 * (Book of OHDSI, chapter "Defining Cohorts"; OHDSI circe-be documentation) and
 * deliberately share no code with the engine's compiler in node-agent/cohort/.
 * Each file is a single SELECT returning (subject_id, cohort_start_date,
 * cohort_end_date) over plain OMOP CDM table names (person, observation_period,
 * condition_occurrence, drug_era, concept, concept_ancestor), so it can be run
 * unchanged on GiBleed or on a small hand-made fixture with the same tables.
 *
 * The data set is read from `../shared/data` relative to the repository root and
 * is never copied into the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (this file lives in <root>/test/reference). */
export const repoRoot = path.resolve(here, '..', '..');
export const gibleedDir = path.resolve(repoRoot, '../shared/data/omop/gibleed');
export const circeJsonDir = path.resolve(repoRoot, '../shared/data/cohorts/circe');
export const referenceSqlDir = path.resolve(here, 'circe');

/** The nine Circe definitions (file stems) this reference covers. */
export const REFERENCE_COHORTS = [
  'GiBleed_all',
  'GiBleed_default',
  'GiBleed_default_with_descendants',
  'celecoxib',
  'celecoxibAge40',
  'celecoxibAge40Male',
  'celecoxibCensored',
  'gibleed_all_end_10',
  'gibleed_end_10',
] as const;
export type ReferenceCohort = (typeof REFERENCE_COHORTS)[number];

/** The CDM tables (and only the columns) the reference SQL reads. */
const TABLES: ReadonlyArray<{ name: string; select: string }> = [
  {
    name: 'person',
    select: `CAST(person_id AS BIGINT) AS person_id,
             CAST(gender_concept_id AS BIGINT) AS gender_concept_id,
             CAST(year_of_birth AS INTEGER) AS year_of_birth,
             CAST(month_of_birth AS INTEGER) AS month_of_birth,
             CAST(day_of_birth AS INTEGER) AS day_of_birth,
             CAST(race_concept_id AS BIGINT) AS race_concept_id,
             CAST(ethnicity_concept_id AS BIGINT) AS ethnicity_concept_id`,
  },
  {
    name: 'observation_period',
    select: `CAST(observation_period_id AS BIGINT) AS observation_period_id,
             CAST(person_id AS BIGINT) AS person_id,
             CAST(observation_period_start_date AS DATE) AS observation_period_start_date,
             CAST(observation_period_end_date AS DATE) AS observation_period_end_date`,
  },
  {
    name: 'condition_occurrence',
    select: `CAST(condition_occurrence_id AS BIGINT) AS condition_occurrence_id,
             CAST(person_id AS BIGINT) AS person_id,
             CAST(condition_concept_id AS BIGINT) AS condition_concept_id,
             CAST(condition_start_date AS DATE) AS condition_start_date,
             CAST(condition_end_date AS DATE) AS condition_end_date,
             CAST(condition_type_concept_id AS BIGINT) AS condition_type_concept_id,
             CAST(visit_occurrence_id AS BIGINT) AS visit_occurrence_id`,
  },
  {
    name: 'drug_era',
    select: `CAST(drug_era_id AS BIGINT) AS drug_era_id,
             CAST(person_id AS BIGINT) AS person_id,
             CAST(drug_concept_id AS BIGINT) AS drug_concept_id,
             CAST(drug_era_start_date AS DATE) AS drug_era_start_date,
             CAST(drug_era_end_date AS DATE) AS drug_era_end_date,
             CAST(drug_exposure_count AS INTEGER) AS drug_exposure_count,
             CAST(gap_days AS INTEGER) AS gap_days`,
  },
  {
    name: 'concept',
    select: `CAST(concept_id AS BIGINT) AS concept_id,
             CAST(concept_name AS VARCHAR) AS concept_name,
             CAST(domain_id AS VARCHAR) AS domain_id,
             CAST(vocabulary_id AS VARCHAR) AS vocabulary_id,
             CAST(standard_concept AS VARCHAR) AS standard_concept,
             CAST(invalid_reason AS VARCHAR) AS invalid_reason`,
  },
  {
    name: 'concept_ancestor',
    select: `CAST(ancestor_concept_id AS BIGINT) AS ancestor_concept_id,
             CAST(descendant_concept_id AS BIGINT) AS descendant_concept_id`,
  },
];

/** True when the GiBleed CSVs and the Circe JSON folder are present. */
export function gibleedAvailable(): boolean {
  return TABLES.every((t) => existsSync(path.join(gibleedDir, `${t.name}.csv`))) && existsSync(circeJsonDir);
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Load the GiBleed tables the reference SQL needs into `conn` (dates cast to DATE). */
export async function loadGiBleed(conn: DuckDBConnection): Promise<void> {
  for (const t of TABLES) {
    const file = path.join(gibleedDir, `${t.name}.csv`);
    await conn.run(
      `CREATE OR REPLACE TABLE ${t.name} AS SELECT ${t.select} FROM read_csv(${sqlString(file)}, header=true)`,
    );
  }
}

/** The hand-written reference SQL for one definition, as a bare SELECT (no trailing semicolon). */
export function readReferenceSql(stem: string): string {
  const sql = readFileSync(path.join(referenceSqlDir, `${stem}.sql`), 'utf8');
  return sql.trim().replace(/;+\s*$/, '');
}

export interface CohortRow {
  subject_id: number;
  cohort_start_date: string;
  cohort_end_date: string;
}

/** Run a reference definition on whatever CDM tables `conn` holds; dates as ISO strings. */
export async function runReferenceCohort(conn: DuckDBConnection, stem: string): Promise<CohortRow[]> {
  const reader = await conn.runAndReadAll(
    `SELECT CAST(subject_id AS BIGINT) AS subject_id,
            strftime(cohort_start_date, '%Y-%m-%d') AS cohort_start_date,
            strftime(cohort_end_date, '%Y-%m-%d') AS cohort_end_date
     FROM (\n${readReferenceSql(stem)}\n) AS ref
     ORDER BY subject_id, cohort_start_date`,
  );
  return reader.getRowObjectsJS().map((r) => ({
    subject_id: Number(r.subject_id),
    cohort_start_date: String(r.cohort_start_date),
    cohort_end_date: String(r.cohort_end_date),
  }));
}

/** Distinct persons and cohort entries (rows) of a reference definition on `conn`. */
export async function countReferenceCohort(
  conn: DuckDBConnection,
  stem: string,
): Promise<{ persons: number; entries: number }> {
  const reader = await conn.runAndReadAll(
    `SELECT count(DISTINCT subject_id) AS persons, count(*) AS entries FROM (\n${readReferenceSql(stem)}\n) AS ref`,
  );
  const row = reader.getRowObjectsJS()[0];
  return { persons: Number(row?.persons ?? 0), entries: Number(row?.entries ?? 0) };
}

/**
 * Counts (distinct persons, cohort entries) of every reference definition on the
 * whole GiBleed data set in one in-memory DuckDB.
 */
export async function referenceCohortCounts(): Promise<Record<string, { persons: number; entries: number }>> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  try {
    await loadGiBleed(conn);
    const out: Record<string, { persons: number; entries: number }> = {};
    for (const stem of REFERENCE_COHORTS) out[stem] = await countReferenceCohort(conn, stem);
    return out;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
