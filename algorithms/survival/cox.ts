/**
 * Cox proportional hazards by Newton–Raphson over rounds, from summed per-bin risk-set statistics
 * (`cox-stats.ts`), with Breslow's handling of tied event times.
 *
 * Log partial likelihood, score and information at β, over strata s and bins k with d_sk > 0 events:
 *   ℓ(β) = Σ_events ηᵢ − Σ d_sk log S0_sk
 *   U(β) = Σ_events (xᵢ − c) − Σ d_sk S1_sk / S0_sk
 *   I(β) = Σ d_sk (S2_sk / S0_sk − (S1_sk / S0_sk)(S1_sk / S0_sk)ᵀ)
 * (Breslow 1974; Kalbfleisch & Prentice, The Statistical Analysis of Failure Time Data, 2nd ed., §4.2.3).
 *
 * Iteration follows what R's coxph documents (survival package, coxph.control): start from β = 0, Newton steps
 * β + I⁻¹U; a step whose log-likelihood is lower than the last accepted one is halved back towards it; stop when
 * the relative change of the log partial likelihood, |1 − ℓ_old/ℓ_new|, is at most `eps` (default 1e-9) after a
 * full (not halved) step, or after `maxIterations` (default 20) Newton iterations. Each evaluation is one round:
 * the coordinator holds a {@link CoxFitState} (plain JSON), sends `state.beta` to the agents, sums their
 * statistics and calls {@link coxNewtonStep}.
 */
import type { CoxStats } from './cox-stats.js';
import { packedIndex, packedSize } from './cox-stats.js';
import { cholesky, choleskyInverse, choleskySolve } from './sym-matrix.js';

/** Log partial likelihood, score and information at one β. */
export interface CoxEvaluation {
  beta: number[];
  loglik: number;
  score: number[];
  /** Observed information −∂²ℓ/∂β∂βᵀ (p × p). */
  information: number[][];
}

/** Iteration options (R's coxph.control defaults). */
export interface CoxIterationOptions {
  /**
   * Convergence: relative change of the log partial likelihood.
   * @default 1e-9
   */
  eps?: number;
  /**
   * Maximum number of Newton iterations after the evaluation at the start.
   * @default 20
   */
  maxIterations?: number;
}

export type CoxFitStatus = 'running' | 'converged' | 'max-iterations' | 'singular';

/** The coordinator's state between rounds: plain data, so it can be stored and a restart can resume. */
export interface CoxFitState {
  p: number;
  status: CoxFitStatus;
  /** Newton iterations done (R's `iter`): 0 until the first step has been evaluated. */
  iteration: number;
  /** The coefficients the next round evaluates (while running); the estimate once finished. */
  beta: number[];
  /** Whether `beta` is a halved step. */
  halving: boolean;
  /** The evaluation at the start (β = 0): the null log-likelihood and the score (log-rank) test come from it. */
  initial?: { loglik: number; scoreTest: number | null };
  /** The last accepted point (the one Newton steps start from). */
  accepted?: CoxEvaluation;
  /** The point evaluated last; once finished it is the estimate, whose information gives the variance. */
  last?: CoxEvaluation;
  /** Persons and events seen in the totals (the same every round). */
  n?: number;
  events?: number;
}

function checkBeta(beta: readonly number[], p: number): void {
  if (!Array.isArray(beta) || beta.length !== p || beta.some((b) => typeof b !== 'number' || !Number.isFinite(b))) {
    throw new RangeError(`beta must be ${p} finite numbers`);
  }
}

/**
 * ℓ(β), U(β) and I(β) from summed statistics computed at that β (see the module comment).
 * @throws RangeError when there are no events, a bin has events but an empty risk set (inconsistent totals), or β
 *   has the wrong length
 */
export function coxEvaluate(total: CoxStats, beta: readonly number[]): CoxEvaluation {
  const { p, bins: m, strata } = total;
  checkBeta(beta, p);
  const q = packedSize(p);
  let loglik = 0;
  const score = Array.from(total.eventX);
  const info = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  let events = 0;
  for (let j = 0; j < p; j++) loglik += total.eventX[j]! * beta[j]!;
  const a = new Array<number>(p).fill(0);
  for (let cell = 0; cell < strata * m; cell++) {
    const d = total.events[cell]!;
    if (d === 0) continue;
    const s0 = total.s0[cell]!;
    if (!(s0 > 0)) throw new RangeError(`bin ${cell % m} of stratum ${Math.floor(cell / m)} has events but an empty risk set`);
    events += d;
    loglik -= d * Math.log(s0);
    for (let j = 0; j < p; j++) {
      a[j] = total.s1[cell * p + j]! / s0;
      score[j]! -= d * a[j]!;
    }
    for (let j = 0; j < p; j++) {
      for (let l = j; l < p; l++) {
        const v = d * (total.s2[cell * q + packedIndex(p, j, l)]! / s0 - a[j]! * a[l]!);
        info[j]![l]! += v;
        if (l !== j) info[l]![j]! += v;
      }
    }
  }
  if (events === 0) throw new RangeError('no events: the Cox model cannot be fitted');
  return { beta: [...beta], loglik, score, information: info };
}

