import { describe, expect, it } from 'vitest';
import { hashUniform, isTestUnit, parseHashSplit } from './hash-split.js';

const N = 20_000;
const units = Array.from({ length: N }, (_, i) => `person-${i}`);
const testShare = (fraction: number, salt: string) => units.filter((u) => isTestUnit({ fraction, salt }, u)).length / N;
// Binomial SD of the share at p = 0.2, n = 20 000 is 0.0028; 4 SD ≈ 0.0113 (a false failure has odds ~6e-5).
const TOL = 4 * Math.sqrt((0.2 * 0.8) / N);

describe('hash split', () => {
  it('puts the public fraction of units on the test side within 4 binomial SD', () => {
    expect(Math.abs(testShare(0.2, 'study-a') - 0.2)).toBeLessThan(TOL);
    // Negative control: the same check against a different fraction must fail.
    expect(Math.abs(testShare(0.3, 'study-a') - 0.2)).toBeGreaterThan(TOL);
  });

  it('is stable: same unit, same salt → same side, whatever the order or the call', () => {
    const split = { fraction: 0.2, salt: 'study-a' };
    const first = units.map((u) => isTestUnit(split, u));
    const reversed = [...units].reverse().map((u) => isTestUnit(split, u)).reverse();
    expect(reversed).toEqual(first);
    // A larger fraction only moves units from train to test (nested splits): nobody leaves test.
    const wider = units.map((u) => isTestUnit({ fraction: 0.3, salt: 'study-a' }, u));
    expect(first.every((t, i) => !t || wider[i])).toBe(true);
  });

  it('another salt gives an independent split (agreement ≈ p² + (1 − p)²), control: same salt agrees fully', () => {
    const a = units.map((u) => isTestUnit({ fraction: 0.2, salt: 'study-a' }, u));
    const b = units.map((u) => isTestUnit({ fraction: 0.2, salt: 'study-b' }, u));
    const agree = a.filter((t, i) => t === b[i]).length / N;
    expect(Math.abs(agree - 0.68)).toBeLessThan(4 * Math.sqrt((0.68 * 0.32) / N));
    const c = units.map((u) => isTestUnit({ fraction: 0.2, salt: 'study-a' }, u));
    expect(c.filter((t, i) => t === a[i]).length / N).toBe(1);
  });

  it('draws are in [0, 1)', () => {
    for (const u of units.slice(0, 1000)) {
      const v = hashUniform('s', u);
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it('refuses bad specs naming the field', () => {
    expect(parseHashSplit({ fraction: 0.2, salt: 'x' })).toEqual({ fraction: 0.2, salt: 'x' });
    expect(() => parseHashSplit({ fraction: 0, salt: 'x' })).toThrow(/split\.hash\.fraction/);
    expect(() => parseHashSplit({ fraction: 1.5, salt: 'x' })).toThrow(/split\.hash\.fraction/);
    expect(() => parseHashSplit({ fraction: 0.2, salt: '' })).toThrow(/split\.hash\.salt/);
    expect(() => parseHashSplit({ fraction: 0.2, salt: 'x'.repeat(129) })).toThrow(/split\.hash\.salt/);
    expect(() => parseHashSplit({ fraction: 0.2, salt: 'x', extra: 1 })).toThrow(/split\.hash/);
    expect(() => parseHashSplit('0.2')).toThrow(/split\.hash/);
  });
});
