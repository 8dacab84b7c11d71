import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CONDITIONS,
  OMOP_SCHEMA,
  OMOP_TABLES,
  PERSON_ID_STRIDE,
  compileSynthOptions,
  createSiteTables,
  synthesize,
  synthesizeLargeTable,
} from './index.js';
import type { SynthOptions } from './index.js';
import { sqlStringLiteral } from './sql-text.js';

const SEED = 20240611;
const concept = (key: string): number => {
  const c = CONDITIONS.find((x) => x.key === key);
  if (c === undefined) throw new Error(key);
  return c.conceptId;
};

async function withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const conn = await instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.disconnectSync();
    }
  } finally {
    instance.closeSync();
  }
}

async function scalar(conn: DuckDBConnection, sql: string): Promise<number> {
  const rows = (await conn.runAndReadAll(sql)).getRows();
  return Number(rows[0]?.[0]);
}

describe('option validation', () => {
  const good: SynthOptions = { outDir: '/tmp/x', sites: 2, persons: 10, seed: 1 };
  const cases: [Partial<Record<keyof SynthOptions, unknown>>, ErrorConstructor, RegExp][] = [
    [{ sites: 0 }, RangeError, /options\.sites must be an integer from 1/],
    [{ sites: 1.5 }, RangeError, /options\.sites/],
    [{ sites: '3' }, TypeError, /options\.sites must be a number/],
    [{ persons: 0 }, RangeError, /options\.persons must be an integer from 1/],
    [{ persons: Number.NaN }, RangeError, /options\.persons/],
    [{ seed: 0.5 }, RangeError, /options\.seed must be an integer/],
    [{ seed: 'abc' }, TypeError, /options\.seed must be a number/],
    [{ format: 'json' }, RangeError, /options\.format must be 'csv' or 'parquet'/],
    [{ format: 7 }, TypeError, /options\.format must be a string/],
    [{ outDir: '' }, RangeError, /options\.outDir must not be empty/],
    [{ outDir: 42 }, TypeError, /options\.outDir must be a string/],
  ];
  it.each(cases)('rejects %o', (patch, type, message) => {
    const bad = { ...good, ...patch } as SynthOptions;
    expect(() => compileSynthOptions(bad)).toThrow(type);
    expect(() => compileSynthOptions(bad)).toThrow(message);
  });

  it('accepts good options and defaults the format to csv', () => {
    expect(compileSynthOptions(good)).toEqual({ ...good, format: 'csv' });
    expect(Object.isFrozen(compileSynthOptions(good))).toBe(true);
  });

  it('synthesize rejects before touching the disk', async () => {
    await expect(synthesize({ ...good, sites: -1 })).rejects.toThrow(/options\.sites/);
  });
});

