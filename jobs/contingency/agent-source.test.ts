/**
 * When contingency can be counted on a database server exactly (agent-source.ts `sourceQuery`), and when it falls
 * back to staging: no privacy unit, a column type the compiler does not compare (DATE), an unknown column. The
 * counts themselves on PostgreSQL are test/integration/postgres-jobs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { compileKindJob } from '../../common/kinds/index.js';
import { sourceQuery } from './agent-source.js';
import { contingencyKind } from './index.js';

const product = {
  name: 'person', privacyUnit: 'person_id', description: '', source: 'pg',
  columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'gender_concept_id', type: 'INTEGER' }, { name: 'race', type: 'VARCHAR' }, { name: 'birth', type: 'DATE' }, { name: 'w', type: 'DOUBLE' }],
};
const spec = (over: Record<string, unknown> = {}) => compileKindJob(contingencyKind, { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race', rowLevels: [8507, 8532], colLevels: ['a', 'b'], privacy: { mode: 'none' }, ...over }).spec as never;

describe('contingency on a server: exact pushdown or staging', () => {
  it('integer, text and double columns with a unit compile, filters included (types mapped to the compiler\'s)', () => {
    const q = sourceQuery(spec({ where: [{ column: 'w', op: 'between', value: [0, 1] }, { column: 'race', op: 'is not null' }] }), product);
    expect(q).toMatchObject({ table: 'person', person: { name: 'person_id', type: 'BIGINT' }, row: { type: 'BIGINT' }, col: { type: 'VARCHAR' } });
    expect(q!.where).toEqual([{ column: { name: 'w', type: 'DOUBLE' }, op: 'between', value: [0, 1] }, { column: { name: 'race', type: 'VARCHAR' }, op: 'is not null' }]);
  });

  it('falls back (undefined) without a privacy unit, on a DATE column, or a filter on one', () => {
    expect(sourceQuery(spec(), { ...product, privacyUnit: undefined })).toBeUndefined();
    expect(sourceQuery(spec({ colColumn: 'birth', colLevels: ['2000-01-01', '2001-01-01'] }), product)).toBeUndefined();
    expect(sourceQuery(spec({ where: [{ column: 'birth', op: 'is null' }] }), product)).toBeUndefined();
  });

  it('a double unit is pushed down (the server\'s text of it, as every kind on the agent hashes it: red team 18); text order comparisons compile (they compare bytes: compileContingencyCounts)', () => {
    for (const op of ['<', '<=', '>', '>=']) expect(sourceQuery(spec({ where: [{ column: 'race', op, value: 'b' }] }), product), op).toBeDefined();
    expect(sourceQuery(spec({ where: [{ column: 'race', op: 'between', value: ['a', 'c'] }] }), product)).toBeDefined();
    expect(sourceQuery(spec(), { ...product, privacyUnit: 'w' })?.person).toEqual({ name: 'w', type: 'DOUBLE' });
    expect(sourceQuery(spec({ where: [{ column: 'race', op: '=', value: 'b' }] }), product)).toBeDefined();
    expect(sourceQuery(spec({ where: [{ column: 'gender_concept_id', op: '<', value: 9000 }] }), product)).toBeDefined();
    // Boolean levels: staged, where the DuckDB step refuses them as on a DuckDB agent.
    expect(sourceQuery(spec({ colColumn: 'flag', colLevels: [true, false] }), { ...product, columns: [...product.columns, { name: 'flag', type: 'BOOLEAN' }] })).toBeUndefined();
  });
});
