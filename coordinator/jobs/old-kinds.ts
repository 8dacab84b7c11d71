import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { AggregateJob, CellJob, JobKind, JobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import type { TaskOutcome } from '../dispatcher.js';
import { admitAggregate, combineAggregate, privacyPlanFor, type Admitted, type CombinedAggregate } from './aggregate-job.js';
import { admitCellJob } from './cell-job.js';
import { admitContingency } from './contingency-admission.js';
import { FedmeshError } from '../../common/errors.js';

/**
 * The coordinator's path for one of the five kinds that predate the kind seam (aggregate, cohort, characterize,
 * contingency, survival Kaplan–Meier): admission against the live catalog, the privacy cost charged up front, and
 * the one-round combine of the agents' replies. Registry kinds (jobs/<kind>, run by coordinator/rounds) never
 * come here.
 *
 * Why a table and not the seam yet: these kinds' results are pinned by test/golden bit for bit and draw for draw,
 * and three of their behaviours have no counterpart on the seam today (see jobs/README.md, "Porting the old
 * kinds"). Until they have, each old kind keeps its hand-wired path, reached only through this one lookup, so
 * the coordinator holds no `spec.kind === …` branch and a port replaces one entry here.
 */
export interface OldKindPath<S extends JobSpec = JobSpec> {
  /** Which connected agents run the job, and the ones left out with the reason. @throws FedmeshError naming the field */
  admit(spec: S, connected: readonly AgentView[]): Admitted;
  /** The privacy cost reserved before any agent computes (undefined: mode none). `agents` are the admitted ones. */
  cost(spec: S, agents: readonly AgentView[]): PrivacyCost | undefined;
  /** Combines the agents' one-round replies and releases the result. @throws FedmeshError QUORUM_NOT_MET and others */
  combine(spec: S, agents: readonly AgentView[], outcomes: readonly TaskOutcome[], rng: Rng): CombinedAggregate;
}

/**
 * Data-derived groups (mode none and central-dp with plain sums); public groups in none, local-dp and central-dp, and
 * none and distributed-dp with secagg, run on the kind seam (jobs/aggregate); HE on coordinator/secure.
 */
const AGGREGATE_PATH: OldKindPath<AggregateJob> = {
  admit: admitAggregate,
  // Every admitted agent plans from the same public spec; the column types only choose the fixed-point grid.
  cost: (spec, agents) => privacyPlanFor(spec, agents[0]!).dp?.cost,
  combine: combineAggregate,
};

/**
 * A kind ported to the kind seam (`KindDef.accepts` sends every spec there but HE ones, which the built-in secure path
 * runs, decrypted by the researcher's client). What stays is its catalogue admission, which the seam's admission of
 * the port and the built-in HE path both use; the one-round plain path is gone, and reaching it is a routing bug,
 * refused before anything is charged.
 * @param where the kind's folder(s), named in the refusal
 */
function ported(admit: OldKindPath<CellJob>['admit'], kinds: string, where: string): OldKindPath<CellJob> {
  const routingBug = (): never => {
    throw new FedmeshError('INTERNAL', `${kinds} jobs run on the kind seam (${where}); only secure he ones take the built-in path`);
  };
  return { admit, cost: routingBug, combine: routingBug };
}

const PORTED_CONTINGENCY = ported(admitContingency, 'contingency', 'jobs/contingency');
const PORTED_COHORT = ported(admitCellJob, 'cohort and characterize', 'jobs/cohort');
/** Cox specs are the registry kind survival-cox; Kaplan–Meier ones are jobs/survival-km. */
const PORTED_SURVIVAL = ported(admitCellJob, 'survival', 'jobs/survival-km');

const OLD_KINDS: Readonly<Record<JobKind, OldKindPath<never>>> = {
  aggregate: AGGREGATE_PATH,
  cohort: PORTED_COHORT,
  characterize: PORTED_COHORT,
  contingency: PORTED_CONTINGENCY,
  survival: PORTED_SURVIVAL,
};

/**
 * The path of a parsed old-kind spec. The spec's kind selects an entry whose functions take exactly that spec
 * shape (AggregateJob for aggregate, CellJob for the cell kinds), so the cast below is the table's invariant.
 */
export function oldKindPath(spec: JobSpec): OldKindPath {
  return OLD_KINDS[spec.kind] as OldKindPath;
}
