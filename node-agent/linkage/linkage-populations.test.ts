/**
 * Red-team finding F4: the linkage keep table is decided per population. Two populations of one site (a person
 * registry and, say, a device registry) number their privacy units independently, so both usually have a unit 17;
 * they are different units, and a key designated for population a's 17 says nothing about population b's 17.
 * These checks run the keep table and the views every kind reads (writeLinkageKeep + applyConsentScope, the agent's
 * hook) on one site whose job lists only it, so every key is designated here and only the population rules decide.
 * The negative control puts both products in ONE population: then the two 17s are the same person and the old
 * rules (kept through the other product's key; dropped for two keys) must still hold, so the test fails if the
 * population were ignored or if the per-person rules stopped applying within a population.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { applyConsentScope, type ScopedProduct } from '../policy/consent-scope.js';
import { writeLinkageKeep } from './linkage-scope.js';

const ONE_SITE = { sites: ['s1'], salt: '00112233445566778899aabbccddeeff' };
const linked = (column: string): { column: string; site: string } => ({ column, site: 's1' });

let instance: DuckDBInstance;
let conn: DuckDBConnection;

beforeEach(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  await conn.run('CREATE TABLE a (pid INTEGER, lk VARCHAR, x INTEGER)');
  await conn.run('CREATE TABLE b (pid INTEGER, lk VARCHAR, x INTEGER)');
  // A product of population b without a key of its own: scoped through b's keyed product.
  await conn.run('CREATE TABLE b_events (pid INTEGER, v INTEGER)');
});
afterEach(() => {
  conn.closeSync();
  instance.closeSync();
});

/** The persons a job reads from each product, once the task's scope is applied (as the agent applies it). */
async function scopedIds(products: readonly ScopedProduct[]): Promise<Record<string, number[]>> {
  const db = String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!.d);
  const keepTable = await writeLinkageKeep(conn, db, ONE_SITE, products);
  await applyConsentScope(conn, { consents: [], purpose: 'HRESCH', atMs: 0, products, keepTable });
  const out: Record<string, number[]> = {};
  for (const p of products) out[p.name] = (await conn.runAndReadAll(`SELECT DISTINCT pid FROM ${p.name} ORDER BY pid`)).getRowObjectsJS().map((r) => Number(r.pid));
  return out;
}

const twoPopulations: ScopedProduct[] = [
  { name: 'a', privacyUnit: 'pid', population: 'a', linkage: linked('lk') },
  { name: 'b', privacyUnit: 'pid', population: 'b', linkage: linked('lk') },
  { name: 'b_events', privacyUnit: 'pid', population: 'b' },
];
/** The same products with no population declared: all in the default one (the same persons). */
const onePopulation: ScopedProduct[] = twoPopulations.map(({ population: _p, ...rest }) => rest);

describe('linkage scope with two populations sharing integer ids (red-team F4)', () => {
  it("leaves out b's unkeyed person 17 although a's person 17 is keyed here", async () => {
    await conn.run("INSERT INTO a VALUES (17, 'kA', 1)");
    await conn.run('INSERT INTO b VALUES (17, NULL, 1), (18, NULL, 1)');
    await conn.run('INSERT INTO b_events VALUES (17, 1), (18, 1)');
    const ids = await scopedIds(twoPopulations);
    expect(ids).toEqual({ a: [17], b: [], b_events: [] });
    // Negative control: in one population the two 17s are one person, kept through a's key (the documented rule).
    expect(await scopedIds(onePopulation)).toEqual({ a: [17], b: [17], b_events: [17] });
  });

  it("keeps b's keyed person 17 whose key differs from a's person 17, in b and in b's unkeyed product", async () => {
    await conn.run("INSERT INTO a VALUES (17, 'kA', 1)");
    await conn.run("INSERT INTO b VALUES (17, 'kB', 1), (18, NULL, 1)");
    await conn.run('INSERT INTO b_events VALUES (17, 1), (18, 1)');
    expect(await scopedIds(twoPopulations)).toEqual({ a: [17], b: [17], b_events: [17] });
    // Negative control: in one population person 17 carries two keys (inconsistent data) and is left out everywhere.
    expect(await scopedIds(onePopulation)).toEqual({ a: [], b: [], b_events: [] });
  });

  it('bounds duplicate keys within a population only: one key in a and in b keeps both, two local ids of one key in b keep the least', async () => {
    await conn.run("INSERT INTO a VALUES (5, 'k', 1)");
    await conn.run("INSERT INTO b VALUES (7, 'k', 1), (9, 'k', 1)");
    await conn.run('INSERT INTO b_events VALUES (5, 1), (7, 1), (9, 1)');
    expect(await scopedIds(twoPopulations)).toEqual({ a: [5], b: [7], b_events: [7] });
    // Negative control: in one population the three local ids are one person (one key): only the least id is kept.
    expect(await scopedIds(onePopulation)).toEqual({ a: [5], b: [], b_events: [5] });
  });

  it('gives a population with no keyed product at this site nothing (fail closed), and an undeclared population is the default', async () => {
    await conn.run("INSERT INTO a VALUES (17, 'kA', 1)");
    await conn.run('INSERT INTO b_events VALUES (17, 1)');
    const products: ScopedProduct[] = [
      { name: 'a', privacyUnit: 'pid', linkage: linked('lk') },
      { name: 'b_events', privacyUnit: 'pid', population: 'device' },
    ];
    expect(await scopedIds(products)).toEqual({ a: [17], b_events: [] });
    // Control: declared as the default population ('person'), the product is scoped through a's key.
    expect(await scopedIds([products[0]!, { ...products[1]!, population: 'person' }])).toEqual({ a: [17], b_events: [17] });
  });
});
