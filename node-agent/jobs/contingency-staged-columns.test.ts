/**
 * The columns a contingency spec the server cannot count exactly stages (contingencyStagedColumns): the row, column
 * and filter columns and the person column the DuckDB step reads — the declared unit, or without one the first of
 * person_id / subject_id the step would take (review of 973d4b1: a unit-less product lost its person column).
 */
import { describe, expect, it } from 'vitest';
import { contingencyStagedColumns } from './contingency-source.js';

const col = (name: string, type = 'BIGINT') => ({ name, type });
const spec = { rowColumn: 'a', colColumn: 'b', rowLevels: [1], colLevels: [2], where: [{ column: 'd', op: 'is not null' }] };

describe('contingencyStagedColumns', () => {
  it('stages row, column, filter and declared unit columns only', () => {
    const product = { columns: [col('u'), col('a'), col('b'), col('c'), col('d', 'DATE'), col('person_id')], privacyUnit: 'u' };
    expect(contingencyStagedColumns(spec, product).map((c) => c.name)).toEqual(['u', 'a', 'b', 'd']);
  });

  it('without a declared unit, the person column the step would take (subject_id when there is no person_id)', () => {
    const cohort = { columns: [col('cohort_definition_id'), col('subject_id'), col('a'), col('b'), col('d', 'DATE'), col('e')], privacyUnit: undefined };
    expect(contingencyStagedColumns(spec, cohort).map((c) => c.name)).toEqual(['subject_id', 'a', 'b', 'd']);
    const both = { columns: [col('subject_id'), col('person_id'), col('a'), col('b'), col('d')], privacyUnit: undefined };
    expect(contingencyStagedColumns(spec, both).map((c) => c.name)).toEqual(['person_id', 'a', 'b', 'd']);
  });
});
