/**
 * Who is behind each released cell of a cohort-level job, for the agent's mode-none differencing guard. The
 * analytics functions that count persons per cell (characterisation, survival counts, cohort attrition) hand the
 * same query with the persons in place of the counts to a {@link PersonSetSink}; the sink (node-agent/jobs/cell-sets.ts)
 * streams the pairs into the agent's own DuckDB, where they are keyed-hashed. Nothing here leaves the agent.
 */
import type { SqlParam, SqlRow } from '../data/source/source.js';

/**
 * Receives a query on the job's data (the agent's DuckDB or the site's server) whose rows hold one person each, in
 * column `person_id`, and the cells that person is counted in (`cellsOf`: public cell names, as the counts name them).
 */
export type PersonSetSink = (sql: string, params: readonly SqlParam[], cellsOf: (row: SqlRow) => readonly string[]) => Promise<void>;
