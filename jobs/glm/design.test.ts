/**
 * The agent's design read on a DuckDB built in the test: the typed arrays equal the rows written (clamped, dummy
 * coded), missing/unlisted/invalid rows are dropped and counted, where filters and contribution bounding apply,
 * the disclosure rules refuse with PERMISSION_DENIED naming the rule and no value, and a federated fit over
 * per-site designs equals the pooled fit.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { readGlmDesign, type GlmReadOptions } from './design.js';
import { parseGlmSpec } from './spec.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;

const PRODUCT: ProductInfo = {
  name: 'visits',
  columns: [
    { name: 'person_id', type: 'BIGINT' },
    { name: 'site', type: 'INTEGER' },
    { name: 'event', type: 'INTEGER' },
    { name: 'age', type: 'DOUBLE' },
    { name: 'gender', type: 'VARCHAR' },
    { name: 'count', type: 'INTEGER' },
    { name: 'label', type: 'VARCHAR' },
  ],
  privacyUnit: 'person_id',
  description: '',
  source: 'test',
};

/** 240 rows of 120 persons (2 rows each), 3 sites; a few with missing or unlisted values (rows 0–3). */
function rows(): (number | string | null)[][] {
  const out: (number | string | null)[][] = [];
  let s = 12345;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let i = 0; i < 240; i++) {
    const person = Math.floor(i / 2);
    const age = 20 + Math.floor(rnd() * 70);
    const gender = ['male', 'female', 'other'][Math.floor(rnd() * 3)]!;
    const eta = -3 + 0.05 * age + (gender === 'female' ? 0.7 : 0);
    const event = rnd() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    out.push([person, person % 3, event, age, gender, Math.floor(rnd() * 5), 'x']);
  }
  out[0]![3] = null; // missing age
  out[1]![4] = 'unknown'; // level not listed
  out[2]![2] = null; // missing outcome
  out[3]![2] = 7; // not a 0/1 outcome
  out[4]![3] = 200; // age above the declared bound: clamped to 90
  return out;
}

beforeEach(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  await conn.run('CREATE TABLE visits (person_id BIGINT, site INTEGER, event INTEGER, age DOUBLE, gender VARCHAR, count INTEGER, label VARCHAR)');
  const data = rows();
  for (let k = 0; k < data.length; k += 60) {
    const chunk = data.slice(k, k + 60);
    const values = chunk.map((_, i) => `(${Array.from({ length: 7 }, (_, j) => `$${i * 7 + j + 1}`).join(', ')})`);
    await conn.run(`INSERT INTO visits VALUES ${values.join(', ')}`, chunk.flat());
  }
});

afterEach(() => {
  conn.closeSync();
  instance.closeSync();
});

const spec = (patch: Record<string, unknown> = {}) =>
  parseGlmSpec({
    kind: 'glm',
    product: 'visits',
    family: 'binomial',
    outcome: 'event',
    covariates: [
      { column: 'age', type: 'numeric', bounds: [20, 90] },
      { column: 'gender', type: 'categorical', levels: ['male', 'female', 'other'], reference: 'male' },
    ],
    privacy: { mode: 'none' },
    ...patch,
  });

const opts: GlmReadOptions = { salt: 'agent-secret', minCellSize: 5, scratch: 't1' };

