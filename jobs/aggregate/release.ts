import { keyId, type GroupPartial, type KeyValue } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { publicGroupCombos, MAX_GROUPS_PER_AGENT, measureField, type AggregateJob, noisyMoments, DEFAULT_JOB_DELTA, dataKeyNote, describeGuarantee, linkageGuarantee, summariseMechanisms } from '../../common/job/index.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout } from '../../common/job/index.js';

export interface ReleasedRows {
  rows: { key: KeyValue[]; values: Record<string, unknown> }[];
  mechanisms: Record<string, unknown>[];
  notes: string[];
  /** Partition selection details, when groups were data-dependent. */
  selection?: Record<string, unknown>;
}

/**
 * The bias of contribution bounding, said next to every bounded statistic: with at most k rows per person, a
 * person with more rows is down-weighted, so the mean/sum estimates the k-rows-per-person quantity, not the
 * all-rows one. This is error a user must see, and it is not in <field>_std or <field>_ci95.
 */
export function boundingNote(job: AggregateJob, plan: AggregatePrivacyPlan): string[] {
  const fields = job.measures.filter((m) => m.fn !== 'count').map((m) => measureField(m));
  if (fields.length === 0) return [];
  return [`contribution bounding bias: ${fields.join(', ')} use at most ${plan.maxRowsPerPerson} row(s) per person (picked by a keyed hash), so persons with more rows weigh less than in the exact all-rows answer; this bias is not included in _std or _ci95`];
}

/**
 * In the DP modes the number of missing values is itself a statistic. It is not released with budget of its own:
 * `<field>_n` is the noisy count of values present that the mean/variance mechanism already draws (and pays for),
 * so missing = count − `<field>_n` is post-processing of two noisy releases.
 */
export const MISSING_NOTE = 'missing values (NULL) are excluded from sums, means, variances and quantiles; <field>_n is the noisy number of values present (the count the mean already paid for): missing ≈ count − <field>_n, post-processing, no extra budget';

function emptyGroup(key: KeyValue[], layout: readonly AgentMeasureLayout[]): GroupPartial {
  return {
    key,
    count: 0n,
    measures: layout.map((l) =>
      l.kind === 'moments' ? { kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits } : l.kind === 'histogram' ? { kind: 'histogram', bins: Array<bigint>(l.bins).fill(0n) } : { kind: 'count' },
    ),
    suppressedBy: [],
  };
}

function mechanismInfo(job: AggregateJob, plan: AggregatePrivacyPlan): Record<string, unknown>[] {
  return plan.dp!.measures.map((m, i) => {
    const field = measureField(job.measures[i]!);
    if (m.fn === 'count' || m.fn === 'histogram') return { field, noise: m.noise.info, rho: m.noise.cost.rho };
    if (m.fn === 'quantile') return { field, mechanism: 'permute-and-flip (exact exponential mechanism) over public candidates', candidates: m.candidates.length, rho: m.cost.rho };
    if (m.fn === 'sum') return { field, noise: m.plan.noise.info, grid: m.plan.grid.size, rho: m.plan.noise.cost.rho };
    return {
      field,
      count: m.plan.countNoise.info,
      sum: { ...m.plan.sumNoise.info, grid: m.plan.sumGrid.size },
      ...(m.plan.sumSquaresNoise ? { sumSquares: { ...m.plan.sumSquaresNoise.info, grid: m.plan.sumSquaresGrid!.size } } : {}),
      budgetSplit: m.plan.split,
      rho: m.plan.cost.rho,
    };
  });
}

/**
 * The groups to release: public combinations, the only group, or the groups the agents' DP partition selection chose
 * (node-agent/jobs/agent-selection.ts: each agent selects among its own groups, at most MAX_GROUPS_PER_AGENT, so
 * no agent refuses on a count of groups). The selection's public parameters are recomputed here from the plan; no
 * noise is drawn for an empty list of partitions.
 */
function releasedGroups(job: AggregateJob, plan: AggregatePrivacyPlan, groups: readonly GroupPartial[], rng: Rng): { groups: GroupPartial[]; selection?: Record<string, unknown> } {
  const byKey = new Map(groups.map((g) => [keyId(g.key), g]));
  const combos = publicGroupCombos(job);
  if (combos) return { groups: combos.map((k) => byKey.get(keyId(k)) ?? emptyGroup(k, plan.layout)) };
  const sel = plan.dp!.selection!;
  const params = dp.selectPartitions({ partitions: [], maxPartitionsPerPerson: 1, budget: sel.budget, maxKept: MAX_GROUPS_PER_AGENT }, rng);
  return {
    groups: [...groups],
    selection: {
      at: 'each agent, on its own distinct-person counts (each person is at one site)',
      threshold: params.threshold,
      noise: params.noise,
      cost: params.cost,
      maxGroupsPerAgent: MAX_GROUPS_PER_AGENT,
      kept: groups.length,
      postProcessing: [
        ...params.postProcessing,
        'a group is released when at least one agent selected it; its values sum the agents that selected it',
      ],
    },
  };
}

