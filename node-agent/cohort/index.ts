/**
 * Cohorts: definitions (OHDSI Circe JSON or the native fedmesh spec) compiled to DuckDB SQL over OMOP CDM tables.
 *
 * ```ts
 * const ir = parseCirce(JSON.parse(text));          // or parseNativeCohort(spec)
 * const { persons, entries, attrition, table } = await runCohort(conn, ir, { targetTable: 'job_42_cohort' });
 * ```
 */
export { parseCirce, MAX_INCLUSION_RULES } from '../../common/cohort/index.js';
export { parseNativeCohort } from '../../common/cohort/index.js';
export type { NativeDomain } from '../../common/cohort/index.js';
export { compileCohort } from './compile.js';
export type { CompileCohortOptions, CompiledCohort, CompiledStatement } from './compile.js';
export { asSession, runCohort } from './run.js';
export type { AttritionRow, CohortRunResult } from './run.js';
export { CRITERION_DOMAINS } from '../../common/cohort/index.js';
export type * from '../../common/cohort/index.js';
