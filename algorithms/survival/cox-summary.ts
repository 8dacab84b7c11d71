/**
 * The released summary of a Cox fit, as R's `summary(coxph(...))` prints it, and the pooled reference fit.
 *
 * Everything here is post-processing of the fit state (coefficients, information matrix, log-likelihoods),
 * which itself comes from summed risk-set statistics only.
 */
import { chiSquareSf, normalQuantile, normalSf } from '../stats/index.js';
import { coxNewtonStep, coxStart, coxVariance, coxWaldStatistic } from './cox.js';
import type { CoxFitState, CoxFitStatus, CoxIterationOptions } from './cox.js';
import { coxLocalStats } from './cox-stats.js';
import type { CoxLayout, CoxPersons } from './cox-stats.js';

/** A χ² test as R prints it: statistic on df degrees of freedom and its upper-tail p-value. */
export interface ChiSquareTest {
  statistic: number | null;
  df: number;
  pValue: number | null;
}

/** One coefficient row of the table. */
export interface CoxCoefficient {
  term: string;
  coef: number;
  expCoef: number;
  se: number | null;
  z: number | null;
  pValue: number | null;
  /** 95 % confidence interval of exp(coef): exp(coef ± z₀.₉₇₅ · se). */
  lower95: number | null;
  upper95: number | null;
}

/** What R's summary(coxph) reports, for a fit with Breslow ties on the job's time grid. */
export interface CoxSummary {
  status: CoxFitStatus;
  iterations: number;
  /** Persons used (at risk at the start, over all strata) and events. */
  n: number;
  events: number;
  coefficients: CoxCoefficient[];
  /** Log partial likelihood at β = 0 and at the estimate. */
  loglik: [initial: number, final: number];
  likelihoodRatio: ChiSquareTest;
  wald: ChiSquareTest;
  /** Score test at β = 0; with one binary covariate and no ties it is the log-rank test. */
  score: ChiSquareTest;
  /** Cox–Snell R² = 1 − exp(−LR/n) and its maximum 1 − exp(2ℓ₀/n), as older R versions printed them. */
  rsquare: { value: number; max: number } | null;
  /** Variance–covariance matrix of the coefficients (I⁻¹), or null when singular. */
  variance: number[][] | null;
  /**
   * Harrell's concordance is not computed: it is a rank statistic over pairs of persons (does the one who failed
   * first have the higher risk score?) and needs the joint distribution of time bin and risk score xβ, which the
   * per-bin moment sums do not contain. It would need a further release (per bin, a histogram of risk scores on
   * a public grid — exact only when every covariate is categorical), which this model does not make.
   */
  concordance: null;
  notes: string[];
}

const chi = (statistic: number | null, df: number): ChiSquareTest => ({ statistic, df, pValue: statistic === null ? null : chiSquareSf(statistic, df) });

/**
 * The R-like summary of a finished fit.
 * @param terms one name per coefficient (e.g. 'age', 'gender=female')
 * @throws RangeError when the fit has not been evaluated yet or `terms` has the wrong length
 */
/**
 * The coefficients whose next Newton step is still large when the fit stops — R's coxph test (`infs`, tolerance
 * √eps): the step (I⁻¹U)ⱼ exceeds both eps and √eps·|βⱼ|. A finite maximum makes that step vanish with the change
 * of the log-likelihood; a monotone likelihood keeps it near constant while ℓ levels off.
 */
function possiblyInfinite(state: CoxFitState, variance: number[][] | null, eps: number): number[] {
  if (state.last === undefined || variance === null || state.status === 'running') return [];
  const u = state.last.score;
  const out: number[] = [];
  for (let j = 0; j < state.p; j++) {
    const step = Math.abs(variance[j]!.reduce((s, v, k) => s + v * u[k]!, 0));
    if (step > eps && step > Math.sqrt(eps) * Math.abs(state.last.beta[j]!)) out.push(j);
  }
  return out;
}

/** @param eps the convergence tolerance the fit ran with (for the monotone-likelihood check) */
export function coxSummary(state: CoxFitState, terms: readonly string[], eps = 1e-9): CoxSummary {
  if (state.last === undefined || state.initial === undefined) throw new RangeError('the fit has not been evaluated yet');
  if (terms.length !== state.p) throw new RangeError(`terms must have ${state.p} names, got ${terms.length}`);
  const notes: string[] = [];
  if (state.status === 'running') notes.push('the fit is still running: these are the values at the last evaluated point');
  if (state.status === 'max-iterations') notes.push('ran out of iterations and did not converge (as R warns): the estimates may be unreliable or a coefficient may be infinite');
  if (state.status === 'singular') notes.push('the information matrix is singular: a covariate is constant or collinear with others, so the coefficients are not identifiable');
  const variance = coxVariance(state);
  const infinite = possiblyInfinite(state, variance, eps);
  if (infinite.length > 0) {
    notes.push(`the log-likelihood converged before ${infinite.map((j) => terms[j]!).join(', ')} did: ${infinite.length === 1 ? 'its coefficient' : 'their coefficients'} may be infinite (a monotone likelihood, as R warns), so estimate and standard error are not meaningful`);
  }
  const z975 = normalQuantile(0.975);
  const coefficients = state.last.beta.map((coef, j): CoxCoefficient => {
    const v = variance?.[j]?.[j];
    const se = v === undefined || !(v >= 0) ? null : Math.sqrt(v);
    const z = se === null || se === 0 ? null : coef / se;
    return {
      term: terms[j]!,
      coef,
      expCoef: Math.exp(coef),
      se,
      z,
      pValue: z === null ? null : 2 * normalSf(Math.abs(z)),
      lower95: se === null ? null : Math.exp(coef - z975 * se),
      upper95: se === null ? null : Math.exp(coef + z975 * se),
    };
  });
  const l0 = state.initial.loglik;
  const l1 = state.last.loglik;
  const lr = Math.max(0, 2 * (l1 - l0));
  const n = state.n ?? 0;
  return {
    status: state.status,
    iterations: state.iteration,
    n,
    events: state.events ?? 0,
    coefficients,
    loglik: [l0, l1],
    likelihoodRatio: chi(lr, state.p),
    wald: chi(coxWaldStatistic(state), state.p),
    score: chi(state.initial.scoreTest, state.p),
    rsquare: n > 0 ? { value: 1 - Math.exp(-lr / n), max: 1 - Math.exp((2 * l0) / n) } : null,
    variance,
    concordance: null,
    notes,
  };
}

/**
 * The reference fit on pooled persons: the same rounds a federated fit runs, with one "agent" holding everyone.
 * @throws as {@link coxLocalStats} and {@link coxNewtonStep}
 */
export function fitCoxPooled(persons: CoxPersons, layout: CoxLayout, terms: readonly string[], options: CoxIterationOptions = {}): { state: CoxFitState; summary: CoxSummary } {
  let state = coxStart(layout.p);
  // Bounded: one evaluation at the start plus at most maxIterations Newton iterations.
  while (state.status === 'running') state = coxNewtonStep(coxLocalStats(persons, state.beta, layout), state, options);
  return { state, summary: coxSummary(state, terms, options.eps) };
}
