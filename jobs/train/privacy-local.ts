/**
 * DP training with local steps (pure): `"privacy": {…, "localSteps": S, "sampleRate": q}` with S > 1 or q < 1.
 * Each agent runs S steps of DP-SGD per round on its own rows (algorithms/fl/dp-sgd.ts): Poisson-sampled batches
 * at rate q from the CSPRNG, every example's gradient clipped to L2 ≤ C = `privacy.clip`, discrete Gaussian noise
 * of multiplier z on each step's sum at the agent, division by the public expected batch B = `training.batchSize`.
 * It returns its model delta (clipped to `update.clip`, on the update grid) with weight 1: the round averages the
 * agents' deltas uniformly (example weights would need each site's private row count) and hands the mean to the
 * strategy. The final round scores the final model on noisy test counts, noised at each agent too.
 *
 * The noise is at the agent in every step, so the coordinator (plain sums or not) sees only DP updates: the trust
 * is that of local DP, at the record level. The modes add nothing (every block is declared already private).
 *
 * **Account**, before round 0, from public parameters only: a person (one row, `maxRowsPerPerson` must be 1) at up
 * to m = `maxSitesPerPerson` sites is in m sampled-Gaussian runs of R·S steps; the final evaluation gets ρ_ε/(R + 1)
 * of zCDP (ρ_ε: the largest ρ within the stated (ε, δ) — the share the one-step path gives it), split over the m
 * sites' releases. RDP(α) = m·R·S·RDP_SGM(q, z, α) + α·ρ_eval, converted by CKS 2020 (sgm-calibration.ts); z is
 * the smallest noise multiplier that keeps it within the stated ε. What the ledger records: the stated (ε, δ), and
 * as the zCDP statement the unamplified ρ = m·R·S/(2z²) + ρ_eval (a sampled step is never worse than an unsampled
 * one), which stays true when the ledger composes jobs in ρ.
 */
import { noiseMultiplierForEpsilon, poissonThreshold32, rhoForEpsilonDelta, subsampledGaussianEpsilon } from '../../algorithms/dp/index.js';
import { kindPrivacyOf, type KindJobCommon, type RoundRecord, type StatBlock, type StatLayout } from '../../common/kinds/index.js';
import { invalidJob } from '../../common/errors.js';
import type { PrivacySpec } from '../../common/job/spec.js';

/** DP training's privacy (privacy-spec.ts parses it; declared here so that this file imports nothing back from it). */
export type TrainDpPrivacy = PrivacySpec & {
  readonly mode: 'central-dp' | 'distributed-dp';
  /** The L2 norm every example's gradient is clipped to. */
  readonly clip: number;
  /** DP-SGD steps per round at each agent. @default 1 (the one-step path) */
  readonly localSteps?: number;
  /** Poisson sampling rate of each step's batch. @default 1 (the one-step path) */
  readonly sampleRate?: number;
};

/** Steps × rounds a job may ask (the accountant's and the agents' work stay bounded). */
export const MAX_LOCAL_DP_STEPS = 100_000;
export const MAX_LOCAL_STEPS = 1000;
const MAX_NOISE = 100;

export const isLocalDp = (p: TrainDpPrivacy): boolean => (p.localSteps ?? 1) > 1 || (p.sampleRate ?? 1) < 1;

export interface LocalDpAccount {
  readonly rounds: number;
  readonly stepsPerRound: number;
  /** The Poisson rate as sampled and accounted (⌈q·2^32⌉/2^32), and its 32-bit threshold. */
  readonly q: number;
  readonly threshold32: number;
  readonly noiseMultiplier: number;
  readonly sites: number;
  /** zCDP ρ of the final evaluation per person, and per agent release (÷ sites). */
  readonly evalRho: number;
  readonly evalRhoPerAgent: number;
  /** ε the RDP account gives (≤ the stated one) at the stated δ, and its order. */
  readonly epsilon: number;
  readonly order: number;
  readonly delta: number;
  /** The unamplified zCDP statement the ledger records. */
  readonly rho: number;
}

const cache = new Map<string, LocalDpAccount>();

