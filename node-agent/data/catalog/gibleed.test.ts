import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFormats, ingestOmop } from '../formats.js';
import { listProducts } from '../products.js';
import { describeProducts } from './defaults.js';
import { computeQualityMetrics } from './quality.js';
import { semanticTypeFits } from './semantic-types.js';
import type { ProductDescription } from './types.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const GIBLEED = path.join(path.resolve(repoRoot, '../shared/data'), 'omop/gibleed');
const hasGibleed = existsSync(GIBLEED);
if (!hasGibleed) console.warn(`[skip] catalog on OMOP GiBleed: ${GIBLEED} is absent`);

const K = 10;
/** The tables the tests read; the other core tables are created empty by the ingest. Loading all 37 costs seconds. */
const LOADED = new Set(['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'concept', 'vocabulary']);

describe.skipIf(!hasGibleed)('catalog on Eunomia GiBleed (../shared/data)', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  let products: ProductDescription[];

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    const omop = (await detectFormats(GIBLEED)).find((f) => f.kind === 'omop');
    if (omop === undefined || omop.kind !== 'omop') throw new Error('GiBleed not recognised as OMOP');
    const files = omop.files.filter((f) => LOADED.has(path.basename(f, '.csv')));
    expect(files).toHaveLength(LOADED.size);
    await ingestOmop(conn, files, { version: omop.version });
    products = describeProducts(await listProducts(conn), undefined, { defaultOwner: 'gibleed' });
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  const product = (name: string): ProductDescription => {
    const p = products.find((d) => d.name === name);
    if (p === undefined) throw new Error(`no product ${name}`);
    return p;
  };
  const scalar = async (sql: string): Promise<unknown> => Object.values((await conn.runAndReadAll(sql)).getRowObjectsJS()[0] ?? {})[0];

  /** The expected first (last) date label, from plain SQL over the table: month, else quarter, else year, else none. */
  async function expectedEdge(table: string, column: string, edge: 'min' | 'max'): Promise<string | undefined> {
    const date = String(await scalar(`SELECT CAST(CAST(${edge}(${column}) AS DATE) AS VARCHAR) FROM ${table}`));
    const quarter = `${date.slice(0, 4)}-Q${Math.ceil(Number(date.slice(5, 7)) / 3)}`;
    for (const [part, label] of [['month', date.slice(0, 7)], ['quarter', quarter], ['year', date.slice(0, 4)]]) {
      const n = Number(await scalar(`SELECT count(DISTINCT person_id) FROM ${table}
        WHERE date_trunc('${part}', ${column}) = date_trunc('${part}', DATE '${date}')`));
      if (n >= K) return label;
    }
    return undefined;
  }
  async function expectedCoverage(table: string, column: string): Promise<{ from?: string; to?: string } | undefined> {
    const from = await expectedEdge(table, column, 'min');
    const to = await expectedEdge(table, column, 'max');
    if (from === undefined && to === undefined) return undefined;
    return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
  }

  it('describes every clinical table with person_id as privacy unit and the vocabulary as public', () => {
    for (const name of ['person', 'observation_period', 'visit_occurrence', 'condition_occurrence', 'drug_exposure',
      'procedure_occurrence', 'measurement', 'observation', 'death', 'condition_era', 'drug_era']) {
      expect(product(name), name).toMatchObject({ profile: 'omop', privacyUnit: 'person_id', sensitivity: 'sensitive', owner: 'gibleed' });
    }
    for (const name of ['concept', 'concept_ancestor', 'vocabulary']) {
      expect(product(name), name).toMatchObject({ profile: 'omop-vocabulary', privacyUnit: undefined, sensitivity: 'public' });
    }
    expect(product('person').bounds['year_of_birth']).toEqual([1900, 2030]);
    for (const p of products) {
      for (const c of p.columns) expect(semanticTypeFits(c.semanticType, c.type), `${p.name}.${c.name}`).toBeUndefined();
    }
  });

  it('publishes coarsened quality metrics for person, conditions and drugs', async () => {
    const person = await computeQualityMetrics(conn, product('person'), { minCellSize: K });
    expect(person.rowCount).toBe(2700); // 2,694 persons
    expect(person.privacyUnits).toBe(2700);
    expect(person.completeness).toMatchObject({ person_id: 1, gender_concept_id: 1, year_of_birth: 1 });
    // The earliest birth (1908) is one person's: that edge is not published at all.
    expect(person.dateCoverage['birth_datetime']).toEqual(await expectedCoverage('person', 'birth_datetime'));
    expect(person.dateCoverage['birth_datetime']?.from).toBeUndefined();

    const conditions = await computeQualityMetrics(conn, product('condition_occurrence'), { minCellSize: K });
    expect(conditions.rowCount).toBe(65_000); // 65,332 rows
    expect(conditions.completeness).toMatchObject({ condition_occurrence_id: 1, person_id: 1, condition_start_date: 1 });
    expect(conditions.dateCoverage['condition_start_date']).toEqual(await expectedCoverage('condition_occurrence', 'condition_start_date'));

    const drugs = await computeQualityMetrics(conn, product('drug_exposure'), { minCellSize: K });
    expect(drugs.rowCount).toBe(68_000); // 67,707 rows
    expect(drugs.dateCoverage['drug_exposure_start_date']).toEqual(await expectedCoverage('drug_exposure', 'drug_exposure_start_date'));
    console.info('GiBleed coverage:', JSON.stringify({
      birth: person.dateCoverage['birth_datetime'], conditions: conditions.dateCoverage['condition_start_date'],
      drugs: drugs.dateCoverage['drug_exposure_start_date'],
    }));
    for (const m of [person, conditions, drugs]) {
      for (const [col, v] of Object.entries(m.completeness ?? {})) {
        expect(Number.isInteger(Math.round(v * 100)) && v >= 0 && v <= 1, col).toBe(true);
      }
    }
  });
});
