/**
 * The hash split wired into the train reader: the side of every row is computed in DuckDB from its privacy unit
 * (reader-split.ts) and must be the one hash-split.ts's isTestUnit gives, the same for every row of a person, the
 * same in two jobs with the same salt, a public fraction of the persons within a binomial tolerance, and
 * (negative control) another salt must reassign persons.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import type { SchemaProduct } from '../../common/job/index.js';
import { readTrainData, type TrainAgentData } from './data.js';
import { isTestUnit } from './hash-split.js';
import { parseTrainSpec } from './spec.js';

const PERSONS = 4000;
const FRACTION = 0.25;
// SD of the test share of persons at p = 0.25 over 4000 persons: 0.00685; 4 SD = 0.0274 (false failure ~6e-5).
const TOL = 4 * Math.sqrt((FRACTION * (1 - FRACTION)) / PERSONS);

const spec = (salt: string, privacy: Record<string, unknown> = { mode: 'none' }) =>
  parseTrainSpec({
    kind: 'train',
    product: 'p',
    label: 'y',
    // pid carries the person id (scaled by its bounds) so that the test can tell whose row a row is.
    features: [{ column: 'pid', type: 'numeric', bounds: [0, PERSONS] }, { column: 'x', type: 'numeric', bounds: [0, 1] }],
    split: { hash: { fraction: FRACTION, salt } },
    model: { type: 'logistic' },
    privacy,
  });

let instance: DuckDBInstance;
let conn: DuckDBConnection;
const product: SchemaProduct = { name: 'p', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'pid', type: 'DOUBLE' }, { name: 'x', type: 'DOUBLE' }, { name: 'y', type: 'INTEGER' }, { name: 'other', type: 'VARCHAR' }], privacyUnit: 'person_id' };

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  // 1–3 rows per person (person i has 1 + i % 3 rows), labels alternate; one row without a unit.
  await conn.run(`CREATE TABLE p AS SELECT person_id, person_id::DOUBLE AS pid, (r % 7) / 7.0 AS x, ((person_id + r) % 2)::INTEGER AS y, 'z' AS other
    FROM range(1, ${PERSONS + 1}) t(person_id), range(0, 3) s(r) WHERE r <= person_id % 3`);
  await conn.run(`INSERT INTO p VALUES (NULL, 0, 0.5, 1, 'z')`);
});
afterAll(() => {
  conn?.closeSync();
  instance?.closeSync();
});

const read = (salt: string, scratch: string, privacy?: Record<string, unknown>) => readTrainData(conn, spec(salt, privacy), product, { salt: 'agent-secret', minCellSize: 1, scratch });

/** person id → side ('train' | 'test'), failing if one person's rows are on both sides. */
function sides(d: TrainAgentData): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, part] of [['train', d.train], ['test', d.test]] as const) {
    for (let r = 0; r < part.n; r++) {
      const pid = Math.round(part.x[r * d.inputs]! * PERSONS);
      const seen = out.get(pid);
      if (seen !== undefined && seen !== name) throw new Error(`person ${pid} is on both sides`);
      out.set(pid, name);
    }
  }
  return out;
}

