import { admitLinkage } from '../linkage/admit-linkage.js';
import { applyPublicRules } from '../admission/public-rules.js';
import { checkQuorum } from '../admission/quorum.js';
import { checkResultSize } from '../admission/result-size.js';
import { settleSecureMaxRows } from '../../common/secure/index.js';
import { jobPopulations } from '../budget-populations.js';
import { oldKindPath } from '../jobs/old-kinds.js';
import type { PopulationTouch, JobSpec } from '../../common/job/index.js';
import type { AgentMember, AgentView } from '../agent-registry.js';
import type { MissingAgent } from '../job-record.js';

/** Who a ported built-in kind's job runs on, the populations it is charged to, and the agents left out. */
export interface BuiltInAdmission {
  agents: AgentView[];
  touched: PopulationTouch[];
  /** Members not live, agents whose catalogue cannot serve the job, agents whose published rules refuse it. */
  excluded: MissingAgent[];
}

/**
 * Admission of a registry kind whose spec is a built-in `JobSpec` (`KindDef.builtInSpec`: a ported built-in kind),
 * in the built-in order and with the built-in messages, so a port changes no refusal: quorum over the members that
 * serve it → the kind's catalogue check (columns, types, privacy unit; agents that cannot serve left out) → the
 * published policy and product manifests → linkage → result size → the populations charged. The mesh policy and
 * the charge follow in kind-jobs.ts, as for every registry kind.
 * @throws FedmeshError naming the field, before anything is charged
 */
export function admitBuiltInSpec(spec: JobSpec, members: readonly AgentMember[], connected: readonly AgentView[]): BuiltInAdmission {
  const notLive = checkQuorum(spec, members, connected);
  const admitted = oldKindPath(spec).admit(spec, connected);
  const allowed = applyPublicRules(spec, admitted.agents);
  // Secure sums: the per-agent bound is the agents' agreed one in mode none (an absent bound stands for it: kind-jobs.ts
  // fills it in, `settleBuiltInRowBound`), within every agent's maximum otherwise.
  if (spec.secure !== undefined) {
    settleSecureMaxRows({ privacy: spec.privacy, ...(spec.secureMaxRows !== undefined ? { secureMaxRows: spec.secureMaxRows } : {}) }, allowed.agents.map((a) => ({ name: a.name, secureMaxRows: a.policy.secureMaxRows, minCellSize: a.policy.minCellSize })));
  }
  admitLinkage(spec, allowed.agents);
  checkResultSize(spec, allowed.agents.length);
  return { agents: allowed.agents, touched: jobPopulations(spec, allowed.agents), excluded: [...notLive, ...admitted.excluded, ...allowed.excluded] };
}
