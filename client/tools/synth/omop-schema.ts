/**
 * The OMOP CDM v5.4 column lists (in DDL order) of the tables the synthesiser writes, with the DuckDB type each
 * column gets. Identifiers are BIGINT rather than the DDL's INTEGER because person IDs are offset per site so that
 * sites can be pooled; NUMERIC columns are DOUBLE.
 */

export const OMOP_TABLES = [
  'person',
  'observation_period',
  'visit_occurrence',
  'condition_occurrence',
  'drug_exposure',
  'measurement',
  'death',
] as const;

export type OmopTable = (typeof OMOP_TABLES)[number];

export type OmopColumnType = 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'DATE' | 'TIMESTAMP' | 'VARCHAR';

export type OmopColumns = readonly (readonly [name: string, type: OmopColumnType])[];

export const OMOP_SCHEMA: Readonly<Record<OmopTable, OmopColumns>> = {
  person: [
    ['person_id', 'BIGINT'],
    ['gender_concept_id', 'INTEGER'],
    ['year_of_birth', 'INTEGER'],
    ['month_of_birth', 'INTEGER'],
    ['day_of_birth', 'INTEGER'],
    ['birth_datetime', 'TIMESTAMP'],
    ['race_concept_id', 'INTEGER'],
    ['ethnicity_concept_id', 'INTEGER'],
    ['location_id', 'BIGINT'],
    ['provider_id', 'BIGINT'],
    ['care_site_id', 'BIGINT'],
    ['person_source_value', 'VARCHAR'],
    ['gender_source_value', 'VARCHAR'],
    ['gender_source_concept_id', 'INTEGER'],
    ['race_source_value', 'VARCHAR'],
    ['race_source_concept_id', 'INTEGER'],
    ['ethnicity_source_value', 'VARCHAR'],
    ['ethnicity_source_concept_id', 'INTEGER'],
  ],
  observation_period: [
    ['observation_period_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['observation_period_start_date', 'DATE'],
    ['observation_period_end_date', 'DATE'],
    ['period_type_concept_id', 'INTEGER'],
  ],
  visit_occurrence: [
    ['visit_occurrence_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['visit_concept_id', 'INTEGER'],
    ['visit_start_date', 'DATE'],
    ['visit_start_datetime', 'TIMESTAMP'],
    ['visit_end_date', 'DATE'],
    ['visit_end_datetime', 'TIMESTAMP'],
    ['visit_type_concept_id', 'INTEGER'],
    ['provider_id', 'BIGINT'],
    ['care_site_id', 'BIGINT'],
    ['visit_source_value', 'VARCHAR'],
    ['visit_source_concept_id', 'INTEGER'],
    ['admitted_from_concept_id', 'INTEGER'],
    ['admitted_from_source_value', 'VARCHAR'],
    ['discharged_to_concept_id', 'INTEGER'],
    ['discharged_to_source_value', 'VARCHAR'],
    ['preceding_visit_occurrence_id', 'BIGINT'],
  ],
  condition_occurrence: [
    ['condition_occurrence_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['condition_concept_id', 'INTEGER'],
    ['condition_start_date', 'DATE'],
    ['condition_start_datetime', 'TIMESTAMP'],
    ['condition_end_date', 'DATE'],
    ['condition_end_datetime', 'TIMESTAMP'],
    ['condition_type_concept_id', 'INTEGER'],
    ['condition_status_concept_id', 'INTEGER'],
    ['stop_reason', 'VARCHAR'],
    ['provider_id', 'BIGINT'],
    ['visit_occurrence_id', 'BIGINT'],
    ['visit_detail_id', 'BIGINT'],
    ['condition_source_value', 'VARCHAR'],
    ['condition_source_concept_id', 'INTEGER'],
    ['condition_status_source_value', 'VARCHAR'],
  ],
  drug_exposure: [
    ['drug_exposure_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['drug_concept_id', 'INTEGER'],
    ['drug_exposure_start_date', 'DATE'],
    ['drug_exposure_start_datetime', 'TIMESTAMP'],
    ['drug_exposure_end_date', 'DATE'],
    ['drug_exposure_end_datetime', 'TIMESTAMP'],
    ['verbatim_end_date', 'DATE'],
    ['drug_type_concept_id', 'INTEGER'],
    ['stop_reason', 'VARCHAR'],
    ['refills', 'INTEGER'],
    ['quantity', 'DOUBLE'],
    ['days_supply', 'INTEGER'],
    ['sig', 'VARCHAR'],
    ['route_concept_id', 'INTEGER'],
    ['lot_number', 'VARCHAR'],
    ['provider_id', 'BIGINT'],
    ['visit_occurrence_id', 'BIGINT'],
    ['visit_detail_id', 'BIGINT'],
    ['drug_source_value', 'VARCHAR'],
    ['drug_source_concept_id', 'INTEGER'],
    ['route_source_value', 'VARCHAR'],
    ['dose_unit_source_value', 'VARCHAR'],
  ],
  measurement: [
    ['measurement_id', 'BIGINT'],
    ['person_id', 'BIGINT'],
    ['measurement_concept_id', 'INTEGER'],
    ['measurement_date', 'DATE'],
    ['measurement_datetime', 'TIMESTAMP'],
    ['measurement_time', 'VARCHAR'],
    ['measurement_type_concept_id', 'INTEGER'],
    ['operator_concept_id', 'INTEGER'],
    ['value_as_number', 'DOUBLE'],
    ['value_as_concept_id', 'INTEGER'],
    ['unit_concept_id', 'INTEGER'],
    ['range_low', 'DOUBLE'],
    ['range_high', 'DOUBLE'],
    ['provider_id', 'BIGINT'],
    ['visit_occurrence_id', 'BIGINT'],
    ['visit_detail_id', 'BIGINT'],
    ['measurement_source_value', 'VARCHAR'],
    ['measurement_source_concept_id', 'INTEGER'],
    ['unit_source_value', 'VARCHAR'],
    ['unit_source_concept_id', 'INTEGER'],
    ['value_source_value', 'VARCHAR'],
    ['measurement_event_id', 'BIGINT'],
    ['meas_event_field_concept_id', 'INTEGER'],
  ],
  death: [
    ['person_id', 'BIGINT'],
    ['death_date', 'DATE'],
    ['death_datetime', 'TIMESTAMP'],
    ['death_type_concept_id', 'INTEGER'],
    ['cause_concept_id', 'INTEGER'],
    ['cause_source_value', 'VARCHAR'],
    ['cause_source_concept_id', 'INTEGER'],
  ],
};

/** The column(s) that order each table's rows in the written files (unique per row, so the order is total). */
export const OMOP_ORDER_BY: Readonly<Record<OmopTable, string>> = {
  person: 'person_id',
  observation_period: 'observation_period_id',
  visit_occurrence: 'visit_occurrence_id',
  condition_occurrence: 'condition_occurrence_id',
  drug_exposure: 'drug_exposure_id',
  measurement: 'measurement_id',
  death: 'person_id',
};

/**
 * A SELECT list that yields exactly the table's columns, in order and with their types: `exprs` supplies the
 * expression for each populated column and every other column is a typed NULL.
 * @throws RangeError when `exprs` names a column the table does not have (a typo would silently become NULL).
 */
export function projectColumns(table: OmopTable, exprs: Readonly<Record<string, string>>): string {
  const columns = OMOP_SCHEMA[table];
  for (const name of Object.keys(exprs)) {
    if (!columns.some(([col]) => col === name)) throw new RangeError(`${table} has no column ${name}`);
  }
  return columns.map(([name, type]) => `CAST(${exprs[name] ?? 'NULL'} AS ${type}) AS ${name}`).join(',\n  ');
}
