import * as dp from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { chiSquareIndependence } from '../../algorithms/stats/index.js';
import { kaplanMeier, logRankTest, type StratumCounts } from '../../algorithms/survival/index.js';
import { decodeCells, type CellCounts } from '../../common/arrow/cells-codec.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { planCellPrivacy } from '../../common/job/cell-privacy.js';
import { ageBandLabelsFor, cellBlocks, GENDER_LABELS, GENDER_LEVELS, SURVIVAL_STRATA, survivalTimes, type CellBlock } from '../../common/job/cohort-jobs.js';
import { checkAggregateAgainstSchema } from '../../common/job/schema-check.js';
import { DEFAULT_JOB_DELTA, type CellJob } from '../../common/job/spec.js';
import type { AgentView } from '../agent-registry.js';
import type { TaskOutcome } from '../dispatcher.js';
import type { JobErrorInfo, JobResult } from '../job-record.js';
import type { CombinedAggregate } from './aggregate-job.js';

const OMOP_CORE = ['person', 'observation_period'];

export function ruleNamesOf(job: CellJob): string[] {
  return job.kind === 'cohort' ? parseCohortDefinition(job.definition).inclusionRules.map((r) => r.name) : [];
}

/** Which agents run a cohort-level job, checked against the live catalog. @throws FedmeshError naming the field */
export function admitCellJob(job: CellJob, connected: readonly AgentView[]): AgentView[] {
  let candidates: AgentView[];
  if (job.kind === 'contingency') {
    candidates = connected.filter((a) => a.products.some((p) => p.name === job.product));
    if (candidates.length === 0) throw new FedmeshError('INVALID_JOB', `product: no connected agent serves product ${job.product}`, { field: 'product' });
    for (const a of candidates) {
      const p = a.products.find((x) => x.name === job.product)!;
      for (const [field, col] of [['rowColumn', job.rowColumn], ['colColumn', job.colColumn]] as const) {
        if (!p.columns.some((c) => c.name === col)) throw new FedmeshError('INVALID_JOB', `${field}: unknown column ${col} in product ${job.product} (at agent ${a.name})`, { field });
      }
      checkAggregateAgainstSchema({ kind: 'aggregate', product: job.product, where: job.where, groupBy: [], measures: [{ fn: 'count' }], privacy: job.privacy }, { name: p.name, columns: p.columns });
    }
  } else {
    candidates = connected.filter((a) => OMOP_CORE.every((t) => a.products.some((p) => p.name === t)));
    if (candidates.length === 0) throw new FedmeshError('INVALID_JOB', `kind: no connected agent has OMOP CDM tables (${OMOP_CORE.join(', ')}) for a ${job.kind} job`, { field: 'kind' });
  }
  if (job.agents) {
    for (const [i, name] of job.agents.entries()) {
      if (!candidates.some((a) => a.name === name)) throw new FedmeshError('INVALID_JOB', `agents[${i}]: agent ${name} is not connected or cannot run this job`, { field: `agents[${i}]` });
    }
    candidates = candidates.filter((a) => job.agents!.includes(a.name));
  }
  if (!candidates.some((a) => a.policy.allowModes.includes(job.privacy.mode))) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: no eligible agent allows mode ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  if (job.quorum !== undefined && job.quorum > candidates.length) {
    throw new FedmeshError('INVALID_JOB', `quorum: ${job.quorum} agents required but only ${candidates.length} can run this job`, { field: 'quorum' });
  }
  return candidates;
}

export function cellJobCost(job: CellJob): dp.PrivacyCost | undefined {
  return planCellPrivacy(job, cellBlocks(job, ruleNamesOf(job))).cost;
}

