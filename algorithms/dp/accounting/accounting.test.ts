import { describe, expect, it } from 'vitest';
import { normalCdf } from '../analysis/special-functions.js';
import { analyticGaussianDelta, analyticGaussianSigma, classicalGaussianSigma } from './analytic-gaussian.js';
import { rhoDistributedDiscreteGaussian } from './distributed-gaussian.js';
import { addCosts, costFromEpsilonDelta, costFromRho, epsilonAtDelta, ZERO_COST } from './privacy-cost.js';
import { createRdpAccountant, DEFAULT_RDP_ORDERS, epsilonFromRdp, rdpGaussian, rdpPoissonSubsampledGaussian } from './rdp.js';
import { deltaFromRho, epsilonFromRho, epsilonFromRhoSimple, rhoDiscreteGaussian, rhoForEpsilonDelta } from './zcdp.js';

describe('special functions', () => {
  it('normal CDF matches reference values', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalCdf(-5) / 2.866515718791939e-7 - 1).toBeLessThan(1e-12);
    expect(normalCdf(-10) / 7.619853024160527e-24 - 1).toBeLessThan(1e-10);
  });
});

describe('analytic Gaussian mechanism (Balle & Wang 2018)', () => {
  it('matches the published closed form δ(ε, σ) = Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ)', () => {
    for (const [eps, sigma, sens] of [
      [1, 3, 1],
      [0.5, 10, 2],
      [3, 1, 1],
    ] as const) {
      const closed = normalCdf(sens / (2 * sigma) - (eps * sigma) / sens) - Math.exp(eps) * normalCdf(-sens / (2 * sigma) - (eps * sigma) / sens);
      expect(analyticGaussianDelta(eps, sigma, sens)).toBeCloseTo(closed, 14);
    }
  });
  it('calibrates σ by bisection: δ(σ) equals the target and σ(1, 1e-5) ≈ 3.73 (Balle & Wang Fig. 1 regime)', () => {
    const s = analyticGaussianSigma(1, 1e-5);
    expect(analyticGaussianDelta(1, s) / 1e-5).toBeGreaterThan(0.999999);
    expect(analyticGaussianDelta(1, s)).toBeLessThanOrEqual(1e-5);
    expect(s).toBeGreaterThan(3.72);
    expect(s).toBeLessThan(3.74);
    // the classical bound √(2 ln(1.25/δ))/ε is looser for ε ≤ 1
    expect(classicalGaussianSigma(1, 1e-5)).toBeGreaterThan(s);
    // scales linearly with sensitivity
    expect(analyticGaussianSigma(1, 1e-5, 4) / s).toBeCloseTo(4, 9);
    expect(() => analyticGaussianSigma(0, 1e-5)).toThrow(/epsilon/);
  });
});

describe('zCDP (Bun & Steinke 2016; Canonne, Kamath, Steinke 2020)', () => {
  it('rho of the discrete Gaussian is Δ²/(2σ²)', () => {
    expect(rhoDiscreteGaussian(2, 8)).toBe(0.25);
    expect(() => rhoDiscreteGaussian(1, 0)).toThrow(/sigma2/);
  });
  it('CKS conversion satisfies its own closed form, beats the simple one, and cannot beat the exact Gaussian curve', () => {
    for (const [rho, delta] of [
      [0.5, 1e-6],
      [0.01, 1e-5],
      [2, 1e-9],
    ] as const) {
      const eps = epsilonFromRho(rho, delta);
      expect(eps).toBeLessThan(epsilonFromRhoSimple(rho, delta));
      // δ at that ε by the CKS formula is ≤ the target (same identity solved the other way)
      expect(deltaFromRho(rho, eps)).toBeLessThanOrEqual(delta * (1 + 1e-9));
      // the Gaussian mechanism with ρ = 1/(2σ²) has exact curve analyticGaussianDelta: any valid conversion is ≥ it
      const sigma = 1 / Math.sqrt(2 * rho);
      expect(analyticGaussianDelta(eps, sigma)).toBeLessThanOrEqual(delta);
      // and CKS is within 15% of the exact optimum for the Gaussian
      const exactEps = bisect((e) => analyticGaussianDelta(e, sigma) <= delta);
      expect(eps / exactEps).toBeLessThan(1.15);
    }
  });
  it('CKS Cor. 13 closed form at a fixed α is an upper bound the optimiser never exceeds', () => {
    const rho = 0.1;
    const delta = 1e-6;
    const alpha = 10;
    const atAlpha = alpha * rho + (Math.log(1 / delta) + (alpha - 1) * Math.log(1 - 1 / alpha) - Math.log(alpha)) / (alpha - 1);
    expect(epsilonFromRho(rho, delta)).toBeLessThanOrEqual(atAlpha);
  });
  it('rhoForEpsilonDelta inverts epsilonFromRho', () => {
    const rho = rhoForEpsilonDelta(1, 1e-6);
    expect(epsilonFromRho(rho, 1e-6)).toBeLessThanOrEqual(1);
    expect(epsilonFromRho(rho * 1.001, 1e-6)).toBeGreaterThan(1);
  });
});

