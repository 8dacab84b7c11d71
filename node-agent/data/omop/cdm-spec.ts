/**
 * A compact description of the OMOP CDM v5.3 / v5.4 tables that fedmesh reads: column names, types, required
 * flags and primary keys. Written from the OHDSI field-level specification; only the tables the engine uses
 * (clinical events, eras, health system, vocabulary, cohort) are described.
 *
 * Column mini-language, one token per column: `name:T` where T is `i` integer, `f` float, `d` date,
 * `t` datetime, `s` text; `!` marks a required column, `*` the primary key; `@3` a column that exists only in
 * v5.3 and `@4` one that exists only in v5.4.
 */
export type OmopVersion = '5.3' | '5.4';
export type OmopColumnType = 'integer' | 'float' | 'date' | 'datetime' | 'varchar';

export interface OmopColumn {
  readonly name: string;
  readonly type: OmopColumnType;
  readonly required: boolean;
  readonly primaryKey: boolean;
  /** Present only in this version, when set. */
  readonly onlyIn: OmopVersion | undefined;
}

export interface OmopTable {
  readonly name: string;
  readonly columns: readonly OmopColumn[];
}

const TABLES: Readonly<Record<string, string>> = {
  // clinical data
  person:
    'person_id:i!* gender_concept_id:i! year_of_birth:i! month_of_birth:i day_of_birth:i birth_datetime:t ' +
    'race_concept_id:i! ethnicity_concept_id:i! location_id:i provider_id:i care_site_id:i person_source_value:s ' +
    'gender_source_value:s gender_source_concept_id:i race_source_value:s race_source_concept_id:i ' +
    'ethnicity_source_value:s ethnicity_source_concept_id:i',
  observation_period:
    'observation_period_id:i!* person_id:i! observation_period_start_date:d! observation_period_end_date:d! ' +
    'period_type_concept_id:i!',
  visit_occurrence:
    'visit_occurrence_id:i!* person_id:i! visit_concept_id:i! visit_start_date:d! visit_start_datetime:t ' +
    'visit_end_date:d! visit_end_datetime:t visit_type_concept_id:i! provider_id:i care_site_id:i visit_source_value:s ' +
    'visit_source_concept_id:i admitting_source_concept_id:i@3 admitting_source_value:s@3 discharge_to_concept_id:i@3 ' +
    'discharge_to_source_value:s@3 admitted_from_concept_id:i@4 admitted_from_source_value:s@4 ' +
    'discharged_to_concept_id:i@4 discharged_to_source_value:s@4 preceding_visit_occurrence_id:i',
  visit_detail:
    'visit_detail_id:i!* person_id:i! visit_detail_concept_id:i! visit_detail_start_date:d! visit_detail_start_datetime:t ' +
    'visit_detail_end_date:d! visit_detail_end_datetime:t visit_detail_type_concept_id:i! provider_id:i care_site_id:i ' +
    'visit_detail_source_value:s visit_detail_source_concept_id:i admitting_source_value:s@3 admitting_source_concept_id:i@3 ' +
    'discharge_to_source_value:s@3 discharge_to_concept_id:i@3 admitted_from_concept_id:i@4 admitted_from_source_value:s@4 ' +
    'discharged_to_source_value:s@4 discharged_to_concept_id:i@4 preceding_visit_detail_id:i visit_detail_parent_id:i@3 ' +
    'parent_visit_detail_id:i@4 visit_occurrence_id:i!',
  condition_occurrence:
    'condition_occurrence_id:i!* person_id:i! condition_concept_id:i! condition_start_date:d! condition_start_datetime:t ' +
    'condition_end_date:d condition_end_datetime:t condition_type_concept_id:i! condition_status_concept_id:i ' +
    'stop_reason:s provider_id:i visit_occurrence_id:i visit_detail_id:i condition_source_value:s ' +
    'condition_source_concept_id:i condition_status_source_value:s',
  drug_exposure:
    'drug_exposure_id:i!* person_id:i! drug_concept_id:i! drug_exposure_start_date:d! drug_exposure_start_datetime:t ' +
    'drug_exposure_end_date:d! drug_exposure_end_datetime:t verbatim_end_date:d drug_type_concept_id:i! stop_reason:s ' +
    'refills:i quantity:f days_supply:i sig:s route_concept_id:i lot_number:s provider_id:i visit_occurrence_id:i ' +
    'visit_detail_id:i drug_source_value:s drug_source_concept_id:i route_source_value:s dose_unit_source_value:s',
  procedure_occurrence:
    'procedure_occurrence_id:i!* person_id:i! procedure_concept_id:i! procedure_date:d! procedure_datetime:t ' +
    'procedure_end_date:d@4 procedure_end_datetime:t@4 procedure_type_concept_id:i! modifier_concept_id:i quantity:i ' +
    'provider_id:i visit_occurrence_id:i visit_detail_id:i procedure_source_value:s procedure_source_concept_id:i ' +
    'modifier_source_value:s',
  device_exposure:
    'device_exposure_id:i!* person_id:i! device_concept_id:i! device_exposure_start_date:d! ' +
    'device_exposure_start_datetime:t device_exposure_end_date:d device_exposure_end_datetime:t device_type_concept_id:i! ' +
    'unique_device_id:s production_id:s@4 quantity:i provider_id:i visit_occurrence_id:i visit_detail_id:i ' +
    'device_source_value:s device_source_concept_id:i unit_concept_id:i@4 unit_source_value:s@4 unit_source_concept_id:i@4',
  measurement:
    'measurement_id:i!* person_id:i! measurement_concept_id:i! measurement_date:d! measurement_datetime:t ' +
    'measurement_time:s measurement_type_concept_id:i! operator_concept_id:i value_as_number:f value_as_concept_id:i ' +
    'unit_concept_id:i range_low:f range_high:f provider_id:i visit_occurrence_id:i visit_detail_id:i ' +
    'measurement_source_value:s measurement_source_concept_id:i unit_source_value:s unit_source_concept_id:i@4 ' +
    'value_source_value:s measurement_event_id:i@4 meas_event_field_concept_id:i@4',
  observation:
    'observation_id:i!* person_id:i! observation_concept_id:i! observation_date:d! observation_datetime:t ' +
    'observation_type_concept_id:i! value_as_number:f value_as_string:s value_as_concept_id:i qualifier_concept_id:i ' +
    'unit_concept_id:i provider_id:i visit_occurrence_id:i visit_detail_id:i observation_source_value:s ' +
    'observation_source_concept_id:i unit_source_value:s qualifier_source_value:s value_source_value:s@4 ' +
    'observation_event_id:i@4 obs_event_field_concept_id:i@4',
  death:
    'person_id:i!* death_date:d! death_datetime:t death_type_concept_id:i cause_concept_id:i cause_source_value:s ' +
    'cause_source_concept_id:i',
  // derived elements
  condition_era:
    'condition_era_id:i!* person_id:i! condition_concept_id:i! condition_era_start_date:d! condition_era_end_date:d! ' +
    'condition_occurrence_count:i',
  drug_era:
    'drug_era_id:i!* person_id:i! drug_concept_id:i! drug_era_start_date:d! drug_era_end_date:d! ' +
    'drug_exposure_count:i gap_days:i',
  dose_era:
    'dose_era_id:i!* person_id:i! drug_concept_id:i! unit_concept_id:i! dose_value:f! dose_era_start_date:d! ' +
    'dose_era_end_date:d!',
  // health system
  location:
    'location_id:i!* address_1:s address_2:s city:s state:s zip:s county:s location_source_value:s ' +
    'country_concept_id:i@4 country_source_value:s@4 latitude:f@4 longitude:f@4',
  care_site:
    'care_site_id:i!* care_site_name:s place_of_service_concept_id:i location_id:i care_site_source_value:s ' +
    'place_of_service_source_value:s',
  provider:
    'provider_id:i!* provider_name:s npi:s dea:s specialty_concept_id:i care_site_id:i year_of_birth:i ' +
    'gender_concept_id:i provider_source_value:s specialty_source_value:s specialty_source_concept_id:i ' +
    'gender_source_value:s gender_source_concept_id:i',
  cdm_source:
    'cdm_source_name:s! cdm_source_abbreviation:s cdm_holder:s source_description:s source_documentation_reference:s ' +
    'cdm_etl_reference:s source_release_date:d cdm_release_date:d cdm_version:s cdm_version_concept_id:i@4 ' +
    'vocabulary_version:s',
  // vocabulary
  concept:
    'concept_id:i!* concept_name:s! domain_id:s! vocabulary_id:s! concept_class_id:s! standard_concept:s ' +
    'concept_code:s! valid_start_date:d! valid_end_date:d! invalid_reason:s',
  vocabulary:
    'vocabulary_id:s!* vocabulary_name:s! vocabulary_reference:s vocabulary_version:s vocabulary_concept_id:i!',
  domain: 'domain_id:s!* domain_name:s! domain_concept_id:i!',
  concept_class: 'concept_class_id:s!* concept_class_name:s! concept_class_concept_id:i!',
  concept_relationship:
    'concept_id_1:i! concept_id_2:i! relationship_id:s! valid_start_date:d! valid_end_date:d! invalid_reason:s',
  relationship:
    'relationship_id:s!* relationship_name:s! is_hierarchical:s! defines_ancestry:s! reverse_relationship_id:s! ' +
    'relationship_concept_id:i!',
  concept_synonym: 'concept_id:i! concept_synonym_name:s! language_concept_id:i!',
  concept_ancestor:
    'ancestor_concept_id:i! descendant_concept_id:i! min_levels_of_separation:i! max_levels_of_separation:i!',
  drug_strength:
    'drug_concept_id:i! ingredient_concept_id:i! amount_value:f amount_unit_concept_id:i numerator_value:f ' +
    'numerator_unit_concept_id:i denominator_value:f denominator_unit_concept_id:i box_size:i valid_start_date:d! ' +
    'valid_end_date:d! invalid_reason:s',
  // results
  cohort: 'cohort_definition_id:i! subject_id:i! cohort_start_date:d! cohort_end_date:d!',
};

