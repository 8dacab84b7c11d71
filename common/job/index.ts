/**
 * The public face of common/job: the job spec and its parser, the privacy plans of the built-in kinds, the cell kinds' summaries, purposes, populations and linkage. Outside this folder import from here, not from its modules.
 */
export * from './budget.js';
export * from './cell-limits.js';
export * from './cell-privacy.js';
export * from './cell-summary.js';
export * from './cohort-jobs.js';
export * from './concept-names.js';
export * from './contingency-suppression.js';
export * from './contingency-values.js';
export * from './cox-spec.js';
export * from './domain-policy.js';
export * from './filter.js';
export * from './group-keys.js';
export * from './group-limits.js';
export * from './groupable.js';
export * from './guarantee.js';
export * from './linkage.js';
export * from './noisy-moments.js';
export * from './partial.js';
export * from './population.js';
export * from './privacy-limits.js';
export * from './privacy-plan.js';
export * from './product-rules.js';
export * from './purpose.js';
export * from './schema-check.js';
export * from './spec-hash.js';
export * from './spec.js';
export * from './survival-summary.js';
export * from './validate.js';
