/**
 * checkValue: a filter or level value must have its column's type. An integer column takes integers only: DuckDB
 * would round 1.5 to 2 and match other persons, PostgreSQL would refuse the cast, so the job is refused naming the field.
 */
import { describe, expect, it } from 'vitest';
import { checkValue } from './schema-check.js';

describe('checkValue', () => {
  it('refuses a non-integer for an integer column, naming the field; integers (also beyond INTEGER\'s range) pass', () => {
    for (const type of ['INTEGER', 'BIGINT', 'SMALLINT']) {
      expect(() => checkValue({ name: 'age', type }, 1.5, 'where[0].value')).toThrow(/where\[0\]\.value: column age is .*: expected an integer, got 1\.5/);
      expect(() => checkValue({ name: 'age', type }, 2, 'where[0].value')).not.toThrow();
      expect(() => checkValue({ name: 'age', type }, 3e9, 'where[0].value')).not.toThrow();
    }
    // Control: a DOUBLE column takes any number.
    expect(() => checkValue({ name: 'bmi', type: 'DOUBLE' }, 1.5, 'where[0].value')).not.toThrow();
    expect(() => checkValue({ name: 'bmi', type: 'DOUBLE' }, '1.5', 'where[0].value')).toThrow(/expected a number/);
  });
});
