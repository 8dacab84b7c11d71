/**
 * Per-person sensitivity of one GLM round's statistics, for the DP modes, from public quantities only: the
 * declared covariate bounds, the outcome bounds, the public clamp of the linear predictor and the contribution
 * bound k = maxRowsPerPerson. Prior weights are taken as 1 (the DP modes do not accept a weights column).
 *
 * Derivation, per row (then × k for a person, by the triangle inequality: L1 and L2 of a sum of k rows are at most
 * k times one row's, so l2Sq = k²·row²):
 * - Let m_j = max(|lo_j|, |hi_j|) for design column j (intercept and dummies: 1), X2 = Σ m_j², X4 = Σ m_j⁴.
 * - η is clamped to the public [ηlo, ηhi] before μ, W and the score are computed (`GlmLocalOptions.etaClamp`).
 *   Defaults: gaussian μ = η ∈ [ylo, yhi] (the outcome bounds); binomial η ∈ [−8, 8] (μ ∈ [3.4e-4, 0.99966]);
 *   poisson η ∈ [−8, log(yhi + 1) + 1].
 * - Working weight W = (dμ/dη)²/V(μ) ≤ Wmax: gaussian 1, binomial ¼, poisson e^{ηhi}.
 * - info (packed upper triangle of W·x·xᵀ): Σ_{j≤l} (W x_j x_l)² = W²·½(X2² + X4), so row L2 = Wmax·√(½(X2² + X4)).
 * - rhs = r·x with |r| ≤ rmax, row L2 = rmax·√X2. Round 1 (XᵀWz at R's μ⁰): gaussian |y|; binomial
 *   μ⁰ ∈ {¼, ¾}, |W·z| = (3/16)(ln 3 + 4/3); poisson r = μ⁰·ln μ⁰ − 0.1 with μ⁰ = y + 0.1. Later rounds (score):
 *   gaussian |y − μ| ≤ yhi − ylo; binomial |y − μ| ≤ 1; poisson |y − μ| ≤ max(yhi, e^{ηhi}).
 * - deviance (and the null deviance): gaussian (yhi − ylo)²; binomial 2·ln(1 + e^{max(−ηlo, ηhi)}); poisson the
 *   largest of 2(y ln(y/μ) − (y − μ)) over the corners y ∈ {0, yhi}, μ ∈ {e^{ηlo}, e^{ηhi}} (it is convex in y and
 *   in μ separately, so its maximum over the box is at a corner).
 * - logLik: binomial the deviance bound / 2; poisson yhi·max(|ηlo|, |ηhi|) + e^{ηhi} + ln Γ(yhi + 1).
 * - n and sumW: 1; sumWY: max(|ylo|, |yhi|); sumWOffset: max |offset| (offset bounds required with an offset);
 *   sumLogW: 0 (weights are 1); nullInfo: Wmax; nullScore: the later-round rmax.
 */
import { lnGamma } from '../stats/gamma.js';
import type { GlmFamilyName } from './family.js';
import type { GLM_SCALAR_BLOCKS} from './layout.js';
import { type GlmBlockName } from './layout.js';

export interface BlockSensitivity {
  /** L1 sensitivity of the block (sum of |changes|) for one person. */
  readonly l1: number;
  /** Squared L2 sensitivity of the block for one person. */
  readonly l2Sq: number;
}

export interface GlmSensitivity {
  /** The η clamp the agents must apply (pass as `GlmLocalOptions.etaClamp`). */
  readonly etaClamp: readonly [number, number];
  /** Round 1 (XᵀWz at R's starting values) and later rounds (score) differ only in `rhs`. */
  readonly round1: Readonly<Record<GlmBlockName, BlockSensitivity>>;
  readonly later: Readonly<Record<GlmBlockName, BlockSensitivity>>;
}

export interface GlmSensitivityOptions {
  /** Override the default η clamp (see the file comment). */
  readonly etaClamp?: readonly [number, number];
  /** Bounds of the offset column, required when the model has an offset. */
  readonly offsetBounds?: readonly [number, number];
}

export const BINOMIAL_ETA_CLAMP: readonly [number, number] = Object.freeze([-8, 8] as const);

/** The default public η clamp for a family and outcome bounds. */
export function defaultEtaClamp(family: GlmFamilyName, outcomeBounds: readonly [number, number]): readonly [number, number] {
  if (family === 'gaussian') return [outcomeBounds[0], outcomeBounds[1]];
  if (family === 'binomial') return BINOMIAL_ETA_CLAMP;
  return [-8, Math.log(Math.max(0, outcomeBounds[1]) + 1) + 1];
}

function poissonDev(y: number, mu: number): number {
  return 2 * ((y > 0 ? y * Math.log(y / mu) : 0) - (y - mu));
}

/**
 * Per-block sensitivity of one person's contribution to one round, for `p = covariateBounds.length` design
 * columns (the intercept included, as [1, 1]; dummies as [0, 1]).
 * @throws RangeError for empty or inverted bounds, k < 1, an outcome range the family cannot have, or a clamp
 *   with lo ≥ hi
 */
