import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { checkGlmDisclosure, type GlmDisclosureCounts } from './disclosure.js';

const ok: GlmDisclosureCounts = { n: 100, p: 33, outcomeLevels: [10, 90], levelCells: [{ column: 'gender', level: 'female', persons: 40 }] };

function rule(patch: Partial<GlmDisclosureCounts>, k = 5): string {
  try {
    checkGlmDisclosure({ ...ok, ...patch }, k);
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    expect((e as FedmeshError).code).toBe('POLICY_DENIED');
    return (e as FedmeshError).details.rule as string;
  }
  return 'passed';
}

describe('GLM disclosure rules', () => {
  it('passes at the boundaries (p = 0.33·n, every cell = k)', () => {
    expect(rule({})).toBe('passed');
    expect(rule({ outcomeLevels: [5, 95], levelCells: [{ column: 'g', level: 'a', persons: 5 }] })).toBe('passed');
  });
  it('refuses just past each boundary, naming the rule', () => {
    expect(rule({ p: 34 })).toBe('glm.parameters');
    expect(rule({ n: 3, p: 1 })).toBe('glm.parameters');
    expect(rule({ outcomeLevels: [4, 96] })).toBe('glm.outcomeLevels');
    expect(rule({ levelCells: [{ column: 'g', level: 'a', persons: 4 }] })).toBe('glm.levelCells');
  });
  it('refuses a saturated model even if the parameter fraction were relaxed', () => {
    // n − p < 1 always fails the 0.33 rule first; the saturated rule is the backstop when it does not apply.
    expect(rule({ n: 1, p: 1 })).toBe('glm.parameters');
  });
  it('messages carry no counts', () => {
    try {
      checkGlmDisclosure({ ...ok, outcomeLevels: [3, 97] }, 5);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/\b3\b|\b97\b/);
      expect((e as Error).message).toContain('minimum cell size (5)');
    }
  });
});