/**
 * The account of a local-steps DP job (see the file comment), cached by its parameters.
 * @throws FedmeshError INVALID_JOB naming the field when no noise multiplier up to 100 reaches the stated ε
 */
export function localDpAccount(p: TrainDpPrivacy, rounds: number): LocalDpAccount {
  if (p.epsilon === undefined || p.delta === undefined) throw invalidJob('privacy.epsilon', 'DP training with local steps is accounted in Rényi DP and charged as (ε, δ): state epsilon and delta (not rho)');
  const S = p.localSteps ?? 1;
  const m = p.maxSitesPerPerson ?? 1;
  const key = JSON.stringify([p.epsilon, p.delta, S, p.sampleRate ?? 1, m, rounds]);
  const hit = cache.get(key);
  if (hit) return hit;
  const { threshold, rate } = poissonThreshold32(p.sampleRate ?? 1);
  const evalRho = rhoForEpsilonDelta(p.epsilon, p.delta) / (rounds + 1);
  const run = { q: rate, steps: m * rounds * S, extraRho: evalRho };
  let z: number;
  try {
    z = noiseMultiplierForEpsilon({ epsilon: p.epsilon, delta: p.delta }, run);
  } catch {
    z = Infinity;
  }
  if (!(z <= MAX_NOISE)) throw invalidJob('privacy.epsilon', `is too small for ${rounds} rounds of ${S} local steps at sampling rate ${rate.toPrecision(3)}: the noise multiplier would exceed ${MAX_NOISE}; raise epsilon, or lower training.rounds, privacy.localSteps or privacy.sampleRate`);
  const e = subsampledGaussianEpsilon({ ...run, noiseMultiplier: z }, p.delta);
  const account: LocalDpAccount = Object.freeze({
    rounds,
    stepsPerRound: S,
    q: rate,
    threshold32: threshold,
    noiseMultiplier: z,
    sites: m,
    evalRho,
    evalRhoPerAgent: evalRho / m,
    epsilon: e.epsilon,
    order: e.order,
    delta: p.delta,
    rho: (m * rounds * S) / (2 * z * z) + evalRho,
  });
  if (cache.size > 256) cache.clear();
  cache.set(key, account);
  return account;
}

/** The compiled job's privacy: the stated (ε, δ) and, for local steps, the unamplified ρ the ledger records. */
export function trainKindPrivacy(p: TrainDpPrivacy, rounds: number): KindJobCommon['privacy'] {
  const base = kindPrivacyOf(p);
  return isLocalDp(p) ? { ...base, rho: localDpAccount(p, rounds).rho } : base;
}

const MAX_LOSS_SUM = 1e12;

/** Blocks of a local-steps DP round: all already private (noised at the agent) or public zeros, so the modes add nothing. */
/** @param rocLength entries of each ROC block: thresholds × curves (one curve per class for categorical) */
export function localDpLayout(update: { readonly clip: number; readonly gridExponent: number; readonly maxExamples: number }, parameters: number, rocLength: number): StatLayout {
  const n = update.maxExamples;
  const b = (name: string, length: number, lo: number, hi: number, gridExponent: number): StatBlock => ({ name, length, perAgent: { lo, hi }, sensitivity: { l1: 0, l2Sq: 0 }, gridExponent, release: 'additive' });
  return {
    blocks: [
      b('delta', parameters, -update.clip, update.clip, update.gridExponent),
      b('weight', 1, 0, 1, 0),
      b('trainLoss', 1, 0, MAX_LOSS_SUM, -20),
      b('trainN', 1, 0, n, 0),
      // Noisy counts may leave [0, n]: the agent clamps them to ±n (post-processing).
      b('evalN', 1, -n, n, 0),
      b('evalLoss', 1, 0, MAX_LOSS_SUM, -20),
      b('evalCorrect', 1, -n, n, 0),
      b('rocPos', rocLength, -n, n, 0),
      b('rocNeg', rocLength, -n, n, 0),
    ],
  };
}

