/**
 * SQL that flattens staged FHIR R4 resources (one JSON value per row in the staging table) into the `fhir_*`
 * tables. Each table keeps coding system + code + display, dates and references (patient and encounter ids);
 * it leaves out names, addresses, telecom and identifiers, which no analysis needs.
 */

/** Staging table of resources: `resource_type`, `id`, `r` (JSON), `source_file`, deduplicated per type and id. */
export const STAGE_TABLE = '__fedmesh_fhir_stage';

/** Temp macros the flattening SQL relies on; created on the ingest connection. */
export const MACROS_SQL: readonly string[] = [
  // FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD, or with a time and offset) → TIMESTAMP as the local clock time
  // written in the source; partial dates fall on the first of the period.
  String.raw`CREATE OR REPLACE TEMP MACRO __fedmesh_fhir_ts(v) AS CASE
    WHEN v IS NULL THEN NULL
    WHEN regexp_full_match(v, '\d{4}') THEN TRY_CAST(v || '-01-01' AS TIMESTAMP)
    WHEN regexp_full_match(v, '\d{4}-\d{2}') THEN TRY_CAST(v || '-01' AS TIMESTAMP)
    ELSE TRY_CAST(substr(v, 1, 19) AS TIMESTAMP) END`,
  // Reference → the referenced resource id: `Patient/123`, `urn:uuid:…`, absolute URLs with `_history`.
  // Conditional references (`Patient?identifier=…`) cannot be resolved and give NULL; `#x` stays as it is.
  String.raw`CREATE OR REPLACE TEMP MACRO __fedmesh_fhir_ref(v) AS CASE
    WHEN v IS NULL OR v = '' THEN NULL
    WHEN starts_with(v, 'urn:uuid:') OR starts_with(v, 'urn:oid:') THEN regexp_replace(v, '^urn:(uuid|oid):', '')
    WHEN contains(v, '?') THEN NULL
    WHEN starts_with(v, '#') THEN v
    ELSE regexp_extract(regexp_replace(v, '/_history/[^/]*$', ''), '([^/]+)$', 1) END`,
];

const ts = (expr: string): string => `__fedmesh_fhir_ts(${expr})`;
const ref = (expr: string): string => `__fedmesh_fhir_ref(${expr})`;
/** Text at a JSON path of column `col`. */
const s = (col: string, p: string): string => `(${col} ->> '$.${p}')`;

/** First coding of a CodeableConcept at `p`: system, code, display (+ the concept's text). */
function coding(col: string, p: string, prefix: string, withText = true): string {
  const parts = [
    `${s(col, `${p}.coding[0].system`)} AS ${prefix}system`,
    // `code_` → `code`, `value_code_` → `value_code`, `type_` → `type_code`
    `${s(col, `${p}.coding[0].code`)} AS ${prefix.endsWith('code_') ? prefix.slice(0, -1) : `${prefix}code`}`,
    `coalesce(${s(col, `${p}.coding[0].display`)}, ${s(col, `${p}.text`)}) AS ${prefix}display`,
  ];
  if (withText) parts.push(`${s(col, `${p}.text`)} AS ${prefix}text`);
  return parts.join(', ');
}

/** The value[x] of an Observation or of one of its components, in typed columns. */
function valueColumns(col: string): string {
  const has = (p: string): string => `json_exists(${col}, '$.${p}')`;
  return [
    `CASE WHEN ${has('valueQuantity')} THEN 'Quantity' WHEN ${has('valueCodeableConcept')} THEN 'CodeableConcept' ` +
      `WHEN ${has('valueString')} THEN 'string' WHEN ${has('valueBoolean')} THEN 'boolean' ` +
      `WHEN ${has('valueInteger')} THEN 'integer' WHEN ${has('valueDateTime')} THEN 'dateTime' ` +
      `WHEN ${has('valueRange')} THEN 'Range' WHEN ${has('valueRatio')} THEN 'Ratio' WHEN ${has('valuePeriod')} THEN 'Period' ` +
      `WHEN ${has('valueTime')} THEN 'time' WHEN ${has('valueSampledData')} THEN 'SampledData' END AS value_type`,
    `coalesce(TRY_CAST(${s(col, 'valueQuantity.value')} AS DOUBLE), TRY_CAST(${s(col, 'valueInteger')} AS DOUBLE)) AS value_number`,
    `${s(col, 'valueQuantity.comparator')} AS value_comparator`,
    `coalesce(${s(col, 'valueQuantity.unit')}, ${s(col, 'valueQuantity.code')}) AS value_unit`,
    `${s(col, 'valueQuantity.system')} AS value_unit_system`,
    `${s(col, 'valueQuantity.code')} AS value_unit_code`,
    coding(col, 'valueCodeableConcept', 'value_code_', false),
    `coalesce(${s(col, 'valueString')}, ${s(col, 'valueBoolean')}, ${s(col, 'valueDateTime')}, ${s(col, 'valueTime')}, ` +
      `${s(col, 'valueCodeableConcept.text')}) AS value_string`,
  ].join(',\n      ');
}

