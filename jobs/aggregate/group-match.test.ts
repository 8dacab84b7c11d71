/**
 * An agent matches its query's groups to the public combinations by the key columns' types (group-match.ts): the
 * seven cases red team 46 found dropped (the engine returns the column's value, the spec has its own form of it), a
 * text control, and the refusal of two combinations that are one group.
 */
import { describe, expect, it } from 'vitest';
import type { KeyValue } from '../../algorithms/aggregate/index.js';
import { parseJobSpec, type AggregateJob } from '../../common/job/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { comboKey, distinctCombos, keyMatcher } from './group-match.js';

const job = (keys: unknown[]): AggregateJob => parseJobSpec({ kind: 'aggregate', product: 'p', groupBy: ['k'], groupKeys: { k: keys }, measures: [{ fn: 'count' }], privacy: { mode: 'none' } }) as AggregateJob;

describe('matching an agent\'s groups to the public combinations', () => {
  // [column type, the spec's key, the value the engine returns]
  const cases: [string, KeyValue, KeyValue][] = [
    ['DECIMAL(10,2)', 1.5, '1.50'],
    ['FLOAT', 1, '1.0'],
    ['TIMESTAMP', '2024-01-05', '2024-01-05 00:00:00'],
    ['BOOLEAN', 1, true],
    ['DOUBLE', '1.50', 1.5],
    ['INTEGER', '01', 1],
    ['DATE', '2024-1-5', '2024-01-05'],
    ['VARCHAR', 12345, '12345'],
    ['BIGINT', '9007199254740993', 9007199254740993n as unknown as KeyValue],
    // PostgreSQL's timestamptz in the agent's UTC session (red team 47); BOOLEAN spelled as PostgreSQL accepts it.
    ['TIMESTAMP', '2024-01-05', '2024-01-05 00:00:00+00'],
    ['BOOLEAN', 'yes', true],
    ['DECIMAL(20,2)', '12345678901234567.5', '12345678901234567.50'],
  ];
  it.each(cases.map(([t, a, b]) => [t, String(a), String(b), a, b] as const))('%s: the spec\'s %s matches the engine\'s %s (by JSON they differ: the control)', (type, _a, _b, spec, engine) => {
    const keyOf = keyMatcher(job([spec]), () => type);
    expect(keyOf([engine])).toBe(keyOf([spec]));
    expect(JSON.stringify([engine], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).not.toBe(JSON.stringify([spec]));
  });

  it('keeps different values apart, and text that does not parse as the type as text', () => {
    const keyOf = keyMatcher(job([1]), () => 'DECIMAL(10,2)');
    expect(keyOf([1.5])).not.toBe(keyOf(['1.51']));
    expect(keyOf([null])).not.toBe(keyOf(['null']));
    expect(keyMatcher(job([1]), () => 'BIGINT')(['9007199254740993'])).not.toBe(keyMatcher(job([1]), () => 'BIGINT')(['9007199254740992']));
    expect(keyMatcher(job([1]), () => 'VARCHAR')(['01'])).not.toBe(keyMatcher(job([1]), () => 'VARCHAR')(['1']));
    // Decimals compare as digits: through a double these two would be one value (red team 47).
    const dec = keyMatcher(job([1]), () => 'DECIMAL(20,0)');
    expect(dec(['9007199254740993'])).not.toBe(dec(['9007199254740992']));
    expect(dec(['-0.00'])).toBe(dec([0]));
    // Another UTC offset is another instant: left as text, not guessed.
    const ts = keyMatcher(job([1]), () => 'TIMESTAMP');
    expect(ts(['2024-01-05 00:00:00+01'])).not.toBe(ts(['2024-01-05']));
  });

  it('refuses two combinations that are one group: as text at the coordinator, by the column type at an agent', () => {
    const refusal = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return isFedmeshError(e) && [e.code, e.field];
      }
      return 'not refused';
    };
    expect(refusal(() => distinctCombos(job([1, '1']), comboKey))).toEqual(['INVALID_JOB', 'groupKeys']);
    const decimal = job([1.5, '1.50']);
    expect(refusal(() => distinctCombos(decimal, comboKey))).toBe('not refused');
    expect(refusal(() => distinctCombos(decimal, keyMatcher(decimal, () => 'DECIMAL(10,2)')))).toEqual(['INVALID_JOB', 'groupKeys']);
  });
});
