/**
 * Statements that derive the OMOP tables from the wide person rows (see `person-sql.ts`). IDs are composed from
 * the person ID so that they are unique across sites and need no window function:
 *   condition_occurrence_id = person_id * 100 + condition index
 *   visit_occurrence_id     = person_id * 100 + k (routine visit k < 50) or + 50 + condition index (diagnosis)
 *   drug_exposure_id        = person_id * 1000 + drug index * 50 + fill number
 *   measurement_id          = visit_occurrence_id * 10 + lab index
 */
import { CONDITIONS, DRUGS, ETHNICITY, GENDER, LABS, OPERATOR_EQUALS, RACE, ROUTE, TYPE_CONCEPT, VISIT } from './concepts.js';
import { LAB_MODELS, MODEL_STEPS, isDrugRule } from './clinical-model.js';
import type { DrugRule } from './clinical-model.js';
import { projectColumns } from './omop-schema.js';
import type { OmopTable } from './omop-schema.js';
import { conditionIndex, drugIndex, PERSON_ID_STRIDE } from './person-sql.js';
import { clampRoundSql, normalSql, uniformSql } from './random-sql.js';
import { sqlStringLiteral } from './sql-text.js';

/** Names of the tables one site's statements read (already quoted and schema-qualified). */
export interface SiteTableNames {
  readonly wide: string;
  readonly conditionEvents: string;
  /** Where `visit_occurrence` is materialised: measurements are taken at visits, so they read it back. */
  readonly visitOccurrence: string;
}

/**
 * The SELECT that yields each OMOP table of a site, with exactly the table's columns. They read the wide person
 * table and the condition events (`conditionEventsSql`); `measurement` also reads the materialised visits.
 * Parameters: `$seed`.
 */
export function omopSelects(t: SiteTableNames): Readonly<Record<OmopTable, string>> {
  return {
    person: personSql(t),
    observation_period: observationPeriodSql(t),
    visit_occurrence: visitOccurrenceSql(t),
    condition_occurrence: conditionOccurrenceSql(t),
    drug_exposure: drugExposureSql(t),
    measurement: measurementSql(t),
    death: deathSql(t),
  };
}

const VISIT_STREAM = { date: 1, emergency: 2 } as const;
const LAB_STREAM = { taken: 1, value: 2 } as const;
const ACUTE_STAY_STREAM = 60;
/** Routine visits per person are capped below this, so diagnosis visit IDs (offset 50) never collide. */
export const DIAGNOSIS_VISIT_OFFSET = 50;
const ROUTINE_EMERGENCY_SHARE = 0.06;

const lit = sqlStringLiteral;

/** A CASE over `keyExpr` mapping each key to a SQL value. */
function caseMap(keyExpr: string, entries: readonly (readonly [string | number, string | number])[], otherwise = 'NULL'): string {
  const whens = entries.map(([k, v]) => `WHEN ${typeof k === 'number' ? k : lit(k)} THEN ${typeof v === 'number' ? v : lit(v)}`);
  return `CASE ${keyExpr} ${whens.join(' ')} ELSE ${otherwise} END`;
}

export function conditionEventsSql(t: SiteTableNames): string {
  const parts = CONDITIONS.map((c, idx) => {
    const end = c.acute
      ? `least(${c.key}_on + 1 + CAST(floor(${uniformSql('person_id', ACUTE_STAY_STREAM + idx)} * 9) AS INTEGER), obs_end)`
      : 'NULL::DATE';
    return `SELECT person_id, ${idx} AS cond_idx, ${c.key}_on AS start_date, ${end} AS end_date FROM ${t.wide} WHERE ${c.key}_on IS NOT NULL`;
  });
  return `CREATE OR REPLACE TABLE ${t.conditionEvents} AS\n${parts.join('\nUNION ALL\n')}`;
}