interface Released {
  value: number | null;
  std: number;
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
  const cell = new Map<string, Released>();
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
  const summary = summarise(job, blocks, cell, ruleNames, byAgent);
  const cost = plan.cost;
  const delta = job.privacy.delta && job.privacy.delta > 0 ? job.privacy.delta : DEFAULT_JOB_DELTA;
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
            spent: { rho: cost!.rho, epsilon: Number.isFinite(cost!.epsilon) ? cost!.epsilon : dp.epsilonAtDelta(cost!, delta), delta: Number.isFinite(cost!.epsilon) ? cost!.delta : delta },
            budgetSplit: plan.budgetSplit,
            mechanisms: plan.blocks.filter((b) => b.noise).map((b) => ({ block: b.block.name, sensitivity: { l1: b.block.l1, l2: Math.sqrt(b.block.l2Sq) }, noise: b.noise!.info })),
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

function summarise(job: CellJob, blocks: readonly CellBlock[], cell: Map<string, Released>, ruleNames: readonly string[], byAgent: { agent: string; persons: number | null }[] | undefined): { columns: string[]; rows: Record<string, unknown>[]; summary: Record<string, unknown>; notes: string[] } {
  const v = (n: string): number | null => cell.get(n)?.value ?? null;
  const sd = (n: string): number => cell.get(n)?.std ?? 0;
  const withStd = (o: Record<string, unknown>, name: string, field: string): Record<string, unknown> => (job.privacy.mode === 'none' ? o : { ...o, [`${field}_std`]: sd(name) });
  void blocks;
  if (job.kind === 'cohort' || job.kind === 'characterize') {
    const bands = ageBandLabelsFor(job.ageBands).map((b) => withStd({ band: b, count: v(`age:${b}`) }, `age:${b}`, 'count'));
    const genders = GENDER_LEVELS.map((g) => withStd({ gender_concept_id: g, gender: GENDER_LABELS[g], count: v(`gender:${g}`) }, `gender:${g}`, 'count'));
    const summary: Record<string, unknown> = { count: v('persons'), ...(job.privacy.mode === 'none' ? {} : { count_std: sd('persons') }), byAgeBand: bands, byGender: genders };
    if (byAgent) summary.byAgent = byAgent;
    if (job.kind === 'cohort') {
      if (job.privacy.mode === 'none') summary.entries = v('entries');
      summary.attrition = [withStd({ rule: '(qualifying events)', persons: v('qualified') }, 'qualified', 'persons'), ...ruleNames.map((r, i) => withStd({ rule: r, persons: v(`rule:${i}`) }, `rule:${i}`, 'persons'))];
    } else {
      const persons = v('persons');
      const prev = (n: number | null): number | null => (n === null || persons === null || persons <= 0 ? null : Math.min(1, Math.max(0, n / persons)));
      summary.conditions = job.conditionConcepts.map((c) => withStd({ concept_id: c, persons: v(`condition:${c}`), prevalence: prev(v(`condition:${c}`)) }, `condition:${c}`, 'persons'));
      summary.drugs = job.drugConcepts.map((c) => withStd({ concept_id: c, persons: v(`drug:${c}`), prevalence: prev(v(`drug:${c}`)) }, `drug:${c}`, 'persons'));
    }
    const rows = [{ count: v('persons'), ...(job.privacy.mode === 'none' ? { entries: v('entries') } : { count_std: sd('persons') }) }];
    return { columns: Object.keys(rows[0]!), rows, summary, notes: job.privacy.mode === 'none' ? [] : ['prevalence = noisy persons with the concept / noisy cohort persons, clamped to [0, 1]'] };
  }
  if (job.kind === 'survival') {
    const times = survivalTimes(job.timeGrid.binDays, job.timeGrid.maxDays);
    const strata: StratumCounts[] = SURVIVAL_STRATA[job.strata].map((s) => ({
      label: s,
      times,
      events: times.map((_, i) => v(`e:${s}:${i}`) ?? 0),
      censored: times.map((_, i) => v(`c:${s}:${i}`) ?? 0),
      initialAtRisk: Math.max(0, v(`n:${s}`) ?? 0),
    }));
    const kept = strata.filter((s) => (s.initialAtRisk ?? 0) > 0);
    const curves = kept.map((s) => kaplanMeier(s));
    const logRank = kept.length >= 2 ? logRankTest(kept) : undefined;
    const rows = curves.map((c) => ({ stratum: c.label, persons: kept.find((s) => s.label === c.label)!.initialAtRisk, median: c.median.estimate, medianLower: c.median.lower, medianUpper: c.median.upper }));
    return {
      columns: ['stratum', 'persons', 'median', 'medianLower', 'medianUpper'],
      rows,
      summary: { curves: curves.map((c) => ({ label: c.label, times: c.times, atRisk: c.atRisk, events: c.events, censored: c.censored, survival: c.survival, lower: c.lower, upper: c.upper, stdErr: c.stdErr, median: c.median })), ...(logRank ? { logRank: { statistic: logRank.statistic, df: logRank.df, pValue: logRank.pValue, observed: logRank.observed, expected: logRank.expected } } : {}) },
      notes: [...new Set(curves.flatMap((c) => c.notes))],
    };
  }
  const table = job.rowLevels.map((_, r) => job.colLevels.map((_, c) => v(`cell:${r}:${c}`)));
  const chi = table.some((row) => row.some((x) => x === null)) ? undefined : chiSquareIndependence(table as number[][]);
  const rows = job.rowLevels.map((lvl, r) => ({ [job.rowColumn]: lvl, ...Object.fromEntries(job.colLevels.map((c, ci) => [String(c), table[r]![ci]])) }));
  return {
    columns: [job.rowColumn, ...job.colLevels.map(String)],
    rows,
    summary: { table, rowLevels: job.rowLevels, colLevels: job.colLevels, outside: v('outside'), ambiguous: v('ambiguous'), ...(job.privacy.mode === 'none' ? {} : { cell_std: sd('cell:0:0') }), ...(chi ? { chiSquare: { statistic: chi.statistic, df: chi.df, pValue: chi.pValue, lowExpectedWarning: chi.lowExpectedWarning, notes: chi.notes } } : {}) },
    notes: chi ? [] : ['chi-square not computed: a cell was suppressed'],
  };
}
