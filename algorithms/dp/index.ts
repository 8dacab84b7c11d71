/**
 * fedmesh differential privacy core: exact samplers (Canonne, Kamath, Steinke 2020) on BigInt rationals driven by an
 * injected Rng, power-of-two grids against floating-point attacks (Mironov 2012), mechanisms for the aggregate job,
 * zCDP / RDP accounting, and distributed noise shares. Pure: no I/O, no clock, no global randomness.
 */
export type { Rational } from './rational.js';
export { rational, rationalFromNumber, toRational, roundUpToSignificantBits } from './rational.js';
export { BufferedRng, createBufferedRng, asBufferedRng, DEFAULT_RANDOM_BUFFER_BYTES } from './random-source.js';

export { sampleBernoulli, sampleBernoulliExp } from './sampling/bernoulli.js';
export { createDiscreteLaplaceSampler, sampleDiscreteLaplace, type DiscreteLaplaceSampler } from './sampling/discrete-laplace.js';
export { createDiscreteGaussianSampler, sampleDiscreteGaussian, type DiscreteGaussianSampler } from './sampling/discrete-gaussian.js';

export {
  GRID_BITS_BELOW_NOISE,
  type Grid,
  gridOfExponent,
  gridForNoiseStd,
  snapToGrid,
  ceilToGrid,
  fromGrid,
  gridRange,
  clampAndSnap,
  rowBoundInGridUnits,
  sumOnGrid,
} from './grid.js';

export type { DpBudget, NoiseInfo, NoisyRelease } from './mechanisms/types.js';
export { NOISE_PARAMETER_BITS, calibrateNoise, splitBudget, type CalibratedNoise } from './mechanisms/noise.js';
export { releaseCount, type CountInput } from './mechanisms/count.js';
export { planBoundedSum, boundedSumAggregate, releaseBoundedSum, type BoundedSumOptions, type BoundedSumPlan } from './mechanisms/bounded-sum.js';
export {
  planMeanVariance,
  meanVarianceAggregate,
  releaseMeanVariance,
  type MeanVarianceOptions,
  type MeanVariancePlan,
  type MeanVarianceStatistics,
  type MeanVarianceRelease,
} from './mechanisms/mean-variance.js';
export { releaseHistogram, type HistogramInput, type HistogramRelease } from './mechanisms/histogram.js';
export {
  releaseQuantiles,
  quantileCandidates,
  quantileBuckets,
  quantileSelections,
  type QuantileInput,
  type QuantileResult,
  type QuantileRelease,
} from './mechanisms/quantile.js';
export {
  selectPartitions,
  type PartitionSelectionInput,
  type PartitionSelectionRelease,
  type SelectedPartition,
} from './mechanisms/partition-selection.js';

export {
  type PrivacyCost,
  ZERO_COST,
  costFromEpsilonDelta,
  costFromRho,
  addCosts,
  epsilonAtDelta,
  approximateZcdpCost,
} from './accounting/privacy-cost.js';
export {
  rhoDiscreteGaussian,
  rhoFromPureEpsilon,
  composeRho,
  epsilonFromRho,
  epsilonFromRhoSimple,
  deltaFromRho,
  rhoForEpsilonDelta,
} from './accounting/zcdp.js';
export { analyticGaussianDelta, analyticGaussianSigma, classicalGaussianSigma } from './accounting/analytic-gaussian.js';
export {
  DEFAULT_RDP_ORDERS,
  rdpGaussian,
  rdpPoissonSubsampledGaussian,
  epsilonFromRdp,
  createRdpAccountant,
  type RdpAccountant,
} from './accounting/rdp.js';
export { poissonThreshold32, subsampledGaussianEpsilon, noiseMultiplierForEpsilon, type SubsampledGaussianRun } from './accounting/sgm-calibration.js';
export { klsTau, rhoDistributedDiscreteGaussian } from './accounting/distributed-gaussian.js';

export {
  planDistributedNoise,
  sampleNoiseShare,
  sampleNoiseShares,
  type DistributedNoiseOptions,
  type DistributedNoisePlan,
} from './distributed.js';

export * as noiseDistribution from './analysis/noise-distribution.js';
/** The 1.96 of every 95% interval, defined once. */
export { Z_975 } from './analysis/special-functions.js';
