import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY } from '../../common/job/index.js';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** "10⁻⁶" or "1e-6" as the README writes it → the number. */
function readNumber(text: string): number {
  const sup: Record<string, string> = { '⁻': '-', '⁰': '0', '¹': '1', '²': '2', '³': '3', '⁴': '4', '⁵': '5', '⁶': '6', '⁷': '7', '⁸': '8', '⁹': '9' };
  const m = /^10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(text);
  if (m) return 10 ** Number([...m[1]!].map((c) => sup[c]).join(''));
  return Number(text);
}

describe('the default privacy of a job without a privacy block', () => {
  it('is what the README documents', () => {
    const m = /A job with no privacy\s+block runs ([a-z-]+) at ε = ([0-9.]+), δ = ([0-9.e⁻⁰¹²³⁴⁵⁶⁷⁸⁹-]+)\./.exec(readme);
    expect(m, 'README sentence "A job with no privacy block runs MODE at ε = E, δ = D."').not.toBeNull();
    expect({ mode: m![1], epsilon: Number(m![2]), delta: readNumber(m![3]!) }).toEqual({ ...DEFAULT_PRIVACY });
  });

  it('negative control: the parser rejects a README that states other numbers', () => {
    expect(readNumber('10⁻⁵')).not.toBe(DEFAULT_PRIVACY.delta);
    expect(readNumber('10⁻⁶')).toBe(DEFAULT_PRIVACY.delta);
  });
});
