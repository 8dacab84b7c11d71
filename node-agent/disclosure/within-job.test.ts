/**
 * Secondary suppression between the concept cells of one mode-none job (red team 9, F3): the pure rule, and the SQL
 * over a candidate table of keyed hashes. Each case has a control with the same sets where the rule must not act.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeCellsToWithhold, withholdCloseFreeCells } from './within-job.js';

const free = (c: string): boolean => c.startsWith('condition:') || c.startsWith('drug:');

describe('freeCellsToWithhold', () => {
  it('withholds a free cell close to a kept one, keeping the earlier of two free cells and every structural cell', () => {
    const order = ['persons', 'age:0-39', 'gender:8507', 'condition:1', 'condition:2', 'drug:3'];
    const out = freeCellsToWithhold(order, free, [['condition:2', 'condition:1'], ['drug:3', 'persons'], ['age:0-39', 'gender:8507']]);
    expect([...out].sort()).toEqual(['condition:2', 'drug:3']);
  });

  it('compares with cells still kept only: a chain c1 ~ c2 ~ c3 withholds c2 and keeps c3 (control: c1 ~ c3 withholds c3 too)', () => {
    const order = ['persons', 'condition:1', 'condition:2', 'condition:3'];
    expect([...freeCellsToWithhold(order, free, [['condition:1', 'condition:2'], ['condition:2', 'condition:3']])]).toEqual(['condition:2']);
    expect([...freeCellsToWithhold(order, free, [['condition:1', 'condition:2'], ['condition:2', 'condition:3'], ['condition:3', 'condition:1']])].sort()).toEqual(['condition:2', 'condition:3']);
  });

  it('a structural cell withheld later is not kept, and a free cell within 0 … k − 1 of it is withheld (red team 10, F3)', () => {
    const order = ['persons', 'age:32-46', 'age:47+', 'condition:1', 'condition:2'];
    // condition:1 equals the band the complementary rules withhold; condition:2 is close to nothing.
    expect([...freeCellsToWithhold(order, free, [], new Set(['age:32-46']), new Set(['condition:1']))]).toEqual(['condition:1']);
    // A free cell close (1 … k − 1) only to a later-withheld cell is not withheld for being close to a kept one.
    expect([...freeCellsToWithhold(order, free, [['condition:2', 'age:32-46']], new Set(['age:32-46']), new Set())]).toEqual([]);
    // Control: without `later`, the band is kept and an identical concept (difference 0) is released.
    expect(freeCellsToWithhold(order, free, []).size).toBe(0);
  });

  it('leaves pairs of structural cells to their own rules', () => {
    expect(freeCellsToWithhold(['persons', 'qualified', 'rule:0'], free, [['persons', 'qualified'], ['qualified', 'rule:0']]).size).toBe(0);
  });
});

describe('withholdCloseFreeCells (DuckDB)', () => {
  let conn: DuckDBConnection;
  const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  // persons 1..20; condition:1 = 1..18 (2 from persons); condition:2 = 1..10; drug:3 = 11..20; condition:4 = 1..12
  // (2 from condition:2, 6 from condition:1 once that is withheld).
  const sets: Record<string, number[]> = { persons: range(1, 20), 'condition:1': range(1, 18), 'condition:2': range(1, 10), 'drug:3': range(11, 20), 'condition:4': range(1, 12) };
  const order = ['persons', 'condition:1', 'condition:2', 'condition:4', 'drug:3'];
  beforeAll(async () => {
    conn = await (await DuckDBInstance.create(':memory:')).connect();
  });
  afterAll(() => conn?.closeSync());

  async function table(name: string): Promise<string> {
    await conn.run(`CREATE OR REPLACE TABLE ${name} (cell VARCHAR, h UBIGINT)`);
    const rows = Object.entries(sets).flatMap(([cell, ps]) => ps.map((p) => `('${cell}', ${p * 7919})`));
    await conn.run(`INSERT INTO ${name} VALUES ${rows.join(', ')}`);
    return name;
  }
  const cellsIn = async (t: string): Promise<string[]> => (await conn.runAndReadAll(`SELECT DISTINCT cell FROM ${t} ORDER BY cell`)).getRowObjectsJS().map((r) => String(r['cell']));

  it('at k = 5 withholds condition:1 (2 from persons) and condition:4 (2 from condition:2), and drops their rows', async () => {
    const t = await table('cand_a');
    const out = await withholdCloseFreeCells(conn, t, 5, ['condition:', 'drug:'], order);
    expect([...out].sort()).toEqual(['condition:1', 'condition:4']);
    expect(await cellsIn(t)).toEqual(['condition:2', 'drug:3', 'persons']);
  });

  it('a concept identical to a cell the complementary rules withhold later is withheld (control: that cell kept, it is released)', async () => {
    await conn.run('CREATE OR REPLACE TABLE cand_c (cell VARCHAR, h UBIGINT)');
    const rows = [...range(1, 20).map((p) => `('persons', ${p})`), ...range(1, 12).map((p) => `('age:a', ${p})`), ...range(1, 12).map((p) => `('condition:9', ${p})`)];
    await conn.run(`INSERT INTO cand_c VALUES ${rows.join(', ')}`);
    expect([...(await withholdCloseFreeCells(conn, 'cand_c', 5, ['condition:'], ['persons', 'age:a', 'condition:9'], new Set(['age:a'])))]).toEqual(['condition:9']);
    await conn.run(`INSERT INTO cand_c VALUES ${range(1, 12).map((p) => `('condition:9', ${p})`).join(', ')}`);
    expect((await withholdCloseFreeCells(conn, 'cand_c', 5, ['condition:'], ['persons', 'age:a', 'condition:9'])).size).toBe(0);
  });

  it('control: at k = 2 no pair differs by 1 … 1, so nothing is withheld; with no free prefixes nothing is either', async () => {
    const t = await table('cand_b');
    expect((await withholdCloseFreeCells(conn, t, 2, ['condition:', 'drug:'], order)).size).toBe(0);
    expect((await withholdCloseFreeCells(conn, t, 5, [], order)).size).toBe(0);
    expect(await cellsIn(t)).toEqual(['condition:1', 'condition:2', 'condition:4', 'drug:3', 'persons']);
  });
});