/** Starts a fit at β = 0 (R's default `init`). */
export function coxStart(p: number): CoxFitState {
  if (!Number.isSafeInteger(p) || p < 1) throw new RangeError(`p must be a positive integer, got ${String(p)}`);
  return { p, status: 'running', iteration: 0, beta: new Array<number>(p).fill(0), halving: false };
}

function newtonFrom(e: CoxEvaluation): number[] | null {
  const l = cholesky(e.information);
  if (l === null) return null;
  const step = choleskySolve(l, e.score);
  return e.beta.map((b, j) => b + step[j]!);
}

function quadraticForm(v: readonly number[], m: readonly (readonly number[])[]): number {
  return v.reduce((s, vi, i) => s + vi * v.reduce((t, vj, j) => t + m[i]![j]! * vj, 0), 0);
}

/**
 * One Newton–Raphson round: evaluates the summed statistics (computed by the agents at `state.beta`) and returns
 * the next state — the next β to evaluate, or a finished fit (`status` converged, max-iterations or singular).
 *
 * @throws RangeError when the fit is already finished, the options are invalid, or the totals are inconsistent
 *   (see {@link coxEvaluate})
 */
export function coxNewtonStep(total: CoxStats, state: CoxFitState, options: CoxIterationOptions = {}): CoxFitState {
  const eps = options.eps ?? 1e-9;
  const maxIterations = options.maxIterations ?? 20;
  if (!(eps > 0) || !Number.isFinite(eps)) throw new RangeError(`options.eps must be a positive number, got ${String(eps)}`);
  if (!Number.isSafeInteger(maxIterations) || maxIterations < 1 || maxIterations > 1000) throw new RangeError(`options.maxIterations must be an integer in [1, 1000], got ${String(maxIterations)}`);
  if (state.status !== 'running') throw new RangeError(`the fit is already finished (${state.status})`);
  if (total.p !== state.p) throw new RangeError(`total has p = ${total.p}, the fit has p = ${state.p}`);
  const e = coxEvaluate(total, state.beta);
  const counts = { n: total.strata === 0 ? 0 : sumFirstBins(total), events: total.events.reduce((s, v) => s + v, 0) };
  if (state.accepted === undefined) {
    // The evaluation at the start: null log-likelihood and the score test UᵀI⁻¹U at β = 0.
    const l = cholesky(e.information);
    const solved = l === null ? null : choleskySolve(l, e.score);
    const scoreTest = solved === null ? null : Math.max(0, e.score.reduce((s, u, j) => s + u * solved[j]!, 0));
    const base = { ...state, ...counts, initial: { loglik: e.loglik, scoreTest }, accepted: e, last: e };
    const next = newtonFrom(e);
    if (next === null) return { ...base, status: 'singular' };
    return { ...base, iteration: 1, beta: next, halving: false };
  }
  const old = state.accepted;
  const last = { ...state, ...counts, last: e };
  // R's test |1 − ℓ_old/ℓ_new|; ℓ = 0 (every event alone in its risk set) falls back to the absolute change.
  const change = e.loglik === 0 ? Math.abs(old.loglik) : Math.abs(1 - old.loglik / e.loglik);
  if (change <= eps && !state.halving) {
    return cholesky(e.information) === null ? { ...last, status: 'singular', beta: e.beta } : { ...last, status: 'converged', beta: e.beta, accepted: e };
  }
  if (state.iteration >= maxIterations) return { ...last, status: 'max-iterations', beta: e.beta };
  if (e.loglik < old.loglik) {
    // Not converging: halve the step back towards the last accepted point.
    return { ...last, iteration: state.iteration + 1, halving: true, beta: e.beta.map((b, j) => (b + old.beta[j]!) / 2) };
  }
  const next = newtonFrom(e);
  if (next === null) return { ...last, status: 'singular', beta: e.beta, accepted: e };
  return { ...last, iteration: state.iteration + 1, halving: false, accepted: e, beta: next };
}

function sumFirstBins(total: CoxStats): number {
  let n = 0;
  for (let s = 0; s < total.strata; s++) n += total.atRisk[s * total.bins]!;
  return n;
}

/** The variance–covariance matrix I⁻¹ at the final point, or null when I is singular there. */
export function coxVariance(state: CoxFitState): number[][] | null {
  if (state.last === undefined) return null;
  const l = cholesky(state.last.information);
  return l === null ? null : choleskyInverse(l);
}

/** Wald statistic βᵀ I β at the final point (= βᵀ Var⁻¹ β), or null when I is singular. */
export function coxWaldStatistic(state: CoxFitState): number | null {
  if (state.last === undefined || cholesky(state.last.information) === null) return null;
  return Math.max(0, quadraticForm(state.last.beta, state.last.information));
}
