/**
 * Per-agent sufficient statistics for cohort jobs, as pure functions of a DuckDB connection: counts of persons
 * (the privacy unit) per public level, bin or concept, never rows. Outputs have fixed shapes given the public
 * options, so they add up exactly across agents holding disjoint persons; each function's TSDoc states how much
 * one person can change its output (the DP sensitivity).
 *
 * ```ts
 * const ch = await characterizeCohort(conn, 'job_42_cohort', { conditionConcepts: [192671] });
 * const sv = await survivalCounts(conn, { targetTable: 'job_42_cohort', outcome: { domain: 'condition', conceptIds: [192671] },
 *   timeGrid: { binDays: 30, maxDays: 720 }, strata: 'gender' });
 * const ct = await contingencyCounts(conn, { table: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id',
 *   rowLevels: [8507, 8532], colLevels: [8527, 8516] });
 * ```
 */
export {
  characterizeCohort,
  compileCharacterizeOptions,
  ageBandLabels,
  GENDER_CONCEPT_IDS,
  OTHER_GENDER_CONCEPT_ID,
  UNKNOWN_AGE_BAND,
  DEFAULT_AGE_BANDS,
  DEFAULT_WINDOW_DAYS,
} from './characterize.js';
export type { CharacterizeOptions, CompiledCharacterizeOptions, CohortCharacterization } from './characterize.js';
export {
  survivalCounts,
  survivalTimeGrid,
  sumSurvivalCounts,
  toStratumCounts,
  GENDER_STRATA,
  UNSTRATIFIED_LABEL,
  MAX_BINS,
} from './survival.js';
export type { SurvivalOptions, SurvivalOutcome, OutcomeDomain, SurvivalCounts, SurvivalStratum } from './survival.js';
export {
  contingencyCounts,
  cohortAttributeCounts,
  COHORT_MEMBERSHIP_LEVELS,
  CONTINGENCY_FILTER_OPS,
  MAX_LEVELS,
} from './contingency.js';
export type {
  ContingencyOptions,
  ContingencyCounts,
  ContingencyFilter,
  ContingencyFilterOp,
  CohortAttributeOptions,
  Level,
} from './contingency.js';
