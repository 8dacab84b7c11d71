export { STRATEGIES, checkStrategyConfig, initialServerState, isFedOpt, scaffoldClientControl, serverUpdate, type RoundAggregate, type ServerState, type StrategyConfig, type StrategyName } from './strategies.js';
export { participantCount, sampleParticipants } from './sampling.js';
export { clipL2, gridError, toGrid } from './fixed-point.js';
export { addToRocHistogram, aucFromRoc, cumulateFromTop, exactAuc, thresholdGrid } from './metrics.js';
export { denseShapes, glorotInit, seededPermutation, seededUniform } from './init.js';
export { clampedSquaredErrorSum } from './clamped-error.js';
