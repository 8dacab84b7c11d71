/**
 * Sensible defaults for the products an agent makes by itself (OMOP CDM tables, the flat FHIR tables) and for
 * plain tables, and `describeProducts`, which merges them with the manifest (defaults < manifest).
 *
 * Defaults lean to the protective side: clinical tables are `sensitive` with `person_id` (FHIR: the patient
 * reference) as privacy unit; only vocabulary tables are `public`; a plain table with no recognisable privacy
 * unit is `restricted`. Job kinds beyond `aggregate`/`contingency` (and the OMOP cohort family) must be opened in
 * the manifest.
 */
import { DEFAULT_POPULATION } from '../../../common/job/index.js';
import { omopTableNames } from '../omop/cdm-spec.js';
import { isNumericType } from './column-types.js';
import { inferSemanticType } from './semantic-types.js';
import type {
  CatalogJobKind, ColumnDescription, ConceptMappingState, ProductDescription, ProductManifest, ProductProfile,
  ProductSchema, SensitivityLevel,
} from './types.js';

/** Tables whose name starts so are the agent's bookkeeping, never products. */
const INTERNAL_PREFIXES = ['_fedmesh_', '__fedmesh_'];

const OMOP_CLINICAL: Readonly<Record<string, string>> = {
  person: 'OMOP CDM person: one row per person with gender, year of birth, race and ethnicity',
  observation_period: 'OMOP CDM observation periods: spans of time during which a person\'s clinical events are recorded',
  visit_occurrence: 'OMOP CDM visits: inpatient, outpatient and emergency encounters per person',
  visit_detail: 'OMOP CDM visit details: movements within a visit (wards, transfers)',
  condition_occurrence: 'OMOP CDM condition occurrences: diagnoses and findings per person with start and end dates',
  drug_exposure: 'OMOP CDM drug exposures: prescriptions, dispensings and administrations per person',
  procedure_occurrence: 'OMOP CDM procedure occurrences per person',
  device_exposure: 'OMOP CDM device exposures per person',
  measurement: 'OMOP CDM measurements: laboratory results and vital signs with values and units',
  observation: 'OMOP CDM observations: clinical facts that are not measurements, conditions or procedures',
  death: 'OMOP CDM deaths: date and cause of death per person',
  condition_era: 'OMOP CDM condition eras: spans of continuous condition occurrence per person',
  drug_era: 'OMOP CDM drug eras: spans of continuous exposure to an ingredient per person',
  dose_era: 'OMOP CDM dose eras: spans of constant dose of an ingredient per person',
  cohort: 'OMOP CDM cohort results: persons (subject_id) in each cohort definition with entry and exit dates',
};

const OMOP_VOCABULARY: Readonly<Record<string, string>> = {
  concept: 'OMOP vocabulary: concepts (public reference data)',
  vocabulary: 'OMOP vocabulary: the vocabularies loaded (public reference data)',
  domain: 'OMOP vocabulary: domains (public reference data)',
  concept_class: 'OMOP vocabulary: concept classes (public reference data)',
  concept_relationship: 'OMOP vocabulary: relationships between concepts (public reference data)',
  relationship: 'OMOP vocabulary: relationship types (public reference data)',
  concept_synonym: 'OMOP vocabulary: concept synonyms (public reference data)',
  concept_ancestor: 'OMOP vocabulary: concept hierarchy, ancestors and descendants (public reference data)',
  drug_strength: 'OMOP vocabulary: drug strengths per ingredient (public reference data)',
};

const OMOP_SYSTEM: Readonly<Record<string, { description: string; sensitivity: SensitivityLevel }>> = {
  location: { description: 'OMOP CDM locations: addresses of persons and care sites', sensitivity: 'restricted' },
  care_site: { description: 'OMOP CDM care sites', sensitivity: 'internal' },
  provider: { description: 'OMOP CDM providers: clinicians with specialty, gender and year of birth', sensitivity: 'restricted' },
  cdm_source: { description: 'OMOP CDM source: provenance and versions of this CDM instance', sensitivity: 'internal' },
};

const FHIR_TABLE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  fhir_patient: 'FHIR R4 Patient resources, flattened: gender, birth date, deceased, marital status',
  fhir_encounter: 'FHIR R4 Encounter resources, flattened: class, type, reason and period per patient',
  fhir_condition: 'FHIR R4 Condition resources, flattened: coding system and code, onset and abatement per patient',
  fhir_observation: 'FHIR R4 Observation resources, flattened: code, effective time, value with unit per patient',
  fhir_observation_component: 'FHIR R4 Observation components (e.g. blood pressure parts), one row per component',
  fhir_medication_request: 'FHIR R4 MedicationRequest resources, flattened: medication code, dates, quantity, supply',
  fhir_procedure: 'FHIR R4 Procedure resources, flattened: code and performed period per patient',
};

