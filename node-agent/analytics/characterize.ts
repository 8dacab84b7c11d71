/**
 * Cohort characterisation at one agent: persons and entries, persons by gender and by age band at index, and
 * the prevalence of public lists of condition and drug concepts in a window around the index date. Only counts
 * leave; every public level is present (0 where no one matches), so outputs from agents add up cell by cell.
 */
import type { PersonSetSink } from './person-sets.js';
import { asSession } from '../cohort/run.js';
import type { SqlParam } from '../data/source/source.js';
import { invalidJob } from '../../common/errors.js';
import { ageBandLabelsFor, checkAgeBandEdges, checkWindowDays } from '../../common/job/index.js';
import { findTable, guardDuckDb, requireCohortTable, requireOmopTable, toBigInt, type AnalyticsDb } from './schema.js';
import { Params, checkConceptList, conceptMapCtes, indexDatesSql } from './sql-params.js';

/** The public gender levels; any other or missing gender is reported under {@link OTHER_GENDER_CONCEPT_ID}. */
export const GENDER_CONCEPT_IDS: readonly number[] = Object.freeze([8507, 8532]);
/** The level (OMOP "No matching concept") for persons whose gender is missing or not in {@link GENDER_CONCEPT_IDS}. */
export const OTHER_GENDER_CONCEPT_ID = 0;
/** The age band of persons whose year of birth is missing or whose age is outside the band edges. */
export const UNKNOWN_AGE_BAND = 'unknown';
export const DEFAULT_AGE_BANDS: readonly number[] = Object.freeze([0, 18, 30, 40, 50, 60, 70, 80, 200]);
export const DEFAULT_WINDOW_DAYS: readonly [number, number] = Object.freeze([-365, 0]) as readonly [number, number];

export interface CharacterizeOptions {
  /**
   * Public list of condition concepts. A person counts for concept c when a `condition_occurrence` of c (or of a
   * descendant of c in `concept_ancestor`, when that table exists) starts inside the window.
   * @default []
   */
  conditionConcepts?: readonly number[];
  /** Public list of drug concepts, counted like conditions on `drug_exposure_start_date`. @default [] */
  drugConcepts?: readonly number[];
  /**
   * Age band edges in whole years, strictly increasing; band k is [edge_k, edge_{k+1}), labelled
   * `"<edge_k>-<edge_{k+1} − 1>"` (e.g. `"18-29"`). Age at index = year(index) − year_of_birth.
   * @default [0, 18, 30, 40, 50, 60, 70, 80, 200]
   */
  ageBands?: readonly number[];
  /** Window in days relative to the index date, both ends inclusive. @default [-365, 0] */
  windowDays?: readonly [number, number];
  /**
   * Mode none: each cohort person's cells — `gender:<id>`, `age:<band>`, `condition:<id>`, `drug:<id>` — for the
   * differencing guard, from the same queries as the counts. @default none
   */
  personSets?: PersonSetSink;
}

/** The options after defaults and validation. */
export interface CompiledCharacterizeOptions {
  readonly conditionConcepts: readonly number[];
  readonly drugConcepts: readonly number[];
  readonly ageBands: readonly number[];
  readonly windowDays: readonly [number, number];
}

/**
 * Counts for one cohort at one agent. Sensitivity (add or remove one person, the privacy unit): `persons` ±1;
 * `byGender` one cell ±1; `byAgeBand` one cell ±1; `conditions` up to `conditionConcepts.length` cells, each ±1;
 * `drugs` up to `drugConcepts.length` cells, each ±1. `entries` is NOT bounded per person (a person may have
 * many cohort entries): release it only in mode `none` or with its own clamp.
 */
export interface CohortCharacterization {
  /** Distinct persons in the cohort. */
  persons: bigint;
  /** Rows (entries) of the cohort table. Not person-bounded; see the interface note. */
  entries: bigint;
  /** One row per level of {@link GENDER_CONCEPT_IDS}, then {@link OTHER_GENDER_CONCEPT_ID}; sums to `persons`. */
  byGender: { gender_concept_id: number; persons: bigint }[];
  /** One row per band in edge order, then {@link UNKNOWN_AGE_BAND}; sums to `persons`. */
  byAgeBand: { band: string; persons: bigint }[];
  /** One row per public condition concept, in the caller's order. */
  conditions: { concept_id: number; persons: bigint }[];
  /** One row per public drug concept, in the caller's order. */
  drugs: { concept_id: number; persons: bigint }[];
}

