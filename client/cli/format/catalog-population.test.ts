import { describe, expect, it } from 'vitest';
import { catalogPopulation, renderCatalog } from './render.js';

describe('the catalog states each product\'s population (issue 15 item 1)', () => {
  it('one population when the agents agree; person when they publish none', () => {
    expect(catalogPopulation({ perAgent: { a1: { population: 'person' }, a2: {} } })).toBe('person');
    expect(catalogPopulation({ perAgent: { a1: { population: 'device' }, a2: { population: 'device' } } })).toBe('device');
  });

  it('each population with its agents when they disagree', () => {
    expect(catalogPopulation({ perAgent: { a2: {}, a1: { population: 'device' } } })).toBe('device (a1), person (a2)');
  });

  it('in the text block of a product', () => {
    const text = renderCatalog([{ name: 'pumps', agents: ['a1'], privacyUnit: 'device_id', description: 'infusion pumps', columns: [], perAgent: { a1: { population: 'device' } } }]);
    expect(text).toMatch(/privacy unit: device_id; population: device;/);
  });
});
