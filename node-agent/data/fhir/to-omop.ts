/**
 * Flat FHIR tables → OMOP CDM v5.4-shaped tables (person, visit_occurrence, condition_occurrence, drug_exposure,
 * measurement, procedure_occurrence, death, observation_period), so that cohort logic written for OMOP runs on a
 * FHIR-fed site. Source codes go to the `*_source_value` columns; concept ids come from a `concept` table already
 * in the database (matched on vocabulary and code, standard concepts directly, others through `Maps to`) or,
 * for gender and visit class, from a small built-in map; otherwise they are 0.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { createTableSql } from '../omop/ingest-omop.js';
import type { IngestIssue } from '../omop/report.js';
import { sqlString } from '../omop/sql.js';

export type ConceptMappingState = 'mapped' | 'source-only' | 'partial';

/** FHIR code system URL → OMOP vocabulary_id. */
const SYSTEM_VOCABULARY: ReadonlyArray<readonly [string, string]> = [
  ['http://snomed.info/sct', 'SNOMED'],
  ['http://loinc.org', 'LOINC'],
  ['http://www.nlm.nih.gov/research/umls/rxnorm', 'RxNorm'],
  ['http://hl7.org/fhir/sid/icd-10-cm', 'ICD10CM'],
  ['http://hl7.org/fhir/sid/icd-10', 'ICD10'],
  ['http://hl7.org/fhir/sid/icd-9-cm', 'ICD9CM'],
  ['http://www.ama-assn.org/go/cpt', 'CPT4'],
  ['http://hl7.org/fhir/sid/cvx', 'CVX'],
  ['http://hl7.org/fhir/sid/ndc', 'NDC'],
  ['http://unitsofmeasure.org', 'UCUM'],
];

/** Encounter.class (v3 ActCode) → OMOP standard visit concept. */
const VISIT_CLASS: ReadonlyArray<readonly [string, number]> = [
  ['AMB', 9202], ['EMER', 9203], ['IMP', 9201], ['ACUTE', 9201], ['NONAC', 42898160], ['VR', 5083], ['HH', 581476],
];

/** Type concept "EHR": every row here comes from an electronic health record. */
const EHR_TYPE = 32817;
const VOCAB = '__fedmesh_fhir_vocab';
const PERSON_IDS = '__fedmesh_fhir_person_ids';

export const OMOP_FROM_FHIR_TABLES: readonly string[] = [
  'person', 'visit_occurrence', 'condition_occurrence', 'drug_exposure', 'measurement', 'procedure_occurrence',
  'death', 'observation_period',
];

/** Stable 52-bit integer id from a text id (first 13 hex digits of its MD5; safe as a JS number). */
export const INT_ID_MACRO = `CREATE OR REPLACE TEMP MACRO __fedmesh_int_id(v) AS CAST(('0x' || substr(md5(v), 1, 13)) AS BIGINT)`;

async function tableExists(conn: DuckDBConnection, name: string): Promise<boolean> {
  const r = await conn.runAndReadAll(
    `SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary AND table_name = $1`, [name],
  );
  return Number(r.getRowObjectsJS()[0]?.['n'] ?? 0) > 0;
}

/** The temp lookup (system, code) → concept ids; empty when the database holds no `concept` table. */
async function buildVocabulary(conn: DuckDBConnection): Promise<boolean> {
  const hasConcept = await tableExists(conn, 'concept');
  if (!hasConcept) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${VOCAB} (system VARCHAR, code VARCHAR, source_concept_id BIGINT, concept_id BIGINT)`);
    return false;
  }
  const systems = SYSTEM_VOCABULARY.map(([u, v]) => `(${sqlString(u)}, ${sqlString(v)})`).join(', ');
  const maps = (await tableExists(conn, 'concept_relationship'))
    ? `SELECT CAST(concept_id_1 AS BIGINT) AS concept_id_1, min(CAST(concept_id_2 AS BIGINT)) AS target FROM concept_relationship
       WHERE relationship_id = 'Maps to' AND invalid_reason IS NULL GROUP BY 1`
    : 'SELECT CAST(NULL AS BIGINT) AS concept_id_1, CAST(NULL AS BIGINT) AS target WHERE FALSE';
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${VOCAB} AS
    WITH sys(system, vocabulary_id) AS (VALUES ${systems}),
    src AS (SELECT s.system, CAST(c.concept_code AS VARCHAR) AS code, CAST(c.concept_id AS BIGINT) AS concept_id, c.standard_concept
            FROM concept c JOIN sys s ON s.vocabulary_id = CAST(c.vocabulary_id AS VARCHAR)),
    maps AS (${maps})
    SELECT system, code, min(src.concept_id) AS source_concept_id,
      min(CASE WHEN standard_concept = 'S' THEN src.concept_id ELSE maps.target END) AS concept_id
    FROM src LEFT JOIN maps ON maps.concept_id_1 = src.concept_id GROUP BY system, code`);
  return true;
}

