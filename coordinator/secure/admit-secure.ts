import type { PrivacyCost } from '../../algorithms/dp/index.js';
import { parseHePlan, type HePlan } from '../../algorithms/he/index.js';
import { invalidJob } from '../../common/errors.js';
import { checkAttested } from '../admission/attested.js';
import { ruleNamesFor } from '../../common/job/index.js';
import type { AggregateJob, CellJob, JobSpec } from '../../common/job/index.js';
import {
  checkHePlanFits,
  heRingForPlan,
  planSecureAggregate,
  planSecureCells,
  secAggLimbRing,
  settleSecureMaxRows,
  type LimbRing,
  type SecureCellPlan,
  type SecureJobPlan,
} from '../../common/secure/index.js';
import type { AgentView } from '../agent-registry.js';

export interface SecureAdmission {
  /** Participants in the agreed (name) order. */
  agents: AgentView[];
  /** Aggregate jobs: the vector of statistics per public group. */
  plan?: SecureJobPlan;
  /** Cohort-level jobs: the vector of public cells. */
  cells?: SecureCellPlan;
  vectorLength: number;
  /** Shamir threshold t (SecAgg) and the fewest contributors of any secure job. */
  threshold: number;
  requiredContributors: number;
  /** What the ledger reserves: the distributed-dp charge for n − tolerated honest shares; undefined in mode none. */
  cost: PrivacyCost | undefined;
  hePlan?: HePlan;
}

/**
 * Admission of a secure job (aggregate or cohort-level): public layout, threshold, ring and (distributed-dp) noise
 * plan, all from public information, before anything is stored or charged.
 * @throws FedmeshError INVALID_JOB naming the field, FAILED_PRECONDITION when the mesh cannot run it securely
 */
export function admitSecure(spec: JobSpec, candidates: readonly AgentView[]): SecureAdmission {
  const agents = [...candidates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = agents.length;
  let hePlan: HePlan | undefined;
  if (spec.secure === 'he') {
    if (!spec.he) throw invalidJob('he', "an HE job carries the researcher's BFV plan and public key: submit it with the fedmesh client (it makes the key pair)");
    try {
      hePlan = parseHePlan(spec.he.plan);
    } catch (e) {
      throw invalidJob('he.plan', (e as Error).message);
    }
  }
  const ring: LimbRing = hePlan ? heRingForPlan(hePlan) : secAggLimbRing(n);
  // The per-agent clip bound must be one every agent published it accepts; in mode none it is the one value the
  // agents publish, filled into the stored spec (agents verify it): decided from public information only.
  settleSecureMaxRows(spec, agents.map((a) => ({ name: a.name, secureMaxRows: a.policy.secureMaxRows, minCellSize: a.policy.minCellSize })));
  let admission: SecureAdmission;
  if (spec.kind === 'aggregate') {
    const plan = planAggregateFor(spec, agents, n, ring);
    admission = { agents, plan, vectorLength: plan.layout.vectorLength, threshold: plan.threshold, requiredContributors: plan.requiredContributors, cost: plan.noise?.cost };
  } else {
    const cells = planSecureCells(spec as CellJob, ruleNamesFor(spec), n, ring);
    admission = { agents, cells, vectorLength: cells.vectorLength, threshold: cells.threshold, requiredContributors: cells.requiredContributors, cost: cells.noise?.cost };
  }
  if (hePlan) {
    checkHePlanFits(hePlan, admission, n);
    if (Buffer.from(spec.he!.publicKey, 'base64').length !== hePlan.publicKeyByteSize) throw invalidJob('he.publicKey', `must be ${hePlan.publicKeyByteSize} bytes for this plan`);
    admission.hePlan = hePlan;
  }
  checkAttested(spec.secure!, agents);
  return admission;
}

function planAggregateFor(spec: AggregateJob, agents: readonly AgentView[], n: number, ring: LimbRing): SecureJobPlan {
  const product = agents[0]!.products.find((p) => p.name === spec.product)!;
  const typeOf = (c: string): string => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR';
  return planSecureAggregate(spec, typeOf, n, ring);
}

/** Deadline of one protocol round: its share of the job time left (the first round, which runs the query, gets two shares). */
export function roundDeadline(jobDeadlineMs: number, weights: readonly number[], index: number): number {
  const now = Date.now();
  const left = Math.max(0, jobDeadlineMs - now);
  const rest = weights.slice(index).reduce((a, b) => a + b, 0);
  return Math.min(jobDeadlineMs, now + Math.ceil((left * weights[index]!) / rest));
}