describe('readGlmDesign', () => {
  it('reads the rows as typed arrays, clamps, dummy-codes, drops and counts unusable rows', async () => {
    const { design, terms, nDropped } = await readGlmDesign(conn, spec(), PRODUCT, opts);
    expect(terms.map((t) => t.name)).toEqual(['(Intercept)', 'age', 'genderfemale', 'genderother']);
    expect(nDropped).toBe(4);
    expect(design.n).toBe(236);
    expect(design.p).toBe(4);
    // Independent expectation from the rows written (order-free: compare sorted row strings).
    const expected = rows()
      .filter((r) => r[3] !== null && r[4] !== 'unknown' && (r[2] === 0 || r[2] === 1))
      .map((r) => [r[2], 1, Math.min(90, Math.max(20, r[3] as number)), r[4] === 'female' ? 1 : 0, r[4] === 'other' ? 1 : 0].join(','))
      .sort();
    const got = Array.from({ length: design.n }, (_, i) => [design.y[i], ...design.x.subarray(i * 4, i * 4 + 4)].join(',')).sort();
    expect(got).toEqual(expected);
    // No temp tables left behind.
    const left = (await conn.runAndReadAll("SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name LIKE 't1_%'")).getRowObjectsJS()[0]!.n;
    expect(left).toBe(0);
  });

  it('applies where filters, and per-site designs fitted federatedly equal the pooled fit (1e-10)', async () => {
    const pooled = await readGlmDesign(conn, spec(), PRODUCT, opts);
    const sites = [];
    for (const site of [0, 1, 2]) sites.push((await readGlmDesign(conn, spec({ where: [{ column: 'site', op: '=', value: site }] }), PRODUCT, { ...opts, minCellSize: 2 })).design);
    expect(sites.reduce((s, d) => s + d.n, 0)).toBe(pooled.design.n);
    const names = pooled.terms.map((t) => t.name);
    const a = fitPooled(pooled.design, glmFamily('binomial'), names).summary;
    const b = fitPooled(sites, glmFamily('binomial'), names).summary;
    a.coefficients.forEach((c, j) => {
      expect(Math.abs(c.estimate - b.coefficients[j]!.estimate)).toBeLessThan(1e-10 * Math.max(1, Math.abs(c.estimate)));
      expect(Math.abs(c.stdError - b.coefficients[j]!.stdError)).toBeLessThan(1e-10 * Math.max(1, c.stdError));
    });
    // Negative control: leaving out one site changes the fit.
    const two = fitPooled(sites.slice(1), glmFamily('binomial'), names).summary;
    expect(Math.abs(two.coefficients[1]!.estimate - a.coefficients[1]!.estimate)).toBeGreaterThan(1e-6);
  });

  it('DP modes bound each person to maxRowsPerPerson rows chosen by a keyed hash', async () => {
    const dpSpec = spec({ privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 1 } });
    const one = await readGlmDesign(conn, dpSpec, PRODUCT, opts);
    // 120 persons; persons 0 and 1 have rows 0–3, all unusable, so 118 persons remain with one row each.
    expect(one.design.n).toBe(118);
    const two = await readGlmDesign(conn, spec({ privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 2 } }), PRODUCT, opts);
    expect(two.design.n).toBe(236);
    // The hash is keyed: another salt picks other rows for some persons.
    const other = await readGlmDesign(conn, dpSpec, PRODUCT, { ...opts, salt: 'another-secret' });
    const ages = (d: typeof one) => Array.from({ length: d.design.n }, (_, i) => d.design.x[i * 4 + 1]).join(',');
    expect(ages(other)).not.toBe(ages(one));
  });

  it('DP bounding keeps the same rows whatever order the table holds them in (a staged copy from PostgreSQL is ordered otherwise)', async () => {
    const dpSpec = spec({ privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 1 } });
    // The same rows, reversed: another rowid for every row.
    await conn.run('CREATE TABLE visits_rev AS SELECT * FROM (SELECT *, rowid AS r FROM visits) ORDER BY r DESC');
    await conn.run('ALTER TABLE visits_rev DROP COLUMN r');
    const sorted = (d: Awaited<ReturnType<typeof readGlmDesign>>): string => Array.from({ length: d.design.n }, (_, i) => `${d.design.y[i]}:${Array.from(d.design.x.subarray(i * 4, i * 4 + 4)).join('/')}`).sort().join(',');
    const asRead = await readGlmDesign(conn, dpSpec, PRODUCT, opts);
    const reversed = await readGlmDesign(conn, { ...dpSpec, product: 'visits_rev' }, { ...PRODUCT, name: 'visits_rev' }, opts);
    expect(reversed.design.n).toBe(118);
    expect(sorted(reversed)).toBe(sorted(asRead));
    // Control: the positions differ, so ranking by rowid (as before) would have kept other rows for some persons.
    const byRowid = async (t: string): Promise<string> => (await conn.runAndReadAll(`SELECT string_agg(age::VARCHAR, ',' ORDER BY person_id) AS a FROM (SELECT * FROM (SELECT *, rowid AS rid FROM ${t}) QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY hash(rid, 'k')) = 1)`)).getRowObjectsJS()[0]!.a as string;
    expect(await byRowid('visits_rev')).not.toBe(await byRowid('visits'));
  });

  it('poisson with an offset and weights reads them; standardisation uses the public centre and scale', async () => {
    const job = spec({ family: 'poisson', offset: 'site', weights: 'count', covariates: [{ column: 'age', type: 'numeric', bounds: [20, 90], standardise: true }] });
    const { design, nDropped } = await readGlmDesign(conn, job, PRODUCT, { ...opts, standardisation: { age: { mean: 50, sd: 10 } } });
    const valid = rows().filter((r) => r[3] !== null && (r[2] === 0 || r[2] === 1 || r[2] === 7) && (r[5] as number) > 0);
    expect(design.n).toBe(valid.length);
    expect(nDropped).toBe(240 - valid.length);
    const expected = valid.map((r) => [r[2], (Math.min(90, Math.max(20, r[3] as number)) - 50) / 10, r[1], r[5]].join(',')).sort();
    const got = Array.from({ length: design.n }, (_, i) => [design.y[i], design.x[i * 2 + 1], design.offset![i], design.weights![i]].join(',')).sort();
    expect(got).toEqual(expected);
    await expect(readGlmDesign(conn, job, PRODUCT, opts)).rejects.toThrow(/standardise/);
  });

  it('disclosure: too many parameters for the rows is refused naming the rule, without counts', async () => {
    const job = spec({ where: [{ column: 'person_id', op: '<', value: 5 }] });
    const e = await readGlmDesign(conn, job, PRODUCT, opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('POLICY_DENIED');
    expect((e as FedmeshError).message).toContain('glm.parameters');
    expect((e as FedmeshError).message).not.toMatch(/\b(6|7|8|9|10)\b rows/);
  });

  it('disclosure: a sparse level and a sparse outcome level are refused naming the rule and the public level', async () => {
    const e = await readGlmDesign(conn, spec(), PRODUCT, { ...opts, minCellSize: 1000 }).catch((x: unknown) => x as FedmeshError);
    expect((e as FedmeshError).code).toBe('POLICY_DENIED');
    expect((e as FedmeshError).message).toMatch(/glm\.outcomeLevels: outcome level 0/);
    // Outcome rare at a site: only rows with event = 1 kept by the filter.
    const f = await readGlmDesign(conn, spec({ where: [{ column: 'age', op: '>', value: 85 }] }), PRODUCT, opts).catch((x: unknown) => x as FedmeshError);
    expect((f as FedmeshError).code).toBe('POLICY_DENIED');
    const g = await readGlmDesign(conn, spec({ covariates: [{ column: 'count', type: 'categorical', levels: [0, 1, 2, 3, 4], reference: 0 }] }), PRODUCT, { ...opts, minCellSize: 45 }).catch((x: unknown) => x as FedmeshError);
    expect((g as FedmeshError).message).toMatch(/glm\.levelCells: level \d of covariate count/);
  });

  it('reads a view in mode none, and wraps DuckDB failures as INTERNAL without their text', async () => {
    await conn.run('CREATE VIEW visits_v AS SELECT * FROM visits');
    const { design } = await readGlmDesign(conn, spec({ product: 'visits_v' }), { ...PRODUCT, name: 'visits_v' }, opts);
    expect(design.n).toBe(236);
    // A product the schema lists but the database lacks: DuckDB fails; the message names no table or value.
    const e = await readGlmDesign(conn, spec({ product: 'ghost' }), { ...PRODUCT, name: 'ghost' }, opts).catch((x: unknown) => x as FedmeshError);
    expect((e as FedmeshError).code).toBe('INTERNAL');
    expect((e as FedmeshError).message).toBe('glm design query failed');
  });

  it('refuses schema mismatches naming the field, and the privacy unit as a variable', async () => {
    await expect(readGlmDesign(conn, spec({ outcome: 'label' }), PRODUCT, opts)).rejects.toMatchObject({ code: 'INVALID_JOB', field: 'outcome' });
    await expect(readGlmDesign(conn, spec({ outcome: 'nope' }), PRODUCT, opts)).rejects.toMatchObject({ field: 'outcome' });
    await expect(readGlmDesign(conn, spec({ covariates: [{ column: 'gender', type: 'numeric', bounds: [0, 1] }] }), PRODUCT, opts)).rejects.toMatchObject({ field: 'covariates[0].column' });
    await expect(readGlmDesign(conn, spec({ covariates: [{ column: 'gender', type: 'categorical', levels: [1, 2], reference: 1 }] }), PRODUCT, opts)).rejects.toMatchObject({ field: 'covariates[0].levels[0]' });
    await expect(readGlmDesign(conn, spec({ covariates: [{ column: 'person_id', type: 'numeric', bounds: [0, 1e6] }] }), PRODUCT, opts)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
  });
});
