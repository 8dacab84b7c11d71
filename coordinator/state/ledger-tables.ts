/**
 * The ledger's tables. Budgets and charges are kept per researcher × population; `charges` and `budgets` are the
 * per-product tables of states written before that, read once by the migration and then dropped.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export const POPULATION_BUDGETS = 'population_budgets';
export const POPULATION_CHARGES = 'population_charges';
/** Budgets per project (ethics approval) × population, shared by every researcher of the project. */
export const PROJECT_BUDGETS = 'project_budgets';
export const LEGACY_LEDGER_TABLES = ['budgets', 'charges'] as const;

/** The per-product DDL of the old schema (kept so tests can build an old state, and for the record). */
export const LEGACY_LEDGER_DDL = [
  `CREATE TABLE IF NOT EXISTS budgets (researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at_ms BIGINT NOT NULL, PRIMARY KEY (researcher, product))`,
  `CREATE TABLE IF NOT EXISTS charges (job_id VARCHAR PRIMARY KEY, researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, rho DOUBLE NOT NULL, epsilon DOUBLE, delta DOUBLE NOT NULL, state VARCHAR NOT NULL, at_ms BIGINT NOT NULL)`,
] as const;

/**
 * One charge row per job × population it touches (`products`: the JSON list of the job's products in it), all
 * written in the one transaction that reserves the job.
 */
export async function createPopulationTables(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE TABLE IF NOT EXISTS ${POPULATION_BUDGETS} (researcher VARCHAR NOT NULL, population VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at_ms BIGINT NOT NULL, PRIMARY KEY (researcher, population))`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${POPULATION_CHARGES} (job_id VARCHAR NOT NULL, researcher VARCHAR NOT NULL, population VARCHAR NOT NULL, products VARCHAR NOT NULL, rho DOUBLE NOT NULL, epsilon DOUBLE, delta DOUBLE NOT NULL, state VARCHAR NOT NULL, at_ms BIGINT NOT NULL, project VARCHAR, PRIMARY KEY (job_id, population))`);
  // States from before project budgets: the charge's project (null: none) is a column added at the end.
  await conn.run(`ALTER TABLE ${POPULATION_CHARGES} ADD COLUMN IF NOT EXISTS project VARCHAR`);
  await conn.run(`CREATE TABLE IF NOT EXISTS ${PROJECT_BUDGETS} (project VARCHAR NOT NULL, population VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at_ms BIGINT NOT NULL, PRIMARY KEY (project, population))`);
}
