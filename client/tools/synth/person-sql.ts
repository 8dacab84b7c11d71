/**
 * The statement that builds one wide row per person: demographics, which conditions and drugs the person has,
 * whether and when they die, their observation period, and every diagnosis and drug start date. All other tables
 * are derived from this row, which is what keeps them consistent with each other.
 */
import { CONDITIONS, DRUGS } from './concepts.js';
import type { ConditionKey } from './concepts.js';
import { DEATH_CAUSES, DEATH_LOGIT, MODEL_STEPS, isDrugRule } from './clinical-model.js';
import type { ConditionRisk, DrugRule } from './clinical-model.js';
import { normalSql, sigmoidSql, uniformSql } from './random-sql.js';

/** The data extraction date: everything happens on or before it. */
export const REFERENCE_DATE = '2024-12-31';

/** Person IDs of site s are s * PERSON_ID_STRIDE + 1, + 2, ...: unique across sites and easy to read. */
export const PERSON_ID_STRIDE = 1_000_000_000;

/** Per-person random streams (the `stream` argument of `uniformSql`); condition and drug streams add an index. */
const STREAM = {
  sex: 1,
  age: 2, // and 3
  race: 5,
  ethnicity: 6,
  observationYears: 7,
  death: 8,
  deathTiming: 9,
  routineVisits: 10,
  conditionPresent: 20,
  conditionOnset: 40,
  drugUptake: 80,
  drugDelay: 100,
} as const;

const PID = 'person_id';

export function conditionIndex(key: ConditionKey): number {
  return CONDITIONS.findIndex((c) => c.key === key);
}

export function drugIndex(rule: DrugRule): number {
  return DRUGS.findIndex((d) => d.key === rule.drug);
}

/** The earliest of the non-NULL date columns, or NULL when all are NULL. */
function earliest(columns: readonly string[]): string {
  if (columns.length === 0) return 'NULL';
  if (columns.length === 1) return columns[0] as string;
  return `least(${columns.join(', ')})`;
}

function presenceStep(step: ConditionRisk | DrugRule): string {
  if (isDrugRule(step)) {
    const indicated = step.indications.map((k) => `has_${k}`).join(' OR ');
    return `(${indicated}) AND ${uniformSql(PID, STREAM.drugUptake + drugIndex(step))} < ${step.uptake} AS rx_${step.drug}`;
  }
  const p = uniformSql(PID, STREAM.conditionPresent + conditionIndex(step.key));
  return `${p} < ${sigmoidSql(step.logit)} AS has_${step.key}`;
}

function dateStep(step: ConditionRisk | DrugRule): string {
  if (isDrugRule(step)) {
    const first = earliest(step.indications.map((k) => `${k}_on`));
    const [lo, hi] = step.delayDays;
    const delay = hi === lo ? `${lo}` : `${lo} + CAST(floor(${uniformSql(PID, STREAM.drugDelay + drugIndex(step))} * ${hi - lo + 1}) AS INTEGER)`;
    const start = `(${first} + ${delay})`;
    return `CASE WHEN rx_${step.drug} AND ${start} <= obs_end THEN ${start} END AS rx_${step.drug}_start`;
  }
  const parents = [...step.after.map((k) => `${k}_on`), ...step.afterDrugs.map((d) => `rx_${d}_start`)];
  const anchor = parents.length === 0 ? 'obs_start' : `coalesce(${earliest(parents)}, obs_start)`;
  const offset = `CAST(floor(${uniformSql(PID, STREAM.conditionOnset + conditionIndex(step.key))} * ((obs_end - ${anchor}) + 1)) AS INTEGER)`;
  return `CASE WHEN has_${step.key} THEN ${anchor} + ${offset} END AS ${step.key}_on`;
}

/**
 * `CREATE TABLE <table> AS ...` for the wide person rows of one site. Parameters: `$seed`, `$idBase`,
 * `$persons`, `$ageMean`, `$ageSd`, `$whiteShare`, `$dmShift`, `$cardioShift`, `$respShift`.
 */
export function personWideSql(table: string): string {
  const ctes: string[] = [];
  let prev = 'base';
  const add = (select: string): void => {
    const name = `s${ctes.length}`;
    ctes.push(`${name} AS (SELECT *, ${select} FROM ${prev})`);
    prev = name;
  };
  for (const step of MODEL_STEPS) add(presenceStep(step));
  add(`${uniformSql(PID, STREAM.death)} < ${sigmoidSql(DEATH_LOGIT)} AS died`);
  add(`ref_date - CAST(floor(age * 365.25) AS INTEGER) AS birth_date`);
  add(
    `greatest(birth_date, ref_date - CAST(floor((1.0 + 14.0 * ${uniformSql(PID, STREAM.observationYears)}) * 365.25) AS INTEGER)) AS obs_start`,
  );
  add(
    `CASE WHEN died THEN obs_start + CAST(floor((0.35 + 0.65 * ${uniformSql(PID, STREAM.deathTiming)}) * (ref_date - obs_start)) AS INTEGER) END AS death_date`,
  );
  add(`coalesce(death_date, ref_date) AS obs_end`);
  for (const step of MODEL_STEPS) add(dateStep(step));
  const conditionCount = CONDITIONS.map((c) => `has_${c.key}::INTEGER`).join(' + ');
  add(
    `CAST(least(40, floor(${uniformSql(PID, STREAM.routineVisits)} * (1.0 + ((obs_end - obs_start) / 365.25) * (0.35 + 0.25 * (${conditionCount}))))) AS INTEGER) AS n_routine`,
  );
  const causes = DEATH_CAUSES.map((k) => `WHEN has_${k} THEN '${k}'`).join(' ');
  add(`CASE WHEN died THEN CASE ${causes} END END AS death_cause`);

  const race = uniformSql(PID, STREAM.race);
  return `CREATE OR REPLACE TABLE ${table} AS
WITH base AS (
  SELECT
    ${PID},
    DATE '${REFERENCE_DATE}' AS ref_date,
    CASE WHEN ${uniformSql(PID, STREAM.sex)} < 0.49 THEN 1 ELSE 0 END AS male,
    least(99.9, greatest(0.0, $ageMean::DOUBLE + $ageSd::DOUBLE * ${normalSql(PID, STREAM.age)})) AS age,
    CASE
      WHEN ${race} < $whiteShare::DOUBLE THEN 'white'
      WHEN ${race} < $whiteShare::DOUBLE + (1.0 - $whiteShare::DOUBLE) * 0.55 THEN 'black'
      WHEN ${race} < $whiteShare::DOUBLE + (1.0 - $whiteShare::DOUBLE) * 0.85 THEN 'asian'
      ELSE 'unknown'
    END AS race,
    ${uniformSql(PID, STREAM.ethnicity)} < 0.12 AS hispanic
  FROM (SELECT $idBase::BIGINT + range + 1 AS ${PID} FROM range($persons::BIGINT))
),
${ctes.join(',\n')}
SELECT * FROM ${prev}`;
}
