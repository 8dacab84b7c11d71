/**
 * The Fisher scoring loop as a pure state machine over rounds, shared by the federated round runner (one round =
 * every agent's `glmLocalStats`, summed) and by `fitPooled` (one party holding all rows).
 *
 * Round k + 1 is evaluated at β_k: it gives the deviance at β_k (R's convergence test after iteration k) and
 * XᵀWX, U at β_k (R's iteration k + 1). So a fit that R reports as "k Fisher scoring iterations" takes k + 1
 * rounds, and the covariance is (XᵀWX)⁻¹ from round k — the weights at β_{k−1}, exactly as summary.glm uses the
 * QR of the last iteration.
 *
 * The null deviance is R's: without an offset, the deviance at μ = Σw·y / Σw (known after round 1, evaluated in
 * round 2); with an offset, the deviance of the intercept-only model fitted with that offset (R refits it), here
 * by a one-parameter Newton iteration run alongside the main fit in the same rounds.
 *
 * The state is plain JSON (numbers and arrays), so the round runner can store it after every round and resume.
 */
import type { GlmFamily, GlmFamilyName } from './family.js';
import { DBL_EPSILON } from './family.js';
import type { GlmLocalStats, GlmRoundInput } from './local-stats.js';
import { devianceConverged, solveStep } from './solve.js';

/** @default maxIterations 25, epsilon 1e-8 — R's glm.control(). */
export interface GlmFitOptions {
  /** Most Fisher scoring iterations (R's `maxit`). @default 25 */
  readonly maxIterations?: number;
  /** Convergence tolerance on the relative deviance change (R's `epsilon`). @default 1e-8 */
  readonly epsilon?: number;
  /** Whether the design has an offset (decides how the null deviance is found). @default false */
  readonly hasOffset?: boolean;
}

export const DEFAULT_GLM_MAX_ITERATIONS = 25;
export const DEFAULT_GLM_EPSILON = 1e-8;
/** Largest change of the null-model intercept in one step (keeps the 1-D Newton safe from a poor start). */
const NULL_MAX_STEP = 2;

export interface GlmFitState {
  readonly family: GlmFamilyName;
  readonly p: number;
  readonly maxIterations: number;
  readonly epsilon: number;
  readonly hasOffset: boolean;
  /** Rounds whose statistics have been consumed. */
  round: number;
  /** Fisher scoring iterations done (solves), R's `iter`. */
  iterations: number;
  /** β_k after `iterations` solves (null before the first). */
  beta: number[] | null;
  /** Packed XᵀWX the current β was solved with (its inverse is the unscaled covariance). */
  info: number[] | null;
  /** Deviance at the previous β (R's devold). */
  devOld: number | null;
  mainDone: boolean;
  converged: boolean;
  /** Deviance and log-likelihood at the final β. */
  deviance: number | null;
  logLik: number | null;
  /** From round 1. */
  n: number;
  sumW: number;
  sumWY: number;
  sumLogW: number;
  /** Null model. */
  nullBeta0: number | null;
  nullDevOld: number | null;
  nullIterations: number;
  nullDone: boolean;
  nullConverged: boolean;
  nullDeviance: number | null;
}

/** What the round runner does next. */
export type GlmAdvance = { readonly done: false; readonly state: GlmFitState; readonly input: GlmRoundInput } | { readonly done: true; readonly state: GlmFitState };

/**
 * Initial state and round 1's input.
 * @throws RangeError for p < 1 or options out of range
 */
export function startGlmFit(family: GlmFamily, p: number, options: GlmFitOptions = {}): GlmAdvance {
  const maxIterations = options.maxIterations ?? DEFAULT_GLM_MAX_ITERATIONS;
  const epsilon = options.epsilon ?? DEFAULT_GLM_EPSILON;
  if (!Number.isSafeInteger(p) || p < 1) throw new RangeError(`startGlmFit: p must be an integer >= 1, got ${p}`);
  if (!Number.isSafeInteger(maxIterations) || maxIterations < 1 || maxIterations > 1000) throw new RangeError(`startGlmFit: maxIterations must be an integer in [1, 1000], got ${maxIterations}`);
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`startGlmFit: epsilon must be in (0, 1), got ${epsilon}`);
  const state: GlmFitState = {
    family: family.name,
    p,
    maxIterations,
    epsilon,
    hasOffset: options.hasOffset ?? false,
    round: 0,
    iterations: 0,
    beta: null,
    info: null,
    devOld: null,
    mainDone: false,
    converged: false,
    deviance: null,
    logLik: null,
    n: 0,
    sumW: 0,
    sumWY: 0,
    sumLogW: 0,
    nullBeta0: null,
    nullDevOld: null,
    nullIterations: 0,
    nullDone: false,
    nullConverged: false,
    nullDeviance: null,
  };
  return { done: false, state, input: { round: 1, beta: null, nullBeta0: null } };
}