describe('files', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fedmesh-synth-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function filesOf(dir: string): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const site of (await readdir(dir)).sort()) {
      for (const file of (await readdir(join(dir, site))).sort()) out.set(`${site}/${file}`, await readFile(join(dir, site, file)));
    }
    return out;
  }

  it.each(['csv', 'parquet'] as const)('%s: same seed gives byte-identical files, another seed differs', async (format) => {
    const opts = { sites: 2, persons: 300, format };
    const a = await synthesize({ ...opts, outDir: join(root, `${format}-a`), seed: SEED });
    await synthesize({ ...opts, outDir: join(root, `${format}-b`), seed: SEED });
    await synthesize({ ...opts, outDir: join(root, `${format}-c`), seed: SEED + 1 });
    const [fa, fb, fc] = await Promise.all(['a', 'b', 'c'].map((s) => filesOf(join(root, `${format}-${s}`))));
    const expected = ['site-1', 'site-2'].flatMap((s) => [...OMOP_TABLES, 'concept', 'concept_ancestor'].map((t) => `${s}/${t}.${format}`)).sort();
    expect([...(fa as Map<string, Buffer>).keys()]).toEqual(expected);
    for (const [name, bytes] of fa as Map<string, Buffer>) expect(bytes.equals((fb as Map<string, Buffer>).get(name) as Buffer), name).toBe(true);
    const personA = (fa as Map<string, Buffer>).get(`site-1/person.${format}`) as Buffer;
    expect(personA.equals((fc as Map<string, Buffer>).get(`site-1/person.${format}`) as Buffer)).toBe(false);

    expect(a.sites.map((s) => s.name)).toEqual(['site-1', 'site-2']);
    expect(a.totalRows).toBe(a.sites.reduce((n, s) => n + Object.values(s.tables).reduce((x, y) => x + y, 0), 0));
    expect(a.rowsPerSecond).toBeGreaterThan(0);
  });

  it('writes the OMOP columns with their types, and the rows the report states', async () => {
    const report = await synthesize({ outDir: join(root, 'schema'), sites: 1, persons: 200, seed: SEED, format: 'parquet' });
    const site = report.sites[0];
    expect(site?.tables.person).toBe(200);
    await withConnection(async (conn) => {
      for (const table of OMOP_TABLES) {
        const path = sqlStringLiteral(join(site?.dir ?? '', `${table}.parquet`));
        const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${path})`)).getRows();
        expect(described.map((r) => [r[0], r[1]]), table).toEqual(OMOP_SCHEMA[table].map(([n, t]) => [n, t]));
        expect(await scalar(conn, `SELECT count(*) FROM read_parquet(${path})`)).toBe(site?.tables[table]);
      }
    });
  });

  it('writes CSV with a header of the OMOP column names', async () => {
    const report = await synthesize({ outDir: join(root, 'csv-header'), sites: 1, persons: 50, seed: SEED });
    const text = await readFile(join(report.sites[0]?.dir ?? '', 'condition_occurrence.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe(OMOP_SCHEMA.condition_occurrence.map(([n]) => n).join(','));
  });
});

describe('one database with three sites', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  const PERSONS = 4000;

  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    for (const siteIndex of [1, 2, 3]) {
      const built = await createSiteTables(conn, { siteIndex, persons: PERSONS, seed: SEED, schema: `s${siteIndex}` });
      expect(built.rows.person).toBe(PERSONS);
    }
  });
  afterAll(() => {
    conn.disconnectSync();
    instance.closeSync();
  });

  const EVENTS: [table: string, start: string, end: string | null][] = [
    ['visit_occurrence', 'visit_start_date', 'visit_end_date'],
    ['condition_occurrence', 'condition_start_date', 'condition_end_date'],
    ['drug_exposure', 'drug_exposure_start_date', 'drug_exposure_end_date'],
    ['measurement', 'measurement_date', null],
    ['death', 'death_date', null],
  ];

  it.each(EVENTS)('%s: every row belongs to a person and lies inside the observation period', async (table, start, end) => {
    const outside = await scalar(
      conn,
      `SELECT count(*) FROM s1.${table} e LEFT JOIN s1.observation_period o USING (person_id)
       WHERE o.person_id IS NULL OR e.${start} < o.observation_period_start_date OR e.${start} > o.observation_period_end_date
         ${end === null ? '' : `OR e.${end} < e.${start} OR e.${end} > o.observation_period_end_date`}`,
    );
    expect(outside).toBe(0);
    expect(await scalar(conn, `SELECT count(*) FROM s1.${table} WHERE person_id NOT IN (SELECT person_id FROM s1.person)`)).toBe(0);
    expect(await scalar(conn, `SELECT count(*) FROM s1.${table}`)).toBeGreaterThan(0);
  });

  it('primary keys are unique and person IDs are unique across sites', async () => {
    for (const [table, key] of [
      ['person', 'person_id'],
      ['visit_occurrence', 'visit_occurrence_id'],
      ['condition_occurrence', 'condition_occurrence_id'],
      ['drug_exposure', 'drug_exposure_id'],
      ['measurement', 'measurement_id'],
    ] as const) {
      expect(await scalar(conn, `SELECT count(*) - count(DISTINCT ${key}) FROM s1.${table}`), table).toBe(0);
    }
    const pooled = `SELECT person_id FROM s1.person UNION ALL SELECT person_id FROM s2.person UNION ALL SELECT person_id FROM s3.person`;
    expect(await scalar(conn, `SELECT count(DISTINCT person_id) FROM (${pooled})`)).toBe(3 * PERSONS);
    expect(await scalar(conn, `SELECT min(person_id) FROM s2.person`)).toBe(2 * PERSON_ID_STRIDE + 1);
  });

  it('visits referenced by conditions and measurements exist; death is the end of observation', async () => {
    for (const table of ['condition_occurrence', 'measurement', 'drug_exposure']) {
      const dangling = await scalar(
        conn,
        `SELECT count(*) FROM s1.${table} WHERE visit_occurrence_id IS NOT NULL
           AND visit_occurrence_id NOT IN (SELECT visit_occurrence_id FROM s1.visit_occurrence)`,
      );
      expect(dangling, table).toBe(0);
    }
    const mismatched = await scalar(
      conn,
      `SELECT count(*) FROM s1.death d JOIN s1.observation_period o USING (person_id) WHERE d.death_date <> o.observation_period_end_date`,
    );
    expect(mismatched).toBe(0);
  });

  it.each([
    ['metformin', 1503297, ['dm']],
    ['warfarin', 1310149, ['af']],
    ['sertraline', 739138, ['mdd']],
    ['clopidogrel', 1322184, ['mi', 'stroke']],
  ] as const)('%s starts on or after the diagnosis that motivates it', async (_name, drugId, indications) => {
    const ids = indications.map(concept).join(', ');
    const counts = (
      await conn.runAndReadAll(
        `WITH first_rx AS (SELECT person_id, min(drug_exposure_start_date) AS d FROM s1.drug_exposure WHERE drug_concept_id = ${drugId} GROUP BY 1),
              dx AS (SELECT person_id, min(condition_start_date) AS d FROM s1.condition_occurrence WHERE condition_concept_id IN (${ids}) GROUP BY 1)
         SELECT count(*), count(*) FILTER (WHERE dx.d IS NULL OR first_rx.d < dx.d) FROM first_rx LEFT JOIN dx USING (person_id)`,
      )
    ).getRows()[0];
    expect(Number(counts?.[0])).toBeGreaterThan(5);
    expect(Number(counts?.[1])).toBe(0);
  });

  it('diabetics have a higher HbA1c than non-diabetics (and a shuffled label shows no difference)', async () => {
    const sql = (label: string): string => `
      WITH dx AS (SELECT person_id, min(condition_start_date) AS d FROM s1.condition_occurrence WHERE condition_concept_id = ${concept('dm')} GROUP BY 1),
      m AS (SELECT m.person_id, m.value_as_number AS v, ${label} AS diabetic
            FROM s1.measurement m LEFT JOIN dx ON dx.person_id = m.person_id WHERE m.measurement_concept_id = 3004410)
      SELECT avg(v) FILTER (WHERE diabetic) - avg(v) FILTER (WHERE NOT diabetic) FROM m`;
    const diff = await scalar(conn, sql('coalesce(dx.d <= m.measurement_date, false)'));
    expect(diff).toBeGreaterThan(1.0);
    // Negative control: a label unrelated to diabetes (person_id parity) must not show the effect.
    const control = await scalar(conn, sql('(m.person_id % 2 = 0)'));
    expect(Math.abs(control)).toBeLessThan(0.3);
  });

  it('prevalence of diabetes and hypertension rises with age; comorbidities cluster; deaths rise with age', async () => {
    const rows = (
      await conn.runAndReadAll(`
      WITH p AS (SELECT person_id, 2024 - year_of_birth AS age FROM s1.person),
      c AS (SELECT person_id,
              bool_or(condition_concept_id = ${concept('dm')}) AS dm, bool_or(condition_concept_id = ${concept('htn')}) AS htn,
              bool_or(condition_concept_id = ${concept('ckd')}) AS ckd FROM s1.condition_occurrence GROUP BY 1),
      x AS (SELECT p.age, coalesce(c.dm, false)::INTEGER AS dm, coalesce(c.htn, false)::INTEGER AS htn, coalesce(c.ckd, false)::INTEGER AS ckd,
              (d.person_id IS NOT NULL)::INTEGER AS died
            FROM p LEFT JOIN c USING (person_id) LEFT JOIN s1.death d USING (person_id))
      SELECT
        avg(dm) FILTER (WHERE age < 40), avg(dm) FILTER (WHERE age BETWEEN 40 AND 64), avg(dm) FILTER (WHERE age >= 65),
        avg(htn) FILTER (WHERE age < 40), avg(htn) FILTER (WHERE age >= 65),
        avg(htn) FILTER (WHERE dm = 1), avg(htn) FILTER (WHERE dm = 0),
        avg(ckd) FILTER (WHERE dm = 1), avg(ckd) FILTER (WHERE dm = 0),
        avg(died) FILTER (WHERE age < 50), avg(died) FILTER (WHERE age >= 75)
      FROM x`)
    ).getRows()[0]?.map(Number) as number[];
    const [dmYoung, dmMid, dmOld, htnYoung, htnOld, htnDm, htnNoDm, ckdDm, ckdNoDm, diedYoung, diedOld] = rows;
    expect(dmYoung).toBeLessThan(dmMid as number);
    expect(dmMid).toBeLessThan(dmOld as number);
    expect(htnOld).toBeGreaterThan(2 * (htnYoung as number));
    expect(htnDm).toBeGreaterThan(1.3 * (htnNoDm as number));
    expect(ckdDm).toBeGreaterThan(2 * (ckdNoDm as number));
    expect(diedOld).toBeGreaterThan(3 * (diedYoung as number));
    expect(dmOld).toBeGreaterThan(0.1);
    expect(dmOld).toBeLessThan(0.45);
  });

  it('sites differ: site 1 is older, site 2 has more diabetes, site 3 more atrial fibrillation', async () => {
    const meanAge = (s: number): Promise<number> => scalar(conn, `SELECT avg(2024 - year_of_birth) FROM s${s}.person`);
    // Compare prevalence within one age band so that the age mix does not explain the difference.
    const prevalence = (s: number, key: string): Promise<number> =>
      scalar(
        conn,
        `SELECT avg((person_id IN (SELECT person_id FROM s${s}.condition_occurrence WHERE condition_concept_id = ${concept(key)}))::INTEGER)
         FROM s${s}.person WHERE 2024 - year_of_birth BETWEEN 50 AND 79`,
      );
    expect(await meanAge(1)).toBeGreaterThan((await meanAge(2)) + 5);
    expect(await prevalence(2, 'dm')).toBeGreaterThan(1.4 * (await prevalence(1, 'dm')));
    expect(await prevalence(2, 'dm')).toBeGreaterThan(1.4 * (await prevalence(3, 'dm')));
    expect(await prevalence(3, 'af')).toBeGreaterThan(1.4 * (await prevalence(1, 'af')));
    expect(await prevalence(3, 'af')).toBeGreaterThan(1.4 * (await prevalence(2, 'af')));
  });

  it('uses standard concepts: gender, visit and type concepts', async () => {
    const genders = (await conn.runAndReadAll(`SELECT DISTINCT gender_concept_id FROM s1.person ORDER BY 1`)).getRows().flat();
    expect(genders).toEqual([8507, 8532]);
    const visits = (await conn.runAndReadAll(`SELECT DISTINCT visit_concept_id FROM s1.visit_occurrence ORDER BY 1`)).getRows().flat();
    expect(visits).toEqual([9201, 9202, 9203]);
    expect(await scalar(conn, `SELECT count(*) FROM s1.condition_occurrence WHERE condition_type_concept_id <> 32817`)).toBe(0);
  });
});

describe('synthesizeLargeTable', () => {
  it('creates the rows with group and value columns; split by idOffset equals the pooled table', async () => {
    await withConnection(async (conn) => {
      expect(await synthesizeLargeTable(conn, 'pooled', 20_000, 5, { groups: 4 })).toBe(20_000);
      await synthesizeLargeTable(conn, 'part_a', 12_000, 5, { groups: 4 });
      await synthesizeLargeTable(conn, 'part_b', 8_000, 5, { groups: 4, idOffset: 12_000 });
      const diff = await scalar(
        conn,
        `SELECT count(*) FROM (SELECT * FROM pooled EXCEPT ALL (SELECT * FROM part_a UNION ALL SELECT * FROM part_b))`,
      );
      expect(diff).toBe(0);
      const groups = (await conn.runAndReadAll(`SELECT group_id, count(*), avg(value_as_number) FROM pooled GROUP BY 1 ORDER BY 1`)).getRows();
      expect(groups.map((g) => g[0])).toEqual([0, 1, 2, 3]);
      const means = groups.map((g) => Number(g[2]));
      expect(means[3]).toBeGreaterThan((means[0] as number) + 15);
      expect(await scalar(conn, `SELECT min(value_as_number) >= 0 AND max(value_as_number) <= 200 FROM pooled`)).toBe(1);
      await expect(synthesizeLargeTable(conn, 'bad name; DROP', 10, 1)).rejects.toThrow(/tableName must be a plain identifier/);
      await expect(synthesizeLargeTable(conn, 'ok', -1, 1)).rejects.toThrow(/rows must be an integer/);
    });
  });
});
