import { describe, expect, it } from 'vitest';
import { checkConceptNamesReply, conceptIdSources, MAX_CONCEPT_NAME_CHARS, mergeConceptNames, releasedConceptIds } from './concept-names.js';
import { parseJobSpec } from './validate.js';

const NATIVE = { name: 'gi bleed', entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671 }] } } };

describe('releasedConceptIds: only ids the released result shows', () => {
  it('aggregate: values of *_concept_id group columns in released rows, not measures or other group columns', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id', 'condition_type_concept_id', 'visit_occurrence_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
    const rows = [
      { condition_concept_id: 192671, condition_type_concept_id: '32020', visit_occurrence_id: 5, count: 12 },
      { condition_concept_id: 201826, condition_type_concept_id: 32020, visit_occurrence_id: 6, count: 15 },
    ];
    expect(releasedConceptIds(spec, { rows })).toEqual([32020, 192671, 201826]);
    // A withheld group is not a row: its id is never asked about.
    expect(releasedConceptIds(spec, { rows: rows.slice(0, 1) })).toEqual([32020, 192671]);
  });

  it('characterize: a suppressed condition (persons null) is not named; released ones and genders are', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'characterize', definition: NATIVE, conditionConcepts: [192671, 4000001], drugConcepts: [1118084], privacy: { mode: 'none' } }));
    const summary = {
      count: 40,
      byGender: [{ gender_concept_id: 8507, gender: 'male', count: 22 }, { gender_concept_id: 8532, gender: 'female', count: null }],
      conditions: [{ concept_id: 192671, persons: 40 }, { concept_id: 4000001, persons: null }],
      drugs: [{ concept_id: 1118084, persons: 12 }],
    };
    expect(releasedConceptIds(spec, { rows: [], summary })).toEqual([8507, 192671, 1118084]);
    // Negative control: were the suppressed cell released, its id would be asked about.
    expect(releasedConceptIds(spec, { rows: [], summary: { ...summary, conditions: [{ concept_id: 192671, persons: 40 }, { concept_id: 4000001, persons: 3 }] } })).toContain(4000001);
  });

  it('contingency: levels of a concept axis with at least one released cell', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'year_of_birth', rowLevels: [8507, 8532], colLevels: [1950, 1960], privacy: { mode: 'none' } }));
    expect(releasedConceptIds(spec, { rows: [], summary: { table: [[12, null], [null, null]] } })).toEqual([8507]);
  });

  it('survival shows no concept ids', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'survival', target: NATIVE, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 360 }, privacy: { mode: 'none' } }));
    expect(releasedConceptIds(spec, { rows: [{ stratum: 'all' }], summary: { curves: [] } })).toEqual([]);
  });
});

describe('conceptIdSources: data-derived keys apart from ids the researcher supplied', () => {
  const agg = (groupKeys?: Record<string, number[]>) =>
    parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id'], ...(groupKeys ? { groupKeys } : {}), measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
  const rows = [{ condition_concept_id: 201826, count: 1 }, { condition_concept_id: 192671, count: 40 }];

  it('aggregate without groupKeys: the released keys are data-derived (partition-selected or at least the cell size)', () => {
    expect(conceptIdSources(agg(), { rows })).toEqual({ derived: [192671, 201826], supplied: [] });
  });

  it('aggregate with public groupKeys: every released key is supplied, even at noise-level counts', () => {
    expect(conceptIdSources(agg({ condition_concept_id: [192671, 201826] }), { rows })).toEqual({ derived: [], supplied: [192671, 201826] });
  });

  it('characterize concept lists and gender levels are supplied', () => {
    const spec = parseJobSpec(JSON.stringify({ kind: 'characterize', definition: NATIVE, conditionConcepts: [192671], drugConcepts: [], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
    const summary = { count: 40, byGender: [{ gender_concept_id: 8507, count: 3 }], conditions: [{ concept_id: 192671, persons: -1 }], drugs: [] };
    expect(conceptIdSources(spec, { rows: [], summary })).toEqual({ derived: [], supplied: [8507, 192671] });
  });
});

describe('checkConceptNamesReply: an agent answer is checked like any reply', () => {
  const asked = [8507, 192671];
  it('accepts names for asked ids, trimmed', () => {
    const r = checkConceptNamesReply(asked, [{ conceptId: 192671, name: ' Gastrointestinal hemorrhage ' }]);
    expect(r.ok && [...r.names]).toEqual([[192671, 'Gastrointestinal hemorrhage']]);
  });
  it.each([
    ['an id that was not asked', [{ conceptId: 4000001, name: 'x' }], 'not asked'],
    ['an id twice', [{ conceptId: 8507, name: 'MALE' }, { conceptId: 8507, name: 'MALE' }], 'twice'],
    ['more names than ids', [{ conceptId: 8507, name: 'a' }, { conceptId: 192671, name: 'b' }, { conceptId: 1, name: 'c' }], 'names for 2 ids'],
    ['an empty name', [{ conceptId: 8507, name: '  ' }], 'empty'],
    ['a name too long', [{ conceptId: 8507, name: 'x'.repeat(MAX_CONCEPT_NAME_CHARS + 1) }], 'longer than'],
    ['a terminal escape', [{ conceptId: 8507, name: 'MALE\u001b[2J' }], 'control'],
    ['a bidi override', [{ conceptId: 8507, name: 'MA\u202eLE' }], 'control'],
  ])('refuses the whole answer for %s', (_what, reply, reason) => {
    const r = checkConceptNamesReply(asked, reply);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });
});

describe('mergeConceptNames', () => {
  it('names an id all knowing agents agree on; an agent lacking it does not count; disagreement leaves it unnamed', () => {
    const a = new Map([[192671, 'Gastrointestinal hemorrhage'], [8507, 'MALE']]);
    const b = new Map([[192671, 'Gastrointestinal hemorrhage'], [8507, 'Male']]);
    const c = new Map<number, string>();
    expect(mergeConceptNames([a, b, c])).toEqual({ names: { 192671: 'Gastrointestinal hemorrhage' }, disagreed: 1 });
    expect(mergeConceptNames([a, c])).toEqual({ names: { 8507: 'MALE', 192671: 'Gastrointestinal hemorrhage' }, disagreed: 0 });
    expect(mergeConceptNames([])).toEqual({ names: {}, disagreed: 0 });
  });
});