/**
 * Every table name of the CDM (both versions), including the ones fedmesh does not describe. A file named after
 * one of the undescribed tables is left to the plain tabular ingest rather than matched to a described table by
 * its header.
 */
export const ALL_CDM_TABLE_NAMES: ReadonlySet<string> = new Set([
  ...Object.keys(TABLES),
  'attribute_definition', 'cohort_attribute', 'cohort_definition', 'cost', 'episode', 'episode_event',
  'fact_relationship', 'metadata', 'note', 'note_nlp', 'payer_plan_period', 'source_to_concept_map', 'specimen',
]);

/** Tables an OMOP ingest must contain. */
export const REQUIRED_TABLES: readonly string[] = ['person', 'observation_period'];

/** Tables created empty when a CDM folder lacks them, so that cohort SQL over them still runs. */
export const CORE_TABLES: readonly string[] = [
  'person', 'observation_period', 'visit_occurrence', 'condition_occurrence', 'drug_exposure',
  'procedure_occurrence', 'measurement', 'observation', 'death', 'condition_era', 'drug_era', 'concept',
  'concept_ancestor',
];

const TYPE_CODES: Readonly<Record<string, OmopColumnType>> = {
  i: 'integer', f: 'float', d: 'date', t: 'datetime', s: 'varchar',
};

