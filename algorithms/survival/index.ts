/** Survival analysis from per-time-bin counts that add up across agents: Kaplan–Meier and the log-rank test. */
export { prepareStratum, sumStratumCounts, validateStratumCounts, nonIncreasingProjection } from './counts.js';
export type { StratumCounts, CountPostProcessingOptions, PreparedStratum } from './counts.js';
export { kaplanMeier } from './kaplan-meier.js';
export type { KaplanMeierCurve, KaplanMeierOptions, MedianSurvival } from './kaplan-meier.js';
export { logRankTest } from './log-rank.js';
export type { LogRankResult } from './log-rank.js';
export { addCoxPersons, addCoxStats, binOf, checkCoxLayout, coxLocalStats, createCoxStatsAccumulator, emptyCoxStats, finishCoxStats, packedIndex, packedSize } from './cox-stats.js';
export type { CoxLayout, CoxPersons, CoxStats, CoxStatsAccumulator } from './cox-stats.js';
export { coxEvaluate, coxNewtonStep, coxStart, coxVariance, coxWaldStatistic } from './cox.js';
export type { CoxEvaluation, CoxFitState, CoxFitStatus, CoxIterationOptions } from './cox.js';
export { coxSummary, fitCoxPooled } from './cox-summary.js';
export type { ChiSquareTest, CoxCoefficient, CoxSummary } from './cox-summary.js';
export { coxBinViolation, mergeSmallBins, mergeSmallBinsByFlags } from './cox-bins.js';
export type { BinFlags, MergedBins, ReleasedBinCounts } from './cox-bins.js';
