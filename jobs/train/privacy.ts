/**
 * DP training's round layout, server step and privacy statement (pure). See privacy-spec.ts for the mechanism and
 * the unit protected. One person (k rows at a site; the modes multiply by the sites a person may be at) moves:
 *
 * | round | block | what an agent sends | L2 sensitivity | ρ share of the round |
 * |---|---|---|---|---|
 * | training | `delta` | Σ_i clip(∇ℓ_i, C) at the round's model | k·C | 7/8 |
 * | training | `weight` | train rows n_k | k | 1/8 |
 * | final (eval) | `evalN`, `evalCorrect` | test rows, correct at 0.5 | k | 1/4 each |
 * | final (eval) | `rocPos`, `rocNeg` | cumulative ROC histograms (T thresholds; K one-vs-rest curves if categorical) | k·√T, k·√((K−1)·T) | 1/4 each |
 * | final (eval), mse | `evalN`, `evalLoss` | test rows, Σ (clamp(ŷ) − clamp(y))² over the label bounds [lo, hi] | k, k·(hi − lo)² | 1/2 each |
 * | any | the other blocks, and `trainLoss`, `trainN` always, `evalLoss` but for mse | 0 (not released) | 0 | none |
 *
 * So the test rows are scored once, on the final model (every intermediate evaluation would cost budget), and
 * each of the R + 1 rounds costs ρ/(R + 1): the modes split the job's ρ evenly over rounds, then by the shares.
 *
 * The server step is plain gradient descent on the noisy mean gradient, ĝ = (Σ clip(∇ℓ_i) + noise)/max(1, n̂),
 * plus the public L2 penalty's gradient 2λW: Δ = −η_local·ĝ, handed to the strategy (FedAvg with server rate 1 is
 * DP-SGD; FedAdam/FedYogi/FedAdagrad are adaptive server steps on it). Everything after the noise is
 * post-processing, so the account is the zCDP sum of the rounds (algorithms/fl/dp-accounting.ts).
 */
import type { KindJobCommon, RoundRecord, StatBlock, StatLayout } from '../../common/kinds/index.js';
import { serverUpdate, type ServerState, type StrategyConfig } from '../../algorithms/fl/index.js';
import { GRADIENT_RHO_SHARE, trainAccount, type TrainDpPrivacy } from './privacy-spec.js';
import { isLocalDp, localDpLayout, localDpPrivacy, rocNegRowsPerRow } from './privacy-local.js';

/** The public facts of a train plan the DP layout and step need (structural: plan.ts imports this file). */
interface PlanFacts {
  readonly parameters: number;
  readonly thresholds: readonly number[];
  /** ROC curves per histogram block: 1, or K one-vs-rest curves for a categorical label (loss.ts rocCurves). */
  readonly curves?: number;
  /** training.rounds (the local-steps layout sizes its evaluation's ρ from the account). */
  readonly rounds?: number;
  readonly shapes: readonly (readonly number[])[];
  /** mse: (hi − lo)² of the public label bounds, the most a test row's clamped squared error can be. */
  readonly sqErrBound?: number;
}

const MAX_LOSS_SUM = 1e12;
const LOSS_GRID = -20;
/** ρ shares within a round (see the table above); the gradient's 7 of 8 is GRADIENT_RHO_SHARE. */
const SHARES = { delta: 7, weight: 1, evalN: 1, evalCorrect: 1, rocPos: 1, rocNeg: 1, evalLoss: 1 } as const;

function noisy(name: keyof typeof SHARES, length: number, hi: number, l2: number): StatBlock {
  const lo = name === 'delta' ? -hi : 0;
  return { name, length, perAgent: { lo, hi }, sensitivity: { l1: l2 * Math.sqrt(length), l2Sq: l2 * l2 }, release: 'additive', rhoShare: SHARES[name] };
}

const exact = (name: string, length: number, hi: number, gridExponent: number): StatBlock => ({ name, length, perAgent: { lo: name === 'delta' ? -hi : 0, hi }, sensitivity: { l1: 0, l2Sq: 0 }, gridExponent, release: 'additive' });

/**
 * The layout of a DP round: the same block names and order as mode none (plan.ts); noisy where this phase sends
 * something a person changes, public zeros elsewhere.
 */
export function dpTrainLayout(p: TrainDpPrivacy, update: { readonly maxExamples: number; readonly clip: number; readonly gridExponent: number }, plan: PlanFacts, phase: 'train' | 'eval'): StatLayout {
  // Local steps: every block is noised at the agent (privacy-local.ts) or a public zero.
  const K = plan.curves ?? 1;
  if (isLocalDp(p)) return localDpLayout(p, update, { parameters: plan.parameters, thresholds: plan.thresholds.length, curves: K, rounds: plan.rounds ?? 0, ...(plan.sqErrBound !== undefined ? { sqErrBound: plan.sqErrBound } : {}) }, phase);
  const k = p.maxRowsPerPerson ?? 1;
  const n = update.maxExamples;
  const T = plan.thresholds.length;
  if (Math.abs(SHARES.delta / (SHARES.delta + SHARES.weight) - GRADIENT_RHO_SHARE) > 1e-12) throw new Error('DP train ρ shares disagree with GRADIENT_RHO_SHARE');
  const train = phase === 'train';
  const pick = (name: keyof typeof SHARES, length: number, hi: number, l2: number, inTrain: boolean): StatBlock => (inTrain === train ? noisy(name, length, hi, l2) : exact(name, length, hi, 0));
  // mse: the test loss (clamped squared errors) instead of accuracy and ROC, which a numeric label has not.
  const B = plan.sqErrBound;
  const classes = B === undefined;
  return {
    blocks: [
      pick('delta', plan.parameters, n * p.clip, k * p.clip, true),
      pick('weight', 1, n, k, true),
      exact('trainLoss', 1, MAX_LOSS_SUM, LOSS_GRID),
      exact('trainN', 1, n, 0),
      pick('evalN', 1, n, k, false),
      classes ? exact('evalLoss', 1, MAX_LOSS_SUM, LOSS_GRID) : pick('evalLoss', 1, n * B, k * B, false),
      classes ? pick('evalCorrect', 1, n, k, false) : exact('evalCorrect', 1, n, 0),
      // A test row is a positive of its own class's curve and a negative of the K − 1 others (binary: one curve).
      classes ? pick('rocPos', K * T, n, k * Math.sqrt(T), false) : exact('rocPos', K * T, n, 0),
      classes ? pick('rocNeg', K * T, n, k * Math.sqrt(rocNegRowsPerRow(K) * T), false) : exact('rocNeg', K * T, n, 0),
    ],
  };
}

