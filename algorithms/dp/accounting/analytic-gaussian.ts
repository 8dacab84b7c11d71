import { normalTail } from '../analysis/special-functions.js';

/**
 * The analytic Gaussian mechanism (Balle & Wang 2018, "Improving the Gaussian Mechanism for Differential Privacy",
 * Thm. 8): the continuous Gaussian mechanism N(0, σ²) with L2 sensitivity Δ is (ε, δ)-DP iff
 *   δ ≥ Φ(Δ/(2σ) − εσ/Δ) − e^ε · Φ(−Δ/(2σ) − εσ/Δ).
 * Calibration is by bisection on σ. Note: this exact curve is proven for the CONTINUOUS Gaussian; fedmesh's
 * discrete Gaussian is calibrated through zCDP (`rhoForEpsilonDelta`), which CKS 2020 prove for it.
 */

function check(name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number > 0, got ${String(v)}`);
}

/** The smallest δ for which N(0, σ²) with sensitivity Δ is (ε, δ)-DP. @throws RangeError for bad arguments */
export function analyticGaussianDelta(epsilon: number, sigma: number, sensitivity = 1): number {
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a finite number >= 0, got ${epsilon}`);
  check('sigma', sigma);
  check('sensitivity', sensitivity);
  const a = (epsilon * sigma) / sensitivity;
  const b = sensitivity / (2 * sigma);
  // Φ(b − a) − e^ε Φ(−b − a), written with upper tails for accuracy when both terms are tiny.
  const d = normalTail(a - b) - Math.exp(epsilon) * normalTail(a + b);
  return Math.max(0, d);
}

/**
 * The smallest σ (to relative 1e−12) such that N(0, σ²) with sensitivity Δ is (ε, δ)-DP.
 * @throws RangeError if epsilon ≤ 0, delta ∉ (0, 1) or sensitivity ≤ 0
 */
export function analyticGaussianSigma(epsilon: number, delta: number, sensitivity = 1): number {
  check('epsilon', epsilon);
  check('sensitivity', sensitivity);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  let hi = sensitivity;
  while (analyticGaussianDelta(epsilon, hi, sensitivity) > delta) hi *= 2;
  let lo = hi / 2;
  while (lo > 1e-300 && analyticGaussianDelta(epsilon, lo, sensitivity) <= delta) lo /= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (analyticGaussianDelta(epsilon, mid, sensitivity) <= delta) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The classical bound σ = Δ·√(2 ln(1.25/δ))/ε (Dwork & Roth 2014, Thm. A.1; valid for ε < 1), for comparison. */
export function classicalGaussianSigma(epsilon: number, delta: number, sensitivity = 1): number {
  check('epsilon', epsilon);
  check('sensitivity', sensitivity);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / epsilon;
}
