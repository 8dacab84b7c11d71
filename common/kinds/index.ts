/**
 * The job-kind seam (issue 9): a kind is parse → compile (pure, hashed) → per-round layout of statistics and public
 * input → release → view; privacy modes and secure sums act on the statistics vector whatever the kind. The
 * coordinator's round runner (coordinator/rounds) and the agent's task runner (node-agent/tasks) know no kind.
 */
export * from './stat-layout.js';
export * from './kind.js';
export * from './compiled-job.js';
export * from './registry.js';
export * from './task-payload.js';
export * from './privacy-modes.js';
export { defaultToleratedAgents, toleratedAgents } from './agent-noise-modes.js';
export { NO_NOISE, jobRho, sitesOf, kindPrivacyOf, statedCost } from './noise-calibration.js';
export * from './secure-vector.js';
export * from './secure-sum.js';
export * from './selection.js';
export * from './kind-noise-plan.js';
export * from './cell-secure-statement.js';
export * from './cell-dp.js';
export * from './cell-release.js';
export { agentBlockSlices } from './per-agent.js';
export { kindJobPublicFields } from './public-fields.js';
