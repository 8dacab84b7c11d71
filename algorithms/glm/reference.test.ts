/**
 * The pure GLM against independently published figures (never against this code's own output):
 * - R's `example(glm)`: Dobson (1990) p. 93, randomized controlled trial, Poisson counts ~ outcome + treatment.
 * - R's `cars` data (Ezekiel 1930), `glm(dist ~ speed)` = `lm(dist ~ speed)`, as printed by summary() in R.
 * - Bliss (1935) beetle mortality, logistic regression of killed/n on dose, as published by Dobson (1990, §8.3)
 *   and reproduced in the glmlab manual (http://www.sci.usq.edu.au/staff/dunn/glmlab/glhtml/html/gli_30.html):
 *   constant −60.717455 (SE 5.180701), dose 34.270326 (SE 2.912134), scaled deviance 11.232231 on 6 df.
 *   Dobson's table has 61 of 62 killed at dose 1.8610 (the glmlab page's HTML table prints 60, but its fit is for 61;
 *   with 60 the intercept is −59.5).
 */
import { describe, expect, it } from 'vitest';
import { fitPooled, glmFamily, type GlmDesign } from './index.js';

function design(rows: number[][], y: number[], extra: Partial<GlmDesign> = {}): GlmDesign {
  return { n: rows.length, p: rows[0]!.length, x: Float64Array.from(rows.flat()), y: Float64Array.from(y), ...extra };
}

/** Relative agreement to the number of significant digits printed. */
function expectSig(actual: number, published: number, relTol: number): void {
  expect(Math.abs(actual - published)).toBeLessThanOrEqual(relTol * Math.abs(published));
}

export const DOBSON_COUNTS = [18, 17, 15, 20, 10, 20, 25, 13, 12];
export function dobsonDesign(): GlmDesign {
  // outcome <- gl(3, 1, 9); treatment <- gl(3, 3): dummy columns outcome2, outcome3, treatment2, treatment3.
  const rows = DOBSON_COUNTS.map((_, i) => {
    const o = i % 3;
    const t = Math.floor(i / 3);
    return [1, o === 1 ? 1 : 0, o === 2 ? 1 : 0, t === 1 ? 1 : 0, t === 2 ? 1 : 0];
  });
  return design(rows, DOBSON_COUNTS);
}
const DOBSON_TERMS = ['(Intercept)', 'outcome2', 'outcome3', 'treatment2', 'treatment3'];

export const CARS_SPEED = [4, 4, 7, 7, 8, 9, 10, 10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20, 20, 20, 22, 23, 24, 24, 24, 24, 25];
export const CARS_DIST = [2, 10, 4, 22, 16, 10, 18, 26, 34, 17, 28, 14, 20, 24, 28, 26, 34, 34, 46, 26, 36, 60, 80, 20, 26, 54, 32, 40, 32, 40, 50, 42, 56, 76, 84, 36, 46, 68, 32, 48, 52, 56, 64, 66, 54, 70, 92, 93, 120, 85];

const BEETLE_DOSE = [1.6907, 1.7242, 1.7552, 1.7842, 1.8113, 1.8369, 1.861, 1.8839];
const BEETLE_N = [59, 60, 62, 56, 63, 59, 62, 60];
const BEETLE_KILLED = [6, 13, 18, 28, 52, 53, 61, 60];

