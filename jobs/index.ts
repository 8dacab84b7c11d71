/**
 * Job kinds built on the kind seam (common/kinds). Each kind is a folder under jobs/ (spec, coordinator-side
 * KindDef, agent-side localStep, view); jobs/kinds.ts and jobs/agent-kinds.ts list them (one line per kind), so
 * adding a kind is a folder plus those lines. This barrel is a check:cycles entry point covering every kind.
 */
export { KINDS } from './kinds.js';
export { AGENT_KINDS } from './agent-kinds.js';
