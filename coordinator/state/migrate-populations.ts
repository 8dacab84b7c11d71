/**
 * The one-time move of a per-product ledger (budgets and charges keyed by researcher × data product, the schema
 * before issue 15) to populations. Charges move to their product's population; the per-product budgets of one
 * researcher in one population become one budget, the minimum of their ε and of their δ (never more than any of
 * them allowed). History is not rewritten: the per-product events stay in the hash chain and one
 * `migrate-populations` event, carrying the product → population mapping, is appended, so replaying the chain
 * gives the new tables and the chain still verifies.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { appendEvents, mergeBudgets, type LedgerEvent } from './ledger-chain.js';
import { createPopulationTables, LEGACY_LEDGER_DDL, POPULATION_BUDGETS, POPULATION_CHARGES } from './ledger-tables.js';
import type { ChainHead } from './state-head.js';

/** Names whose JSON string form is the name in quotes (no escapes). */
const PLAIN_NAME = /^[A-Za-z0-9_.-]+$/;

export interface PopulationMigration {
  head: ChainHead;
  charges: number;
  /** Every population budget made, with the per-product budgets it replaces. */
  budgets: Array<{ researcher: string; population: string; epsilon: number; delta: number; fromProducts: string[] }>;
  mapping: Array<[string, string]>;
}

/**
 * Migrates inside the caller's transaction: creates the population tables, fills them, drops the per-product
 * tables and appends the migration event after `head`.
 * @param populationOfProduct the population of a product named in the old ledger
 */
export async function migrateToPopulations(
  conn: DuckDBConnection, head: ChainHead, populationOfProduct: (product: string) => string, atMs: number,
): Promise<PopulationMigration> {
  // A state may hold one of the two old tables only; the other is then empty.
  for (const ddl of LEGACY_LEDGER_DDL) await conn.run(ddl);
  const budgets = (await conn.runAndReadAll(`SELECT * FROM budgets ORDER BY researcher, product`)).getRowObjectsJS().map((b) => ({
    researcher: String(b.researcher), product: String(b.product), epsilon: Number(b.epsilon), delta: Number(b.delta), setBy: String(b.set_by), atMs: Number(b.set_at_ms),
  }));
  const chargedProducts = (await conn.runAndReadAll(`SELECT DISTINCT product FROM charges`)).getRowObjectsJS().map((r) => String(r.product));
  const charges = Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM charges`)).getRowObjectsJS()[0]!.n);
  const products = [...new Set([...budgets.map((b) => b.product), ...chargedProducts])].sort();
  const mapping: Array<[string, string]> = products.map((p) => [p, populationOfProduct(p)]);
  const byProduct = new Map(mapping);

  await createPopulationTables(conn);
  // In bulk: one INSERT … SELECT through a mapping table. For a name of plain characters '["' || name || '"]' is
  // exactly JSON.stringify([name]), the form the chain replays to; any other name is inserted row by row.
  await conn.run(`CREATE OR REPLACE TEMP TABLE _fedmesh_population_map (product VARCHAR PRIMARY KEY, population VARCHAR NOT NULL, plain BOOLEAN NOT NULL)`);
  for (const [product, population] of mapping) {
    await conn.run(`INSERT INTO _fedmesh_population_map VALUES ($1, $2, $3)`, [product, population, PLAIN_NAME.test(product)]);
  }
  await conn.run(`INSERT INTO ${POPULATION_CHARGES} (job_id, researcher, population, products, rho, epsilon, delta, state, at_ms)
    SELECT c.job_id, c.researcher, m.population, '["' || c.product || '"]', c.rho, c.epsilon, c.delta, c.state, c.at_ms
      FROM charges c JOIN _fedmesh_population_map m ON m.product = c.product WHERE m.plain`);
  const odd = (await conn.runAndReadAll(`SELECT c.* FROM charges c JOIN _fedmesh_population_map m ON m.product = c.product WHERE NOT m.plain`)).getRowObjectsJS();
  for (const c of odd) {
    const product = String(c.product);
    await conn.run(`INSERT INTO ${POPULATION_CHARGES} (job_id, researcher, population, products, rho, epsilon, delta, state, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
      String(c.job_id), String(c.researcher), byProduct.get(product)!, JSON.stringify([product]), Number(c.rho),
      c.epsilon === null ? null : Number(c.epsilon), Number(c.delta), String(c.state), Number(c.at_ms),
    ]);
  }
  await conn.run(`DROP TABLE _fedmesh_population_map`);
  const merged = [...mergeBudgets(budgets, (p) => byProduct.get(p), atMs).values()];
  for (const b of merged) {
    await conn.run(`INSERT INTO ${POPULATION_BUDGETS} VALUES ($1, $2, $3, $4, $5, $6)`, [b.researcher, b.population, b.epsilon, b.delta, b.setBy, b.atMs]);
  }
  await conn.run(`DROP TABLE budgets`);
  await conn.run(`DROP TABLE charges`);
  const event: LedgerEvent = { op: 'migrate-populations', mapping, atMs };
  const next = await appendEvents(conn, head, [event]);
  return {
    head: next,
    charges,
    budgets: merged.map((b) => ({ researcher: b.researcher, population: b.population, epsilon: b.epsilon, delta: b.delta, fromProducts: b.products })),
    mapping,
  };
}