/** One DP round's server step from its released blocks (see the file comment). */
export function dpServerStep(strategy: StrategyConfig, learningRate: number, l2: number, plan: PlanFacts, s: ServerState, b: Record<string, Float64Array>): ServerState {
  const n = Math.max(1, b.weight![0]!);
  const g = b.delta!.map((v) => v / n);
  if (l2 > 0) {
    let at = 0;
    for (const shape of plan.shapes) {
      const size = shape.reduce((x, y) => x * y, 1);
      // Kernels are the 2-D shapes; biases carry no penalty (as node-agent/train's loss).
      if (shape.length === 2) for (let i = at; i < at + size; i++) g[i]! += 2 * l2 * s.weights[i]!;
      at += size;
    }
  }
  return serverUpdate(strategy, s, { delta: g.map((v) => -learningRate * v) });
}

/** The privacy block of a DP training result: exactly what the code above and the modes did. */
export function dpTrainPrivacy(job: KindJobCommon & { readonly spec: { readonly labelBounds?: readonly [number, number]; readonly training: { readonly batchSize: number; readonly optimizer: string; readonly momentum: number } } }, p: TrainDpPrivacy, rounds: number, layout: StatLayout, history: readonly RoundRecord[]): Record<string, unknown> {
  if (isLocalDp(p)) return localDpPrivacy(job, p, { ...job.spec.training, rounds }, layout, history);
  const a = trainAccount(p, rounds);
  const k = p.maxRowsPerPerson ?? 1;
  const last = history.at(-1);
  const first = history.find((h) => (h.input as { phase?: string }).phase === 'train');
  return {
    mode: p.mode,
    secure: job.secure,
    // With privacy.linkage the agents keep each person at one site (node-agent/linkage/linkage-scope.ts).
    unit: p.linkage !== undefined ? 'person across sites (linkage key)' : 'person at a site',
    level: p.linkage !== undefined
      ? `record level: every example's gradient clipped to L2 ${p.clip}, and each person counted at one site only (the linkage key), so one person (≤ ${k} rows in the mesh) moves each round's gradient sum by ≤ ${k * p.clip}`
      : `record level: every example's gradient clipped to L2 ${p.clip}, so one person (≤ ${k} rows per site, ≤ ${p.maxSitesPerPerson ?? 1} sites) moves each round's gradient sum by ≤ ${k * (p.maxSitesPerPerson ?? 1) * p.clip}`,
    mechanism: `full-batch DP-SGD across the mesh: discrete Gaussian noise on each training round's sum of per-example clipped gradients and its row count, and on the final round's ${job.spec.labelBounds ? `test row count and sum of squared errors (prediction and label clamped to the label bounds [${job.spec.labelBounds.join(', ')}])` : 'test counts'} (zCDP; the job's ρ covers all of its ${a.rounds} rounds)`,
    // The charged ε is the stated one (its ρ is the largest within it); by ρ alone, ε at the default δ.
    epsilon: p.epsilon ?? a.epsilon,
    delta: a.delta,
    rho: a.rho,
    roundsCharged: a.rounds,
    rhoPerRound: a.rhoPerRound,
    noiseMultiplier: a.noiseMultiplier,
    clip: p.clip,
    maxRowsPerPerson: k,
    amplification: 'none claimed: every row is in every round (q = 1), and agent sampling chosen by the coordinator would not amplify against it',
    ...(last ? { noiseStd: Object.fromEntries(layout.blocks.map((blk, i) => [blk.name, last.noiseStd[i]])) } : {}),
    ...(first ? { gradientNoiseStd: first.noiseStd[0] } : {}),
  };
}

/**
 * A noisy cumulative count histogram (counts with score ≥ t_j, so non-increasing in j) projected onto the
 * non-increasing, non-negative sequences by least squares (pool-adjacent-violators, then clamped at 0): pure
 * post-processing of released values, so it costs no privacy, and the AUC from it is less noisy.
 */
export function monotoneCounts(v: ArrayLike<number>): Float64Array {
  const means: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < v.length; i++) {
    means.push(v[i]!);
    sizes.push(1);
    while (means.length > 1 && means[means.length - 2]! < means[means.length - 1]!) {
      const m2 = means.pop()!;
      const s2 = sizes.pop()!;
      const m1 = means.pop()!;
      const s1 = sizes.pop()!;
      means.push((m1 * s1 + m2 * s2) / (s1 + s2));
      sizes.push(s1 + s2);
    }
  }
  const out = new Float64Array(v.length);
  let at = 0;
  means.forEach((m, k) => {
    for (let j = 0; j < sizes[k]!; j++) out[at++] = Math.max(0, m);
  });
  return out;
}