const CLINICAL_KINDS: readonly CatalogJobKind[] = ['aggregate', 'cohort', 'characterization', 'survival', 'contingency'];
const FHIR_KINDS: readonly CatalogJobKind[] = ['aggregate', 'contingency'];
const REFERENCE_KINDS: readonly CatalogJobKind[] = ['aggregate'];
const TABULAR_KINDS: readonly CatalogJobKind[] = ['aggregate', 'contingency'];

/**
 * Default value bounds of well-known numeric columns, used for clamping and DP sensitivity unless the manifest
 * declares others. Measured values (`value_as_number`, FHIR `value_number`) are left unbounded: no default range
 * fits every measurement, so jobs over them need bounds from the manifest or the job.
 */
const DEFAULT_BOUNDS: Readonly<Record<string, Readonly<Record<string, readonly [number, number]>>>> = {
  person: { year_of_birth: [1900, 2030], month_of_birth: [1, 12], day_of_birth: [1, 31] },
  provider: { year_of_birth: [1900, 2030] },
  drug_exposure: { days_supply: [0, 365], quantity: [0, 1000], refills: [0, 20] },
  procedure_occurrence: { quantity: [0, 100] },
  device_exposure: { quantity: [0, 100] },
  condition_era: { condition_occurrence_count: [0, 1000] },
  drug_era: { drug_exposure_count: [0, 1000], gap_days: [0, 365] },
  fhir_medication_request: { quantity: [0, 1000], supply_days: [0, 365], refills: [0, 20] },
};

/** The concept column whose mapping state an ingest reports for each OMOP table. */
const MAIN_CONCEPT_COLUMN: Readonly<Record<string, string>> = {
  person: 'gender_concept_id', visit_occurrence: 'visit_concept_id', visit_detail: 'visit_detail_concept_id',
  condition_occurrence: 'condition_concept_id', drug_exposure: 'drug_concept_id', procedure_occurrence: 'procedure_concept_id',
  device_exposure: 'device_concept_id', measurement: 'measurement_concept_id', observation: 'observation_concept_id',
  death: 'cause_concept_id', condition_era: 'condition_concept_id', drug_era: 'drug_concept_id', dose_era: 'drug_concept_id',
};

/** Privacy-unit columns recognised in plain tables, in order of preference. */
const PRIVACY_UNIT_CANDIDATES = ['person_id', 'patient_id', 'subject_id'];

interface ProductDefaults {
  profile: ProductProfile;
  description: string;
  /** Preferred privacy unit; used when the table has that column. */
  privacyUnit: string | undefined;
  primaryKey: string | undefined;
  sensitivity: SensitivityLevel;
  allowedJobKinds: readonly CatalogJobKind[];
}

const OMOP_DESCRIBED = new Set(omopTableNames());

/** Own property only: a table called `constructor` must not find `Object.prototype.constructor`. */
function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function defaultsFor(table: ProductSchema): ProductDefaults {
  const has = (c: string): boolean => table.columns.some((col) => col.name === c);
  const name = table.name;
  const fallbackUnit = PRIVACY_UNIT_CANDIDATES.find(has);
  const clinical = own(OMOP_CLINICAL, name);
  if (clinical !== undefined && OMOP_DESCRIBED.has(name)) {
    const unit = name === 'cohort' ? 'subject_id' : 'person_id';
    return {
      profile: 'omop', description: clinical, privacyUnit: has(unit) ? unit : fallbackUnit,
      primaryKey: name === 'death' || name === 'cohort' ? undefined : `${name}_id`,
      sensitivity: 'sensitive', allowedJobKinds: CLINICAL_KINDS,
    };
  }
  const vocab = own(OMOP_VOCABULARY, name);
  if (vocab !== undefined) {
    return {
      profile: 'omop-vocabulary', description: vocab, privacyUnit: undefined,
      primaryKey: has(`${name}_id`) ? `${name}_id` : undefined, sensitivity: 'public', allowedJobKinds: REFERENCE_KINDS,
    };
  }
  const system = own(OMOP_SYSTEM, name);
  if (system !== undefined) {
    return {
      profile: 'omop-system', description: system.description, privacyUnit: undefined,
      primaryKey: has(`${name}_id`) ? `${name}_id` : undefined, sensitivity: system.sensitivity, allowedJobKinds: REFERENCE_KINDS,
    };
  }
  const fhir = own(FHIR_TABLE_DESCRIPTIONS, name);
  if (fhir !== undefined) {
    // A Patient row is its own privacy unit; every other flat resource points at its patient.
    const unit = name === 'fhir_patient' ? 'id' : 'patient_id';
    return {
      profile: 'fhir', description: fhir, privacyUnit: has(unit) ? unit : fallbackUnit,
      primaryKey: has('id') ? 'id' : undefined, sensitivity: 'sensitive', allowedJobKinds: FHIR_KINDS,
    };
  }
  return {
    profile: 'tabular', description: 'table', privacyUnit: fallbackUnit, primaryKey: undefined,
    sensitivity: fallbackUnit === undefined ? 'restricted' : 'sensitive', allowedJobKinds: TABULAR_KINDS,
  };
}