/**
 * central-dp: the coordinator adds noise once, to the exact combined statistics, with the job's plan. Every value
 * comes with `<field>_std` and `<field>_ci95`. `chosen`: the candidates already selected for each group's quantile
 * (the kind seam selects them in its round, in this draw order); without it the quantiles are selected here.
 */
export function releaseCentral(job: AggregateJob, plan: AggregatePrivacyPlan, combined: readonly GroupPartial[], rngIn: Rng, chosen?: (group: number, measure: number) => readonly number[] | undefined): ReleasedRows {
  const rng = dp.asBufferedRng(rngIn);
  const { groups, selection } = releasedGroups(job, plan, combined, rng);
  const notes = new Set<string>();
  const rows = groups.map((g, gi) => {
    const values: Record<string, unknown> = {};
    plan.dp!.measures.forEach((mp, i) => {
      const field = measureField(job.measures[i]!);
      const m = g.measures[i]!;
      if (mp.fn === 'count') {
        const noisy = Number(g.count + mp.noise.sample(rng));
        const h = mp.noise.ci95HalfWidth;
        Object.assign(values, { [field]: noisy, [`${field}_std`]: mp.noise.info.std, [`${field}_ci95`]: [noisy - h, noisy + h] });
      } else if (mp.fn === 'quantile' && m.kind === 'histogram') {
        const spec = job.measures[i] as { quantiles: number[] };
        const input = { candidates: mp.candidates, quantiles: spec.quantiles, maxRowsPerPerson: plan.maxRowsPerPerson * plan.maxSitesPerPerson, budget: mp.budget };
        // (Summed buckets below 0 — only an agent's lie makes them — count 0: the selection must not fail on the
        // exact counts, which would answer a yes/no about them: red team 43.)
        const selected = chosen?.(gi, i);
        if (chosen && !selected) throw new RangeError(`no selection for quantile measure ${i} of group ${gi}`);
        const q = selected ? dp.quantileSelections(input, selected) : dp.releaseQuantiles({ ...input, bucketCounts: m.bins.map((b) => (b === null || b < 0n ? 0n : b)) }, rng);
        Object.assign(values, { [field]: q.results.map((r) => r.value), [`${field}_rankErrorBound95`]: q.results.map((r) => r.rankErrorBound95) });
        notes.add(`${field}: quantiles chosen by permute-and-flip among ${mp.candidates.length} public candidates; no noise std exists for a selection, so <name>_rankErrorBound95 bounds the rank error with 95% probability`);
      } else if (mp.fn === 'histogram' && m.kind === 'histogram') {
        const h = mp.noise.ci95HalfWidth;
        const bins = m.bins.map((b) => Number((b ?? 0n) + mp.noise.sample(rng)));
        Object.assign(values, { [field]: bins, [`${field}_std`]: mp.noise.info.std, [`${field}_ci95`]: bins.map((b) => [b - h, b + h]) });
      } else if (mp.fn === 'sum' && m.kind === 'moments') {
        const r = dp.releaseBoundedSum(mp.plan, m.sum, rng);
        r.postProcessing.forEach((n) => notes.add(`${field}: ${n}`));
        Object.assign(values, { [field]: r.value, [`${field}_std`]: r.std, [`${field}_ci95`]: r.ci95 });
      } else if ((mp.fn === 'mean' || mp.fn === 'variance') && m.kind === 'moments') {
        const r = dp.releaseMeanVariance(mp.plan, { count: m.n, sum: m.sum, ...(mp.plan.sumSquaresGrid ? { sumSquares: m.sumSq } : {}) }, rng);
        const rel = mp.fn === 'mean' ? r.mean : r.variance!;
        rel.postProcessing.forEach((n) => notes.add(`${field}: ${n}`));
        Object.assign(values, { [field]: rel.value, [`${field}_std`]: rel.std, [`${field}_ci95`]: rel.ci95, [`${field}_n`]: r.count.value, [`${field}_n_std`]: r.count.std });
        notes.add(MISSING_NOTE);
      }
    });
    return { key: g.key, values };
  });
  if (selection) {
    notes.add(
      `DP partition selection ran at each agent on its own distinct-person counts; an agent keeps at most ${MAX_GROUPS_PER_AGENT} groups (the largest noisy counts when more pass its threshold: post-processing, no extra cost), so no number of groups makes a job fail`,
    );
  }
  return { rows, mechanisms: mechanismInfo(job, plan), notes: [...notes, ...boundingNote(job, plan)], ...(selection ? { selection } : {}) };
}

/**
 * local-dp: each agent already added the full noise, so the sum of n agents' statistics carries n independent
 * noise draws (std × √n). Post-processing here only; intervals use the normal approximation of that sum.
 */
