import { describe, expect, it } from 'vitest';
import { manifestProductOf } from './product-rules.js';
import { namedProductOf } from './spec.js';
import { parseJobSpec } from './validate.js';

/** Which product a job names decides quorum, budget populations and the gating manifest; read from the spec's shape. */
const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
  inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }],
};
const none = { privacy: { mode: 'none' } };
const specs = {
  aggregate: { kind: 'aggregate', product: 'vitals', measures: [{ fn: 'count' }], ...none },
  contingency: { kind: 'contingency', product: 'vitals', rowColumn: 'smoking', colColumn: 'visit', rowLevels: ['smoker', 'non-smoker'], colLevels: [0, 1], ...none },
  cohort: { kind: 'cohort', definition: diabetes, ...none },
  characterize: { kind: 'characterize', definition: diabetes, conditionConcepts: [320128], ...none },
  survival: { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, ...none },
};

describe('namedProductOf', () => {
  it.each(['aggregate', 'contingency'] as const)('%s names its product, which gates its manifest', (kind) => {
    const spec = parseJobSpec(specs[kind]);
    expect(namedProductOf(spec)).toBe('vitals');
    expect(manifestProductOf(spec)).toBe('vitals');
  });

  it.each(['cohort', 'characterize', 'survival'] as const)('%s names none: it reads the OMOP tables, gated by person', (kind) => {
    const spec = parseJobSpec(specs[kind]);
    expect(namedProductOf(spec)).toBeUndefined();
    expect(manifestProductOf(spec)).toBe('person');
  });

  it('a cohort spec cannot carry a product to redirect the gate: the parser refuses the field', () => {
    expect(() => parseJobSpec({ ...specs.cohort, product: 'vitals' })).toThrow(/^product: unknown field/);
  });
});