/**
 * Applies defaults and validates the options once.
 * @throws FedmeshError INVALID_JOB naming the option at fault (e.g. `opts.ageBands[3]`)
 */
export function compileCharacterizeOptions(opts: CharacterizeOptions = {}): CompiledCharacterizeOptions {
  if (typeof opts !== 'object' || opts === null) throw invalidJob('opts', 'must be an object');
  const conditionConcepts = checkConceptList(opts.conditionConcepts ?? [], 'opts.conditionConcepts', { allowEmpty: true });
  const drugConcepts = checkConceptList(opts.drugConcepts ?? [], 'opts.drugConcepts', { allowEmpty: true });
  // The coordinator's parser checks the same limits (common/job/cell-limits.ts) before admission.
  const edges = checkAgeBandEdges(opts.ageBands ?? DEFAULT_AGE_BANDS, 'opts.ageBands');
  const [lo, hi] = checkWindowDays(opts.windowDays ?? DEFAULT_WINDOW_DAYS, 'opts.windowDays');
  return Object.freeze({
    conditionConcepts: Object.freeze(conditionConcepts),
    drugConcepts: Object.freeze(drugConcepts),
    ageBands: Object.freeze(edges),
    windowDays: Object.freeze([lo, hi]) as readonly [number, number],
  });
}

/** Band labels for the edges, then {@link UNKNOWN_AGE_BAND}. */
export function ageBandLabels(edges: readonly number[]): string[] {
  // One labelling rule for agent and coordinator: the labels are cell keys both sides must agree on.
  return [...ageBandLabelsFor(edges).slice(0, -1), UNKNOWN_AGE_BAND];
}

function ageBandIndex(age: number | null, edges: readonly number[]): number {
  const unknown = edges.length - 1;
  if (age === null || age < edges[0]! || age >= edges.at(-1)!) return unknown;
  let k = 0;
  while (age >= edges[k + 1]!) k++;
  return k;
}

/**
 * Characterises the cohort in `cohortTable` (as written by `runCohort`) on this agent's OMOP data.
 *
 * The index date of a person is the start of their first entry. Every count is of distinct persons, so each
 * person adds at most 1 to any cell: exactly one gender cell, exactly one age-band cell, and at most one cell per
 * public concept (see {@link CohortCharacterization} for the resulting sensitivities). Because persons are
 * partitioned across agents, the sum over agents equals the characterisation of the pooled data.
 *
 * @throws FedmeshError INVALID_JOB naming the option at fault (bad option, unknown cohort table);
 *   FAILED_PRECONDITION when an OMOP table it needs is missing; INTERNAL (DuckDB error only in `cause`)
 */
