/**
 * OMOP standard concept IDs used by the synthetic sites. Every number here is a standard concept from the OHDSI
 * vocabularies (SNOMED conditions, RxNorm ingredients, LOINC measurements, UCUM units, Visit and Type Concept
 * domains), so cohort definitions and analyses written for real OMOP data run unchanged on the synthetic sites.
 */

export const GENDER = { male: 8507, female: 8532 } as const;

export const RACE = { white: 8527, black: 8516, asian: 8515, unknown: 0 } as const;

export const ETHNICITY = { hispanic: 38003563, notHispanic: 38003564 } as const;

export const VISIT = { inpatient: 9201, outpatient: 9202, emergency: 9203 } as const;

/** OMOP v5.4 Type Concepts (provenance of a record). */
export const TYPE_CONCEPT = { ehr: 32817, ehrPrescription: 32838, lab: 32856 } as const;

export const ROUTE = { oral: 4132161 } as const;

/** Measurement operator `=`. */
export const OPERATOR_EQUALS = 4172703;

export const UNIT = { percent: 8554, mmHg: 8876, mgPerDl: 8840, ratio: 8523, kgPerM2: 9531 } as const;

export type ConditionKey =
  | 'dm'
  | 'htn'
  | 'hld'
  | 'copd'
  | 'asthma'
  | 'mdd'
  | 'oa'
  | 'ckd'
  | 'af'
  | 'mi'
  | 'stroke'
  | 'hf'
  | 'gib';

export interface ConditionConcept {
  readonly key: ConditionKey;
  readonly conceptId: number;
  readonly name: string;
  /** ICD-10-CM code written to `condition_source_value`, as an EHR would record it. */
  readonly icd10: string;
  /** Acute events are diagnosed in an inpatient stay and end; chronic conditions stay open. */
  readonly acute: boolean;
}

export const CONDITIONS: readonly ConditionConcept[] = [
  { key: 'dm', conceptId: 201826, name: 'Type 2 diabetes mellitus', icd10: 'E11.9', acute: false },
  { key: 'htn', conceptId: 320128, name: 'Essential hypertension', icd10: 'I10', acute: false },
  { key: 'hld', conceptId: 432867, name: 'Hyperlipidemia', icd10: 'E78.5', acute: false },
  { key: 'copd', conceptId: 255573, name: 'Chronic obstructive lung disease', icd10: 'J44.9', acute: false },
  { key: 'asthma', conceptId: 317009, name: 'Asthma', icd10: 'J45.909', acute: false },
  { key: 'mdd', conceptId: 4152280, name: 'Major depressive disorder', icd10: 'F32.9', acute: false },
  { key: 'oa', conceptId: 80180, name: 'Osteoarthritis', icd10: 'M19.90', acute: false },
  { key: 'ckd', conceptId: 46271022, name: 'Chronic kidney disease', icd10: 'N18.9', acute: false },
  { key: 'af', conceptId: 313217, name: 'Atrial fibrillation', icd10: 'I48.91', acute: false },
  { key: 'mi', conceptId: 4329847, name: 'Myocardial infarction', icd10: 'I21.9', acute: true },
  { key: 'stroke', conceptId: 443454, name: 'Cerebral infarction', icd10: 'I63.9', acute: true },
  { key: 'hf', conceptId: 316139, name: 'Heart failure', icd10: 'I50.9', acute: false },
  { key: 'gib', conceptId: 192671, name: 'Gastrointestinal hemorrhage', icd10: 'K92.2', acute: true },
];

export type DrugKey =
  | 'metformin'
  | 'insulin'
  | 'lisinopril'
  | 'amlodipine'
  | 'atorvastatin'
  | 'warfarin'
  | 'metoprolol'
  | 'clopidogrel'
  | 'furosemide'
  | 'albuterol'
  | 'sertraline'
  | 'celecoxib';

export interface DrugConcept {
  readonly key: DrugKey;
  /** RxNorm ingredient concept. */
  readonly conceptId: number;
  readonly name: string;
  /** RxNorm code written to `drug_source_value`. */
  readonly rxnorm: string;
  readonly oral: boolean;
}

