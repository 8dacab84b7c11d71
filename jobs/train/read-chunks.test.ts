/**
 * Issue 13, streaming: the train reader reads the design in chunks (never the float64 design whole) into arrays
 * sized from counts taken on the server side before any row is read. Over 40 000 rows (3 chunks) its arrays equal,
 * value for value, the one-shot conversion of the whole design (inputsFromDesign over readGlmDesign). The job's
 * update.maxExamples is not checked by the reader (the rounds refuse it after the guard and the label-level rule).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaProduct } from '../../common/job/index.js';
import { readGlmDesign } from '../glm/design.js';
import { designSpecOf, inputsFromDesign, readTrainData } from './data.js';
import { parseTrainSpec } from './spec.js';

const ROWS = 40_000;
const spec = (maxExamples?: number) =>
  parseTrainSpec({
    kind: 'train',
    product: 'p',
    label: 'y',
    features: [{ column: 'x', type: 'numeric', bounds: [0, 1] }, { column: 'g', type: 'categorical', levels: ['a', 'b', 'c'] }],
    split: { column: 'side', train: 'train', test: 'test' },
    model: { type: 'logistic' },
    privacy: { mode: 'none' },
    ...(maxExamples !== undefined ? { update: { maxExamples } } : {}),
  });
const product: SchemaProduct = { name: 'p', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }, { name: 'g', type: 'VARCHAR' }, { name: 'side', type: 'VARCHAR' }, { name: 'y', type: 'INTEGER' }], privacyUnit: 'person_id' };

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  await conn.run(`CREATE TABLE p AS SELECT i AS person_id, ((i * 7919) % 1000) / 1000.0 AS x, ['a', 'b', 'c'][1 + i % 3] AS g,
    CASE WHEN i % 5 = 0 THEN 'test' ELSE 'train' END AS side, (i % 2)::INTEGER AS y FROM range(1, ${ROWS + 1}) t(i)`);
});
afterAll(() => {
  conn?.closeSync();
  instance?.closeSync();
});

describe('train reader in chunks', () => {
  it('equals the one-shot conversion of the whole design, value for value, over 3 chunks', async () => {
    const s = spec();
    const got = await readTrainData(conn, s, product, { salt: 's', minCellSize: 1, scratch: 'rc1' });
    const whole = await readGlmDesign(conn, designSpecOf(s), product, { salt: 's', minCellSize: 1, scratch: 'rc2' });
    const want = inputsFromDesign(s, whole.design);
    expect(got.train.n + got.test.n).toBe(ROWS);
    expect(got.test.n).toBe(ROWS / 5);
    expect(Buffer.from(got.train.x.buffer).equals(Buffer.from(want.train.x.buffer))).toBe(true);
    expect(Buffer.from(got.test.x.buffer).equals(Buffer.from(want.test.x.buffer))).toBe(true);
    expect(Buffer.from(got.train.y.buffer).equals(Buffer.from(want.train.y.buffer))).toBe(true);
    // Control: the comparison sees a changed value.
    want.train.x[12_345] = want.train.x[12_345]! + 1;
    expect(Buffer.from(got.train.x.buffer).equals(Buffer.from(want.train.x.buffer))).toBe(false);
  });

  it('leaves update.maxExamples to the rounds, after the guard and the label-level rule (red team 19): the reader reads a side beyond it', async () => {
    const got = await readTrainData(conn, spec(ROWS * 0.8 - 1), product, { salt: 's', minCellSize: 1, scratch: 'rc3' });
    expect(got.train.n).toBe(ROWS * 0.8);
  });
});
