import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPopulationTables, POPULATION_CHARGES } from './ledger-tables.js';
import { spendOn } from './spend-query.js';

/** Charge rows written straight into a fresh in-memory ledger table: the query is tested on its own. */
async function charge(conn: DuckDBConnection, row: { job: string; researcher: string; population: string; products: string[]; rho: number; epsilon: number | null; delta: number; state: string; project?: string }): Promise<void> {
  await conn.run(`INSERT INTO ${POPULATION_CHARGES} (job_id, researcher, population, products, rho, epsilon, delta, state, at_ms, project) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)`, [
    row.job, row.researcher, row.population, JSON.stringify(row.products), row.rho, row.epsilon, row.delta, row.state, row.project ?? null,
  ]);
}

describe('spendOn: one spend query for researcher and project budgets', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    await createPopulationTables(conn);
    await charge(conn, { job: 'j1', researcher: 'alice', population: 'person', products: ['person', 'visits'], rho: 0.5, epsilon: 1, delta: 1e-6, state: 'committed', project: 'P' });
    await charge(conn, { job: 'j2', researcher: 'bob', population: 'person', products: ['person'], rho: 0.25, epsilon: 0.5, delta: 2e-6, state: 'reserved', project: 'P' });
    await charge(conn, { job: 'j3', researcher: 'alice', population: 'person', products: ['labs'], rho: 0.125, epsilon: 0.25, delta: 0, state: 'committed' });
    await charge(conn, { job: 'j4', researcher: 'alice', population: 'device', products: ['pumps'], rho: 1, epsilon: null, delta: 0, state: 'committed', project: 'P' });
  });
  afterAll(() => {
    conn.closeSync();
    instance.closeSync();
  });

  it('sums one researcher’s charges on a population, any project or none, and no one else’s', async () => {
    const s = await spendOn(conn, { researcher: 'alice' }, 'person');
    expect(s.cost.rho).toBeCloseTo(0.625, 12);
    expect(s.cost.epsilon).toBeCloseTo(1.25, 12);
    expect(s.cost.delta).toBeCloseTo(1e-6, 18);
    expect({ jobs: s.jobs, reserved: s.reserved, products: s.products, researchers: s.researchers }).toEqual({ jobs: 2, reserved: 0, products: ['labs', 'person', 'visits'], researchers: ['alice'] });
  });

  it('sums every researcher of a project on a population, not their charges outside it', async () => {
    const s = await spendOn(conn, { project: 'P' }, 'person');
    expect(s.cost.rho).toBeCloseTo(0.75, 12);
    expect(s.cost.epsilon).toBeCloseTo(1.5, 12);
    expect({ jobs: s.jobs, reserved: s.reserved, products: s.products, researchers: s.researchers }).toEqual({ jobs: 2, reserved: 1, products: ['person', 'visits'], researchers: ['alice', 'bob'] });
    // Negative control: the researcher scope over the same name is another sum (no charge row has researcher "P").
    expect((await spendOn(conn, { researcher: 'P' }, 'person')).jobs).toBe(0);
  });

  it('an unbounded-ε charge makes ε infinite in both scopes; nothing charged is zero', async () => {
    expect((await spendOn(conn, { project: 'P' }, 'device')).cost.epsilon).toBe(Infinity);
    expect((await spendOn(conn, { researcher: 'alice' }, 'device')).cost.epsilon).toBe(Infinity);
    expect(await spendOn(conn, { researcher: 'carol' }, 'person')).toEqual({ cost: { rho: 0, epsilon: 0, delta: 0 }, jobs: 0, reserved: 0, products: [], researchers: [] });
  });
});
