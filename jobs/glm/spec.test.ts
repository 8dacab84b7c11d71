import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { MAX_GLM_PARAMETERS, glmTerms, parseGlmSpec } from './spec.js';

const base = {
  kind: 'glm',
  product: 'heart',
  family: 'binomial',
  outcome: 'label_binary',
  covariates: [
    { column: 'age', type: 'numeric', bounds: [20, 90] },
    { column: 'gender', type: 'categorical', levels: ['male', 'female', 'other'], reference: 'male' },
  ],
  privacy: { mode: 'none' },
};

function refusal(patch: Record<string, unknown>): FedmeshError {
  try {
    parseGlmSpec({ ...base, ...patch });
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    return e as FedmeshError;
  }
  throw new Error(`accepted ${JSON.stringify(patch)}`);
}

describe('glm spec', () => {
  it('parses a valid spec with defaults and names terms as R does', () => {
    const job = parseGlmSpec(base);
    expect(job.link).toBe('logit');
    expect(job.maxIterations).toBe(25);
    expect(job.where).toEqual([]);
    expect(glmTerms(job.covariates).map((t) => t.name)).toEqual(['(Intercept)', 'age', 'genderfemale', 'genderother']);
    expect(glmTerms(job.covariates).map((t) => t.bounds)).toEqual([[1, 1], [20, 90], [0, 1], [0, 1]]);
    expect(Object.isFrozen(job)).toBe(true);
  });

  it('accepts where filters, a native cohort, offset, weights and maxIterations', () => {
    const job = parseGlmSpec({
      ...base,
      family: 'poisson',
      outcome: 'visits',
      offset: 'log_years',
      weights: 'w',
      where: [{ column: 'age', op: '>=', value: 18 }],
      cohort: { entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671, descendants: true }] } } },
      maxIterations: 50,
    });
    expect(job.offset).toBe('log_years');
    expect(job.maxIterations).toBe(50);
    expect(job.where).toHaveLength(1);
  });

  it.each([
    [{ family: 'gamma' }, 'family'],
    [{ link: 'probit' }, 'link'],
    [{ family: 'poisson', link: 'logit' }, 'link'],
    [{ outcome: '1abc' }, 'outcome'],
    [{ covariates: 'age' }, 'covariates'],
    [{ covariates: [{ column: 'age', type: 'numeric' }] }, 'covariates[0].bounds'],
    [{ covariates: [{ column: 'age', type: 'numeric', bounds: [5, 1] }] }, 'covariates[0].bounds'],
    [{ covariates: [{ column: 'age', type: 'text' }] }, 'covariates[0].type'],
    [{ covariates: [{ column: 'g', type: 'categorical', levels: ['a'], reference: 'a' }] }, 'covariates[0].levels'],
    [{ covariates: [{ column: 'g', type: 'categorical', levels: ['a', 'a'], reference: 'a' }] }, 'covariates[0].levels'],
    [{ covariates: [{ column: 'g', type: 'categorical', levels: ['a', 'b'] }] }, 'covariates[0].reference'],
    [{ covariates: [{ column: 'g', type: 'categorical', levels: ['a', 'b'], reference: 'c' }] }, 'covariates[0].reference'],
    [{ covariates: [{ column: 'label_binary', type: 'numeric', bounds: [0, 1] }] }, 'covariates[0].column'],
    [{ covariates: [{ column: 'a', type: 'numeric', bounds: [0, 1] }, { column: 'a', type: 'numeric', bounds: [0, 1] }] }, 'covariates[1].column'],
    [{ covariates: [{ column: 'a', type: 'numeric', bounds: [0, 1], extra: 1 }] }, 'covariates[0].extra'],
    [{ maxIterations: 0 }, 'maxIterations'],
    [{ maxIterations: 2.5 }, 'maxIterations'],
    [{ where: [{ column: 'age', op: 'like', value: 'x' }] }, 'where[0].op'],
    [{ cohort: { nonsense: true } }, 'cohort'],
    [{ offsetBounds: [0, 1] }, 'offsetBounds'],
    [{ weights: 'label_binary' }, 'weights'],
    [{ outcomeBounds: [0, 2] }, 'outcomeBounds'],
    [{ unknownField: 1 }, 'unknownField'],
    [{ privacy: { mode: 'central-dp', epsilon: 1 }, family: 'gaussian' }, 'outcomeBounds'],
    [{ privacy: { mode: 'central-dp', epsilon: 1 }, weights: 'w' }, 'weights'],
    [{ privacy: { mode: 'central-dp', epsilon: 1 }, offset: 'o' }, 'offsetBounds'],
  ])('refuses %j naming field %s', (patch, field) => {
    const e = refusal(patch);
    expect(e.code).toBe('INVALID_JOB');
    expect(e.field).toBe(field);
    expect(e.message.startsWith(field)).toBe(true);
  });

  it('refuses a model with more than the maximum number of parameters', () => {
    const covariates = Array.from({ length: 3 }, (_, i) => ({ column: `c${i}`, type: 'categorical', levels: Array.from({ length: 40 }, (_, j) => `l${j}`), reference: 'l0' }));
    const e = refusal({ covariates });
    expect(e.field).toBe('covariates');
    expect(e.message).toContain(`at most ${MAX_GLM_PARAMETERS}`);
  });

  it('refuses two design columns with the same R name (column a + level "1b" vs column a1 + level "b")', () => {
    const e = refusal({
      covariates: [
        { column: 'a', type: 'categorical', levels: ['x', '1b'], reference: 'x' },
        { column: 'a1', type: 'categorical', levels: ['y', 'b'], reference: 'y' },
      ],
    });
    expect(e.message).toContain('a1b');
  });

  it('does not echo long values in full', () => {
    const e = refusal({ family: 'x'.repeat(5000) });
    expect(e.message.length).toBeLessThan(300);
  });
});