export const DRUGS: readonly DrugConcept[] = [
  { key: 'metformin', conceptId: 1503297, name: 'metformin', rxnorm: '6809', oral: true },
  { key: 'insulin', conceptId: 1502905, name: 'insulin glargine', rxnorm: '274783', oral: false },
  { key: 'lisinopril', conceptId: 1308216, name: 'lisinopril', rxnorm: '29046', oral: true },
  { key: 'amlodipine', conceptId: 1332418, name: 'amlodipine', rxnorm: '17767', oral: true },
  { key: 'atorvastatin', conceptId: 1545958, name: 'atorvastatin', rxnorm: '83367', oral: true },
  { key: 'warfarin', conceptId: 1310149, name: 'warfarin', rxnorm: '11289', oral: true },
  { key: 'metoprolol', conceptId: 1307046, name: 'metoprolol', rxnorm: '6918', oral: true },
  { key: 'clopidogrel', conceptId: 1322184, name: 'clopidogrel', rxnorm: '32968', oral: true },
  { key: 'furosemide', conceptId: 956874, name: 'furosemide', rxnorm: '4603', oral: true },
  { key: 'albuterol', conceptId: 1154343, name: 'albuterol (salbutamol)', rxnorm: '435', oral: false },
  { key: 'sertraline', conceptId: 739138, name: 'sertraline', rxnorm: '36437', oral: true },
  { key: 'celecoxib', conceptId: 1118084, name: 'celecoxib', rxnorm: '140587', oral: true },
];

export type LabKey = 'sbp' | 'dbp' | 'hba1c' | 'creatinine' | 'ldl' | 'inr' | 'bmi';

export interface LabConcept {
  readonly key: LabKey;
  readonly conceptId: number;
  readonly name: string;
  readonly loinc: string;
  readonly unitConceptId: number;
  readonly unitSource: string;
  readonly rangeLow: number;
  readonly rangeHigh: number;
  /** Vital signs come from the EHR; lab tests from the laboratory. */
  readonly vital: boolean;
}

export const LABS: readonly LabConcept[] = [
  { key: 'sbp', conceptId: 3004249, name: 'Systolic blood pressure', loinc: '8480-6', unitConceptId: UNIT.mmHg, unitSource: 'mm[Hg]', rangeLow: 90, rangeHigh: 120, vital: true },
  { key: 'dbp', conceptId: 3012888, name: 'Diastolic blood pressure', loinc: '8462-4', unitConceptId: UNIT.mmHg, unitSource: 'mm[Hg]', rangeLow: 60, rangeHigh: 80, vital: true },
  { key: 'hba1c', conceptId: 3004410, name: 'Hemoglobin A1c/Hemoglobin.total in Blood', loinc: '4548-4', unitConceptId: UNIT.percent, unitSource: '%', rangeLow: 4, rangeHigh: 5.6, vital: false },
  { key: 'creatinine', conceptId: 3016723, name: 'Creatinine [Mass/volume] in Serum or Plasma', loinc: '2160-0', unitConceptId: UNIT.mgPerDl, unitSource: 'mg/dL', rangeLow: 0.6, rangeHigh: 1.2, vital: false },
  { key: 'ldl', conceptId: 3028288, name: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation', loinc: '13457-7', unitConceptId: UNIT.mgPerDl, unitSource: 'mg/dL', rangeLow: 0, rangeHigh: 100, vital: false },
  { key: 'inr', conceptId: 3022217, name: 'INR in Platelet poor plasma by Coagulation assay', loinc: '6301-6', unitConceptId: UNIT.ratio, unitSource: '{INR}', rangeLow: 0.8, rangeHigh: 1.2, vital: false },
  { key: 'bmi', conceptId: 3038553, name: 'Body mass index (BMI) [Ratio]', loinc: '39156-5', unitConceptId: UNIT.kgPerM2, unitSource: 'kg/m2', rangeLow: 18.5, rangeHigh: 25, vital: true },
];

export function conditionConcept(key: ConditionKey): ConditionConcept {
  const found = CONDITIONS.find((c) => c.key === key);
  if (found === undefined) throw new RangeError(`unknown condition ${key}`);
  return found;
}

export function drugConcept(key: DrugKey): DrugConcept {
  const found = DRUGS.find((d) => d.key === key);
  if (found === undefined) throw new RangeError(`unknown drug ${key}`);
  return found;
}