describe('hash split in the train reader', () => {
  it('puts every person on the side isTestUnit gives, the same in two jobs with the same salt, a public fraction within 4 binomial SD', async () => {
    const a = await read('study-1', 'job_a');
    const b = await read('study-1', 'job_b');
    const sa = sides(a);
    expect(sa.size).toBe(PERSONS); // the row without a unit is dropped
    expect(a.nDropped).toBe(1);
    expect(a.train.n + a.test.n).toBe(PERSONS * 2); // Σ (1 + i % 3) over 1..4000 = 8000 rows
    expect([...sides(b)]).toEqual([...sa]);
    let mismatches = 0;
    for (const [pid, side] of sa) if ((side === 'test') !== isTestUnit({ fraction: FRACTION, salt: 'study-1' }, String(pid))) mismatches++;
    expect(mismatches).toBe(0);
    const share = [...sa.values()].filter((s) => s === 'test').length / PERSONS;
    expect(Math.abs(share - FRACTION)).toBeLessThan(TOL);
  });

  it('negative control: another salt reassigns persons (agreement ≈ p² + (1 − p)² = 0.625, far from 1)', async () => {
    const sa = sides(await read('study-1', 'job_c'));
    const sb = sides(await read('study-2', 'job_d'));
    let agree = 0;
    for (const [pid, side] of sa) if (sb.get(pid) === side) agree++;
    const rate = agree / PERSONS;
    expect(Math.abs(rate - 0.625)).toBeLessThan(4 * Math.sqrt((0.625 * 0.375) / PERSONS));
    expect(rate).toBeLessThan(0.9);
  });

  it('keeps the DP modes per-person bound (at most maxRowsPerPerson rows per person) on the staged rows', async () => {
    const d = await read('study-1', 'job_e', { mode: 'central-dp', epsilon: 1, delta: 1e-6, clip: 1, maxRowsPerPerson: 1 });
    expect(d.train.n + d.test.n).toBe(PERSONS);
    expect(sides(d).size).toBe(PERSONS);
  });

  it('refuses a product without a privacy unit, naming split.hash, and leaves no scratch table behind', async () => {
    const err = await read('s', 'job_f').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeUndefined();
    const noUnit = await readTrainData(conn, spec('s'), { ...product, privacyUnit: undefined }, { salt: 'a', minCellSize: 1, scratch: 'job_g' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFedmeshError(noUnit) && noUnit.code === 'INVALID_JOB' && noUnit.field === 'split.hash').toBe(true);
    const left = (await conn.runAndReadAll("SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name LIKE 'job_%'")).getRowObjectsJS()[0]!.n;
    expect(left).toBe(0);
  });

  it('text units (non-ASCII too) get the side isTestUnit gives; a where column the features do not name still filters', async () => {
    await conn.run(`CREATE TABLE q AS SELECT 'pé-' || i::VARCHAR AS pid_text, i::DOUBLE AS pid, 0.5 AS x, (i % 2)::INTEGER AS y, i % 5 AS site FROM range(1, 1001) t(i)`);
    const textProduct: SchemaProduct = { name: 'q', columns: [{ name: 'pid_text', type: 'VARCHAR' }, { name: 'pid', type: 'DOUBLE' }, { name: 'x', type: 'DOUBLE' }, { name: 'y', type: 'INTEGER' }, { name: 'site', type: 'BIGINT' }], privacyUnit: 'pid_text' };
    const s = parseTrainSpec({ ...spec('text-salt'), product: 'q', where: [{ column: 'site', op: '!=', value: 0 }] });
    const d = await readTrainData(conn, s, textProduct, { salt: 'a', minCellSize: 1, scratch: 'job_t' });
    const sd = sides(d);
    expect(sd.size).toBe(800); // site 0 (every 5th id) filtered out
    let mismatches = 0;
    for (const [pid, side] of sd) if ((side === 'test') !== isTestUnit({ fraction: FRACTION, salt: 'text-salt' }, `pé-${pid}`)) mismatches++;
    expect(mismatches).toBe(0);
    // Control: the same check against the ASCII spelling of the ids must disagree for many persons.
    let ascii = 0;
    for (const [pid, side] of sd) if ((side === 'test') !== isTestUnit({ fraction: FRACTION, salt: 'text-salt' }, `pe-${pid}`)) ascii++;
    expect(ascii).toBeGreaterThan(100);
  });

  it('refuses split specs naming the field', () => {
    expect(() => parseTrainSpec({ ...spec('s'), split: { hash: { fraction: 0.2, salt: 's' }, column: 'c' } })).toThrow(/split/);
    expect(() => parseTrainSpec({ ...spec('s'), split: { hash: { fraction: 2, salt: 's' } } })).toThrow(/split\.hash\.fraction/);
    expect(() => parseTrainSpec({ ...spec('s'), split: { column: 'y', train: 'a', test: 'b' } })).toThrow(/split\.column/);
  });
});