export async function characterizeCohort(
  db: AnalyticsDb,
  cohortTable: string,
  opts: CharacterizeOptions = {},
): Promise<CohortCharacterization> {
  const o = compileCharacterizeOptions(opts);
  const conn = asSession(db);
  const x = conn.dialect;
  const cohort = await requireCohortTable(conn, cohortTable, 'cohortTable');
  const person = await requireOmopTable(conn, 'person', ['person_id', 'gender_concept_id', 'year_of_birth']);
  const conditionTable =
    o.conditionConcepts.length > 0
      ? await requireOmopTable(conn, 'condition_occurrence', ['person_id', 'condition_concept_id', 'condition_start_date'])
      : undefined;
  const drugTable =
    o.drugConcepts.length > 0
      ? await requireOmopTable(conn, 'drug_exposure', ['person_id', 'drug_concept_id', 'drug_exposure_start_date'])
      : undefined;
  const ancestor = await findTable(conn, 'concept_ancestor', 'concept_ancestor');
  const ancestorSql =
    ancestor !== undefined && ancestor.columns.has('ancestor_concept_id') && ancestor.columns.has('descendant_concept_id')
      ? ancestor.sql
      : undefined;

  return guardDuckDb('cohort characterisation', async () => {
    const totals = (
      await conn.all(
        `SELECT COUNT(DISTINCT subject_id) AS persons, COUNT(*) AS entries
           FROM ${cohort.sql} WHERE subject_id IS NOT NULL AND cohort_start_date IS NOT NULL`,
      )
    )[0];

    // One person row per person (the smallest values if a person is listed twice), so no one lands in two cells.
    const genderCase = `CASE ${GENDER_CONCEPT_IDS.map((g) => `WHEN p.gender_concept_id = ${g} THEN ${g}`).join(' ')} ELSE ${OTHER_GENDER_CONCEPT_ID} END`;
    const demoFrom = `WITH idx AS (${indexDatesSql(cohort.sql)}),
            p AS (SELECT person_id, min(gender_concept_id) AS gender_concept_id, min(year_of_birth) AS year_of_birth
                    FROM ${person.sql} GROUP BY person_id)`;
    const ageSql = x.cast(`${x.year('idx.index_date')} - p.year_of_birth`, 'BIGINT');
    const demo = await conn.all(`${demoFrom}
       SELECT ${genderCase} AS gender, ${ageSql} AS age, COUNT(*) AS n
         FROM idx LEFT JOIN p ON p.person_id = idx.person_id
        GROUP BY ${genderCase}, ${ageSql}`);
    const genderLevels = [...GENDER_CONCEPT_IDS, OTHER_GENDER_CONCEPT_ID];
    const genderIndex = (r: Record<string, unknown>): number => {
      const gi = genderLevels.indexOf(Number(r['gender']));
      return gi === -1 ? genderLevels.length - 1 : gi;
    };
    const bandIndex = (r: Record<string, unknown>): number => ageBandIndex(r['age'] === null ? null : Number(r['age']), o.ageBands);
    const byGender = genderLevels.map((g) => ({ gender_concept_id: g, persons: 0n }));
    const bandLabels = ageBandLabels(o.ageBands);
    const byAgeBand = bandLabels.map((band) => ({ band, persons: 0n }));
    for (const r of demo) {
      const n = toBigInt(r['n']);
      byGender[genderIndex(r)]!.persons += n;
      byAgeBand[bandIndex(r)]!.persons += n;
    }
    if (opts.personSets) {
      const sql = `${demoFrom} SELECT ${genderCase} AS gender, ${ageSql} AS age, idx.person_id FROM idx LEFT JOIN p ON p.person_id = idx.person_id`;
      await opts.personSets(sql, [], (r) => [`gender:${genderLevels[genderIndex(r)]}`, `age:${bandLabels[bandIndex(r)]}`]);
    }

    const prevalence = async (
      concepts: readonly number[],
      table: { sql: string } | undefined,
      conceptColumn: string,
      dateColumn: string,
      cellPrefix: string,
    ): Promise<{ concept_id: number; persons: bigint }[]> => {
      const out = concepts.map((concept_id) => ({ concept_id, persons: 0n }));
      if (concepts.length === 0 || table === undefined) return out;
      const params = new Params(x);
      const from = `WITH idx AS (${indexDatesSql(cohort.sql)}),
        ${conceptMapCtes('cmap', concepts, params, ancestorSql)}`;
      const body = `FROM idx
          JOIN ${table.sql} e ON e.person_id = idx.person_id
          JOIN cmap m ON m.concept_id = e.${conceptColumn}
         WHERE e.${dateColumn} BETWEEN ${x.addDays('idx.index_date', params.add(o.windowDays[0], 'INTEGER'))}
                                   AND ${x.addDays('idx.index_date', params.add(o.windowDays[1], 'INTEGER'))}`;
      const sql = `${from} SELECT m.target AS concept_id, COUNT(DISTINCT idx.person_id) AS n ${body} GROUP BY m.target`;
      if (opts.personSets) await opts.personSets(`${from} SELECT DISTINCT m.target AS concept_id, idx.person_id ${body}`, params.values as SqlParam[], (r) => [`${cellPrefix}:${Number(r['concept_id'])}`]);
      const rows = await conn.all(sql, params.values as SqlParam[]);
      const at = new Map(concepts.map((c, i) => [c, i]));
      for (const r of rows) {
        const i = at.get(Number(r['concept_id']));
        if (i !== undefined) out[i]!.persons = toBigInt(r['n']);
      }
      return out;
    };

    return {
      persons: toBigInt(totals?.['persons']),
      entries: toBigInt(totals?.['entries']),
      byGender,
      byAgeBand,
      conditions: await prevalence(o.conditionConcepts, conditionTable, 'condition_concept_id', 'condition_start_date', 'condition'),
      drugs: await prevalence(o.drugConcepts, drugTable, 'drug_concept_id', 'drug_exposure_start_date', 'drug'),
    };
  });
}
