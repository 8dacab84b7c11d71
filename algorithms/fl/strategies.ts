/**
 * Server-side update rules of federated training strategies, pure and on flat parameter vectors (every model's
 * weights concatenated in a public order). The coordinator replays them from released round sums, so a restarted
 * coordinator reaches the same global model.
 *
 * - FedAvg (McMahan et al. 2017): x ← x + η_g · Δ, Δ the (example-weighted) mean of the client deltas y_k − x.
 * - FedProx (Li et al. 2020): the server step is FedAvg's; the proximal term μ/2‖w − x‖² is in the clients' loss.
 * - FedAdagrad / FedAdam / FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2):
 *   m ← β1·m + (1 − β1)·Δ;
 *   v ← v + Δ²                                   (FedAdagrad)
 *   v ← v − (1 − β2)·Δ²·sign(v − Δ²)             (FedYogi)
 *   v ← β2·v + (1 − β2)·Δ²                       (FedAdam)
 *   x ← x + η · m / (√v + τ),  with m₋₁ = 0 and v₋₁ = τ² (the paper asks v₋₁ ≥ τ²), no bias correction.
 * - SCAFFOLD (Karimireddy et al. 2020, Algorithm 1): x ← x + η_g · mean_{i∈S} Δy_i and c ← c + (1/N) Σ_{i∈S} Δc_i,
 *   N the number of clients; clients send Δc_i (never c_i).
 */

export const STRATEGIES = ['fedavg', 'fedprox', 'fedadagrad', 'fedadam', 'fedyogi', 'scaffold'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface StrategyConfig {
  readonly name: StrategyName;
  /** Server learning rate η_g (FedAvg, FedProx, SCAFFOLD) or η (FedOpt). @default 1 (FedAvg family), 0.01 (FedOpt) */
  readonly serverLr: number;
  /** FedOpt only. @default 0.9 */
  readonly beta1: number;
  /** FedAdam, FedYogi. @default 0.99 */
  readonly beta2: number;
  /** FedOpt adaptivity τ. @default 1e-3 */
  readonly tau: number;
  /** FedProx μ (clients' proximal weight). @default 0.01 */
  readonly mu: number;
}

/** The server's state between rounds (all public: derived from released sums only). */
export interface ServerState {
  readonly weights: Float64Array;
  /** FedOpt first moment. */
  readonly m?: Float64Array;
  /** FedOpt second moment. */
  readonly v?: Float64Array;
  /** SCAFFOLD server control variate c. */
  readonly c?: Float64Array;
}

/** One round's aggregate, as released. */
export interface RoundAggregate {
  /** Mean client delta Δ (already divided by the total weight). */
  readonly delta: Float64Array;
  /** SCAFFOLD: Σ_{i∈S} Δc_i (a sum, not a mean: the rule divides by N). */
  readonly deltaCSum?: Float64Array;
  /** SCAFFOLD: N, the number of clients in the federation. */
  readonly clients?: number;
}

export const isFedOpt = (s: StrategyName): boolean => s === 'fedadagrad' || s === 'fedadam' || s === 'fedyogi';

/** @throws RangeError for a non-finite or out-of-range hyperparameter, naming it */
export function checkStrategyConfig(c: StrategyConfig): void {
  if (!(STRATEGIES as readonly string[]).includes(c.name)) throw new RangeError(`strategy.name must be one of ${STRATEGIES.join(', ')}`);
  if (!(Number.isFinite(c.serverLr) && c.serverLr > 0)) throw new RangeError('strategy.serverLr must be a finite number > 0');
  if (!(Number.isFinite(c.beta1) && c.beta1 >= 0 && c.beta1 < 1)) throw new RangeError('strategy.beta1 must be in [0, 1)');
  if (!(Number.isFinite(c.beta2) && c.beta2 >= 0 && c.beta2 < 1)) throw new RangeError('strategy.beta2 must be in [0, 1)');
  if (!(Number.isFinite(c.tau) && c.tau > 0)) throw new RangeError('strategy.tau must be a finite number > 0');
  if (!(Number.isFinite(c.mu) && c.mu >= 0)) throw new RangeError('strategy.mu must be a finite number >= 0');
}

/** The state before the first round. */
export function initialServerState(c: StrategyConfig, weights: Float64Array): ServerState {
  const p = weights.length;
  if (isFedOpt(c.name)) return { weights: Float64Array.from(weights), m: new Float64Array(p), v: new Float64Array(p).fill(c.tau * c.tau) };
  if (c.name === 'scaffold') return { weights: Float64Array.from(weights), c: new Float64Array(p) };
  return { weights: Float64Array.from(weights) };
}

/**
 * The server step of one round. Pure: returns a new state.
 * @throws RangeError when the aggregate does not match the state's length (or SCAFFOLD lacks Δc / N)
 */
export function serverUpdate(c: StrategyConfig, s: ServerState, agg: RoundAggregate): ServerState {
  const p = s.weights.length;
  if (agg.delta.length !== p) throw new RangeError(`delta has ${agg.delta.length} entries, the model ${p}`);
  const x = new Float64Array(p);
  if (isFedOpt(c.name)) {
    const m = new Float64Array(p);
    const v = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      const d = agg.delta[i]!;
      const d2 = d * d;
      const v0 = s.v![i]!;
      m[i] = c.beta1 * s.m![i]! + (1 - c.beta1) * d;
      if (c.name === 'fedadagrad') v[i] = v0 + d2;
      else if (c.name === 'fedyogi') v[i] = v0 - (1 - c.beta2) * d2 * Math.sign(v0 - d2);
      else v[i] = c.beta2 * v0 + (1 - c.beta2) * d2;
      x[i] = s.weights[i]! + (c.serverLr * m[i]!) / (Math.sqrt(v[i]!) + c.tau);
    }
    return { weights: x, m, v };
  }
  for (let i = 0; i < p; i++) x[i] = s.weights[i]! + c.serverLr * agg.delta[i]!;
  if (c.name !== 'scaffold') return { weights: x };
  const dc = agg.deltaCSum;
  const n = agg.clients;
  if (!dc || dc.length !== p || n === undefined || !(n >= 1)) throw new RangeError('scaffold needs deltaCSum with one entry per weight and clients >= 1');
  const cNew = new Float64Array(p);
  for (let i = 0; i < p; i++) cNew[i] = s.c![i]! + dc[i]! / n;
  return { weights: x, c: cNew };
}

/**
 * SCAFFOLD's client control-variate update, option II of Algorithm 1: c_i⁺ = c_i − c + (x − y_i)/(K·η_l), with K
 * local steps at learning rate η_l. Returns c_i⁺ (the client sends Δc_i = c_i⁺ − c_i and keeps c_i⁺).
 */
export function scaffoldClientControl(ci: Float64Array, c: Float64Array, x: Float64Array, y: Float64Array, steps: number, lr: number): Float64Array {
  if (!(steps >= 1) || !(lr > 0)) throw new RangeError('scaffold control update needs steps >= 1 and lr > 0');
  const out = new Float64Array(ci.length);
  for (let i = 0; i < ci.length; i++) out[i] = ci[i]! - c[i]! + (x[i]! - y[i]!) / (steps * lr);
  return out;
}
