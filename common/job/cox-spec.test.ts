import { describe, expect, it } from 'vitest';
import { parseJobSpec } from './validate.js';
import { coxTerms } from './cox-spec.js';
import type { CellJob } from './spec.js';

const target = { name: 'T2D', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' } };
const base = { kind: 'survival', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 30, maxDays: 1800 }, privacy: { mode: 'none' } };
const AGE_GROUP = { name: 'ageGroup', source: 'age', type: 'categorical', bands: [18, 50, 65, 80, 130], reference: '18-49' };
const GENDER = { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' };
const parse = (extra: Record<string, unknown>): CellJob => parseJobSpec({ ...base, ...extra }) as CellJob;
const cox = (job: CellJob) => (job.kind === 'survival' ? job.cox : undefined);

describe('survival spec: "model": "cox"', () => {
  it('parses age group and gender (the issue\'s GiBleed example) into dummy-coded terms with named references', () => {
    const job = parse({ model: 'cox', covariates: [AGE_GROUP, GENDER] });
    const c = cox(job)!;
    expect(c.maxIterations).toBe(20);
    expect(c.covariates[0]).toMatchObject({ levels: ['18-49', '50-64', '65-79', '80+'], reference: '18-49' });
    expect(coxTerms(c.covariates)).toEqual(['ageGroup=50-64', 'ageGroup=65-79', 'ageGroup=80+', 'gender=female']);
  });

  it('a numeric covariate keeps its declared bounds; maxIterations is public and bounded', () => {
    const c = cox(parse({ model: 'cox', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [18, 100] }], maxIterations: 8 }))!;
    expect(c.covariates[0]).toEqual({ name: 'age', source: 'age', type: 'numeric', bounds: [18, 100] });
    expect(coxTerms(c.covariates)).toEqual(['age']);
    expect(c.maxIterations).toBe(8);
  });

  it('red team: one covariate per source — three clamped views of age (or age beside age bands) would combine into a one-value indicator', () => {
    const age = (name: string, hi: number) => ({ name, source: 'age', type: 'numeric', bounds: [0, hi] });
    expect(() => parse({ model: 'cox', covariates: [age('a', 72), age('c', 73), age('b', 74)] })).toThrow(/covariates\[1\]\.source: age is already the source of another covariate/);
    expect(() => parse({ model: 'cox', covariates: [age('a', 100), AGE_GROUP] })).toThrow(/age is already the source/);
    expect(() => parse({ model: 'cox', covariates: [GENDER, { ...GENDER, name: 'g2' }] })).toThrow(/gender is already the source/);
    // Control: one of each source.
    expect(cox(parse({ model: 'cox', covariates: [age('a', 100), GENDER] }))!.covariates).toHaveLength(2);
  });

  it('without model (or "km") the job is the Kaplan–Meier job it always was', () => {
    expect(cox(parse({}))).toBeUndefined();
    expect(cox(parse({ model: 'km' }))).toBeUndefined();
  });

  it.each([
    [{ model: 'weibull' }, /^model: must be 'km'/],
    [{ covariates: [GENDER] }, /^covariates: only with "model": "cox"/],
    [{ model: 'cox' }, /^covariates: must be a non-empty list/],
    [{ model: 'cox', covariates: [{ ...GENDER, name: '1x' }] }, /^covariates\[0\]\.name: must be a name/],
    [{ model: 'cox', covariates: [{ ...GENDER, source: 'race' }] }, /^covariates\[0\]\.source: must be 'age' or 'gender'/],
    [{ model: 'cox', covariates: [{ ...GENDER, levels: ['male', 'nonbinary'] }] }, /^covariates\[0\]\.levels\[1\]: must be one of male, female, other/],
    [{ model: 'cox', covariates: [{ ...GENDER, levels: ['male'] }] }, /^covariates\[0\]\.levels: must list at least 2/],
    [{ model: 'cox', covariates: [{ ...GENDER, reference: 'other' }] }, /^covariates\[0\]\.reference: must be one of the levels/],
    [{ model: 'cox', covariates: [{ ...GENDER, type: 'numeric' }] }, /^covariates\[0\]\.type: gender is categorical/],
    [{ model: 'cox', covariates: [{ ...GENDER, sql: 'x' }] }, /^covariates\[0\]\.sql: is not a covariate field/],
    [{ model: 'cox', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [50, 20] }] }, /^covariates\[0\]\.bounds: must satisfy/],
    [{ model: 'cox', covariates: [{ name: 'age', source: 'age', type: 'numeric' }] }, /^covariates\[0\]\.bounds: must be \[lo, hi\]/],
    [{ model: 'cox', covariates: [{ ...AGE_GROUP, bands: [18, 130] }] }, /^covariates\[0\]\.bands: must give at least 2 bands/],
    [{ model: 'cox', covariates: [{ ...AGE_GROUP, bands: [50, 18, 130] }] }, /^covariates\[0\]\.bands\[1\]: edges must be strictly increasing/],
    [{ model: 'cox', covariates: [GENDER, GENDER] }, /^covariates: names a covariate twice \(gender\)/],
    [{ model: 'cox', covariates: [GENDER], strata: 'gender' }, /^covariates: gender cannot be both a stratum/],
    [{ model: 'cox', covariates: [GENDER], maxIterations: 0 }, /^maxIterations: must be an integer in \[1, 50\]/],
    [{ model: 'cox', covariates: Array.from({ length: 11 }, (_, i) => ({ ...GENDER, name: `g${i}` })) }, /^covariates: at most 10 covariates/],
  ])('refuses %j with a message naming the field', (extra, message) => {
    expect(() => parse(extra)).toThrow(message);
  });

  it('echoes a bad value only truncated', () => {
    let msg = '';
    try {
      parse({ model: 'cox', covariates: [{ ...GENDER, reference: 'x'.repeat(500) }] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.length).toBeLessThan(200);
  });
});