export function glmRoundSensitivity(
  family: GlmFamilyName,
  covariateBounds: readonly (readonly [number, number])[],
  outcomeBounds: readonly [number, number],
  maxRowsPerPerson: number,
  options: GlmSensitivityOptions = {},
): GlmSensitivity {
  if (covariateBounds.length < 1) throw new RangeError('glmRoundSensitivity: covariateBounds must list every design column');
  for (const [i, b] of covariateBounds.entries()) {
    if (!(Number.isFinite(b[0]) && Number.isFinite(b[1]) && b[0] <= b[1])) throw new RangeError(`glmRoundSensitivity: covariateBounds[${i}] must be finite [lo, hi] with lo <= hi`);
  }
  const [ylo, yhi] = outcomeBounds;
  if (!(Number.isFinite(ylo) && Number.isFinite(yhi) && ylo <= yhi)) throw new RangeError('glmRoundSensitivity: outcomeBounds must be finite [lo, hi] with lo <= hi');
  if (family === 'binomial' && (ylo < 0 || yhi > 1)) throw new RangeError('glmRoundSensitivity: a binomial outcome is in [0, 1]');
  if (family === 'poisson' && ylo < 0) throw new RangeError('glmRoundSensitivity: a poisson outcome is >= 0');
  if (!Number.isSafeInteger(maxRowsPerPerson) || maxRowsPerPerson < 1) throw new RangeError('glmRoundSensitivity: maxRowsPerPerson must be an integer >= 1');
  const clamp = options.etaClamp ?? defaultEtaClamp(family, outcomeBounds);
  const [elo, ehi] = clamp;
  if (!(Number.isFinite(elo) && Number.isFinite(ehi) && elo < ehi)) throw new RangeError('glmRoundSensitivity: etaClamp must be finite [lo, hi] with lo < hi');
  const k = maxRowsPerPerson;
  let x2 = 0;
  let x4 = 0;
  for (const [lo, hi] of covariateBounds) {
    const m = Math.max(Math.abs(lo), Math.abs(hi));
    x2 += m * m;
    x4 += m ** 4;
  }
  const yAbs = Math.max(Math.abs(ylo), Math.abs(yhi));
  let wMax: number;
  let r1: number;
  let rLater: number;
  let dev: number;
  let logLik: number;
  switch (family) {
    case 'gaussian':
      wMax = 1;
      r1 = yAbs;
      rLater = yhi - ylo;
      dev = (yhi - ylo) ** 2;
      logLik = 0;
      break;
    case 'binomial':
      wMax = 0.25;
      r1 = (3 / 16) * (Math.log(3) + 4 / 3);
      rLater = 1;
      dev = 2 * Math.log1p(Math.exp(Math.max(-elo, ehi)));
      logLik = dev / 2;
      break;
    case 'poisson': {
      wMax = Math.exp(ehi);
      const mu0 = (y: number): number => (y + 0.1) * Math.log(y + 0.1) - 0.1;
      // μ⁰·ln μ⁰ − 0.1 is smallest at μ⁰ = 1/e (−1/e − 0.1) and largest at an end of [0.1, yhi + 0.1].
      r1 = Math.max(1 / Math.E + 0.1, Math.abs(mu0(0)), Math.abs(mu0(Math.max(0, yhi))));
      rLater = Math.max(yhi, Math.exp(ehi));
      dev = Math.max(poissonDev(0, Math.exp(elo)), poissonDev(0, Math.exp(ehi)), poissonDev(yhi, Math.exp(elo)), poissonDev(yhi, Math.exp(ehi)));
      logLik = yhi * Math.max(Math.abs(elo), Math.abs(ehi)) + Math.exp(ehi) + lnGamma(yhi + 1);
      break;
    }
  }
  let offsetAbs = 0;
  if (options.offsetBounds) {
    const [olo, ohi] = options.offsetBounds;
    if (!(Number.isFinite(olo) && Number.isFinite(ohi) && olo <= ohi)) throw new RangeError('glmRoundSensitivity: offsetBounds must be finite [lo, hi] with lo <= hi');
    offsetAbs = Math.max(Math.abs(olo), Math.abs(ohi));
  }
  const vec = (rowL2: number, len: number): BlockSensitivity => ({ l1: k * rowL2 * Math.sqrt(len), l2Sq: (k * rowL2) ** 2 });
  const scalar = (row: number): BlockSensitivity => ({ l1: k * row, l2Sq: (k * row) ** 2 });
  const p = covariateBounds.length;
  const scalars: Record<(typeof GLM_SCALAR_BLOCKS)[number], BlockSensitivity> = {
    n: scalar(1),
    sumW: scalar(1),
    sumWY: scalar(yAbs),
    sumWOffset: scalar(offsetAbs),
    sumLogW: scalar(0),
    deviance: scalar(dev),
    logLik: scalar(logLik),
    nullInfo: scalar(wMax),
    nullScore: scalar(rLater),
    nullDeviance: scalar(dev),
  };
  const info = vec(wMax * Math.sqrt(0.5 * (x2 * x2 + x4)), (p * (p + 1)) / 2);
  return {
    etaClamp: [elo, ehi],
    round1: { ...scalars, info, rhs: vec(r1 * Math.sqrt(x2), p) },
    later: { ...scalars, info, rhs: vec(rLater * Math.sqrt(x2), p) },
  };
}