function personSql(t: SiteTableNames): string {
  const race = caseMap('race', Object.entries(RACE).map(([name, id]) => [name, id] as const), '0');
  return `SELECT ${projectColumns('person', {
    person_id: 'person_id',
    gender_concept_id: `CASE WHEN male = 1 THEN ${GENDER.male} ELSE ${GENDER.female} END`,
    year_of_birth: 'year(birth_date)',
    month_of_birth: 'month(birth_date)',
    day_of_birth: 'day(birth_date)',
    birth_datetime: 'birth_date',
    race_concept_id: race,
    ethnicity_concept_id: `CASE WHEN hispanic THEN ${ETHNICITY.hispanic} ELSE ${ETHNICITY.notHispanic} END`,
    care_site_id: `person_id // ${PERSON_ID_STRIDE}`,
    gender_source_value: `CASE WHEN male = 1 THEN 'M' ELSE 'F' END`,
    gender_source_concept_id: '0',
    race_source_value: 'race',
    race_source_concept_id: '0',
    ethnicity_source_value: `CASE WHEN hispanic THEN 'hispanic' ELSE 'not hispanic' END`,
    ethnicity_source_concept_id: '0',
  })} FROM ${t.wide}`;
}

function observationPeriodSql(t: SiteTableNames): string {
  return `SELECT ${projectColumns('observation_period', {
    observation_period_id: 'person_id',
    person_id: 'person_id',
    observation_period_start_date: 'obs_start',
    observation_period_end_date: 'obs_end',
    period_type_concept_id: `${TYPE_CONCEPT.ehr}`,
  })} FROM ${t.wide}`;
}

function deathSql(t: SiteTableNames): string {
  const conditionsByKey = CONDITIONS.map((c) => [c.key, c] as const);
  return `SELECT ${projectColumns('death', {
    person_id: 'person_id',
    death_date: 'death_date',
    death_datetime: 'death_date',
    death_type_concept_id: `${TYPE_CONCEPT.ehr}`,
    cause_concept_id: caseMap('death_cause', conditionsByKey.map(([k, c]) => [k, c.conceptId] as const), '0'),
    cause_source_value: caseMap('death_cause', conditionsByKey.map(([k, c]) => [k, c.icd10] as const)),
    cause_source_concept_id: '0',
  })} FROM ${t.wide} WHERE died`;
}

function conditionOccurrenceSql(t: SiteTableNames): string {
  const byIdx = (f: (c: (typeof CONDITIONS)[number]) => string | number): string =>
    caseMap('cond_idx', CONDITIONS.map((c, i) => [i, f(c)] as const));
  return `SELECT ${projectColumns('condition_occurrence', {
    condition_occurrence_id: 'person_id * 100 + cond_idx',
    person_id: 'person_id',
    condition_concept_id: byIdx((c) => c.conceptId),
    condition_start_date: 'start_date',
    condition_start_datetime: 'start_date',
    condition_end_date: 'end_date',
    condition_end_datetime: 'end_date',
    condition_type_concept_id: `${TYPE_CONCEPT.ehr}`,
    condition_status_concept_id: '0',
    visit_occurrence_id: `person_id * 100 + ${DIAGNOSIS_VISIT_OFFSET} + cond_idx`,
    condition_source_value: byIdx((c) => c.icd10),
    condition_source_concept_id: '0',
  })} FROM ${t.conditionEvents}`;
}

function visitOccurrenceSql(t: SiteTableNames): string {
  const acute = CONDITIONS.map((c, i) => [i, c.acute ? VISIT.inpatient : VISIT.outpatient] as const);
  const routineDate = `obs_start + CAST(floor(${uniformSql('vid', VISIT_STREAM.date)} * ((obs_end - obs_start) + 1)) AS INTEGER)`;
  const routineKind = `CASE WHEN ${uniformSql('vid', VISIT_STREAM.emergency)} < ${ROUTINE_EMERGENCY_SHARE} THEN ${VISIT.emergency} ELSE ${VISIT.outpatient} END`;
  const source = caseMap('visit_concept_id', [
    [VISIT.inpatient, 'IP'],
    [VISIT.outpatient, 'OP'],
    [VISIT.emergency, 'ER'],
  ]);
  return `WITH diagnosis AS (
  SELECT person_id, person_id * 100 + ${DIAGNOSIS_VISIT_OFFSET} + cond_idx AS vid, ${caseMap('cond_idx', acute)} AS visit_concept_id,
    start_date, coalesce(end_date, start_date) AS end_date
  FROM ${t.conditionEvents}
), routine_ids AS (
  SELECT person_id, person_id * 100 + k AS vid, obs_start, obs_end
  FROM (SELECT person_id, obs_start, obs_end, unnest(range(n_routine)) AS k FROM ${t.wide})
), routine AS (
  SELECT person_id, vid, ${routineKind} AS visit_concept_id, ${routineDate} AS start_date FROM routine_ids
), visits AS (
  SELECT person_id, vid, visit_concept_id, start_date, end_date FROM diagnosis
  UNION ALL
  SELECT person_id, vid, visit_concept_id, start_date, start_date FROM routine
)
SELECT ${projectColumns('visit_occurrence', {
    visit_occurrence_id: 'vid',
    person_id: 'person_id',
    visit_concept_id: 'visit_concept_id',
    visit_start_date: 'start_date',
    visit_start_datetime: 'start_date',
    visit_end_date: 'end_date',
    visit_end_datetime: 'end_date',
    visit_type_concept_id: `${TYPE_CONCEPT.ehr}`,
    care_site_id: `person_id // ${PERSON_ID_STRIDE}`,
    visit_source_value: source,
    visit_source_concept_id: '0',
  })} FROM visits`;
}

function drugStartsSql(t: SiteTableNames, rule: DrugRule): string {
  const start = `rx_${rule.drug}_start`;
  // The first fill of a drug started on its diagnosis day is prescribed at that diagnosis visit.
  const visit =
    rule.delayDays[1] === 0
      ? `CASE ${rule.indications
          .map((c) => `WHEN ${start} = ${c}_on THEN person_id * 100 + ${DIAGNOSIS_VISIT_OFFSET + conditionIndex(c)}`)
          .join(' ')} END`
      : 'NULL::BIGINT';
  const fills = `CAST(least(${rule.maxFills}, 1 + (obs_end - ${start}) // ${rule.daysSupply}) AS INTEGER)`;
  return `SELECT person_id, obs_end, ${drugIndex(rule)} AS drug_idx, ${start} AS first_start, ${fills} AS n_fills, ${visit} AS first_vid
    FROM ${t.wide} WHERE ${start} IS NOT NULL`;
}

function drugExposureSql(t: SiteTableNames): string {
  const rules = MODEL_STEPS.filter(isDrugRule);
  // Per-drug attributes come from a small VALUES table joined on the index (cheaper than CASE chains per row).
  const attributes = rules
    .map((r) => {
      const d = DRUGS[drugIndex(r)] as (typeof DRUGS)[number];
      return `(${drugIndex(r)}, ${d.conceptId}, ${r.daysSupply}, ${r.unitsPerDay}, ${d.oral ? ROUTE.oral : 0}, ${lit(d.rxnorm)})`;
    })
    .join(', ');
  return `WITH drugs(drug_idx, concept_id, supply, units_per_day, route_id, rxnorm) AS (VALUES ${attributes}),
starts AS (
  ${rules.map((r) => drugStartsSql(t, r)).join('\n  UNION ALL\n  ')}
), fills AS (
  SELECT person_id, obs_end, drug_idx, first_start, n_fills, first_vid, unnest(range(n_fills)) AS k FROM starts
), spans AS (
  SELECT f.*, d.*, f.first_start + CAST(f.k * d.supply AS INTEGER) AS fill_start,
    least(f.first_start + CAST((f.k + 1) * d.supply - 1 AS INTEGER), f.obs_end) AS fill_end
  FROM fills f JOIN drugs d USING (drug_idx)
)
SELECT ${projectColumns('drug_exposure', {
    drug_exposure_id: 'person_id * 1000 + drug_idx * 50 + k',
    person_id: 'person_id',
    drug_concept_id: 'concept_id',
    drug_exposure_start_date: 'fill_start',
    drug_exposure_start_datetime: 'fill_start',
    drug_exposure_end_date: 'fill_end',
    drug_exposure_end_datetime: 'fill_end',
    drug_type_concept_id: `${TYPE_CONCEPT.ehrPrescription}`,
    refills: 'n_fills - 1 - k',
    quantity: '(fill_end - fill_start + 1) * units_per_day',
    days_supply: 'fill_end - fill_start + 1',
    route_concept_id: 'route_id',
    visit_occurrence_id: 'CASE WHEN k = 0 THEN first_vid END',
    drug_source_value: 'rxnorm',
    drug_source_concept_id: '0',
  })} FROM spans`;
}

function measurementSql(t: SiteTableNames): string {
  const labIdx = (key: string): number => LABS.findIndex((l) => l.key === key);
  const z = normalSql('mid', LAB_STREAM.value);
  const probability = `CASE lab_idx ${LAB_MODELS.map((m) => `WHEN ${labIdx(m.key)} THEN ${m.probability}`).join(' ')} END`;
  const value = `CASE lab_idx ${LAB_MODELS.map(
    (m) => `WHEN ${labIdx(m.key)} THEN ${clampRoundSql(m.value.replace(/\bz\b/g, z), m.min, m.max, m.digits)}`,
  ).join(' ')} END`;
  const labs = LABS.map(
    (l, i) =>
      `(${i}, ${l.conceptId}, ${l.unitConceptId}, ${l.rangeLow}::DOUBLE, ${l.rangeHigh}::DOUBLE, ${lit(l.loinc)}, ${lit(l.unitSource)}, ${l.vital ? TYPE_CONCEPT.ehr : TYPE_CONCEPT.lab})`,
  ).join(', ');
  return `WITH labs(lab_idx, concept_id, unit_id, lo, hi, loinc, unit_source, type_id) AS (VALUES ${labs}),
vp AS (
  SELECT v.visit_occurrence_id AS vid, v.visit_start_date AS d, p.person_id, ${labInputs().map((c) => `p.${c}`).join(', ')}
  FROM ${t.visitOccurrence} v JOIN ${t.wide} p ON v.person_id = p.person_id
), x AS (
  SELECT vp.*, labs.*, vid * 10 + lab_idx AS mid FROM vp CROSS JOIN labs
), taken AS (
  SELECT *, ${value} AS value FROM x WHERE ${uniformSql('mid', LAB_STREAM.taken)} < ${probability}
)
SELECT ${projectColumns('measurement', {
    measurement_id: 'mid',
    person_id: 'person_id',
    measurement_concept_id: 'concept_id',
    measurement_date: 'd',
    measurement_datetime: 'd',
    measurement_type_concept_id: 'type_id',
    operator_concept_id: `${OPERATOR_EQUALS}`,
    value_as_number: 'value',
    unit_concept_id: 'unit_id',
    range_low: 'lo',
    range_high: 'hi',
    visit_occurrence_id: 'vid',
    measurement_source_value: 'loinc',
    measurement_source_concept_id: '0',
    unit_source_value: 'unit_source',
  })} FROM taken`;
}

/** The wide-row columns the lab models read, so the visit × lab join carries no more than it needs. */
function labInputs(): string[] {
  const names = new Set<string>();
  for (const m of LAB_MODELS) {
    for (const text of [m.probability, m.value]) {
      for (const match of text.matchAll(/\b(?:has_\w+|\w+_on|rx_\w+_start|age|male|ref_date)\b/g)) names.add(match[0]);
    }
  }
  return [...names].sort();
}