/** `(concept_id, source_concept_id)` lookups for a coding, as a LEFT JOIN alias. */
const vocabJoin = (alias: string, system: string, code: string): string =>
  `LEFT JOIN ${VOCAB} ${alias} ON ${alias}.system = ${system} AND ${alias}.code = ${code}`;

const visitId = (encounterId: string): string =>
  `CASE WHEN ${encounterId} IN (SELECT id FROM fhir_encounter) THEN __fedmesh_int_id(${encounterId}) END`;

const INSERTS: ReadonlyArray<readonly [string, string]> = [
  ['person', `INSERT INTO person BY NAME SELECT
      ids.person_id,
      CASE p.gender WHEN 'male' THEN 8507 WHEN 'female' THEN 8532 ELSE 0 END AS gender_concept_id,
      year(p.birth_date) AS year_of_birth, month(p.birth_date) AS month_of_birth, day(p.birth_date) AS day_of_birth,
      CAST(p.birth_date AS TIMESTAMP) AS birth_datetime,
      0 AS race_concept_id, 0 AS ethnicity_concept_id,
      p.id AS person_source_value, p.gender AS gender_source_value, 0 AS gender_source_concept_id
    FROM fhir_patient p JOIN ${PERSON_IDS} ids ON ids.fhir_id = p.id`],
  ['visit_occurrence', `INSERT INTO visit_occurrence BY NAME SELECT
      __fedmesh_int_id(e.id) AS visit_occurrence_id, ids.person_id,
      coalesce(vc.concept_id, 0) AS visit_concept_id,
      CAST(e.period_start AS DATE) AS visit_start_date, e.period_start AS visit_start_datetime,
      CAST(coalesce(e.period_end, e.period_start) AS DATE) AS visit_end_date, e.period_end AS visit_end_datetime,
      ${EHR_TYPE} AS visit_type_concept_id, e.class_code AS visit_source_value, 0 AS visit_source_concept_id
    FROM fhir_encounter e JOIN ${PERSON_IDS} ids ON ids.fhir_id = e.patient_id
    LEFT JOIN (VALUES ${VISIT_CLASS.map(([c, id]) => `(${sqlString(c)}, ${id})`).join(', ')}) vc(code, concept_id) ON vc.code = e.class_code
    WHERE e.period_start IS NOT NULL`],
  ['condition_occurrence', `INSERT INTO condition_occurrence BY NAME SELECT
      __fedmesh_int_id(c.id) AS condition_occurrence_id, ids.person_id,
      coalesce(v.concept_id, 0) AS condition_concept_id,
      CAST(coalesce(c.onset_datetime, c.recorded_date) AS DATE) AS condition_start_date,
      coalesce(c.onset_datetime, c.recorded_date) AS condition_start_datetime,
      CAST(c.abatement_datetime AS DATE) AS condition_end_date, c.abatement_datetime AS condition_end_datetime,
      ${EHR_TYPE} AS condition_type_concept_id, ${visitId('c.encounter_id')} AS visit_occurrence_id,
      c.code AS condition_source_value, coalesce(v.source_concept_id, 0) AS condition_source_concept_id,
      c.clinical_status AS condition_status_source_value
    FROM fhir_condition c JOIN ${PERSON_IDS} ids ON ids.fhir_id = c.patient_id
    ${vocabJoin('v', 'c.code_system', 'c.code')}
    WHERE coalesce(c.onset_datetime, c.recorded_date) IS NOT NULL`],
  ['drug_exposure', `INSERT INTO drug_exposure BY NAME SELECT
      __fedmesh_int_id(m.id) AS drug_exposure_id, ids.person_id,
      coalesce(v.concept_id, 0) AS drug_concept_id,
      CAST(coalesce(m.authored_on, m.validity_start) AS DATE) AS drug_exposure_start_date,
      coalesce(m.authored_on, m.validity_start) AS drug_exposure_start_datetime,
      CAST(coalesce(m.validity_end,
        coalesce(m.authored_on, m.validity_start) + to_days(TRY_CAST(greatest(coalesce(m.supply_days, 1) - 1, 0) AS INTEGER)),
        coalesce(m.authored_on, m.validity_start)) AS DATE) AS drug_exposure_end_date,
      ${EHR_TYPE} AS drug_type_concept_id, m.refills, m.quantity, TRY_CAST(round(m.supply_days) AS BIGINT) AS days_supply,
      m.dosage_text AS sig, ${visitId('m.encounter_id')} AS visit_occurrence_id,
      m.medication_code AS drug_source_value, coalesce(v.source_concept_id, 0) AS drug_source_concept_id,
      m.route_code AS route_source_value
    FROM fhir_medication_request m JOIN ${PERSON_IDS} ids ON ids.fhir_id = m.patient_id
    ${vocabJoin('v', 'm.medication_system', 'm.medication_code')}
    WHERE coalesce(m.authored_on, m.validity_start) IS NOT NULL`],
  ['measurement', `INSERT INTO measurement BY NAME
    WITH obs AS (
      SELECT id AS measurement_key, patient_id, encounter_id, effective_datetime, code_system, code, value_number,
        value_unit, value_unit_code, value_code_system, value_code, value_string, reference_low, reference_high
      FROM fhir_observation
      UNION ALL
      SELECT observation_id || '#' || component_index, patient_id, encounter_id, effective_datetime, code_system, code,
        value_number, value_unit, value_unit_code, value_code_system, value_code, value_string, NULL, NULL
      FROM fhir_observation_component)
    SELECT __fedmesh_int_id(o.measurement_key) AS measurement_id, ids.person_id,
      coalesce(v.concept_id, 0) AS measurement_concept_id,
      CAST(o.effective_datetime AS DATE) AS measurement_date, o.effective_datetime AS measurement_datetime,
      ${EHR_TYPE} AS measurement_type_concept_id, o.value_number AS value_as_number,
      vv.concept_id AS value_as_concept_id, u.concept_id AS unit_concept_id,
      o.reference_low AS range_low, o.reference_high AS range_high,
      ${visitId('o.encounter_id')} AS visit_occurrence_id,
      o.code AS measurement_source_value, coalesce(v.source_concept_id, 0) AS measurement_source_concept_id,
      coalesce(o.value_unit_code, o.value_unit) AS unit_source_value,
      left(coalesce(o.value_code, o.value_string, CAST(o.value_number AS VARCHAR)), 50) AS value_source_value
    FROM obs o JOIN ${PERSON_IDS} ids ON ids.fhir_id = o.patient_id
    ${vocabJoin('v', 'o.code_system', 'o.code')}
    ${vocabJoin('vv', 'o.value_code_system', 'o.value_code')}
    ${vocabJoin('u', `'http://unitsofmeasure.org'`, 'o.value_unit_code')}
    WHERE o.effective_datetime IS NOT NULL`],
  ['procedure_occurrence', `INSERT INTO procedure_occurrence BY NAME SELECT
      __fedmesh_int_id(p.id) AS procedure_occurrence_id, ids.person_id,
      coalesce(v.concept_id, 0) AS procedure_concept_id,
      CAST(p.performed_start AS DATE) AS procedure_date, p.performed_start AS procedure_datetime,
      CAST(p.performed_end AS DATE) AS procedure_end_date, p.performed_end AS procedure_end_datetime,
      ${EHR_TYPE} AS procedure_type_concept_id, ${visitId('p.encounter_id')} AS visit_occurrence_id,
      p.code AS procedure_source_value, coalesce(v.source_concept_id, 0) AS procedure_source_concept_id
    FROM fhir_procedure p JOIN ${PERSON_IDS} ids ON ids.fhir_id = p.patient_id
    ${vocabJoin('v', 'p.code_system', 'p.code')}
    WHERE p.performed_start IS NOT NULL`],
  ['death', `INSERT INTO death BY NAME SELECT
      ids.person_id, CAST(p.deceased_datetime AS DATE) AS death_date, p.deceased_datetime AS death_datetime,
      ${EHR_TYPE} AS death_type_concept_id
    FROM fhir_patient p JOIN ${PERSON_IDS} ids ON ids.fhir_id = p.id WHERE p.deceased_datetime IS NOT NULL`],
  // One period per person, from the first to the last event date mapped above.
  ['observation_period', `INSERT INTO observation_period BY NAME
    WITH d AS (
      SELECT person_id, visit_start_date AS s, visit_end_date AS e FROM visit_occurrence
      UNION ALL SELECT person_id, condition_start_date, coalesce(condition_end_date, condition_start_date) FROM condition_occurrence
      UNION ALL SELECT person_id, drug_exposure_start_date, drug_exposure_end_date FROM drug_exposure
      UNION ALL SELECT person_id, measurement_date, measurement_date FROM measurement
      UNION ALL SELECT person_id, procedure_date, coalesce(procedure_end_date, procedure_date) FROM procedure_occurrence)
    SELECT person_id AS observation_period_id, person_id, min(s) AS observation_period_start_date,
      max(greatest(s, e)) AS observation_period_end_date, ${EHR_TYPE} AS period_type_concept_id
    FROM d GROUP BY person_id`],
];

