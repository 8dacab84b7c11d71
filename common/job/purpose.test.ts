import { describe, expect, it } from 'vitest';
import { parseJobSpec } from './validate.js';
import { DEFAULT_PURPOSE, purposeOf } from './purpose.js';

const base = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } };

describe('purpose of use and project', () => {
  it('accepts HL7 PurposeOfUse codes and an approval id, and keeps them in the spec', () => {
    for (const purpose of ['HRESCH', 'CLINTRCH', 'PUBHLTH', 'TREAT']) {
      const spec = parseJobSpec(JSON.stringify({ ...base, purpose, project: 'IRB-2024/017' }));
      expect(spec.purpose).toBe(purpose);
      expect(spec.project).toBe('IRB-2024/017');
    }
  });

  it('defaults to HRESCH without writing it into the spec', () => {
    const spec = parseJobSpec(JSON.stringify(base));
    expect(spec.purpose).toBeUndefined();
    expect(purposeOf(spec)).toBe('HRESCH');
    expect(DEFAULT_PURPOSE).toBe('HRESCH');
  });

  it.each([
    ['research', 'purpose'],
    ['hresch', 'purpose'],
    [7, 'purpose'],
  ])('refuses purpose %j naming the field', (purpose, field) => {
    expect(() => parseJobSpec(JSON.stringify({ ...base, purpose }))).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field }));
  });

  it.each([[''], ['has space'], ['x'.repeat(65)], ['-leading']])('refuses project %j naming the field', (project) => {
    expect(() => parseJobSpec(JSON.stringify({ ...base, project }))).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field: 'project' }));
  });

  it('cohort-level jobs carry them too', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'contingency', product: 'person', rowColumn: 'a', colColumn: 'b', rowLevels: ['x', 'y'], colLevels: ['u', 'v'], privacy: { mode: 'central-dp', epsilon: 1 }, purpose: 'PUBHLTH', project: 'P1' }));
    expect(spec.purpose).toBe('PUBHLTH');
  });
});
