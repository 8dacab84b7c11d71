/**
 * `privacy` of a train job (pure): mode none, or record-level DP training — full-batch DP-SGD across the mesh
 * (DP-FedSGD). Each round every agent sums its rows' per-example gradients, each clipped to the public L2 norm
 * `privacy.clip` (algorithms/fl/dp-grad.ts), and the sums are released with discrete Gaussian noise by the
 * kind-agnostic modes: central-dp (at the coordinator) or distributed-dp (shares at the agents under secagg).
 *
 * The unit protected is a **person at a site** with at most `maxRowsPerPerson` (k) rows there and at most
 * `maxSitesPerPerson` (m) sites: one person moves the gradient sum by ≤ k·m·C in L2. Not a site: clipping a site's
 * whole update would protect the site, and with a handful of sites that noise swamps any model (refused).
 *
 * ```json
 * "privacy": {"mode": "central-dp", "epsilon": 8, "delta": 1e-5, "clip": 1, "maxRowsPerPerson": 1}
 * ```
 */
import { invalidJob, quote } from '../../common/errors.js';
import { isObj, onlyKeys, parsePrivacy } from '../../common/job/index.js';
import { MAX_NOISE_MULTIPLIER, planDpTraining } from '../../algorithms/fl/dp-accounting.js';
import { isLocalDp, localDpAccount, MAX_LOCAL_DP_STEPS, MAX_LOCAL_STEPS, type TrainDpPrivacy } from './privacy-local.js';

export type { TrainDpPrivacy } from './privacy-local.js';
export type TrainPrivacy = { readonly mode: 'none' } | TrainDpPrivacy;

/** Share of each training round's ρ spent on the gradient sum; the rest goes to the noisy train-row count (privacy.ts). */
export const GRADIENT_RHO_SHARE = 7 / 8;
/** δ of a job stated by ρ alone, for its stated ε (the project's default job δ). */
const RHO_ONLY_DELTA = 1e-6;

export const isDpTraining = (p: TrainPrivacy): p is TrainDpPrivacy => p.mode !== 'none';

/** Parses `privacy` of a train spec. @throws FedmeshError INVALID_JOB naming the field */
export function parseTrainPrivacy(raw: unknown): TrainPrivacy {
  if (raw === undefined) return Object.freeze({ mode: 'none' });
  if (!isObj(raw)) throw invalidJob('privacy', 'must be {"mode": "none"} or {"mode": "central-dp" | "distributed-dp", "epsilon", "delta", "clip", …}');
  if (raw.unit !== undefined) {
    // Site-level (user-level) DP-FedAvg clips and noises each site's whole update; over the handful of hospitals of a
    // cross-silo mesh that noise swamps any model (Flower's adaptive clipping refuses so few clients, and McMahan et
    // al. 2018 needed thousands of users), so it is refused with the reason rather than offered.
    if (raw.unit === 'site') throw invalidJob('privacy.unit', 'site-level DP (each hospital\'s whole update clipped and noised) is not offered: with a few sites the noise needed to hide a whole site swamps any model (user-level DP-FedAvg needs thousands of participants); train protects each person at record level — leave privacy.unit out');
    if (raw.unit !== 'record') throw invalidJob('privacy.unit', `must be "record" (the only level offered; "site" is refused with its reason); got ${quote(raw.unit)}`);
  }
  if (raw.mode === 'none') {
    onlyKeys(raw, ['mode', 'unit'], 'privacy');
    return Object.freeze({ mode: 'none' });
  }
  if (raw.mode === 'local-dp') throw invalidJob('privacy.mode', 'local-dp training is not offered: every agent would add the whole noise to its own gradients, n times the variance of central-dp; use distributed-dp (shares under secagg) to trust no single party');
  if (raw.mode !== 'central-dp' && raw.mode !== 'distributed-dp') throw invalidJob('privacy.mode', `must be one of none, central-dp, distributed-dp; got ${quote(raw.mode)}`);
  const { clip, localSteps, sampleRate, unit: _unit, ...rest } = raw;
  // privacy.linkage: the agents' person scope keeps each person at one site (node-agent/linkage/linkage-scope.ts).
  const p = parsePrivacy(rest, 'privacy', { linkage: true });
  if (typeof clip !== 'number' || !Number.isFinite(clip) || !(clip > 0) || clip > 1e6) throw invalidJob('privacy.clip', `must be the public L2 norm every example's gradient is clipped to, a number in (0, 1e6]; got ${quote(clip)}`);
  const local: { localSteps?: number; sampleRate?: number } = {};
  if (localSteps !== undefined) {
    if (typeof localSteps !== 'number' || !Number.isInteger(localSteps) || localSteps < 1 || localSteps > MAX_LOCAL_STEPS) throw invalidJob('privacy.localSteps', `must be an integer from 1 to ${MAX_LOCAL_STEPS} (DP-SGD steps per round at each agent); got ${quote(localSteps)}`);
    local.localSteps = localSteps;
  }
  if (sampleRate !== undefined) {
    if (typeof sampleRate !== 'number' || !Number.isFinite(sampleRate) || !(sampleRate >= 1e-6 && sampleRate <= 1)) throw invalidJob('privacy.sampleRate', `must be a number in [1e-6, 1] (each row's Poisson sampling probability per step); got ${quote(sampleRate)}`);
    local.sampleRate = sampleRate;
  }
  return Object.freeze({ ...p, mode: raw.mode, clip, ...local });
}

