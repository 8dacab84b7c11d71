/** Survival analysis from per-time-bin counts that add up across agents: Kaplan–Meier and the log-rank test. */
export { prepareStratum, sumStratumCounts, validateStratumCounts, nonIncreasingProjection } from './counts.js';
export type { StratumCounts, CountPostProcessingOptions, PreparedStratum } from './counts.js';
export { kaplanMeier } from './kaplan-meier.js';
export type { KaplanMeierCurve, KaplanMeierOptions, MedianSurvival } from './kaplan-meier.js';
export { logRankTest } from './log-rank.js';
export type { LogRankResult } from './log-rank.js';
