/**
 * DP training with local steps (pure): `"privacy": {…, "localSteps": S, "sampleRate": q}` with S > 1 or q < 1.
 * Each agent runs S steps of DP-SGD per round on its own rows (algorithms/fl/dp-sgd.ts): Poisson-sampled batches
 * at rate q from the CSPRNG, every example's gradient clipped to L2 ≤ C = `privacy.clip`, discrete Gaussian noise
 * of multiplier z on each step's sum at the agent, division by the public expected batch B = `training.batchSize`.
 * It returns its model delta (clipped to `update.clip`, on the update grid) with weight 1: the round averages the
 * agents' deltas uniformly (example weights would need each site's private row count) and hands the mean to the
 * strategy. The final round scores the final (released) model on the agents' test rows: exact counts whose sums
 * the job's mode noises once (localDpLayout), so the released accuracy and AUC are those of the released weights.
 *
 * The noise of the updates is at the agent in every step, so the coordinator (plain sums or not) sees only DP
 * updates: the trust is that of local DP, at the record level; the mode adds nothing to them (`agentNoised`). The
 * evaluation counts are trusted like any DP job's statistics under the mode: central-dp's coordinator sees each
 * agent's exact counts under plain sums (use secagg or distributed-dp not to trust it).
 *
 * **Account**, before round 0, from public parameters only: a person (one row, `maxRowsPerPerson` must be 1) at up
 * to m = `maxSitesPerPerson` sites is in m sampled-Gaussian runs of R·S steps; the final evaluation gets ρ_ε/(R + 1)
 * of zCDP (ρ_ε: the largest ρ within the stated (ε, δ) — the share the one-step path gives it; the mode scales the
 * sensitivity by m). RDP(α) = m·R·S·RDP_SGM(q, z, α) + α·ρ_eval, converted by CKS 2020 (sgm-calibration.ts); z is
 * the smallest noise multiplier that keeps it within the stated ε. What the ledger records: the stated (ε, δ), and
 * as the zCDP statement the unamplified ρ = m·R·S/(2z²) + ρ_eval (a sampled step is never worse than an unsampled
 * one), which stays true when the ledger composes jobs in ρ.
 */
import { noiseMultiplierForEpsilon, poissonThreshold32, rhoForEpsilonDelta, subsampledGaussianEpsilon } from '../../algorithms/dp/index.js';
import { kindPrivacyOf, type KindJobCommon, type RoundRecord, type StatBlock, type StatLayout } from '../../common/kinds/index.js';
import { invalidJob } from '../../common/errors.js';
import type { PrivacySpec } from '../../common/job/index.js';

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
  /** zCDP ρ of the final evaluation per person. */
  readonly evalRho: number;
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
/** The grid of a released squared-error sum (2^-10: far below its noise, whose SD is at least (hi − lo)²·z). */
const LOSS_GRID = -10;

/** The public facts of the plan the local layout needs (structural). */
interface LocalLayoutFacts {
  readonly parameters: number;
  readonly thresholds: number;
  /** ROC curves per histogram block (K one-vs-rest curves for a categorical label, else 1). */
  readonly curves: number;
  readonly rounds: number;
  /** mse: (hi − lo)² of the label bounds (a test row's clamped squared error at most); absent for classes. */
  readonly sqErrBound?: number;
}

/** In how many ROC curves one test row is a negative: K − 1 of K one-vs-rest curves, or the one binary curve. */
export const rocNegRowsPerRow = (curves: number): number => Math.max(1, curves - 1);

/** ρ shares of the final evaluation's four noisy blocks (evalN, evalCorrect, rocPos, rocNeg): a quarter each. */
export const EVAL_BLOCKS = ['evalN', 'evalCorrect', 'rocPos', 'rocNeg'] as const;