export interface DescribeOptions {
  /** Owner domain of products whose manifest entry and manifest name none. @default 'unknown' */
  defaultOwner?: string;
  /**
   * Per OMOP table, the concept-mapping state an ingest reported (`FhirIngestReport.conceptMapping`); published
   * on the table's main concept column.
   */
  conceptMapping?: Readonly<Record<string, ConceptMappingState>>;
  /** Descriptions of plain tables, e.g. `ingested from FILE` from `listProducts`. */
  sourceDescriptions?: Readonly<Record<string, string>>;
}

function isInternal(name: string): boolean {
  return INTERNAL_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * Describe every product in `schema` (in order; the agent's internal tables left out): defaults for OMOP, FHIR
 * and plain tables, overridden field by field by the (validated) manifest. Bounds merge per column; a manifest
 * `privacyUnit: null` removes the default unit. Pure.
 */
export function describeProducts(
  schema: readonly ProductSchema[], manifest: ProductManifest = { products: {} }, options: DescribeOptions = {},
): ProductDescription[] {
  const out: ProductDescription[] = [];
  for (const table of schema) {
    if (isInternal(table.name)) continue;
    const d = defaultsFor(table);
    const m = own(manifest.products, table.name);
    const types = new Map(table.columns.map((c) => [c.name, c.type]));
    const privacyUnit = m?.privacyUnit === null ? undefined : (m?.privacyUnit ?? d.privacyUnit);

    const columns: ColumnDescription[] = table.columns.map((c) => {
      const declared = own(m?.columns, c.name);
      const col: ColumnDescription = {
        name: c.name, type: c.type,
        semanticType: declared?.semanticType ?? inferSemanticType(c.name, c.type, { primaryKey: d.primaryKey, privacyUnit }),
      };
      if (declared?.description !== undefined) col.description = declared.description;
      return col;
    });

    const bounds: Record<string, [number, number]> = {};
    const defaults = own(DEFAULT_BOUNDS, table.name);
    for (const [col, [lo, hi]] of Object.entries(defaults ?? {})) {
      const type = types.get(col);
      if (type !== undefined && isNumericType(type)) bounds[col] = [lo, hi];
    }
    for (const [col, [lo, hi]] of Object.entries(m?.bounds ?? {})) bounds[col] = [lo, hi];

    const description: ProductDescription = {
      name: table.name,
      description: m?.description
        ?? (d.profile === 'tabular' ? own(options.sourceDescriptions, table.name) ?? d.description : d.description),
      owner: m?.owner ?? manifest.owner ?? options.defaultOwner ?? 'unknown',
      profile: d.profile,
      columns,
      privacyUnit,
      population: m?.population ?? DEFAULT_POPULATION,
      bounds,
      sensitivity: m?.sensitivity ?? d.sensitivity,
      allowedJobKinds: [...(m?.allowedJobKinds ?? d.allowedJobKinds)],
    };
    if (m?.allowedPrivacyModes !== undefined) description.allowedPrivacyModes = [...m.allowedPrivacyModes];
    if (m?.tags !== undefined) description.tags = [...m.tags];
    if (m?.linkageKey !== undefined) description.linkageKey = m.linkageKey;
    const conceptCol = own(MAIN_CONCEPT_COLUMN, table.name);
    const state = own(options.conceptMapping, table.name);
    if (conceptCol !== undefined && state !== undefined && types.has(conceptCol)) {
      description.conceptMapping = { [conceptCol]: state };
    }
    out.push(description);
  }
  return out;
}