/** Upper bound on the number of rounds a fit can take (public: a DP plan charges for this many). */
export function maxGlmRounds(maxIterations: number, hasOffset: boolean): number {
  // maxIterations solves + 1 round for the final deviance; the null model with an offset may need its own
  // maxIterations steps after round 1, each one round, plus one for its final deviance.
  return hasOffset ? maxIterations + 2 : maxIterations + 1;
}

function clampProb(family: GlmFamily, mu: number): number {
  if (family.name === 'binomial') return Math.min(1 - DBL_EPSILON, Math.max(DBL_EPSILON, mu));
  if (family.name === 'poisson') return Math.max(DBL_EPSILON, mu);
  return mu;
}

/**
 * Consumes one round's summed statistics and says what comes next.
 * @throws GlmSingularDesignError if XᵀWX is singular (refuse the model)
 * @throws RangeError if the statistics do not belong to this fit (wrong p) or the fit is already done
 */
export function advanceGlmFit(family: GlmFamily, prev: GlmFitState, stats: GlmLocalStats): GlmAdvance {
  if (stats.p !== prev.p) throw new RangeError(`advanceGlmFit: statistics have p = ${stats.p}, the fit has ${prev.p}`);
  if (family.name !== prev.family) throw new RangeError(`advanceGlmFit: family ${family.name} does not match the fit's ${prev.family}`);
  if (prev.mainDone && prev.nullDone) throw new RangeError('advanceGlmFit: the fit is already done');
  const s: GlmFitState = { ...prev, round: prev.round + 1 };
  if (s.round === 1) {
    if (stats.n < 1 || !(stats.sumW > 0)) throw new RangeError('advanceGlmFit: round 1 has no rows');
    s.n = stats.n;
    s.sumW = stats.sumW;
    s.sumWY = stats.sumWY;
    s.sumLogW = stats.sumLogW;
    s.devOld = stats.deviance;
    s.beta = solveStep(s.p, stats.info, stats.rhs, null);
    s.info = Array.from(stats.info);
    s.iterations = 1;
    const wtdmu = clampProb(family, stats.sumWY / stats.sumW);
    s.nullBeta0 = family.linkfun(wtdmu) - (s.hasOffset ? stats.sumWOffset / stats.sumW : 0);
  } else {
    if (!s.mainDone) {
      const dev = stats.deviance;
      if (devianceConverged(dev, s.devOld!, s.epsilon) || s.iterations >= s.maxIterations) {
        s.mainDone = true;
        s.converged = devianceConverged(dev, s.devOld!, s.epsilon);
        s.deviance = dev;
        s.logLik = stats.logLik;
      } else {
        s.beta = solveStep(s.p, stats.info, stats.rhs, s.beta);
        s.info = Array.from(stats.info);
        s.iterations += 1;
        s.devOld = dev;
      }
    }
    if (!s.nullDone) {
      const dev0 = stats.nullDeviance;
      if (!s.hasOffset) {
        // Without an offset the null mean is known in closed form; this round evaluated it.
        s.nullDone = true;
        s.nullConverged = true;
        s.nullDeviance = dev0;
      } else if ((s.nullDevOld !== null && devianceConverged(dev0, s.nullDevOld, s.epsilon)) || s.nullIterations >= s.maxIterations) {
        s.nullDone = true;
        s.nullConverged = s.nullDevOld !== null && devianceConverged(dev0, s.nullDevOld, s.epsilon);
        s.nullDeviance = dev0;
      } else {
        if (!(stats.nullInfo > 0)) throw new RangeError('advanceGlmFit: the null model has no information');
        const step = stats.nullScore / stats.nullInfo;
        s.nullBeta0 = s.nullBeta0! + Math.max(-NULL_MAX_STEP, Math.min(NULL_MAX_STEP, step));
        s.nullDevOld = dev0;
        s.nullIterations += 1;
      }
    }
  }
  if (s.mainDone && s.nullDone) return { done: true, state: s };
  return { done: false, state: s, input: { round: s.round + 1, beta: s.beta, nullBeta0: s.nullDone ? null : s.nullBeta0 } };
}
