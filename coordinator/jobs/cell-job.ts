import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import type { CellJob } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { splitServeable, type Admitted } from './aggregate-job.js';

const OMOP_CORE = ['person', 'observation_period'];

export function ruleNamesOf(job: CellJob): string[] {
  return job.kind === 'cohort' ? parseCohortDefinition(job.definition).inclusionRules.map((r) => r.name) : [];
}

/** Columns cohort-level SQL reads from the OMOP core tables; an agent registering them without these cannot serve. */
const OMOP_CORE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  person: ['person_id', 'gender_concept_id', 'year_of_birth'],
  observation_period: ['person_id', 'observation_period_start_date', 'observation_period_end_date'],
};

/**
 * Which agents run a cohort-level job (cohort, characterize, survival; contingency: contingency-admission.ts),
 * checked against the live catalog. Agents whose registered schema cannot
 * serve it (missing tables or columns, wrong types) are left out and reported, unless the job names them.
 * @throws FedmeshError naming the field
 */
export function admitCellJob(job: CellJob, connected: readonly AgentView[]): Admitted {
  // A cox spec runs as the registry kind survival-cox; should one reach the cell-job path, it is refused before any
  // charge rather than run as a Kaplan–Meier job the researcher did not ask for.
  if (job.kind === 'survival' && job.cox) throw new FedmeshError('FAILED_PRECONDITION', 'model: "cox" survival jobs run as the registry kind survival-cox, not as a cell job', { field: 'model' });
  let candidates = connected.filter((a) => OMOP_CORE.every((t) => a.products.some((p) => p.name === t)));
  if (candidates.length === 0) throw new FedmeshError('INVALID_JOB', `kind: no connected agent has OMOP CDM tables (${OMOP_CORE.join(', ')}) for a ${job.kind} job`, { field: 'kind' });
  const check = (a: AgentView): void => {
    for (const [table, cols] of Object.entries(OMOP_CORE_COLUMNS)) {
      const p = a.products.find((x) => x.name === table)!;
      const lacking = cols.filter((c) => !p.columns.some((x) => x.name === c));
      if (lacking.length > 0) throw new FedmeshError('INVALID_JOB', `kind: OMOP table ${table} lacks ${lacking.join(', ')}, which a ${job.kind} job reads`, { field: 'kind' });
    }
  };
  if (job.agents) {
    for (const [i, name] of job.agents.entries()) {
      const a = candidates.find((x) => x.name === name);
      if (!a) throw new FedmeshError('INVALID_JOB', `agents[${i}]: agent ${name} is not connected or cannot run this job`, { field: `agents[${i}]` });
      try {
        check(a);
      } catch (e) {
        if (isFedmeshError(e)) throw new FedmeshError(e.code, `${e.message} (at agent ${a.name})`, { ...(e.field ? { field: e.field } : {}) });
        throw e;
      }
    }
    candidates = candidates.filter((a) => job.agents!.includes(a.name));
  }
  const admitted = splitServeable(candidates, check);
  candidates = admitted.agents;
  if (!candidates.some((a) => a.policy.allowModes.includes(job.privacy.mode))) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: no eligible agent allows mode ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  if (job.quorum !== undefined && job.quorum > candidates.length) {
    throw new FedmeshError('INVALID_JOB', `quorum: ${job.quorum} agents required but only ${candidates.length} can run this job`, { field: 'quorum' });
  }
  return admitted;
}
