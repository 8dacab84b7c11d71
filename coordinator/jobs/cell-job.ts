import * as dp from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { decodeCells, type CellCounts } from '../../common/arrow/cells-codec.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { planCellPrivacy } from '../../common/job/cell-privacy.js';
import { describeGuarantee, summariseMechanisms } from '../../common/job/guarantee.js';
import { linkageGuarantee } from '../linkage/admit-linkage.js';
import { cellBlocks } from '../../common/job/cohort-jobs.js';
import { summariseCells, type ReleasedCell } from '../../common/job/cell-summary.js';
import { DEFAULT_JOB_DELTA, type CellJob } from '../../common/job/spec.js';
import type { AgentView } from '../agent-registry.js';
import type { TaskOutcome } from '../dispatcher.js';
import type { JobErrorInfo, JobResult } from '../job-record.js';
import { splitServeable, type Admitted, type CombinedAggregate } from './aggregate-job.js';

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

export function cellJobCost(job: CellJob): dp.PrivacyCost | undefined {
  return planCellPrivacy(job, cellBlocks(job, ruleNamesOf(job))).cost;
}

/** Combines per-agent cell counts and releases them by the job's mode; then builds the kind's summary. */
export function combineCellJob(job: CellJob, agents: readonly AgentView[], outcomes: readonly TaskOutcome[], rngIn: Rng): CombinedAggregate {
  const ruleNames = ruleNamesOf(job);
  const blocks = cellBlocks(job, ruleNames);
  const plan = planCellPrivacy(job, blocks);
  const expected = new Set(blocks.filter((b) => job.privacy.mode === 'none' || b.dpSafe).flatMap((b) => b.cells));
  const agentErrors: Record<string, JobErrorInfo> = {};
  const parts: { agent: string; cells: CellCounts }[] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      agentErrors[o.agent] = { code: o.error.code, message: o.error.message, ...(o.error.field ? { field: o.error.field } : {}) };
      continue;
    }
    try {
      parts.push({ agent: o.agent, cells: decodeCells(o.arrow, o.agent, expected) });
    } catch (e) {
      agentErrors[o.agent] = { code: isFedmeshError(e) ? e.code : 'INVALID_ARGUMENT', message: (e as Error).message };
    }
  }
  const answered = parts.map((p) => p.agent).sort();
  const missing = agents.map((a) => a.name).filter((n) => !answered.includes(n)).sort();
  const quorum = job.quorum ?? agents.length;
  if (answered.length < quorum) {
    const why = missing.map((m) => `${m}: ${agentErrors[m]?.message ?? 'no answer'}`).join('; ');
    throw new FedmeshError('QUORUM_NOT_MET', `${answered.length} of ${agents.length} agents answered, quorum is ${quorum} (${why})`, { details: { answered, missing, agentErrors } });
  }
  const rng = dp.asBufferedRng(rngIn);
  const root = Math.sqrt(answered.length);
  const cell = new Map<string, ReleasedCell>();
  const suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[] = [];
  for (const [bi, b] of blocks.entries()) {
    if (job.privacy.mode !== 'none' && !b.dpSafe) continue;
    const noise = plan.blocks[bi]!.noise;
    for (const name of b.cells) {
      const by = parts.filter((p) => p.cells.suppressed.has(name)).map((p) => p.agent);
      const sum = parts.reduce((s, p) => s + (p.cells.values.get(name) ?? 0n), 0n);
      if (by.length > 0) {
        suppressed.push({ group: { cell: name }, suppressedBy: by });
        cell.set(name, { value: null, std: 0 });
      } else if (job.privacy.mode === 'central-dp') {
        cell.set(name, { value: Number(sum + noise!.sample(rng)), std: noise!.info.std });
      } else if (job.privacy.mode === 'local-dp') {
        cell.set(name, { value: Number(sum), std: noise!.info.std * root });
      } else {
        cell.set(name, { value: Number(sum), std: 0 });
      }
    }
  }
  const byAgent =
    job.privacy.mode === 'central-dp' || !blocks.some((b) => b.cells.includes('persons'))
      ? undefined
      : parts.map((p) => ({ agent: p.agent, persons: p.cells.suppressed.has('persons') ? null : Number(p.cells.values.get('persons') ?? 0n) }));
  const summary = summariseCells(job, cell, ruleNames, byAgent);
  const cost = plan.cost;
  const delta = job.privacy.delta && job.privacy.delta > 0 ? job.privacy.delta : DEFAULT_JOB_DELTA;
  // Cohort-level jobs count each person once per cell: k = 1 by construction.
  const cellMechanisms = plan.blocks.filter((b) => b.noise).map((b) => ({ block: b.block.name, sensitivity: { l1: b.block.l1, l2: Math.sqrt(b.block.l2Sq) }, noise: b.noise!.info }));
  const cellSpent = cost ? { rho: cost.rho, epsilon: Number.isFinite(cost.epsilon) ? cost.epsilon : dp.epsilonAtDelta(cost, delta), delta: Number.isFinite(cost.epsilon) ? cost.delta : delta } : { rho: 0, epsilon: 0, delta: 0 };
  const result: JobResult = {
    columns: summary.columns,
    rows: summary.rows,
    suppressed,
    summary: summary.summary,
    privacy:
      job.privacy.mode === 'none'
        ? { mode: 'none', exact: true, minCellSize: Object.fromEntries(agents.filter((a) => answered.includes(a.name)).map((a) => [a.name, a.policy.minCellSize])) }
        : {
            mode: job.privacy.mode,
            spent: cellSpent,
            budgetSplit: plan.budgetSplit,
            maxRowsPerPerson: 1,
            mechanisms: cellMechanisms,
            guarantee: describeGuarantee({ mode: job.privacy.mode as 'central-dp' | 'local-dp', maxRowsPerPerson: 1, maxSitesPerPerson: job.privacy.maxSitesPerPerson ?? 1, ...linkageGuarantee(job), mechanism: summariseMechanisms(cellMechanisms), spent: cellSpent }),
          },
    notes: [
      job.privacy.mode === 'none'
        ? "mode none: exact counts of distinct persons; cells below an agent's minimum cell size are withheld and reported as suppressed"
        : `${job.privacy.mode}: counts of distinct persons with noise; <name>_std is the noise standard deviation${job.privacy.mode === 'local-dp' ? ` (per-agent noise × √${answered.length})` : ''}; entries (not person-bounded) are not released`,
      ...summary.notes,
    ],
    agentErrors,
  };
  return { answered, missing, agentErrors, result };
}
