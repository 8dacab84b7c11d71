import type { PrivacyCost } from '../accounting/privacy-cost.js';

/**
 * The privacy parameter of one release. `{ rho }` selects the discrete Gaussian (ρ-zCDP); `{ epsilon }` selects the
 * discrete Laplace (pure ε-DP). For an (ε, δ) target with the Gaussian, convert first with `rhoForEpsilonDelta`.
 */
export type DpBudget = { readonly rho: number; readonly epsilon?: undefined } | { readonly epsilon: number; readonly rho?: undefined };

/** JSON-friendly description of the integer noise that was added. */
export interface NoiseInfo {
  readonly distribution: 'discrete-gaussian' | 'discrete-laplace';
  /** σ² (discrete Gaussian) or the scale t (discrete Laplace), in grid units, after rounding up. */
  readonly parameter: number;
  /** Sensitivity in grid units that the noise was calibrated to: L2 for the Gaussian, L1 for the Laplace. */
  readonly sensitivity: number;
  /** Standard deviation of the noise in grid units. */
  readonly std: number;
}

/**
 * One released number. Neighbouring relation everywhere: add or remove one person (privacy unit) with up to the
 * declared number of rows.
 */
export interface NoisyRelease {
  /** The released value (after the post-processing listed in `postProcessing`). */
  readonly value: number;
  /** Standard deviation of the noise in the value (real units); approximate where `postProcessing` says so. */
  readonly std: number;
  /** 95% interval from the known noise distribution: contains the true value with probability ≥ 95%. */
  readonly ci95: [number, number];
  /** Grid size the value is an exact multiple of (absent for integer counts). */
  readonly grid?: number;
  /** zCDP cost of this release (for pure-ε mechanisms, ε²/2). */
  readonly rho: number;
  /** Full cost (see PrivacyCost). */
  readonly cost: PrivacyCost;
  readonly noise: NoiseInfo;
  /** Plain-language statements of any post-processing applied to the noisy value. */
  readonly postProcessing: readonly string[];
}
