import { describe, expect, it } from 'vitest';
import { contrastRatio } from './browser-helpers.js';

// The accessibility test's contrast check must be able to fail: WCAG 2.x reference values.
describe('contrastRatio (the browser test’s contrast check)', () => {
  it('gives the WCAG reference ratios', () => {
    expect(contrastRatio('rgb(0, 0, 0)', 'rgb(255, 255, 255)')).toBeCloseTo(21, 6);
    expect(contrastRatio('rgb(255, 255, 255)', 'rgb(255, 255, 255)')).toBeCloseTo(1, 6);
    // #767676 on white is the lightest grey that passes AA (4.54:1); #777777 fails it (4.48:1).
    expect(contrastRatio('rgb(118, 118, 118)', 'rgb(255, 255, 255)')).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio('rgb(119, 119, 119)', 'rgb(255, 255, 255)')).toBeLessThan(4.5);
  });
});