/** Source table, OMOP table, concept column and source value column whose mapping state is reported. */
const MAPPED_COLUMNS: ReadonlyArray<readonly [string, string, string, string]> = [
  ['fhir_patient', 'person', 'gender_concept_id', 'gender_source_value'],
  ['fhir_encounter', 'visit_occurrence', 'visit_concept_id', 'visit_source_value'],
  ['fhir_condition', 'condition_occurrence', 'condition_concept_id', 'condition_source_value'],
  ['fhir_medication_request', 'drug_exposure', 'drug_concept_id', 'drug_source_value'],
  ['fhir_observation', 'measurement', 'measurement_concept_id', 'measurement_source_value'],
  ['fhir_procedure', 'procedure_occurrence', 'procedure_concept_id', 'procedure_source_value'],
];

const count = async (conn: DuckDBConnection, sql: string): Promise<number> =>
  Number((await conn.runAndReadAll(sql)).getRowObjectsJS()[0]?.['n'] ?? 0);

/**
 * Create (or replace) the OMOP-shaped tables from the `fhir_*` tables. Runs inside the caller's transaction.
 * @returns per OMOP table whether its concept column is mapped, partly mapped or left at 0 (source codes only).
 */
export async function mapFhirToOmop(conn: DuckDBConnection, warnings: IngestIssue[], where: string): Promise<Record<string, ConceptMappingState>> {
  await conn.run(INT_ID_MACRO);
  await buildVocabulary(conn);
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${PERSON_IDS} AS SELECT id AS fhir_id, __fedmesh_int_id(id) AS person_id FROM fhir_patient`);
  const collisions = await count(conn, `SELECT count(*) - count(DISTINCT person_id) AS n FROM ${PERSON_IDS}`);
  if (collisions > 0) warnings.push({ file: where, message: `${collisions} patient ids share a hashed person_id` });
  const noBirth = await count(conn, 'SELECT count(*) AS n FROM fhir_patient WHERE birth_date IS NULL');
  if (noBirth > 0) warnings.push({ file: where, message: `${noBirth} patients without birthDate: person.year_of_birth is NULL` });

  for (const [table, sql] of INSERTS) {
    await conn.run(createTableSql(table, '5.4'));
    await conn.run(sql);
  }
  const mapping: Record<string, ConceptMappingState> = {};
  for (const [source, table, conceptCol, sourceCol] of MAPPED_COLUMNS) {
    const r = await conn.runAndReadAll(`SELECT count(*) AS n, count(*) FILTER (WHERE ${conceptCol} <> 0) AS mapped
      FROM ${table} WHERE ${sourceCol} IS NOT NULL`);
    const row = r.getRowObjectsJS()[0] ?? {};
    const n = Number(row['n'] ?? 0);
    const mapped = Number(row['mapped'] ?? 0);
    mapping[table] = mapped === 0 ? 'source-only' : mapped === n ? 'mapped' : 'partial';
    const sourceRows = await count(conn, `SELECT count(*) AS n FROM ${source}`);
    const rows = await count(conn, `SELECT count(*) AS n FROM ${table}`);
    const expected = source === 'fhir_observation'
      ? sourceRows + await count(conn, 'SELECT count(*) AS n FROM fhir_observation_component')
      : sourceRows;
    if (rows < expected) {
      warnings.push({ file: where, message: `${expected - rows} ${source} rows without a known patient or a date left out of ${table}` });
    }
  }
  await conn.run(`DROP TABLE ${VOCAB}`);
  await conn.run(`DROP TABLE ${PERSON_IDS}`);
  return mapping;
}