/**
 * The share of the evaluation round's ρ (the mode gives each round ρ_job/(R + 1)) that a public zero block `evalPad`
 * takes so that the four evaluation blocks get exactly the account's ρ_eval: ρ_job/(R + 1) − ρ_eval of it, relative
 * to the evaluation's 1. 0 when the round's even share is below ρ_eval: the evaluation then gets less ρ than
 * accounted (more noise), never more.
 */
export function evalPadShare(a: LocalDpAccount): number {
  const perRound = a.rho / (a.rounds + 1);
  return perRound > a.evalRho * (1 + 1e-9) ? perRound / a.evalRho - 1 : 0;
}

/**
 * Blocks of a local-steps round. Training rounds: the update and its weight of 1 are noised at the agent
 * (`agentNoised`: the mode adds nothing), the rest public zeros. The final round: the agents send exact test counts
 * of the released model and the **mode** noises their sums — central-dp once at the coordinator, distributed-dp by
 * shares under secagg — at L2 sensitivities 1, 1, √T and √((K−1)·T) (one row per person per site), with the account's
 * ρ_eval split in quarters (`evalPad` takes the rest of the round's even share, see evalPadShare). One noise draw on
 * the sum instead of one per agent: n times less variance than noising at each agent, for the same ρ.
 */
export function localDpLayout(p: TrainDpPrivacy, update: { readonly clip: number; readonly gridExponent: number; readonly maxExamples: number }, facts: LocalLayoutFacts, phase: 'train' | 'eval'): StatLayout {
  const n = update.maxExamples;
  const train = phase === 'train';
  const T = facts.thresholds;
  const rocLength = facts.curves * T;
  const b = (name: string, length: number, lo: number, hi: number, gridExponent: number, agentNoised = false): StatBlock => ({ name, length, perAgent: { lo, hi }, sensitivity: { l1: 0, l2Sq: 0 }, gridExponent, release: 'additive', ...(agentNoised ? { agentNoised } : {}) });
  // mse: the test count and the clamped squared errors, half of ρ_eval each; classes: counts and ROC, a quarter each.
  const B = facts.sqErrBound;
  const share = 1 / (B === undefined ? EVAL_BLOCKS.length : 2);
  const ev = (name: string, length: number, l2Sq: number, counts = true): StatBlock =>
    train ? b(name, length, 0, n, 0) : { name, length, perAgent: { lo: 0, hi: counts ? n : n * B! }, sensitivity: { l1: Math.sqrt(l2Sq * length), l2Sq }, gridExponent: counts ? 0 : LOSS_GRID, ...(counts ? { exactOnGrid: true } : {}), release: 'additive', rhoShare: share };
  const cls = (name: string, length: number, l2Sq: number): StatBlock => (B === undefined ? ev(name, length, l2Sq) : b(name, length, 0, n, 0));
  const pad = train ? 0 : evalPadShare(localDpAccount(p, facts.rounds));
  return {
    blocks: [
      b('delta', facts.parameters, -update.clip, update.clip, update.gridExponent, train),
      b('weight', 1, 0, 1, 0, train),
      b('trainLoss', 1, 0, MAX_LOSS_SUM, -20),
      b('trainN', 1, 0, n, 0),
      ev('evalN', 1, 1),
      B === undefined ? b('evalLoss', 1, 0, MAX_LOSS_SUM, -20) : ev('evalLoss', 1, B * B, false),
      cls('evalCorrect', 1, 1),
      cls('rocPos', rocLength, T),
      cls('rocNeg', rocLength, rocNegRowsPerRow(facts.curves) * T),
      // A public zero: noised only to take the round's ρ beyond ρ_eval (evalPadShare); it carries nothing.
      pad > 0 ? { name: 'evalPad', length: 1, perAgent: { lo: 0, hi: 1 }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, exactOnGrid: true, release: 'additive', rhoShare: pad } : b('evalPad', 1, 0, 1, 0),
    ],
  };
}

