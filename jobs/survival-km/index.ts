/**
 * The Kaplan–Meier `survival` job kind on the kind seam: persons of a target cohort followed to an outcome on a
 * public time grid, per stratum. parse (spec.ts, the built-in spec) → compile (two public blocks of person counts:
 * those initially at risk per stratum, and each person's one endpoint — an event or a censoring in one bin — so
 * L1 = L2² = 1 per block) → one round at the agents (agent.ts) → release (the built-in summary with the curves,
 * Greenwood bands and the log-rank test: common/job/cell-summary.ts) → view (view.ts). In mode none both blocks are
 * selection blocks: each agent withholds its cells below its minimum cell size before anything leaves
 * (common/kinds/selection.ts). `"model": "cox"` is the registry kind survival-cox.
 */
import type { CompiledKindJob, KindDef, KindRelease, KindReleaseInfo, RoundRecord, StatLayout } from '../../common/kinds/index.js';
import { cellKindRelease, cellNoisePlan, cellReleaseContext, oneRoundCellJob, readReleasedCells } from '../../common/kinds/index.js';
import { summariseCells, cellBlocks, SURVIVAL_STRATA, survivalTailCells } from '../../common/job/index.js';
import { cellSubsets, DEFAULT_SECURE_MAX_ROWS, withholdSubsetTotals } from '../../common/secure/index.js';
import { parseKmSpec, seamRunsKm, type KmSpec } from './spec.js';
import { renderKm } from './view.js';

/** The public plan of a compiled survival job: its blocks of cells, in vector order. */
export interface KmPlan {
  readonly blocks: readonly { readonly name: string; readonly cells: readonly string[] }[];
}

export type CompiledKmJob = CompiledKindJob<KmSpec, KmPlan>;

function compileKm(spec: KmSpec): Omit<CompiledKmJob, 'hash'> {
  return {
    kind: 'survival',
    // The OMOP person table: the product every agent with OMOP data serves, and whose privacy unit is the person.
    product: 'person',
    ...oneRoundCellJob(spec),
    spec,
    plan: { blocks: cellBlocks(spec).map((b) => ({ name: b.name, cells: b.cells })) },
  };
}

/**
 * Two blocks of person counts. Per agent an entry is at most the persons it holds (the secure sums' public cap;
 * plain sums only need finite counts). Counts are integers: grid 2^0, so sums are exact in every secure mode.
 */
function kmLayout(job: CompiledKmJob): StatLayout {
  const hi = job.secure === 'plain' ? Number.MAX_SAFE_INTEGER : (job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS);
  // local-dp: what an agent sends is already noisy, and a discrete Laplace has no public margin a count stays within.
  const lo = job.privacy.mode === 'local-dp' ? -Number.MAX_SAFE_INTEGER : 0;
  return {
    blocks: job.plan.blocks.map((b) => ({ name: b.name, length: b.cells.length, perAgent: { lo, hi }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, exactOnGrid: true, release: job.secure === 'plain' ? ('selection' as const) : ('additive' as const) })),
  };
}

function releaseKm(job: CompiledKmJob, history: readonly RoundRecord[], info: KindReleaseInfo): KindRelease {
  const ctx = cellReleaseContext(job, job.plan.blocks, history[history.length - 1]!, info);
  const { cells, suppressed } = readReleasedCells(job.plan.blocks, ctx);
  if (ctx.secure?.minCellSize !== undefined) withholdSecureTails(job, cells, suppressed, ctx.secure.minCellSize);
  // A withheld stratum's endpoints, zeros included (red team 41, F1).
  if (ctx.secure?.minCellSize !== undefined) for (const s of cellSubsets(job.spec)) withholdSubsetTotals(cells, suppressed, s.total, s.entries);
  return cellKindRelease(summariseCells(job.spec, cells, [], undefined), suppressed, ctx, info);
}

/**
 * Mode none inside a secure sum: the tail rule each agent applies with plain sums (agent.ts), on the totals: per
 * stratum the endpoint cells from `survivalTailCut` on are withheld, so the persons at risk where the curve stops are
 * 0 or at least k (red team 30, F3).
 */
function withholdSecureTails(job: CompiledKmJob, cells: Map<string, { value: number | null; std: number }>, suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[], k: number): void {
  for (const name of survivalTailCells(job.spec.timeGrid, SURVIVAL_STRATA[job.spec.strata], (c) => cells.get(c)?.value ?? null, k)) {
    cells.set(name, { value: null, std: 0 });
    suppressed.push({ group: { cell: name }, suppressedBy: ['minCellSize'] });
  }
}

export const kmKind: KindDef<KmSpec, KmPlan, null> = {
  kind: 'survival',
  builtInSpec: true,
  accepts: seamRunsKm,
  noisePlan: (job) => cellNoisePlan(job.spec),
  parse: parseKmSpec,
  compile: compileKm,
  layout: (job) => kmLayout(job),
  // One round: the counts are the whole release.
  nextRound: (_job, history) => (history.length === 0 ? null : undefined),
  release: releaseKm,
  view: renderKm,
};
