/**
 * The mode-none release of an aggregate job from the agents' combined exact statistics, each agent's small cells
 * already withheld at its source: the kind seam's (index.ts) and the built-in path's for data-derived groups
 * (coordinator/jobs/aggregate-job.ts), so both state the same values, nulls and notes. Pure.
 */
import { finalizeExact, keyId, type GroupPartial } from '../../algorithms/aggregate/index.js';
import { quantileCandidates } from '../../algorithms/dp/index.js';
import { dataKeyNote, exactResultColumns, measureField, type AggregateJob } from '../../common/job/index.js';

export interface ExactAggregateResult {
  columns: string[];
  rows: Record<string, unknown>[];
  suppressed: [];
  privacy: Record<string, unknown>;
  notes: string[];
}

/** The key of a (group, measure) pair an agent withheld, as `withheld` below holds it. */
export function withheldMeasureKey(key: GroupPartial['key'], measure: number): string {
  return `${keyId(key)}\u0000${measure}`;
}

/**
 * @param combined the groups as summed over the answering agents (a group withheld at an agent is not in its part; a
 *   bin withheld at any agent is null)
 * @param withheld (group, measure) pairs some agent withheld ({@link withheldMeasureKey}): a sum, mean or variance
 *   with its _n and _missing is null, a quantile's _missing
 * @param minCellSize each answering agent's published minimum cell size
 * @param withheldGroups data-derived groups: how many groups each answering agent withheld (never which). Absent with
 *   public groups, where it would tell a group of 1 … k − 1 persons from an empty one (jobs/aggregate/exact-vector.ts)
 */
export function exactAggregateResult(job: AggregateJob, combined: readonly GroupPartial[], withheld: ReadonlySet<string>, minCellSize: Readonly<Record<string, number>>, withheldGroups?: Readonly<Record<string, number>>): ExactAggregateResult {
  const fields = job.measures.map((m) => measureField(m));
  const released = finalizeExact(
    combined,
    job.measures.map((m, i) => (m.fn === 'quantile' ? { fn: 'quantile', field: fields[i]!, quantiles: m.quantiles, candidates: quantileCandidates(m.bounds[0], m.bounds[1], m.candidates ?? 101) } : { fn: m.fn, field: fields[i]! })),
  );
  for (const r of released.rows) {
    job.measures.forEach((m, i) => {
      if (!withheld.has(withheldMeasureKey(r.key, i))) return;
      const f = fields[i]!;
      if (m.fn !== 'quantile') r.values[f] = null;
      if (`${f}_missing` in r.values) r.values[`${f}_missing`] = null;
      if (`${f}_n` in r.values) r.values[`${f}_n`] = null;
    });
  }
  const groupObj = (key: readonly unknown[]): Record<string, unknown> => Object.fromEntries(job.groupBy.map((g, i) => [g, key[i] ?? null]));
  return {
    // Means, variances and quantiles show how many values were missing (NULL) beside them.
    columns: exactResultColumns(job),
    rows: released.rows.map((r) => ({ ...groupObj(r.key), ...r.values })),
    suppressed: [],
    privacy: { mode: 'none', minCellSize: { ...minCellSize }, cellSize: 'distinct persons', ...(withheldGroups ? { withheldGroups: { ...withheldGroups } } : {}), exact: true },
    notes: [
      `mode none: exact aggregates. A group or histogram bin is released by an agent only if it holds at least that agent's minimum cell size of distinct persons; smaller groups are withheld entirely (${withheldGroups ? 'privacy.withheldGroups counts them per agent, their keys never leave the agent' : 'a public group absent from the rows had fewer persons than that, or none, at every agent: which is not said'}), so a group's values sum only the agents where it met the minimum; small bins are null, never zero, and so is the released bin of fewest persons when the group's count minus its released bins would otherwise be a count of fewer than that many persons; a quantile is of the values in the buckets (public candidates) released as such cells, rarer values left out (null when none is), and a sum, mean or variance (with its _n and _missing) is null where an agent's missing values, or values at one of the declared bounds, are of 1 … k − 1 persons (a quantile's _missing likewise); a column takes one histogram or one quantile`,
      ...dataKeyNote(job),
      ...job.measures.filter((m) => m.fn !== 'count' && m.fn !== 'histogram').map((m) => `${measureField(m)}: values clamped to the declared bounds [${(m as { bounds: number[] }).bounds.join(', ')}]; missing values (NULL) left out${m.fn === 'sum' ? '' : ` and counted in ${measureField(m)}_missing (a mean of no values is null, shown as —)`}`),
    ],
  };
}