/** The privacy block of a local-steps DP result: exactly what the agents and the account did. */
export function localDpPrivacy(job: KindJobCommon, p: TrainDpPrivacy, training: { readonly rounds: number; readonly batchSize: number; readonly optimizer: string; readonly momentum: number }, layout: StatLayout, history: readonly RoundRecord[]): Record<string, unknown> {
  const { rounds, batchSize: expectedBatch } = training;
  const a = localDpAccount(p, rounds);
  const last = history.at(-1);
  const std = (name: string): number | undefined => (last ? last.noiseStd[layout.blocks.findIndex((blk) => blk.name === name)] : undefined);
  return {
    mode: p.mode,
    secure: job.secure,
    unit: 'person at a site',
    level: `record level: every example's gradient clipped to L2 ${p.clip}; one row per person per site, at most ${a.sites} site(s)`,
    mechanism: `local DP-SGD at each agent: ${a.stepsPerRound} steps per round on Poisson-sampled batches (rate ${a.q.toPrecision(4)}, CSPRNG), discrete Gaussian noise of multiplier ${a.noiseMultiplier.toPrecision(4)} on each step's clipped-gradient sum, divided by the public expected batch ${expectedBatch}, then a step of ${optimizerName(training)} on that noisy gradient (post-processing: the account does not depend on it); agents' deltas averaged uniformly; the final model scored on the agents' test counts, their sums noised by the mode (${p.mode === 'central-dp' ? 'at the coordinator' : 'shares at the agents under secagg'})`,
    accountant: 'Rényi DP of the sampled Gaussian (Mironov, Talwar & Zhang 2019, integer orders) over steps × rounds × sites, plus the evaluation\'s zCDP, converted by Canonne–Kamath–Steinke 2020',
    epsilon: p.epsilon,
    epsilonAccounted: a.epsilon,
    rdpOrder: a.order,
    delta: a.delta,
    rho: a.rho,
    rhoNote: 'the unamplified zCDP bound the ledger records next to (ε, δ)',
    rounds: a.rounds,
    stepsPerRound: a.stepsPerRound,
    optimizer: optimizerName(training),
    sampleRate: a.q,
    noiseMultiplier: a.noiseMultiplier,
    clip: p.clip,
    stepNoiseStd: a.noiseMultiplier * p.clip,
    evalRho: a.evalRho,
    evalNoiseStd: { counts: std('evalN'), ...(releasesLoss(layout) ? { squaredErrors: std('evalLoss') } : { rocPos: std('rocPos'), rocNeg: std('rocNeg') }) },
    amplification: 'by Poisson sampling of rows within each agent (the agent samples with its own CSPRNG; the coordinator cannot steer it); none from agent sampling',
    roundsRun: history.length,
  };
}

/** Whether a layout noises the test loss (mse's clamped squared errors) rather than accuracy and ROC. */
function releasesLoss(layout: StatLayout): boolean {
  const b = layout.blocks.find((x) => x.name === 'evalLoss');
  return b !== undefined && b.sensitivity !== 'exact-only' && b.sensitivity.l2Sq > 0;
}

/** The local optimiser as the privacy block names it. */
export function optimizerName(t: { readonly optimizer: string; readonly momentum: number }): string {
  if (t.optimizer === 'adam') return 'Adam (β1 0.9, β2 0.999, ε 1e-7)';
  return t.momentum > 0 ? `SGD with momentum ${t.momentum}` : 'SGD';
}

/** The result note of a local-steps DP job. */
export function localDpNote(p: TrainDpPrivacy): string {
  return `${p.mode}, local DP-SGD: each agent ran ${p.localSteps ?? 1} noisy steps per round on Poisson-sampled batches (rate ${p.sampleRate ?? 1}), every example's gradient clipped to L2 ${p.clip}; the agents' deltas are averaged uniformly; the final (released) model alone is scored on the test rows: the agents' exact counts, their sums noised once by the ${p.mode} mode within the job's ε (accuracy and AUC; for mse the test loss of squared errors clamped to the label bounds); training losses are not released`;
}
