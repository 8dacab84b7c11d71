import { describe, expect, it } from 'vitest';
import { ReleasedConcepts } from './released-concepts.js';

describe('ReleasedConcepts: what a non-complete vocabulary may name', () => {
  it('only ids of concept columns in keys released under that job id', () => {
    const r = new ReleasedConcepts();
    r.record('j1', ['condition_concept_id', 'year_of_birth'], [[192671n, 1950], ['4299128', 1960], [null, 1970]]);
    expect(r.check('j1', [192671, 4299128, 1950, 201826])).toEqual({ released: [192671, 4299128], refused: [1950, 201826] });
    // Another job id, or a job that released nothing, names nothing.
    expect(r.check('j2', [192671])).toEqual({ released: [], refused: [192671] });
    r.record('j3', ['year_of_birth'], [[192671]]);
    expect(r.check('j3', [192671])).toEqual({ released: [], refused: [192671] });
  });

  it('forgets the oldest job beyond its bound', () => {
    const r = new ReleasedConcepts(2);
    for (const j of ['a', 'b', 'c']) r.record(j, ['concept_id'], [[1]]);
    expect(r.check('a', [1]).released).toEqual([]);
    expect(r.check('c', [1]).released).toEqual([1]);
  });
});