const FROM = (type: string): string => `FROM ${STAGE_TABLE} WHERE resource_type = '${type}'`;
const patientOf = (col: string): string =>
  `${ref(`coalesce(${s(col, 'subject.reference')}, ${s(col, 'patient.reference')})`)} AS patient_id`;
const encounterOf = (col: string): string =>
  `${ref(`coalesce(${s(col, 'encounter.reference')}, ${s(col, 'context.reference')})`)} AS encounter_id`;
const PATIENT = patientOf('r');
const ENCOUNTER = encounterOf('r');

/** `CREATE OR REPLACE TABLE` statements for the flat FHIR tables, in dependency order. */
export const FLATTEN_SQL: Readonly<Record<string, string>> = {
  fhir_patient: `CREATE OR REPLACE TABLE fhir_patient AS SELECT
      id, ${s('r', 'gender')} AS gender,
      CAST(${ts(s('r', 'birthDate'))} AS DATE) AS birth_date,
      CASE WHEN json_exists(r, '$.deceasedDateTime') THEN TRUE ELSE TRY_CAST(${s('r', 'deceasedBoolean')} AS BOOLEAN) END AS deceased,
      ${ts(s('r', 'deceasedDateTime'))} AS deceased_datetime,
      ${coding('r', 'maritalStatus', 'marital_status_', false)},
      source_file
    ${FROM('Patient')}`,
  fhir_encounter: `CREATE OR REPLACE TABLE fhir_encounter AS SELECT
      id, ${PATIENT}, ${s('r', 'status')} AS status,
      ${s('r', 'class.system')} AS class_system, ${s('r', 'class.code')} AS class_code, ${s('r', 'class.display')} AS class_display,
      ${coding('r', 'type[0]', 'type_')},
      ${coding('r', 'reasonCode[0]', 'reason_', false)},
      ${ts(s('r', 'period.start'))} AS period_start, ${ts(s('r', 'period.end'))} AS period_end,
      ${ref(s('r', 'serviceProvider.reference'))} AS service_provider_id,
      source_file
    ${FROM('Encounter')}`,
  fhir_condition: `CREATE OR REPLACE TABLE fhir_condition AS SELECT
      id, ${PATIENT}, ${ENCOUNTER},
      ${s('r', 'clinicalStatus.coding[0].code')} AS clinical_status,
      ${s('r', 'verificationStatus.coding[0].code')} AS verification_status,
      ${s('r', 'category[0].coding[0].code')} AS category_code,
      ${coding('r', 'code', 'code_')},
      json_extract(r, '$.code.coding') AS codings,
      coalesce(${ts(s('r', 'onsetDateTime'))}, ${ts(s('r', 'onsetPeriod.start'))}) AS onset_datetime,
      coalesce(${ts(s('r', 'abatementDateTime'))}, ${ts(s('r', 'abatementPeriod.end'))}) AS abatement_datetime,
      ${ts(`coalesce(${s('r', 'recordedDate')}, ${s('r', 'assertedDate')})`)} AS recorded_date,
      source_file
    ${FROM('Condition')}`,
  fhir_observation: `CREATE OR REPLACE TABLE fhir_observation AS SELECT
      id, ${PATIENT}, ${ENCOUNTER}, ${s('r', 'status')} AS status,
      ${s('r', 'category[0].coding[0].code')} AS category_code,
      ${coding('r', 'code', 'code_')},
      json_extract(r, '$.code.coding') AS codings,
      ${ts(`coalesce(${s('r', 'effectiveDateTime')}, ${s('r', 'effectivePeriod.start')}, ${s('r', 'effectiveInstant')}, ${s('r', 'issued')})`)} AS effective_datetime,
      ${ts(s('r', 'issued'))} AS issued,
      ${valueColumns('r')},
      TRY_CAST(${s('r', 'referenceRange[0].low.value')} AS DOUBLE) AS reference_low,
      TRY_CAST(${s('r', 'referenceRange[0].high.value')} AS DOUBLE) AS reference_high,
      CAST(coalesce(json_array_length(r, '$.component'), 0) AS INTEGER) AS component_count,
      source_file
    ${FROM('Observation')}`,
  fhir_observation_component: `CREATE OR REPLACE TABLE fhir_observation_component AS
    WITH o AS (
      SELECT id, r, json_extract(r, '$.component[*]') AS comps ${FROM('Observation')} AND json_exists(r, '$.component')
    ), c AS (SELECT id, r, unnest(comps) AS c, unnest(range(len(comps))) AS component_index FROM o)
    SELECT id AS observation_id, CAST(component_index AS INTEGER) AS component_index, ${PATIENT}, ${ENCOUNTER},
      ${ts(`coalesce(${s('r', 'effectiveDateTime')}, ${s('r', 'effectivePeriod.start')}, ${s('r', 'effectiveInstant')}, ${s('r', 'issued')})`)} AS effective_datetime,
      ${coding('c', 'code', 'code_')},
      ${valueColumns('c')}
    FROM c`,
  fhir_medication_request: `CREATE OR REPLACE TABLE fhir_medication_request AS
    WITH m AS (SELECT id, r, source_file,
        ${s('r', 'medicationReference.reference')} AS med_ref,
        list_filter(coalesce(json_extract(r, '$.contained[*]'), []),
          x -> '#' || (x ->> '$.id') = ${s('r', 'medicationReference.reference')})[1] AS contained_med
      ${FROM('MedicationRequest')}),
    meds AS (SELECT id, r AS med ${FROM('Medication')})
    SELECT m.id, ${patientOf('m.r')}, ${encounterOf('m.r')},
      ${s('m.r', 'status')} AS status, ${s('m.r', 'intent')} AS intent,
      coalesce(${s('m.r', 'medicationCodeableConcept.coding[0].system')}, ${s('contained_med', 'code.coding[0].system')}, ${s('meds.med', 'code.coding[0].system')}) AS medication_system,
      coalesce(${s('m.r', 'medicationCodeableConcept.coding[0].code')}, ${s('contained_med', 'code.coding[0].code')}, ${s('meds.med', 'code.coding[0].code')}) AS medication_code,
      coalesce(${s('m.r', 'medicationCodeableConcept.coding[0].display')}, ${s('contained_med', 'code.coding[0].display')}, ${s('meds.med', 'code.coding[0].display')},
        ${s('m.r', 'medicationCodeableConcept.text')}, ${s('contained_med', 'code.text')}, ${s('meds.med', 'code.text')},
        ${s('m.r', 'medicationReference.display')}) AS medication_display,
      ${ref('m.med_ref')} AS medication_reference_id,
      ${ts(s('m.r', 'authoredOn'))} AS authored_on,
      ${ts(s('m.r', 'dispenseRequest.validityPeriod.start'))} AS validity_start,
      ${ts(s('m.r', 'dispenseRequest.validityPeriod.end'))} AS validity_end,
      TRY_CAST(${s('m.r', 'dispenseRequest.quantity.value')} AS DOUBLE) AS quantity,
      CASE WHEN coalesce(${s('m.r', 'dispenseRequest.expectedSupplyDuration.code')}, ${s('m.r', 'dispenseRequest.expectedSupplyDuration.unit')}) IN ('d', 'day', 'days')
        THEN TRY_CAST(${s('m.r', 'dispenseRequest.expectedSupplyDuration.value')} AS DOUBLE) END AS supply_days,
      TRY_CAST(${s('m.r', 'dispenseRequest.numberOfRepeatsAllowed')} AS INTEGER) AS refills,
      ${s('m.r', 'dosageInstruction[0].text')} AS dosage_text,
      ${s('m.r', 'dosageInstruction[0].route.coding[0].code')} AS route_code,
      m.source_file
    FROM m LEFT JOIN meds ON starts_with(coalesce(m.med_ref, ''), '#') = FALSE AND meds.id = ${ref('m.med_ref')}`,
  fhir_procedure: `CREATE OR REPLACE TABLE fhir_procedure AS SELECT
      id, ${PATIENT}, ${ENCOUNTER}, ${s('r', 'status')} AS status,
      ${coding('r', 'code', 'code_')},
      json_extract(r, '$.code.coding') AS codings,
      ${ts(`coalesce(${s('r', 'performedDateTime')}, ${s('r', 'performedPeriod.start')})`)} AS performed_start,
      ${ts(`coalesce(${s('r', 'performedPeriod.end')}, ${s('r', 'performedDateTime')})`)} AS performed_end,
      source_file
    ${FROM('Procedure')}`,
};

/** The flat tables, each a product of a FHIR ingest. */
export const FHIR_TABLES: readonly string[] = Object.keys(FLATTEN_SQL);

/** Resource types kept from the input (Medication only to resolve MedicationRequest.medicationReference). */
export const KEPT_TYPES: readonly string[] = ['Patient', 'Encounter', 'Condition', 'Observation', 'MedicationRequest', 'Procedure', 'Medication'];
