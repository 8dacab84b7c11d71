/**
 * Privacy of a SUM of independent discrete Gaussians (the distributed discrete Gaussian), after Kairouz, Liu &
 * Steinke 2021, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation",
 * Prop. 14: for m independent shares X_i ~ N_Z(0, σ²) with σ ≥ 1/2, Z = Σ X_i, and any integer vector Δ in d
 * dimensions, D_α(Z + Δ ‖ Z) ≤ α·ε²/2 for all α ≥ 1 with
 *   ε = ‖Δ‖₂ / (√m·σ) + τ·√d,   τ = 10 · Σ_{k=1}^{m−1} exp(−2π²σ²·k/(k+1)).
 * So the sum is (ε²/2)-zCDP. We charge exactly this (the bound's zCDP form), which is slightly MORE than the
 * Δ²/(2mσ²) of a single discrete Gaussian of variance mσ²; the gap (τ) vanishes quickly once σ ≥ 1.
 */

/** τ of KLS 2021 Prop. 14 for m shares of parameter σ². */
export function klsTau(shareSigma2: number, shares: number): number {
  if (!Number.isInteger(shares) || shares < 1) throw new RangeError(`shares must be an integer >= 1, got ${shares}`);
  let tau = 0;
  for (let k = 1; k < shares; k++) {
    const term = Math.exp((-2 * Math.PI * Math.PI * shareSigma2 * k) / (k + 1));
    tau += term;
    if (term < 1e-300) break;
  }
  return 10 * tau;
}

/**
 * ρ charged for the sum of `shares` independent discrete Gaussians of parameter shareSigma2 protecting a query of
 * L2 sensitivity l2 in `dimension` coordinates (KLS 2021 Prop. 14, zCDP form).
 * @throws RangeError if shareSigma2 < 1/4 (the proposition needs σ ≥ 1/2), or for bad arguments
 */
export function rhoDistributedDiscreteGaussian(l2: number, shareSigma2: number, shares: number, dimension = 1): number {
  if (!(l2 > 0) || !Number.isFinite(l2)) throw new RangeError(`l2 must be a finite number > 0, got ${l2}`);
  if (!(shareSigma2 >= 0.25) || !Number.isFinite(shareSigma2)) throw new RangeError(`shareSigma2 must be a finite number >= 1/4, got ${shareSigma2}`);
  if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be an integer >= 1, got ${dimension}`);
  const eps = l2 / (Math.sqrt(shares) * Math.sqrt(shareSigma2)) + klsTau(shareSigma2, shares) * Math.sqrt(dimension);
  return (eps * eps) / 2;
}
