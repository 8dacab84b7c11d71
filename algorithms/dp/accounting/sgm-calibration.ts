/**
 * DP-SGD with Poisson-sampled batches, accounted with the Rényi DP of the sampled Gaussian mechanism (pure):
 * Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", Sec. 3.3 — at
 * integer orders α the closed-form binomial expansion A_α (rdp.ts) — composed over steps by adding RDP, plus any
 * further ρ-zCDP releases of the same job (ρ-zCDP is RDP αρ at every order α, Bun & Steinke 2016), and converted
 * to (ε, δ) by Canonne, Kamath & Steinke 2020, Prop. 12 (epsilonFromRdp), tighter than Mironov 2017's
 * ε = RDP(α) + ln(1/δ)/(α − 1).
 *
 * The sampling rate is made exact first: a row is in a batch when a uniform 32-bit word from the CSPRNG is below
 * T = ⌈q·2^32⌉, so the rate the data sees is T/2^32 ≥ q, and that is the rate accounted (RDP grows with q).
 */
import { DEFAULT_RDP_ORDERS, epsilonFromRdp, rdpPoissonSubsampledGaussian } from './rdp.js';

const TWO32 = 2 ** 32;

/** The exact Poisson rate of a 32-bit threshold test for a requested rate q ∈ (0, 1]. @throws RangeError */
export function poissonThreshold32(q: number): { readonly threshold: number; readonly rate: number } {
  if (!(q > 0 && q <= 1)) throw new RangeError(`q must be in (0, 1], got ${q}`);
  const threshold = Math.min(TWO32, Math.ceil(q * TWO32));
  return { threshold, rate: threshold / TWO32 };
}

export interface SubsampledGaussianRun {
  /** Poisson sampling rate of each step (as accounted: use poissonThreshold32(q).rate). */
  readonly q: number;
  /** σ / (L2 sensitivity) of each step's Gaussian noise. */
  readonly noiseMultiplier: number;
  /** Steps composed (steps per round × rounds). */
  readonly steps: number;
  /** ρ of further zCDP releases of the same job (e.g. a final noisy evaluation). @default 0 */
  readonly extraRho?: number;
}

/**
 * (ε, δ) of a DP-SGD run: the smallest ε over the integer orders, and the order that gives it.
 * @throws RangeError for parameters out of range
 */
export function subsampledGaussianEpsilon(run: SubsampledGaussianRun, delta: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): { epsilon: number; order: number } {
  const extra = run.extraRho ?? 0;
  if (!(extra >= 0) || !Number.isFinite(extra)) throw new RangeError(`extraRho must be a finite number >= 0, got ${extra}`);
  const rdp = rdpPoissonSubsampledGaussian(run.q, run.noiseMultiplier, run.steps, orders).map((r, i) => r + orders[i]! * extra);
  return epsilonFromRdp(rdp, orders, delta);
}

/** Noise multipliers searched: a larger one is refused by callers long before (the signal would drown). */
const Z_LO = 0.05;
const Z_HI = 1e4;

/**
 * The smallest noise multiplier (to 1e-9 relative) whose run stays within (ε, δ): ε is non-increasing in z (every
 * term of A_α is), so a bisection on ln z keeps the upper end, which always satisfies the target.
 * @throws RangeError when even z = 10^4 does not reach ε (the other releases alone cost more), or bad parameters
 */
export function noiseMultiplierForEpsilon(target: { epsilon: number; delta: number }, run: Omit<SubsampledGaussianRun, 'noiseMultiplier'>): number {
  if (!(target.epsilon > 0) || !Number.isFinite(target.epsilon)) throw new RangeError(`epsilon must be a finite number > 0, got ${target.epsilon}`);
  const eps = (z: number): number => subsampledGaussianEpsilon({ ...run, noiseMultiplier: z }, target.delta).epsilon;
  if (eps(Z_HI) > target.epsilon) throw new RangeError(`no noise multiplier up to ${Z_HI} reaches epsilon ${target.epsilon} at delta ${target.delta}`);
  if (eps(Z_LO) <= target.epsilon) return Z_LO;
  let lo = Math.log(Z_LO);
  let hi = Math.log(Z_HI);
  for (let i = 0; i < 80 && hi - lo > 1e-9; i++) {
    const mid = (lo + hi) / 2;
    if (eps(Math.exp(mid)) <= target.epsilon) hi = mid;
    else lo = mid;
  }
  const z = Math.exp(hi);
  // Every upper end was checked as the same expression; re-checked so the guarantee never rests on that.
  if (eps(z) > target.epsilon) throw new RangeError('noise calibration did not converge');
  return z;
}
