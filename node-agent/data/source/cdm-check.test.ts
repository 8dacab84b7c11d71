/**
 * How the PostgreSQL catalogue spells a server type: DuckDB's names, so jobs are checked against one vocabulary.
 * Types whose text is not their stored value keep a name of their own, so that the manifest cannot take them as a
 * linkage key (its key is hashed as text, the same bytes at every site; red team 14).
 */
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../catalog/manifest.js';
import { duckdbTypeOf } from './cdm-check.js';

describe('duckdbTypeOf', () => {
  it('maps the CDM types, keeps uuid, bytea and json apart from text, and text stays VARCHAR', () => {
    const cases: [string, string][] = [['bigint', 'BIGINT'], ['integer', 'INTEGER'], ['smallint', 'INTEGER'], ['double precision', 'DOUBLE'], ['numeric(10,2)', 'DOUBLE'], ['date', 'DATE'], ['timestamp without time zone', 'TIMESTAMP'], ['boolean', 'BOOLEAN'], ['uuid', 'UUID'], ['bytea', 'BLOB'], ['json', 'JSON'], ['jsonb', 'JSON'], ['text', 'VARCHAR'], ['character varying(50)', 'VARCHAR']];
    for (const [pg, duck] of cases) expect(duckdbTypeOf(pg), pg).toBe(duck);
  });

  it('a uuid or bytea column is refused as a linkage key, a text column is taken (control)', () => {
    const schema = (type: string) => [{ name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'link_key', type: duckdbTypeOf(type) }] }];
    const manifest = JSON.stringify({ version: 1, products: { person: { privacyUnit: 'person_id', linkageKey: 'link_key' } } });
    for (const type of ['uuid', 'bytea']) expect(parseManifest(manifest, schema(type)).issues.map((i) => i.message).join('\n'), type).toMatch(/a linkage key must be a VARCHAR column/);
    expect(parseManifest(manifest, schema('text')).issues).toEqual([]);
  });
});
