import { describe, expect, it } from 'vitest';
import { publicReport } from './kind-task-runner.js';

describe("a step's report leaves only as public facts (StatVector.report; red team 43)", () => {
  it('booleans, null, safe integers and short identifiers pass unchanged', () => {
    const r = { contributionBounded: true, maxRowsPerPerson: 3, unit: null, mode: 'central-dp' };
    expect(publicReport(r)).toBe(r);
  });
  it('free text, fractions, long strings and too many entries are refused (nothing is sent)', () => {
    for (const bad of [{ note: 'patient 4711 has HIV' }, { mean: 52.31 }, { id: 'x'.repeat(41) }, Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, true])), { 'bad key': true }]) {
      expect(() => publicReport(bad as never)).toThrow(/other than public facts/);
    }
  });
});
