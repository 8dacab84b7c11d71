import { describe, expect, it } from 'vitest';
import { DEFAULT_POPULATION, isPopulationName, populationMap, populationOf, populationsTouched } from './population.js';

const product = (name: string, metadata: Record<string, unknown> = {}): { name: string; metadata: Record<string, unknown> } => ({ name, metadata });

describe('populationOf', () => {
  it('puts every product that declares nothing in population person (OMOP, FHIR, tabular, no unit at all)', () => {
    for (const p of [product('person', { profile: 'omop' }), product('measurement', { profile: 'omop' }), product('fhir_patient', { profile: 'fhir' }), product('visits', { profile: 'tabular' }), product('concept', { profile: 'omop-vocabulary' })]) {
      expect(populationOf(p)).toBe(DEFAULT_POPULATION);
    }
    expect(DEFAULT_POPULATION).toBe('person');
  });

  it('takes the operator\'s declaration', () => {
    expect(populationOf(product('pumps', { population: 'device' }))).toBe('device');
  });

  it('falls back to person for a malformed declaration (stricter, never looser)', () => {
    for (const bad of ['', ' device', 'x'.repeat(65), 42, null, ['device'], { a: 1 }, '1abc', 'a b']) {
      expect(populationOf(product('pumps', { population: bad })), JSON.stringify(bad)).toBe('person');
    }
  });

  it('isPopulationName accepts names and refuses the rest', () => {
    expect(isPopulationName('person')).toBe(true);
    expect(isPopulationName('hospital_bed.v2-x')).toBe(true);
    expect(isPopulationName('x'.repeat(64))).toBe(true);
    expect(isPopulationName('x'.repeat(65))).toBe(false);
    expect(isPopulationName('_x')).toBe(false);
  });
});

describe('populationsTouched', () => {
  it('deduplicates: person + condition_occurrence + measurement at two agents touch one population person', () => {
    const t = populationsTouched([[product('person'), product('condition_occurrence')], [product('person'), product('measurement')]]);
    expect(t).toEqual([{ population: 'person', products: ['condition_occurrence', 'measurement', 'person'] }]);
  });

  it('two agents that disagree about a product make the job touch both populations', () => {
    const t = populationsTouched([[product('pumps', { population: 'device' })], [product('pumps')]]);
    expect(t).toEqual([{ population: 'device', products: ['pumps'] }, { population: 'person', products: ['pumps'] }]);
  });

  it('no products, no population; populationMap is the same fold', () => {
    expect(populationsTouched([])).toEqual([]);
    expect([...populationMap([[product('a', { population: 'z' }), product('b')]]).entries()]).toEqual([['person', ['b']], ['z', ['a']]]);
  });
});
