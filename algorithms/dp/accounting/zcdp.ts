/**
 * Zero-concentrated DP (Bun & Steinke 2016) accounting in floating point. Floating point is fine here: these
 * numbers decide how much noise to add and what to charge, never the value of a sample. Every optimiser below only
 * ever returns a value that is valid for the α it evaluated, so numerical error can cost tightness, not privacy.
 */

function checkPositive(name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number > 0, got ${String(v)}`);
}
function checkDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${String(delta)}`);
}

/**
 * ρ of the discrete Gaussian mechanism with L2 sensitivity Δ and parameter σ²: Δ²/(2σ²) (Canonne, Kamath, Steinke
 * 2020, Thm. 4: the same as the continuous Gaussian, for integer-valued queries).
 * @throws RangeError for non-positive or non-finite arguments
 */
export function rhoDiscreteGaussian(l2Sensitivity: number, sigma2: number): number {
  checkPositive('l2Sensitivity', l2Sensitivity);
  checkPositive('sigma2', sigma2);
  return (l2Sensitivity * l2Sensitivity) / (2 * sigma2);
}

/** ε-DP implies (ε²/2)-zCDP (Bun & Steinke 2016, Prop. 1.4). @throws RangeError if epsilon < 0 */
export function rhoFromPureEpsilon(epsilon: number): number {
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a finite number >= 0, got ${epsilon}`);
  return (epsilon * epsilon) / 2;
}

/** zCDP composes by adding ρ (Bun & Steinke 2016, Lemma 2.3). */
export function composeRho(...rhos: number[]): number {
  let s = 0;
  for (const [i, r] of rhos.entries()) {
    if (!(r >= 0)) throw new RangeError(`rhos[${i}] must be >= 0, got ${r}`);
    s += r;
  }
  return s;
}

/** The simple conversion ε = ρ + 2√(ρ·ln(1/δ)) (Bun & Steinke 2016, Prop. 1.3). */
export function epsilonFromRhoSimple(rho: number, delta: number): number {
  if (!(rho >= 0)) throw new RangeError(`rho must be >= 0, got ${rho}`);
  checkDelta(delta);
  return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

/**
 * ln δ(α) of Canonne, Kamath, Steinke 2020, Cor. 13, for one order α > 1:
 * δ = exp((α−1)(αρ − ε)) / (α−1) · (1 − 1/α)^α.
 */
function logDeltaAt(alpha: number, rho: number, epsilon: number): number {
  return (alpha - 1) * (alpha * rho - epsilon) - Math.log(alpha - 1) + alpha * Math.log1p(-1 / alpha);
}

/** ε(α) for a fixed α > 1, solving the same identity for ε: αρ + (ln(1/δ) − ln α)/(α−1) + ln(1 − 1/α). */
function epsilonAt(alpha: number, rho: number, delta: number): number {
  return alpha * rho + (Math.log(1 / delta) - Math.log(alpha)) / (alpha - 1) + Math.log1p(-1 / alpha);
}

/** Minimises f over α ∈ (1, 1 + 10^6] on a log grid of α − 1, then by golden-section search around the best point. */
function minimiseOverAlpha(f: (alpha: number) => number): number {
  let bestX = 0;
  let best = Infinity;
  for (let i = 0; i <= 400; i++) {
    const x = -6 + (12 * i) / 400; // log10(α − 1)
    const v = f(1 + 10 ** x);
    if (v < best) {
      best = v;
      bestX = x;
    }
  }
  let lo = bestX - 0.03;
  let hi = bestX + 0.03;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 80; i++) {
    const a = hi - g * (hi - lo);
    const b = lo + g * (hi - lo);
    const fa = f(1 + 10 ** a);
    const fb = f(1 + 10 ** b);
    if (fa < best) best = fa;
    if (fb < best) best = fb;
    if (fa < fb) hi = b;
    else lo = a;
  }
  return best;
}

/**
 * δ such that ρ-zCDP implies (ε, δ)-DP, by Canonne, Kamath, Steinke 2020, Cor. 13 (infimum over α > 1).
 * @throws RangeError for negative or non-finite arguments
 */
export function deltaFromRho(rho: number, epsilon: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number >= 0, got ${rho}`);
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a finite number >= 0, got ${epsilon}`);
  if (rho === 0) return 0;
  return Math.min(1, Math.exp(minimiseOverAlpha((a) => logDeltaAt(a, rho, epsilon))));
}

/**
 * ε such that ρ-zCDP implies (ε, δ)-DP: the better of Canonne, Kamath, Steinke 2020, Cor. 13 and the simple
 * ρ + 2√(ρ ln(1/δ)).
 * @throws RangeError if rho < 0 or delta is not in (0, 1)
 */
export function epsilonFromRho(rho: number, delta: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number >= 0, got ${rho}`);
  checkDelta(delta);
  if (rho === 0) return 0;
  const cks = minimiseOverAlpha((a) => epsilonAt(a, rho, delta));
  return Math.max(0, Math.min(cks, epsilonFromRhoSimple(rho, delta)));
}

/**
 * The largest ρ whose CKS conversion gives at most ε at δ (bisection on ρ; the lower end, which is valid, is
 * returned). Use it to run a zCDP mechanism under an (ε, δ) budget.
 * @throws RangeError for non-positive epsilon or delta outside (0, 1)
 */
export function rhoForEpsilonDelta(epsilon: number, delta: number): number {
  checkPositive('epsilon', epsilon);
  checkDelta(delta);
  let lo = 0;
  let hi = Math.max(epsilon, 1e-12);
  while (epsilonFromRho(hi, delta) <= epsilon) hi *= 2;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (epsilonFromRho(mid, delta) <= epsilon) lo = mid;
    else hi = mid;
    if (hi - lo <= 1e-14 * hi) break;
  }
  return lo;
}
