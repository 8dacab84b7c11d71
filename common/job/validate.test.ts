import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../errors.js';
import { MAX_SPEC_JSON_CHARS, parseJobSpec } from './validate.js';
import { jobBudget } from './privacy-plan.js';

const base = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } };

function rejects(spec: unknown, field: string, message: RegExp): void {
  try {
    parseJobSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    const err = e as FedmeshError;
    expect(err.code).toBe('INVALID_JOB');
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    return;
  }
  throw new Error(`expected ${JSON.stringify(spec)} to be rejected`);
}

describe('job spec validation', () => {
  it('accepts the documented example and fills defaults', () => {
    const job = parseJobSpec({
      kind: 'aggregate',
      product: 'person',
      where: [{ column: 'year_of_birth', op: '>=', value: 1950 }],
      groupBy: ['gender_concept_id'],
      measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }],
      privacy: { mode: 'none' },
    });
    expect(job.timeoutMs).toBe(30_000);
    expect(job.kind === 'aggregate' && job.measures).toHaveLength(2);
  });

  it('defaults to central-dp when no privacy is named', () => {
    expect(parseJobSpec({ ...base, privacy: undefined }).privacy.mode).toBe('central-dp');
  });

  it('gives a job with no privacy block the documented budget (it used to reach agents with no epsilon and be refused)', () => {
    const { privacy } = parseJobSpec({ ...base, privacy: undefined });
    expect(privacy).toEqual({ mode: 'central-dp', epsilon: 1, delta: 1e-6 });
    expect(() => jobBudget(privacy)).not.toThrow();
  });

  it('rejects a contribution bound in mode none, naming the flag, instead of ignoring it', () => {
    rejects({ ...base, privacy: { mode: 'none', maxRowsPerPerson: 5 } }, 'privacy.maxRowsPerPerson', /--max-rows-per-person.*DP modes only/);
    expect(parseJobSpec({ ...base, privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 5 } }).privacy.maxRowsPerPerson).toBe(5);
  });

  it('names the field for each kind of mistake', () => {
    rejects('{"kind":', 'spec', /malformed JSON/);
    rejects([], 'spec', /JSON object/);
    rejects({ ...base, kind: 'train' }, 'kind', /aggregate/);
    rejects({ ...base, product: 'drop table x' }, 'product', /identifier/);
    rejects({ ...base, measures: [] }, 'measures', /non-empty/);
    rejects({ ...base, measures: [{ fn: 'median', column: 'x' }] }, 'measures[0].fn', /one of/);
    rejects({ ...base, measures: [{ fn: 'mean', column: 'x', bounds: [10, 1] }] }, 'measures[0].bounds', /lower bound 10 must be below upper bound 1/);
    rejects({ ...base, measures: [{ fn: 'mean', column: 'x' }] }, 'measures[0].bounds', /bounds are required/);
    rejects({ ...base, measures: [{ fn: 'sum', column: 'x', bounds: [0, 'a'] }] }, 'measures[0].bounds[1]', /finite number/);
    rejects({ ...base, measures: [{ fn: 'histogram', column: 'x', bins: [] }] }, 'measures[0].bins', /at least two/);
    rejects({ ...base, measures: [{ fn: 'histogram', column: 'x', bins: [1, 1] }] }, 'measures[0].bins', /strictly increasing/);
    rejects({ ...base, measures: [{ fn: 'count' }, { fn: 'count' }] }, 'measures[1]', /duplicates/);
    rejects({ ...base, where: [{ column: 'x', op: 'like', value: 'a%' }] }, 'where[0].op', /one of/);
    rejects({ ...base, where: [{ column: 'x', op: 'in', value: [] }] }, 'where[0].value', /non-empty list/);
    rejects({ ...base, where: [{ column: 'x', op: 'between', value: [5, 1] }] }, 'where[0].value', /low 5 is above high 1/);
    rejects({ ...base, where: [{ column: 'x', op: 'is null', value: 1 }] }, 'where[0].value', /absent/);
    rejects({ ...base, where: [{ column: 'x', op: '=', value: { a: 1 } }] }, 'where[0].value', /finite number/);
    rejects({ ...base, groupBy: ['a', 'a'] }, 'groupBy', /twice/);
    rejects({ ...base, privacy: { mode: 'open' } }, 'privacy.mode', /one of/);
    rejects({ ...base, privacy: { mode: 'central-dp', epsilon: -1 } }, 'privacy.epsilon', /in \[0.001, 100\]/);
    rejects({ ...base, privacy: { mode: 'none', epsilon: 1 } }, 'privacy', /takes no epsilon/);
    rejects({ ...base, quorum: 0 }, 'quorum', />= 1/);
    rejects({ ...base, timeoutMs: 5 }, 'timeoutMs', /between/);
    rejects({ ...base, secure: 'tls' }, 'secure', /secagg, he/);
    rejects({ ...base, extra: 1 }, 'extra', /unknown field/);
  });
});

describe('parseJobSpec on raw text', () => {
  it('refuses a spec over the size limit before parsing it', () => {
    const huge = JSON.stringify({ ...base, pad: 'x'.repeat(MAX_SPEC_JSON_CHARS) });
    expect(() => parseJobSpec(huge)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'spec' }));
  });
});

describe('contingency where: bounded like aggregate (red team 8, F4)', () => {
  const table = (n: number): unknown => ({ kind: 'contingency', product: 'person', rowColumn: 'a', colColumn: 'b', rowLevels: [1, 2], colLevels: [1, 2], where: Array.from({ length: n }, (_, i) => ({ column: 'c', op: '!=', value: i })), privacy: { mode: 'none' } });
  it('refuses more than 32 filters naming where; 32 are accepted (control)', () => {
    expect(() => parseJobSpec(table(33))).toThrow(/where: at most 32 filters/);
    expect(() => parseJobSpec(table(32))).not.toThrow();
  });
});

describe('concept lists: a duplicate id is refused at parse, before any budget is charged (red team 10)', () => {
  const def = { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } };
  it('names the repeated entry in conditionConcepts, drugConcepts and a survival outcome; distinct ids pass (control)', () => {
    expect(() => parseJobSpec({ kind: 'characterize', definition: def, conditionConcepts: [5, 6, 5], privacy: { mode: 'central-dp', epsilon: 1 } })).toThrow(/conditionConcepts\[2\]: duplicate concept id 5/);
    expect(() => parseJobSpec({ kind: 'characterize', definition: def, drugConcepts: [7, 7], privacy: { mode: 'none' } })).toThrow(/drugConcepts\[1\]: duplicate concept id 7/);
    expect(() => parseJobSpec({ kind: 'survival', target: def, outcome: { domain: 'condition', conceptIds: [3, 3] }, timeGrid: { binDays: 30, maxDays: 360 }, privacy: { mode: 'none' } })).toThrow(/outcome\.conceptIds\[1\]: duplicate concept id 3/);
    expect(() => parseJobSpec({ kind: 'characterize', definition: def, conditionConcepts: [5, 6], drugConcepts: [5], privacy: { mode: 'none' } })).not.toThrow();
  });
});