describe('GLM against published R output', () => {
  it('Dobson (1990) Poisson example from example(glm): coefficients, SEs, deviances, AIC, 4 iterations', () => {
    const fit = fitPooled(dobsonDesign(), glmFamily('poisson'), DOBSON_TERMS);
    const s = fit.summary;
    const est = [3.045, -0.4543, -0.293];
    const se = [0.1709, 0.2022, 0.1927, 0.2, 0.2];
    est.forEach((b, j) => expectSig(s.coefficients[j]!.estimate, b, 5e-4));
    // R prints 1.338e-15 and 1.421e-15: zero to rounding.
    expect(Math.abs(s.coefficients[3]!.estimate)).toBeLessThan(1e-10);
    expect(Math.abs(s.coefficients[4]!.estimate)).toBeLessThan(1e-10);
    se.forEach((e, j) => expectSig(s.coefficients[j]!.stdError, e, 5e-4));
    expectSig(s.nullDeviance, 10.5814, 1e-5);
    expect(s.dfNull).toBe(8);
    expectSig(s.residualDeviance, 5.1291, 2e-5);
    expect(s.dfResidual).toBe(4);
    expectSig(s.aic, 56.761, 1e-5);
    expect(s.iterations).toBe(4);
    expect(s.converged).toBe(true);
    expect(s.statisticName).toBe('z');
    // R: z = 17.815, p < 2e-16 for the intercept; outcome2 z = −2.247, p = 0.0246.
    expectSig(s.coefficients[0]!.statistic, 17.815, 1e-4);
    expectSig(s.coefficients[1]!.statistic, -2.247, 2e-4);
    expectSig(s.coefficients[1]!.pValue, 0.0246, 2e-3);
    expect(fit.rounds).toBe(5);
  });

  it('cars: gaussian glm(dist ~ speed) equals R (t tests on 48 df, dispersion estimated)', () => {
    const rows = CARS_SPEED.map((v) => [1, v]);
    const s = fitPooled(design(rows, CARS_DIST), glmFamily('gaussian'), ['(Intercept)', 'speed']).summary;
    const [b0, b1] = s.coefficients;
    expectSig(b0!.estimate, -17.5791, 1e-5);
    expectSig(b0!.stdError, 6.7584, 1e-5);
    expectSig(b0!.statistic, -2.601, 2e-4);
    expectSig(b0!.pValue, 0.0123, 5e-3);
    expectSig(b1!.estimate, 3.9324, 2e-5);
    expectSig(b1!.stdError, 0.4155, 1e-4);
    expectSig(b1!.statistic, 9.464, 1e-4);
    expectSig(b1!.pValue, 1.49e-12, 5e-3);
    expect(s.statisticName).toBe('t');
    expect(s.dfResidual).toBe(48);
    // R: residual standard error 15.38 on 48 df, so dispersion 236.5; residual deviance 11354, null 32539.
    expectSig(Math.sqrt(s.dispersion), 15.38, 5e-4);
    expectSig(s.residualDeviance, 11354, 1e-4);
    expectSig(s.nullDeviance, 32539, 1e-4);
    // R: AIC(lm(dist ~ speed)) = 419.1569; gaussian glm reports the same; 2 Fisher scoring iterations.
    expectSig(s.aic, 419.16, 1e-5);
    expect(s.iterations).toBe(2);
  });

  it('beetles (Bliss 1935; Dobson 1990): grouped logistic regression with trials as weights', () => {
    const rows = BEETLE_DOSE.map((d) => [1, d]);
    const prop = BEETLE_KILLED.map((k, i) => k / BEETLE_N[i]!);
    const s = fitPooled(design(rows, prop, { weights: Float64Array.from(BEETLE_N) }), glmFamily('binomial'), ['(Intercept)', 'dose']).summary;
    expectSig(s.coefficients[0]!.estimate, -60.717455, 1e-7);
    expectSig(s.coefficients[0]!.stdError, 5.180701, 1e-6);
    expectSig(s.coefficients[1]!.estimate, 34.270326, 1e-7);
    expectSig(s.coefficients[1]!.stdError, 2.912134, 1e-6);
    expectSig(s.residualDeviance, 11.232231, 1e-6);
    expect(s.dfResidual).toBe(6);
  });

  it('beetles as 481 individual 0/1 rows give the same coefficients and SEs as the grouped fit', () => {
    const rows: number[][] = [];
    const y: number[] = [];
    BEETLE_DOSE.forEach((d, i) => {
      for (let k = 0; k < BEETLE_N[i]!; k++) {
        rows.push([1, d]);
        y.push(k < BEETLE_KILLED[i]! ? 1 : 0);
      }
    });
    const s = fitPooled(design(rows, y), glmFamily('binomial'), ['(Intercept)', 'dose']).summary;
    expectSig(s.coefficients[0]!.estimate, -60.717455, 1e-7);
    // R's SEs come from the weights of the last iteration (at β_{k−1}); the 0/1 form starts from different μ⁰, so
    // its path, hence its last weights, differ slightly: agreement to 1e-4 here, as in R.
    expectSig(s.coefficients[1]!.stdError, 2.912134, 1e-4);
    expect(s.nUsed).toBe(481);
    expect(s.dfResidual).toBe(479);
    // 0/1 rows: deviance = −2·log-likelihood, so AIC = deviance + 2p (R's binomial aic for n = 1).
    expect(s.aic).toBeCloseTo(s.residualDeviance + 4, 9);
  });

  it('negative controls: the wrong family, or a miscoded design, misses the published figures', () => {
    const wrong = fitPooled(dobsonDesign(), glmFamily('gaussian'), DOBSON_TERMS).summary;
    expect(Math.abs(wrong.coefficients[0]!.estimate - 3.045)).toBeGreaterThan(1);
    const d = dobsonDesign();
    const swapped = { ...d, y: Float64Array.from([...DOBSON_COUNTS].reverse()) };
    const miss = fitPooled(swapped, glmFamily('poisson'), DOBSON_TERMS).summary;
    expect(Math.abs(miss.coefficients[1]!.estimate - -0.4543)).toBeGreaterThan(1e-2);
  });
});
