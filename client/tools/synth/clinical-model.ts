/**
 * The clinical model behind the synthetic sites, as SQL fragments over one wide row per person.
 *
 * Risks are log-odds in age (per decade around 50), sex, the site profile and earlier conditions, so prevalence
 * rises with age and comorbidities cluster: diabetes raises hypertension, hyperlipidaemia and CKD; AF, MI and
 * hypertension raise heart failure and stroke; warfarin and celecoxib raise GI bleeding. Onsets are ordered the
 * same way (CKD after diabetes or hypertension, heart failure after AF or MI, a bleed after the drug that causes
 * it). Drugs start on the day their indication is diagnosed, labs depend on the conditions and drugs active on
 * the day they are taken.
 *
 * Column conventions in the wide row: `age` (years at the extraction date, fractional), `male` (1/0), `has_<c>`
 * (BOOLEAN), `<c>_on` (DATE of diagnosis or NULL), `rx_<d>` (BOOLEAN), `rx_<d>_start` (DATE or NULL).
 * Site parameters are bound as `$dmShift`, `$cardioShift`, `$respShift`.
 */
import type { ConditionKey, DrugKey, LabKey } from './concepts.js';

/** Years per unit of the age term, and the centre age. */
const A10 = '((age - 50.0) / 10.0)';
const has = (k: ConditionKey): string => `has_${k}::INTEGER`;
const under = (years: number): string => `(age < ${years})::INTEGER`;

export interface ConditionRisk {
  readonly key: ConditionKey;
  /** Log-odds of having the condition by the extraction date. */
  readonly logit: string;
  /** Conditions whose diagnosis, when present, must come first (the earliest present one is the anchor). */
  readonly after: readonly ConditionKey[];
  /** A drug whose start, when taken, anchors the onset instead (drug-induced events). */
  readonly afterDrugs: readonly DrugKey[];
}

/** In dependency order: each risk refers only to conditions and drugs listed before it. */
export const MODEL_STEPS: readonly (ConditionRisk | DrugRule)[] = [
  risk('dm', `-2.7 + 0.55 * ${A10} + 0.25 * male + $dmShift - 4.0 * ${under(20)}`),
  risk('copd', `-3.5 + 0.65 * ${A10} + 0.3 * male + $respShift - 5.0 * ${under(35)}`),
  risk('asthma', `-2.5 - 0.1 * ${A10} + 0.2 * (1 - male) + 0.5 * $respShift`),
  risk('mdd', `-2.4 + 0.45 * (1 - male) - 0.05 * ${A10} - 3.0 * ${under(12)}`),
  risk('oa', `-2.4 + 0.75 * ${A10} + 0.3 * (1 - male) - 4.0 * ${under(30)}`),
  risk('htn', `-1.4 + 0.8 * ${A10} + 0.2 * male + 1.0 * ${has('dm')} - 4.0 * ${under(18)}`),
  risk('hld', `-1.6 + 0.5 * ${A10} + 0.7 * ${has('dm')} + 0.3 * ${has('htn')} - 3.0 * ${under(25)}`),
  risk('ckd', `-4.0 + 0.7 * ${A10} + 1.3 * ${has('dm')} + 0.9 * ${has('htn')} - 3.0 * ${under(18)}`, ['dm', 'htn']),
  risk('af', `-5.0 + 0.9 * ${A10} + 0.4 * male + 0.5 * ${has('htn')} + $cardioShift - 4.0 * ${under(30)}`),
  risk(
    'mi',
    `-4.7 + 0.6 * ${A10} + 0.6 * male + 0.7 * ${has('dm')} + 0.5 * ${has('htn')} + 0.5 * ${has('hld')} + $cardioShift - 4.0 * ${under(30)}`,
  ),
  risk('stroke', `-4.9 + 0.75 * ${A10} + 1.1 * ${has('af')} + 0.6 * ${has('htn')} + 0.3 * ${has('dm')} - 4.0 * ${under(30)}`, ['af']),
  risk(
    'hf',
    `-5.4 + 0.7 * ${A10} + 1.2 * ${has('af')} + 1.5 * ${has('mi')} + 0.6 * ${has('htn')} + 0.4 * ${has('dm')} + 0.5 * ${has('ckd')} + $cardioShift - 4.0 * ${under(30)}`,
    ['af', 'mi'],
  ),
  drug('metformin', ['dm'], 0.85, 90, 12, 2),
  drug('insulin', ['dm'], 0.22, 90, 12, 1, [180, 1500]),
  drug('lisinopril', ['htn', 'hf', 'ckd'], 0.6, 90, 12, 1),
  drug('amlodipine', ['htn'], 0.3, 90, 12, 1),
  drug('atorvastatin', ['hld', 'mi', 'stroke'], 0.75, 90, 12, 1),
  drug('warfarin', ['af'], 0.65, 30, 24, 1),
  drug('metoprolol', ['mi', 'af', 'hf'], 0.6, 90, 12, 2),
  drug('clopidogrel', ['mi', 'stroke'], 0.7, 90, 4, 1),
  drug('furosemide', ['hf'], 0.8, 90, 12, 1),
  drug('albuterol', ['asthma', 'copd'], 0.85, 30, 6, 1),
  drug('sertraline', ['mdd'], 0.55, 30, 12, 1),
  drug('celecoxib', ['oa'], 0.35, 30, 6, 2),
  {
    ...risk(
      'gib',
      `-5.2 + 0.4 * ${A10} + 1.2 * rx_warfarin::INTEGER + 1.0 * rx_celecoxib::INTEGER + 0.4 * ${has('ckd')} - 3.0 * ${under(18)}`,
    ),
    afterDrugs: ['warfarin', 'celecoxib'],
  },
];

