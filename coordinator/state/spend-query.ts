/**
 * What a researcher, or every researcher of a project, has reserved or spent on one population: the one query
 * behind both budget checks at admission and both budget reports, so the two budgets can never add up their
 * charges differently (an unbounded-ε charge makes the sum infinite in both; reserved rows count in both).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import { POPULATION_CHARGES } from './ledger-tables.js';

/** Whose charges are summed: one researcher's (their own budget) or one project's (its shared budget). */
export type SpendScope = { researcher: string } | { project: string };

export interface Spend {
  /** The composed loss of the charges: ρ and δ summed; ε summed, or Infinity when a charge has no finite ε. */
  cost: PrivacyCost;
  /** Charges counted, and how many of them are still reserved (their job has not finished). */
  jobs: number;
  reserved: number;
  /** The products the charges were made on, deduplicated and sorted. */
  products: string[];
  /** The researchers who made them, sorted (one name under a researcher scope). */
  researchers: string[];
}

/** The spend of `scope` on `population`; zero (no jobs) when nothing was charged. */
export async function spendOn(conn: DuckDBConnection, scope: SpendScope, population: string): Promise<Spend> {
  // The column comes from this fixed pair, never from the caller's text; the values are bound parameters.
  const [column, value] = 'researcher' in scope ? ['researcher', scope.researcher] : ['project', scope.project];
  const r = (
    await conn.runAndReadAll(
      `SELECT coalesce(sum(rho), 0) AS rho, coalesce(sum(epsilon), 0) AS eps, count(*) FILTER (WHERE epsilon IS NULL)::INTEGER AS unbounded,
              coalesce(sum(delta), 0) AS delta, count(*)::INTEGER AS jobs, count(*) FILTER (WHERE state = 'reserved')::INTEGER AS reserved,
              coalesce(list(DISTINCT products), []) AS products, coalesce(list(DISTINCT researcher ORDER BY researcher), []) AS researchers
         FROM ${POPULATION_CHARGES} WHERE ${column} = $1 AND population = $2`,
      [value, population],
    )
  ).getRowObjectsJS()[0]!;
  // Each row holds its products as a JSON list written by the ledger (validated against the chain at start).
  const products = [...new Set((r.products as unknown[]).flatMap((x) => JSON.parse(String(x)) as string[]))].sort();
  return {
    cost: { rho: Number(r.rho), epsilon: Number(r.unbounded) > 0 ? Infinity : Number(r.eps), delta: Number(r.delta) },
    jobs: Number(r.jobs),
    reserved: Number(r.reserved),
    products,
    researchers: (r.researchers as unknown[]).map(String),
  };
}
