import { logSumExp } from '../analysis/special-functions.js';

/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (each record included independently with
 * probability q, Gaussian noise with standard deviation noiseMultiplier × L2 clip norm), at integer orders α, after
 * Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism" (Sec. 3.3):
 *   A_α = Σ_{k=0..α} C(α,k) (1−q)^(α−k) q^k exp((k² − k)/(2σ²)),   RDP(α) = ln(A_α)/(α − 1),
 * composed over steps by adding. Converted to (ε, δ) with Canonne, Kamath, Steinke 2020, Prop. 12 (also Asoodeh et
 * al. 2021): ε = RDP(α) + ln(1 − 1/α) − (ln δ + ln α)/(α − 1), minimised over α.
 */

/** Integer orders used by default (dense where the optimum usually is, sparse beyond). */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 63 }, (_, i) => i + 2),
  72, 80, 96, 112, 128, 160, 192, 256, 384, 512,
]);

function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new RangeError('orders must not be empty');
  for (const [i, a] of orders.entries()) {
    if (!Number.isInteger(a) || a < 2) throw new RangeError(`orders[${i}] must be an integer >= 2, got ${a}`);
  }
}

/** RDP(α) of one step of the plain (unsampled) Gaussian mechanism: α/(2σ²). */
export function rdpGaussian(noiseMultiplier: number, orders: readonly number[] = DEFAULT_RDP_ORDERS): number[] {
  if (!(noiseMultiplier > 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noiseMultiplier must be a finite number > 0, got ${noiseMultiplier}`);
  checkOrders(orders);
  return orders.map((a) => a / (2 * noiseMultiplier * noiseMultiplier));
}

/**
 * RDP at each order of `steps` compositions of the Poisson-subsampled Gaussian mechanism.
 * @throws RangeError if q ∉ [0, 1], noiseMultiplier ≤ 0, steps not a non-negative integer, or bad orders
 */
export function rdpPoissonSubsampledGaussian(
  q: number,
  noiseMultiplier: number,
  steps: number,
  orders: readonly number[] = DEFAULT_RDP_ORDERS,
): number[] {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`q must be in [0, 1], got ${q}`);
  if (!(noiseMultiplier > 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noiseMultiplier must be a finite number > 0, got ${noiseMultiplier}`);
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
  checkOrders(orders);
  if (q === 0 || steps === 0) return orders.map(() => 0);
  const s2 = noiseMultiplier * noiseMultiplier;
  const logQ = Math.log(q);
  const log1mQ = q === 1 ? -Infinity : Math.log1p(-q);
  return orders.map((alpha) => {
    const terms: number[] = [];
    let logBinom = 0; // ln C(α, k), updated incrementally
    for (let k = 0; k <= alpha; k++) {
      if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
      const lq = k === 0 ? 0 : k * logQ;
      const l1 = alpha - k === 0 ? 0 : (alpha - k) * log1mQ;
      terms.push(logBinom + lq + l1 + (k * k - k) / (2 * s2));
    }
    return (steps * Math.max(0, logSumExp(terms))) / (alpha - 1);
  });
}

/**
 * The smallest ε over the given orders such that RDP curve `rdp` implies (ε, δ)-DP, and the order achieving it.
 * @throws RangeError if delta ∉ (0, 1) or the arrays differ in length
 */
export function epsilonFromRdp(rdp: readonly number[], orders: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
  if (rdp.length !== orders.length) throw new RangeError('rdp and orders must have the same length');
  checkOrders(orders);
  let best = Infinity;
  let order = orders[0]!;
  for (const [i, a] of orders.entries()) {
    const r = rdp[i]!;
    if (!(r >= 0)) throw new RangeError(`rdp[${i}] must be >= 0, got ${r}`);
    const eps = r + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      order = a;
    }
  }
  return { epsilon: Math.max(0, best), order };
}

/** A mutable accountant that sums RDP over training steps (ready for federated learning rounds). */
export interface RdpAccountant {
  readonly orders: readonly number[];
  /** Adds `steps` steps of the Poisson-subsampled Gaussian mechanism. */
  addSubsampledGaussian(q: number, noiseMultiplier: number, steps?: number): void;
  /** The current RDP curve. */
  rdp(): number[];
  /** The smallest ε at δ for everything added so far. */
  epsilon(delta: number): { epsilon: number; order: number };
}

export function createRdpAccountant(orders: readonly number[] = DEFAULT_RDP_ORDERS): RdpAccountant {
  checkOrders(orders);
  const total = orders.map(() => 0);
  return {
    orders,
    addSubsampledGaussian(q, noiseMultiplier, steps = 1) {
      const r = rdpPoissonSubsampledGaussian(q, noiseMultiplier, steps, orders);
      for (let i = 0; i < total.length; i++) total[i]! += r[i]!;
    },
    rdp: () => [...total],
    epsilon: (delta) => epsilonFromRdp(total, orders, delta),
  };
}
