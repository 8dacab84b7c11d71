/**
 * Accounting of differentially private federated training (pure). Each round releases Gaussian-noised sums of
 * per-example clipped gradients (and noisy counts); round r is ρ_r-zCDP, and zCDP composes by adding ρ (Bun &
 * Steinke 2016, Lemma 2.3), so R rounds cost R·ρ_r in total. The total converts to (ε, δ) by the project's
 * conversion (algorithms/dp: the better of Canonne–Kamath–Steinke 2020 Cor. 13 and ρ + 2√(ρ ln 1/δ)).
 *
 * No amplification by subsampling is claimed: every training row is in every round's sum (full-batch DP-SGD,
 * sampling rate q = 1), and a coordinator that picks the participating agents could pick them to its liking, so
 * agent sampling would not amplify against it either (it would need sampling the coordinator cannot see or steer).
 */
import { composeRho, epsilonFromRho, rhoForEpsilonDelta } from '../dp/index.js';

/** A per-round noise multiplier z = σ/Δ above this is refused: the gradient signal of fewer than z persons per coordinate would drown. */
export const MAX_NOISE_MULTIPLIER = 100;

export interface DpTrainingAccount {
  /** Rounds charged (training rounds and the final evaluation round: each releases noisy sums). */
  readonly rounds: number;
  /** ρ of the whole job: rounds × rhoPerRound. */
  readonly rho: number;
  readonly rhoPerRound: number;
  /** ρ of the gradient block per round: rhoPerRound × gradientShare. */
  readonly gradientRhoPerRound: number;
  /** σ/Δ of the gradient sum's Gaussian: 1/√(2 ρ_gradient) (ρ = Δ²/(2σ²), Bun & Steinke 2016, Prop. 1.6). */
  readonly noiseMultiplier: number;
  /** (ε, δ) the job's ρ implies. */
  readonly epsilon: number;
  readonly delta: number;
}

/**
 * The account of a DP training job from public parameters, before round 0: either a target (ε, δ) — the job's ρ is
 * the largest whose conversion stays within it — or a ρ.
 * @param gradientShare fraction of each round's ρ spent on the gradient block (the rest on counts), in (0, 1]
 * @throws RangeError for parameters out of range
 */
export function planDpTraining(target: { epsilon: number; delta: number } | { rho: number; delta: number }, rounds: number, gradientShare: number): DpTrainingAccount {
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be an integer >= 1, got ${rounds}`);
  if (!(gradientShare > 0 && gradientShare <= 1)) throw new RangeError(`gradientShare must be in (0, 1], got ${gradientShare}`);
  const rho = 'rho' in target ? target.rho : rhoForEpsilonDelta(target.epsilon, target.delta);
  if (!(rho > 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number > 0, got ${rho}`);
  const rhoPerRound = rho / rounds;
  const gradientRhoPerRound = rhoPerRound * gradientShare;
  return {
    rounds,
    rho: composeRho(...Array.from({ length: rounds }, () => rhoPerRound)),
    rhoPerRound,
    gradientRhoPerRound,
    noiseMultiplier: 1 / Math.sqrt(2 * gradientRhoPerRound),
    epsilon: epsilonFromRho(rho, target.delta),
    delta: target.delta,
  };
}