export function releaseLocal(job: AggregateJob, plan: AggregatePrivacyPlan, combined: readonly GroupPartial[], agents: number): ReleasedRows {
  const combos = publicGroupCombos(job)!;
  const byKey = new Map(combined.map((g) => [keyId(g.key), g]));
  const root = Math.sqrt(agents);
  const ci = (v: number, sd: number): [number, number] => [v - dp.Z_975 * sd, v + dp.Z_975 * sd];
  const rows = combos.map((key) => {
    const g = byKey.get(keyId(key)) ?? emptyGroup(key, plan.layout);
    const values: Record<string, unknown> = {};
    plan.dp!.measures.forEach((mp, i) => {
      const field = measureField(job.measures[i]!);
      const m = g.measures[i]!;
      if (mp.fn === 'count') {
        const v = Number(g.count);
        const sd = mp.noise.info.std * root;
        Object.assign(values, { [field]: v, [`${field}_std`]: sd, [`${field}_ci95`]: ci(v, sd) });
      } else if (mp.fn === 'histogram' && m.kind === 'histogram') {
        const sd = mp.noise.info.std * root;
        const bins = m.bins.map((b) => Number(b ?? 0n));
        Object.assign(values, { [field]: bins, [`${field}_std`]: sd, [`${field}_ci95`]: bins.map((b) => ci(b, sd)) });
      } else if (mp.fn === 'sum' && m.kind === 'moments') {
        const v = dp.fromGrid(m.sum, mp.plan.grid);
        const sd = mp.plan.noise.info.std * mp.plan.grid.size * root;
        Object.assign(values, { [field]: v, [`${field}_std`]: sd, [`${field}_ci95`]: ci(v, sd) });
      } else if ((mp.fn === 'mean' || mp.fn === 'variance') && m.kind === 'moments') {
        Object.assign(values, noisyMoments(field, mp.fn, mp.plan, m, { count: mp.plan.countNoise.info.std * root, sum: mp.plan.sumNoise.info.std * root, sumSq: (mp.plan.sumSquaresNoise?.info.std ?? 0) * root }));
      }
    });
    return { key, values };
  });
  return {
    rows,
    mechanisms: mechanismInfo(job, plan),
    notes: [`local-dp: each of ${agents} agents added the full noise; std = per-agent std × √${agents}; 95% intervals from the normal approximation`, 'means and variances: noisy count floored at 1, clamped to the bounds; std by the delta method', MISSING_NOTE, ...boundingNote(job, plan)],
  };
}

/** The released table and statement of a central-dp or local-dp aggregate job, in the built-in result's key order. */
export interface DpAggregateResult {
  columns: string[];
  rows: Record<string, unknown>[];
  privacy: Record<string, unknown>;
  notes: string[];
}

/**
 * The result of a central-dp or local-dp aggregate job from its released rows: the columns (each value with its
 * `_std`), one row per released group, the privacy statement (requested and spent budget, the bounding, the
 * mechanisms and the guarantee) and the notes. ε is stated at the job's δ; a ρ-only job at the default δ (the ledger
 * converts at each budget's own δ).
 */
export function dpAggregateResult(job: AggregateJob, plan: AggregatePrivacyPlan, released: ReleasedRows): DpAggregateResult {
  const cost = plan.dp!.cost;
  const delta = job.privacy.delta && job.privacy.delta > 0 ? job.privacy.delta : Number.isFinite(cost.epsilon) ? undefined : DEFAULT_JOB_DELTA;
  const spent = { rho: cost.rho, epsilon: Number.isFinite(cost.epsilon) ? cost.epsilon : delta ? dp.epsilonAtDelta(cost, delta) : null, delta: delta ?? cost.delta };
  const fields = job.measures.map((m) => measureField(m));
  const groupObj = (key: readonly unknown[]): Record<string, unknown> => Object.fromEntries(job.groupBy.map((g, i) => [g, key[i] ?? null]));
  return {
    columns: [...job.groupBy, ...fields.flatMap((f) => [f, `${f}_std`])],
    rows: released.rows.map((r) => ({ ...groupObj(r.key), ...r.values })),
    privacy: {
      mode: job.privacy.mode,
      requested: plan.dp!.requested,
      spent,
      maxRowsPerPerson: plan.maxRowsPerPerson,
      budgetSplit: plan.dp!.budgetSplit,
      mechanisms: released.mechanisms,
      ...(released.selection ? { partitionSelection: released.selection } : {}),
      guarantee: describeGuarantee({
        mode: job.privacy.mode as 'central-dp' | 'local-dp',
        maxRowsPerPerson: plan.maxRowsPerPerson,
        maxSitesPerPerson: plan.maxSitesPerPerson,
        ...linkageGuarantee(job),
        mechanism: summariseMechanisms(released.mechanisms, released.selection ? ['DP partition selection of the released groups'] : []),
        spent,
      }),
    },
    notes: [
      `${job.privacy.mode}: every value carries <name>_std (noise standard deviation) and <name>_ci95 (95% interval from the known noise)`,
      `each person contributes at most ${plan.maxRowsPerPerson} row(s), chosen at the agent by a keyed hash; values clamped to the declared bounds and snapped to a power-of-two grid before integer noise`,
      ...released.notes,
      ...dataKeyNote(job),
    ],
  };
}
