/**
 * The ledger's charges in time order, for the Budget page's spend-over-time charts: one row per job × population
 * it was charged on, with the job's products there and the project the job ran under (from its stored spec). Read
 * from the same table the budget checks sum, so the last point of a cumulative series is what `report` says.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { POPULATION_CHARGES } from './ledger-tables.js';

export interface LedgerCharge {
  jobId: string;
  researcher: string;
  population: string;
  products: string[];
  rho: number;
  /** ε of a pure-DP charge, or null where only ρ and δ bound the job. */
  epsilon: number | null;
  delta: number;
  state: 'reserved' | 'committed';
  atMs: number;
  /** The project the job's spec names, if any. */
  project: string | undefined;
}

/** Most charges one history read returns (the newest are kept). */
export const MAX_HISTORY_CHARGES = 10_000;

/** Charges of `researcher` (every researcher's when undefined), oldest first, at most the newest `limit`. */
export async function readChargeHistory(conn: DuckDBConnection, researcher: string | undefined, limit: number): Promise<LedgerCharge[]> {
  const n = Math.min(Math.max(1, Math.floor(limit)), MAX_HISTORY_CHARGES);
  const rows = (
    await conn.runAndReadAll(
      `SELECT * FROM (
         SELECT c.job_id, c.researcher, c.population, c.products, c.rho, c.epsilon, c.delta, c.state, c.at_ms,
                json_extract_string(j.spec_json, '$.project') AS project
           FROM ${POPULATION_CHARGES} c LEFT JOIN jobs j ON j.id = c.job_id
          WHERE ($1::VARCHAR IS NULL OR c.researcher = $1)
          ORDER BY c.at_ms DESC, c.job_id DESC, c.population DESC LIMIT $2)
        ORDER BY at_ms, job_id, population`,
      [researcher ?? null, n],
    )
  ).getRowObjectsJS();
  return rows.map((r) => ({
    jobId: String(r.job_id),
    researcher: String(r.researcher),
    population: String(r.population),
    // Written by this ledger as a JSON list of names (verified against the chain at start).
    products: JSON.parse(String(r.products)) as string[],
    rho: Number(r.rho),
    epsilon: r.epsilon === null ? null : Number(r.epsilon),
    delta: Number(r.delta),
    state: String(r.state) === 'reserved' ? 'reserved' : 'committed',
    atMs: Number(r.at_ms),
    project: typeof r.project === 'string' && r.project.length > 0 ? r.project : undefined,
  }));
}