/** ρ shares of the final evaluation's four noisy blocks (evalN, evalCorrect, rocPos, rocNeg): a quarter each. */
export const EVAL_BLOCKS = ['evalN', 'evalCorrect', 'rocPos', 'rocNeg'] as const;

/**
 * σ² of the discrete Gaussian an agent adds to each evaluation block: Δ₂ 1 for counts; for the cumulative ROC
 * histograms of T thresholds, √T (`rocPos`: a row is a positive of its own class's curve only) and √(max(1, K−1)·T)
 * (`rocNeg`: with K one-vs-rest curves a row is a negative of the K − 1 others; binary: one curve, √T).
 */
export function evalNoiseSigma2(a: LocalDpAccount, thresholds: number, curves = 1): Record<(typeof EVAL_BLOCKS)[number], number> {
  const rhoBlock = a.evalRhoPerAgent / EVAL_BLOCKS.length;
  const s2 = (l2Sq: number) => l2Sq / (2 * rhoBlock);
  return { evalN: s2(1), evalCorrect: s2(1), rocPos: s2(thresholds), rocNeg: s2(rocNegRowsPerRow(curves) * thresholds) };
}

/** In how many ROC curves one test row is a negative: K − 1 of K one-vs-rest curves, or the one binary curve. */
export const rocNegRowsPerRow = (curves: number): number => Math.max(1, curves - 1);

/** The privacy block of a local-steps DP result: exactly what the agents and the account did. */
export function localDpPrivacy(job: KindJobCommon, p: TrainDpPrivacy, rounds: number, expectedBatch: number, thresholds: number, history: readonly RoundRecord[], curves = 1): Record<string, unknown> {
  const a = localDpAccount(p, rounds);
  const s2 = evalNoiseSigma2(a, thresholds, curves);
  return {
    mode: p.mode,
    secure: job.secure,
    unit: 'person at a site',
    level: `record level: every example's gradient clipped to L2 ${p.clip}; one row per person per site, at most ${a.sites} site(s)`,
    mechanism: `local DP-SGD at each agent: ${a.stepsPerRound} steps per round on Poisson-sampled batches (rate ${a.q.toPrecision(4)}, CSPRNG), discrete Gaussian noise of multiplier ${a.noiseMultiplier.toPrecision(4)} on each step's clipped-gradient sum, divided by the public expected batch ${expectedBatch}; agents' deltas averaged uniformly; the final model scored on test counts noised at each agent`,
    accountant: 'Rényi DP of the sampled Gaussian (Mironov, Talwar & Zhang 2019, integer orders) over steps × rounds × sites, plus the evaluation\'s zCDP, converted by Canonne–Kamath–Steinke 2020',
    epsilon: p.epsilon,
    epsilonAccounted: a.epsilon,
    rdpOrder: a.order,
    delta: a.delta,
    rho: a.rho,
    rhoNote: 'the unamplified zCDP bound the ledger records next to (ε, δ)',
    rounds: a.rounds,
    stepsPerRound: a.stepsPerRound,
    sampleRate: a.q,
    noiseMultiplier: a.noiseMultiplier,
    clip: p.clip,
    stepNoiseStd: a.noiseMultiplier * p.clip,
    evalRho: a.evalRho,
    evalNoiseStdPerAgent: { counts: Math.sqrt(s2.evalN), roc: Math.sqrt(s2.rocPos), ...(curves > 1 ? { rocNeg: Math.sqrt(s2.rocNeg) } : {}) },
    amplification: 'by Poisson sampling of rows within each agent (the agent samples with its own CSPRNG; the coordinator cannot steer it); none from agent sampling',
    roundsRun: history.length,
  };
}

/** The result note of a local-steps DP job. */
export function localDpNote(p: TrainDpPrivacy): string {
  return `${p.mode}, local DP-SGD: each agent ran ${p.localSteps ?? 1} noisy steps per round on Poisson-sampled batches (rate ${p.sampleRate ?? 1}), every example's gradient clipped to L2 ${p.clip}; the agents' deltas are averaged uniformly; the final model alone is scored on the test rows, from counts noised at each agent (accuracy, AUC); losses are not released`;
}
