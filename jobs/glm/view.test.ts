import { describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { formatPValue, formatSig, glmJson, glmReleased, renderGlmTable } from './view.js';

const counts = [18, 17, 15, 20, 10, 20, 25, 13, 12];
const x = counts.flatMap((_, i) => [1, i % 3 === 1 ? 1 : 0, i % 3 === 2 ? 1 : 0, Math.floor(i / 3) === 1 ? 1 : 0, Math.floor(i / 3) === 2 ? 1 : 0]);
const terms = ['(Intercept)', 'outcome2', 'outcome3', 'treatment2', 'treatment3'];

describe('glm view', () => {
  const fit = fitPooled({ n: 9, p: 5, x: Float64Array.from(x), y: Float64Array.from(counts) }, glmFamily('poisson'), terms);
  const released = glmReleased(fit.summary, { nDropped: 2 });

  it('renders the lines R prints for the Dobson example (summary(glm.D93))', () => {
    const text = renderGlmTable(released);
    // The lines as R 4.x prints them (example(glm)), up to column padding.
    expect(text).toMatch(/\(Intercept\)\s+3\.045\s+0\.1709\s+17\.815\s+<2e-16 \*\*\*/);
    expect(text).toMatch(/outcome2\s+-0\.4543\s+0\.2022\s+-2\.247\s+0\.0246 \*/);
    expect(text).toContain('(Dispersion parameter for poisson family taken to be 1)');
    expect(text).toMatch(/Null deviance: 10\.5814\s+on 8\s+degrees of freedom/);
    expect(text).toMatch(/Residual deviance:\s+5\.12914\s+on 4\s+degrees of freedom/);
    expect(text).toContain('AIC: 56.761');
    expect(text).toContain('Number of Fisher Scoring iterations: 4');
    expect(text).toContain('n dropped (missing, out-of-list level or invalid value): 2');
    expect(text).toContain('Rate ratio');
  });

  it('gives the JSON shape of the issue', () => {
    const j = glmJson(released);
    expect(Object.keys(j.coefficients[0]!)).toEqual(['term', 'estimate', 'stdError', 'statistic', 'pValue', 'ci95', 'expEstimate', 'expCi95']);
    expect(j.coefficients.map((c) => c.term)).toEqual(terms);
    expect(j).toMatchObject({ dfNull: 8, dfResidual: 4, iterations: 4, nUsed: 9, nDropped: 2, converged: true });
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });

  it('formats numbers as R does', () => {
    expect(formatSig(3.044522)).toBe('3.045');
    expect(formatSig(1.338e-15)).toBe('1.338e-15');
    expect(formatSig(-17.57909)).toBe('-17.58');
    expect(formatPValue(1e-20)).toBe('<2e-16');
    expect(formatPValue(0.01232)).toBe('0.0123');
    expect(formatPValue(1.49e-12)).toBe('1.49e-12');
  });

  it('notes a fit that did not converge', () => {
    const f2 = fitPooled({ n: 9, p: 5, x: Float64Array.from(x), y: Float64Array.from(counts) }, glmFamily('poisson'), terms, { maxIterations: 1 });
    const r = glmReleased(f2.summary, { nDropped: 0 });
    expect(r.notes.join(' ')).toContain('did not converge');
    expect(renderGlmTable(r)).toContain('Note: The algorithm did not converge');
  });
});
