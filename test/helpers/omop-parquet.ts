/**
 * A small OMOP CDM written as Parquet files (one per table), built with DuckDB from generated rows: enough for
 * ingest sequences (break a file, repair it) and for jobs on `person`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** The tables written, with their row counts. */
export const OMOP_PARQUET_ROWS: Readonly<Record<string, number>> = {
  person: 40, observation_period: 40, condition_occurrence: 60, measurement: 80, drug_exposure: 50, concept: 3,
};

const SELECTS: Readonly<Record<string, string>> = {
  person: `SELECT i AS person_id, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id, 1940 + i AS year_of_birth,
             0 AS race_concept_id, 0 AS ethnicity_concept_id FROM range(1, 41) t(i)`,
  observation_period: `SELECT i AS observation_period_id, i AS person_id, DATE '2000-01-01' AS observation_period_start_date,
             DATE '2020-12-31' AS observation_period_end_date, 32817 AS period_type_concept_id FROM range(1, 41) t(i)`,
  condition_occurrence: `SELECT i AS condition_occurrence_id, 1 + i % 40 AS person_id, 192671 AS condition_concept_id,
             DATE '2010-01-01' + CAST(i AS INTEGER) AS condition_start_date, 32817 AS condition_type_concept_id FROM range(1, 61) t(i)`,
  measurement: `SELECT i AS measurement_id, 1 + i % 40 AS person_id, 3004249 AS measurement_concept_id,
             DATE '2011-01-01' + CAST(i AS INTEGER) AS measurement_date, 32817 AS measurement_type_concept_id,
             CAST(100 + i AS DOUBLE) AS value_as_number FROM range(1, 81) t(i)`,
  drug_exposure: `SELECT i AS drug_exposure_id, 1 + i % 40 AS person_id, 1112807 AS drug_concept_id,
             DATE '2012-01-01' + CAST(i AS INTEGER) AS drug_exposure_start_date, DATE '2012-02-01' + CAST(i AS INTEGER) AS drug_exposure_end_date,
             32817 AS drug_type_concept_id FROM range(1, 51) t(i)`,
  concept: `SELECT * FROM (VALUES
             (192671, 'Gastrointestinal hemorrhage', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '74474003', DATE '1970-01-01', DATE '2099-12-31', NULL),
             (3004249, 'Systolic blood pressure', 'Measurement', 'LOINC', 'Clinical Observation', 'S', '8480-6', DATE '1970-01-01', DATE '2099-12-31', NULL),
             (1112807, 'aspirin', 'Drug', 'RxNorm', 'Ingredient', 'S', '1191', DATE '1970-01-01', DATE '2099-12-31', NULL))
             t(concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code, valid_start_date, valid_end_date, invalid_reason)`,
};

/** Writes `<table>.parquet` for every table of `OMOP_PARQUET_ROWS` into `dir`. @returns the file paths by table */
export async function writeOmopParquet(dir: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const out: Record<string, string> = {};
  try {
    for (const [table, select] of Object.entries(SELECTS)) {
      const file = join(dir, `${table}.parquet`);
      await conn.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
      out[table] = file;
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return out;
}