export interface DrugRule {
  readonly drug: DrugKey;
  /** Any of these diagnoses is an indication; the first one diagnosed sets the start date. */
  readonly indications: readonly ConditionKey[];
  /** Probability that a person with an indication is treated. */
  readonly uptake: number;
  readonly daysSupply: number;
  /** Fills are repeated every `daysSupply` days up to this many, or until observation ends. */
  readonly maxFills: number;
  /** Units per day, for `quantity`. */
  readonly unitsPerDay: number;
  /** Days from the indication to the first fill, drawn uniformly; [0, 0] means the diagnosis visit. */
  readonly delayDays: readonly [number, number];
}

export function isDrugRule(step: ConditionRisk | DrugRule): step is DrugRule {
  return 'drug' in step;
}

/** Log-odds of death during observation. */
export const DEATH_LOGIT =
  `-6.1 + 1.0 * ${A10} + 1.1 * ${has('hf')} + 0.8 * ${has('mi')} + 0.9 * ${has('stroke')} + 0.6 * ${has('ckd')} ` +
  `+ 0.6 * ${has('copd')} + 0.3 * ${has('dm')} + 0.8 * ${has('gib')}`;

/** Causes of death in order of precedence; a person who dies of none of them gets cause 0 (unknown). */
export const DEATH_CAUSES: readonly ConditionKey[] = ['mi', 'stroke', 'hf', 'gib', 'copd', 'ckd', 'dm'];

export interface LabModel {
  readonly key: LabKey;
  /** Probability the test is taken at a visit on `d`. */
  readonly probability: string;
  /** Value before rounding; `z` is a standard normal draw. */
  readonly value: string;
  readonly min: number;
  readonly max: number;
  readonly digits: number;
}

/** Whether condition `k` has been diagnosed by the date in column `d`. */
export const active = (k: ConditionKey): string => `coalesce(${k}_on <= d, false)`;
/** Whether drug `k` has been started by the date in column `d`. */
export const onDrug = (k: DrugKey): string => `coalesce(rx_${k}_start <= d, false)`;
const act = (k: ConditionKey): string => `${active(k)}::INTEGER`;
const rx = (k: DrugKey): string => `${onDrug(k)}::INTEGER`;
/** Age in years on the visit date. */
const AGE_AT_D = `(age - (DATE_DIFF('day', d, ref_date) / 365.25))`;

export const LAB_MODELS: readonly LabModel[] = [
  {
    key: 'sbp',
    probability: '0.9',
    value: `114 + 0.45 * greatest(${AGE_AT_D} - 30, 0) + 18 * ${act('htn')} - 8 * greatest(${rx('lisinopril')}, ${rx('amlodipine')}) + 12 * z`,
    min: 80,
    max: 230,
    digits: 0,
  },
  {
    key: 'dbp',
    probability: '0.9',
    value: `72 + 0.1 * greatest(${AGE_AT_D} - 30, 0) + 9 * ${act('htn')} - 4 * greatest(${rx('lisinopril')}, ${rx('amlodipine')}) + 8 * z`,
    min: 40,
    max: 140,
    digits: 0,
  },
  {
    key: 'hba1c',
    probability: `CASE WHEN ${active('dm')} THEN 0.85 WHEN age >= 45 THEN 0.2 ELSE 0.08 END`,
    value: `CASE WHEN ${active('dm')} THEN 7.6 - 0.4 * ${rx('metformin')} + 1.2 * z WHEN has_dm THEN 6.1 + 0.25 * z ELSE 5.3 + 0.005 * ${AGE_AT_D} + 0.3 * z END`,
    min: 4,
    max: 15,
    digits: 1,
  },
  {
    key: 'creatinine',
    probability: `CASE WHEN ${active('ckd')} THEN 0.8 WHEN ${active('dm')} OR ${active('htn')} THEN 0.45 ELSE 0.15 END`,
    value: `0.8 + 0.18 * male + 0.003 * ${AGE_AT_D} + ${act('ckd')} * (1.1 + 0.5 * z) + 0.15 * z`,
    min: 0.3,
    max: 12,
    digits: 2,
  },
  {
    key: 'ldl',
    probability: `CASE WHEN ${active('hld')} THEN 0.6 WHEN age >= 40 THEN 0.2 ELSE 0.05 END`,
    value: `112 + 38 * ${act('hld')} - 45 * ${rx('atorvastatin')} + 28 * z`,
    min: 30,
    max: 320,
    digits: 0,
  },
  {
    key: 'inr',
    probability: `CASE WHEN ${onDrug('warfarin')} THEN 0.9 ELSE 0.03 END`,
    value: `CASE WHEN ${onDrug('warfarin')} THEN 2.5 + 0.5 * z ELSE 1.0 + 0.08 * z END`,
    min: 0.7,
    max: 8,
    digits: 1,
  },
  {
    key: 'bmi',
    probability: '0.3',
    value: `26.5 + 4.0 * has_dm::INTEGER + 1.5 * has_htn::INTEGER + 5.0 * z`,
    min: 14,
    max: 60,
    digits: 1,
  },
];

function risk(key: ConditionKey, logit: string, after: readonly ConditionKey[] = []): ConditionRisk {
  return { key, logit, after, afterDrugs: [] };
}

function drug(
  key: DrugKey,
  indications: readonly ConditionKey[],
  uptake: number,
  daysSupply: number,
  maxFills: number,
  unitsPerDay: number,
  delayDays: readonly [number, number] = [0, 0],
): DrugRule {
  return { drug: key, indications, uptake, daysSupply, maxFills, unitsPerDay, delayDays };
}
