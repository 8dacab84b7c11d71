/**
 * Generalised linear models by Fisher scoring over additive per-round statistics (pure): families, the local
 * step, the coordinator's solve and stop test, R's summary, the pooled reference fit and the DP sensitivity.
 */
export { GLM_FAMILIES, GLM_LINKS, CANONICAL_LINK, DBL_EPSILON, glmFamily } from './family.js';
export type { GlmFamily, GlmFamilyName, GlmLinkName } from './family.js';
export { checkDesign, columnMoments, sliceDesign, standardiseColumn } from './design.js';
export type { GlmDesign } from './design.js';
export { glmLocalStats, addLocalStats, emptyLocalStats, packedIndex, packedLength } from './local-stats.js';
export { startGlmLocalPass, startGlmStreamPass } from './local-stats.js';
export type { GlmLocalStats, GlmRoundInput, GlmLocalOptions, GlmLocalPass, GlmStreamPass, GlmWeightSpread } from './local-stats.js';
export { defaultChunkRows, glmLocalStatsChunked } from './local-stats-chunked.js';
export type { GlmChunkOptions } from './local-stats-chunked.js';
export { GLM_SCALAR_BLOCKS, glmStatLayout, glmStatLength, glmStatsToVector, glmStatsFromVector } from './layout.js';
export type { GlmBlock, GlmBlockName, GlmScalarBlock } from './layout.js';
export { ALIASED_TOLERANCE, GlmSingularDesignError, choleskyPacked, choleskySolve, choleskyInverse, solveStep, devianceConverged } from './solve.js';
export { DEFAULT_GLM_EPSILON, DEFAULT_GLM_MAX_ITERATIONS, advanceGlmFit, maxGlmRounds, startGlmFit } from './fit.js';
export type { GlmAdvance, GlmFitOptions, GlmFitState } from './fit.js';
export { glmAic, glmSummary } from './summary.js';
export type { GlmCoefficient, GlmSummary } from './summary.js';
export { fitPooled } from './pooled.js';
export type { PooledFit } from './pooled.js';
export { BINOMIAL_ETA_CLAMP, defaultEtaClamp, glmRoundSensitivity } from './sensitivity.js';
export type { BlockSensitivity, GlmSensitivity, GlmSensitivityOptions } from './sensitivity.js';
export { glmCoefficientNoiseStd, makePositiveDefinite } from './noisy.js';
export type { PositiveDefiniteResult } from './noisy.js';