describe('PrivacyCost', () => {
  it('composes by addition and converts at a delta', () => {
    const a = costFromEpsilonDelta(1);
    expect(a).toEqual({ rho: 0.5, epsilon: 1, delta: 0 });
    const b = costFromRho(0.1);
    const c = addCosts(a, b, ZERO_COST);
    expect(c.rho).toBeCloseTo(0.6, 15);
    expect(c.epsilon).toBe(Infinity);
    expect(epsilonAtDelta(c, 1e-6)).toBeCloseTo(epsilonFromRho(0.6, 1e-6), 12);
    // pure DP: the direct ε wins when it is smaller
    expect(epsilonAtDelta(costFromEpsilonDelta(0.1), 1e-6)).toBe(0.1);
    expect(costFromEpsilonDelta(1, 1e-6).rho).toBe(Infinity);
    expect(() => costFromEpsilonDelta(-1)).toThrow(/epsilon/);
    expect(() => addCosts({ rho: -1, epsilon: 0, delta: 0 })).toThrow(/costs\[0\]\.rho/);
  });
});

describe('Rényi DP of the Poisson-subsampled Gaussian (Mironov, Talwar, Zhang 2019)', () => {
  it('q = 1 reduces to the Gaussian α/(2σ²)', () => {
    const orders = [2, 3, 10, 64];
    const r = rdpPoissonSubsampledGaussian(1, 1.3, 1, orders);
    const g = rdpGaussian(1.3, orders);
    r.forEach((v, i) => expect(v).toBeCloseTo(g[i]!, 10));
  });
  it('order 2 matches the closed form ln(1 + q²(e^{1/σ²} − 1))', () => {
    for (const [q, s] of [
      [0.01, 1],
      [0.1, 0.8],
      [0.5, 2],
    ] as const) {
      const [r] = rdpPoissonSubsampledGaussian(q, s, 1, [2]);
      expect(r).toBeCloseTo(Math.log(1 + q * q * (Math.exp(1 / (s * s)) - 1)), 12);
    }
  });
  it('composes linearly and converts to (ε, δ) no worse than the classic ε = RDP + ln(1/δ)/(α−1)', () => {
    const acc = createRdpAccountant();
    acc.addSubsampledGaussian(0.01, 1.1, 500);
    acc.addSubsampledGaussian(0.01, 1.1, 500);
    const once = rdpPoissonSubsampledGaussian(0.01, 1.1, 1000);
    acc.rdp().forEach((v, i) => expect(v).toBeCloseTo(once[i]!, 10));
    const { epsilon } = acc.epsilon(1e-5);
    const classic = Math.min(...DEFAULT_RDP_ORDERS.map((a, i) => once[i]! + Math.log(1e5) / (a - 1)));
    expect(epsilon).toBeLessThanOrEqual(classic);
    expect(epsilon).toBeGreaterThan(0.5 * classic);
    expect(epsilonFromRdp([0], [2], 0.5).epsilon).toBeGreaterThanOrEqual(0);
    expect(() => rdpPoissonSubsampledGaussian(2, 1, 1)).toThrow(/q/);
  });
});

describe('distributed discrete Gaussian (Kairouz, Liu, Steinke 2021)', () => {
  it('charges at least the central rho, and converges to it for large shares', () => {
    const central = 1 / (2 * 10 * 4); // Δ=1, 10 shares of σ²=4
    const charged = rhoDistributedDiscreteGaussian(1, 4, 10);
    expect(charged).toBeGreaterThanOrEqual(central);
    expect(charged / central).toBeLessThan(1 + 1e-9);
    expect(rhoDistributedDiscreteGaussian(1, 0.3, 10) / (1 / (2 * 10 * 0.3))).toBeGreaterThan(1.01);
    expect(() => rhoDistributedDiscreteGaussian(1, 0.2, 3)).toThrow(/shareSigma2/);
  });
});

function bisect(ok: (x: number) => boolean): number {
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 100; i++) {
    const m = (lo + hi) / 2;
    if (ok(m)) hi = m;
    else lo = m;
  }
  return hi;
}