/** The fields of a train spec that DP training constrains (structural, so that this file needs no spec import). */
interface DpCheckedSpec {
  readonly loss: string;
  readonly labelBounds?: readonly [number, number];
  readonly model: { readonly layers: readonly { readonly dropout: number }[] };
  readonly training: { readonly rounds: number; readonly localEpochs: number; readonly optimizer: string; readonly momentum: number; readonly batchSize: number };
  readonly strategy: { readonly name: string };
  readonly secure?: string;
}

/** The account of a DP training job: rounds + 1 charged (the training rounds and the final evaluation). */
export function trainAccount(p: TrainDpPrivacy, rounds: number): ReturnType<typeof planDpTraining> {
  const delta = p.delta ?? RHO_ONLY_DELTA;
  return planDpTraining(p.rho !== undefined ? { rho: p.rho, delta } : { epsilon: p.epsilon!, delta }, rounds + 1, GRADIENT_RHO_SHARE);
}

/**
 * What DP training needs of the rest of the spec, checked at submission (before anything is charged).
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function checkDpTraining(spec: DpCheckedSpec, p: TrainDpPrivacy): void {
  const local = isLocalDp(p);
  if (spec.loss === 'mse') {
    // The gradient is clipped per example whatever the loss; the released test loss needs a bounded row: clamped
    // prediction and label, each test row's squared error ≤ (hi − lo)².
    if (!spec.labelBounds) throw invalidJob('label.bounds', 'DP training with loss mse needs public label bounds, {"column": …, "bounds": [lo, hi]}: each test row\'s prediction and label are clamped to them so its squared error, released with noise, is bounded');
  } else if (spec.loss !== 'binary-crossentropy' && spec.loss !== 'categorical-crossentropy') {
    throw invalidJob('loss', 'DP training supports binary-crossentropy, categorical-crossentropy and mse');
  }
  if (spec.strategy.name === 'scaffold' || spec.strategy.name === 'fedprox') throw invalidJob('strategy.name', `${spec.strategy.name} is not offered in DP training (use fedavg, or fedadam/fedyogi/fedadagrad for an adaptive server step on the noisy updates)`);
  if (spec.training.localEpochs !== 1) throw invalidJob('training.localEpochs', local ? 'must be 1 in DP training: the local work is privacy.localSteps DP-SGD steps per round' : 'must be 1 in DP training: each round is one step on the noisy sum of per-example clipped gradients');
  // Local steps: momentum and Adam act on the noisy gradients at the agent (post-processing, dp-sgd.ts).
  if (!local && (spec.training.optimizer !== 'sgd' || spec.training.momentum !== 0)) throw invalidJob('training.optimizer', 'must be sgd without momentum in one-step DP training (the step is the server\'s: use strategy fedadam for Adam on the noisy gradients, or privacy.localSteps for momentum or Adam at the agents)');
  spec.model.layers.forEach((l, i) => {
    if (l.dropout > 0) throw invalidJob(`model.layers[${i}].dropout`, 'must be 0 in DP training (per-example gradients are taken without dropout)');
  });
  if (p.mode === 'distributed-dp' && spec.secure !== 'secagg') throw invalidJob('secure', 'distributed-dp needs "secure": "secagg": the agents\' noise shares only protect a sum the coordinator cannot take apart');
  if (local) {
    // Group privacy under Poisson subsampling is not what the sampled-Gaussian account covers: one row per person.
    if ((p.maxRowsPerPerson ?? 1) !== 1) throw invalidJob('privacy.maxRowsPerPerson', 'must be 1 in DP training with local steps (the sampled-Gaussian account covers one row per person per site)');
    if (spec.training.rounds * (p.localSteps ?? 1) > MAX_LOCAL_DP_STEPS) throw invalidJob('privacy.localSteps', `training.rounds × privacy.localSteps must be at most ${MAX_LOCAL_DP_STEPS}`);
    localDpAccount(p, spec.training.rounds);
    return;
  }
  const a = trainAccount(p, spec.training.rounds);
  if (a.noiseMultiplier > MAX_NOISE_MULTIPLIER) {
    throw invalidJob(p.rho !== undefined ? 'privacy.rho' : 'privacy.epsilon', `is too small for ${spec.training.rounds} rounds: each round's gradient noise would be ${a.noiseMultiplier.toFixed(0)} × the clip (at most ${MAX_NOISE_MULTIPLIER}); raise it or lower training.rounds`);
  }
}