function parseColumns(table: string, text: string): OmopColumn[] {
  return text.split(/\s+/).filter((t) => t.length > 0).map((token) => {
    const m = /^([a-z_0-9]+):([ifdts])(!?)(\*?)(?:@([34]))?$/.exec(token);
    if (m === null) throw new Error(`cdm-spec: bad column token '${token}' in ${table}`);
    const type = TYPE_CODES[m[2] as string] as OmopColumnType;
    return {
      name: m[1] as string,
      type,
      required: m[3] === '!',
      primaryKey: m[4] === '*',
      onlyIn: m[5] === undefined ? undefined : (`5.${m[5]}` as OmopVersion),
    };
  });
}

const PARSED: ReadonlyMap<string, OmopTable> = new Map(
  Object.entries(TABLES).map(([name, text]) => [name, Object.freeze({ name, columns: Object.freeze(parseColumns(name, text)) })]),
);

/** Names of the tables fedmesh describes. */
export function omopTableNames(): string[] {
  return [...PARSED.keys()];
}

/** The table with every column of every version (for matching headers before the version is known). */
export function omopTableAnyVersion(name: string): OmopTable | undefined {
  return PARSED.get(name);
}

/** The table as it is in `version`, or undefined when fedmesh does not describe it. */
export function omopTable(name: string, version: OmopVersion): OmopTable | undefined {
  const t = PARSED.get(name);
  if (t === undefined) return undefined;
  return { name, columns: t.columns.filter((c) => c.onlyIn === undefined || c.onlyIn === version) };
}

/** The DuckDB type a CDM column is stored as. Integers are BIGINT: concept ids approach 2^31. */
export function duckdbType(type: OmopColumnType): string {
  switch (type) {
    case 'integer': return 'BIGINT';
    case 'float': return 'DOUBLE';
    case 'date': return 'DATE';
    case 'datetime': return 'TIMESTAMP';
    case 'varchar': return 'VARCHAR';
  }
}

/**
 * Guess the CDM version from the column names seen: a column that exists only in one version decides.
 * @returns undefined when the headers do not say.
 */
export function versionFromColumns(table: string, columns: readonly string[]): OmopVersion | undefined {
  const t = PARSED.get(table);
  if (t === undefined) return undefined;
  const seen = new Set(columns);
  let v53 = 0;
  let v54 = 0;
  for (const c of t.columns) {
    if (!seen.has(c.name)) continue;
    if (c.onlyIn === '5.3') v53 += 1;
    if (c.onlyIn === '5.4') v54 += 1;
  }
  if (v53 > v54) return '5.3';
  if (v54 > v53) return '5.4';
  return undefined;
}
