/**
 * The server rules against their published formulas (Reddi et al. 2021 Alg. 2; Karimireddy et al. 2020 Alg. 1;
 * McMahan et al. 2017), with expected values written out by hand from the papers' equations, and on a toy
 * federated quadratic where the optimum is known in closed form.
 */
import { describe, expect, it } from 'vitest';
import { checkStrategyConfig, initialServerState, scaffoldClientControl, serverUpdate, type StrategyConfig, type StrategyName } from './strategies.js';

const cfg = (name: StrategyName, over: Partial<StrategyConfig> = {}): StrategyConfig => ({ name, serverLr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3, mu: 0, ...over });
const f64 = (...x: number[]) => Float64Array.from(x);

describe('FedOpt server rules (Reddi et al. 2021, Algorithm 2)', () => {
  // One coordinate with Δ = 0.5, then one with Δ = −0.2; m₋₁ = 0, v₋₁ = τ².
  const d1 = 0.5;
  const d2 = -0.2;
  const tau = 1e-3;
  it('FedAdam: m ← β1 m + (1−β1)Δ, v ← β2 v + (1−β2)Δ², x ← x + η m/(√v + τ)', () => {
    const c = cfg('fedadam');
    let s = initialServerState(c, f64(1));
    s = serverUpdate(c, s, { delta: f64(d1) });
    const m1 = 0.1 * d1;
    const v1 = 0.99 * tau * tau + 0.01 * d1 * d1;
    expect(s.weights[0]).toBeCloseTo(1 + (0.1 * m1) / (Math.sqrt(v1) + tau), 12);
    s = serverUpdate(c, s, { delta: f64(d2) });
    const m2 = 0.9 * m1 + 0.1 * d2;
    const v2 = 0.99 * v1 + 0.01 * d2 * d2;
    expect(s.m![0]).toBeCloseTo(m2, 14);
    expect(s.v![0]).toBeCloseTo(v2, 14);
  });
  it('FedAdagrad: v ← v + Δ²', () => {
    const c = cfg('fedadagrad');
    let s = initialServerState(c, f64(0));
    s = serverUpdate(c, s, { delta: f64(d1) });
    s = serverUpdate(c, s, { delta: f64(d2) });
    expect(s.v![0]).toBeCloseTo(tau * tau + d1 * d1 + d2 * d2, 14);
  });
  it('FedYogi: v ← v − (1−β2)Δ² sign(v − Δ²): grows while v < Δ², shrinks once v > Δ²', () => {
    const c = cfg('fedyogi');
    let s = initialServerState(c, f64(0));
    s = serverUpdate(c, s, { delta: f64(d1) });
    const v1 = tau * tau + 0.01 * d1 * d1; // v₀ < Δ²: sign −1
    expect(s.v![0]).toBeCloseTo(v1, 14);
    s = serverUpdate(c, s, { delta: f64(1e-4) });
    expect(s.v![0]).toBeCloseTo(v1 - 0.01 * 1e-8, 14); // v > Δ²: sign +1
    // Negative control: Adam's rule gives a different v on the same inputs.
    const a = serverUpdate(cfg('fedadam'), serverUpdate(cfg('fedadam'), initialServerState(cfg('fedadam'), f64(0)), { delta: f64(d1) }), { delta: f64(1e-4) });
    expect(Math.abs(a.v![0]! - s.v![0]!)).toBeGreaterThan(1e-5);
  });
});

describe('FedAvg and SCAFFOLD server rules', () => {
  it('FedAvg with η_g = 1 lands on the example-weighted mean of the client models', () => {
    const c = cfg('fedavg', { serverLr: 1 });
    const x = f64(1, 2);
    const clients = [{ y: f64(3, 2), n: 10 }, { y: f64(0, 5), n: 30 }];
    const total = clients.reduce((a, k) => a + k.n, 0);
    const delta = f64(...[0, 1].map((i) => clients.reduce((a, k) => a + k.n * (k.y[i]! - x[i]!), 0) / total));
    const s = serverUpdate(c, initialServerState(c, x), { delta });
    expect(Array.from(s.weights)).toEqual([(3 * 10 + 0 * 30) / 40, (2 * 10 + 5 * 30) / 40]);
  });
  it('SCAFFOLD: c ← c + (1/N) Σ_S Δc_i; the client control is c_i − c + (x − y)/(K η_l)', () => {
    const c = cfg('scaffold', { serverLr: 1 });
    const s = serverUpdate(c, initialServerState(c, f64(0)), { delta: f64(0.2), deltaCSum: f64(0.6), clients: 4 });
    expect(s.c![0]).toBeCloseTo(0.15, 15);
    expect(scaffoldClientControl(f64(0.1), f64(0.3), f64(1), f64(0.5), 5, 0.1)[0]).toBeCloseTo(0.1 - 0.3 + 0.5 / 0.5, 15);
    expect(() => serverUpdate(c, s, { delta: f64(0.1) })).toThrow(/scaffold needs deltaCSum/);
  });

  it('on heterogeneous quadratics f_i(w) = ½(w − a_i)², SCAFFOLD reaches the global optimum where FedAvg with unequal local steps drifts', () => {
    // Client i takes K_i local gradient steps. FedAvg's fixed point is biased towards clients with more steps;
    // SCAFFOLD's drift correction removes that bias (Karimireddy et al. 2020, Sec. 5).
    const a = [0, 10];
    const K = [1, 20];
    const lr = 0.05;
    const optimum = (a[0]! + a[1]!) / 2;
    const run = (name: 'fedavg' | 'scaffold'): number => {
      const conf = cfg(name, { serverLr: 1 });
      let s = initialServerState(conf, f64(0));
      const ci = [0, 0];
      for (let r = 0; r < 300; r++) {
        const x = s.weights[0]!;
        const cs = name === 'scaffold' ? s.c![0]! : 0;
        let dSum = 0;
        let dcSum = 0;
        a.forEach((ai, i) => {
          let y = x;
          for (let k = 0; k < K[i]!; k++) y -= lr * (y - ai - ci[i]! + cs);
          dSum += y - x;
          if (name === 'scaffold') {
            const next = scaffoldClientControl(f64(ci[i]!), f64(cs), f64(x), f64(y), K[i]!, lr)[0]!;
            dcSum += next - ci[i]!;
            ci[i] = next;
          }
        });
        s = serverUpdate(conf, s, { delta: f64(dSum / 2), deltaCSum: f64(dcSum), clients: 2 });
      }
      return s.weights[0]!;
    };
    expect(Math.abs(run('scaffold') - optimum)).toBeLessThan(1e-6);
    // Negative control: FedAvg's client drift keeps it measurably off the optimum.
    expect(Math.abs(run('fedavg') - optimum)).toBeGreaterThan(0.5);
  });
});

describe('hyperparameter checks', () => {
  it('names the field of a non-finite or out-of-range value', () => {
    expect(() => checkStrategyConfig(cfg('fedadam', { serverLr: Number.NaN }))).toThrow(/strategy\.serverLr/);
    expect(() => checkStrategyConfig(cfg('fedadam', { beta1: 1 }))).toThrow(/strategy\.beta1/);
    expect(() => checkStrategyConfig(cfg('fedyogi', { tau: 0 }))).toThrow(/strategy\.tau/);
    expect(() => checkStrategyConfig(cfg('fedprox', { mu: -1 }))).toThrow(/strategy\.mu/);
    expect(() => checkStrategyConfig(cfg('fedavg'))).not.toThrow();
  });
});
