/**
 * The `contingency` job kind on the kind seam: an r × c table of distinct persons over public row and column levels
 * with Pearson's χ² test. parse (spec.ts, the built-in spec) → compile (one public block of r·c + 2 person counts,
 * each person in exactly one entry, so L1 = L2² = 1) → one round at the agents (agent.ts) → release (the built-in
 * summary: common/job/cell-summary.ts) → view (view.ts). In mode none the block is a selection block: each agent
 * withholds its cells below its minimum cell size before anything leaves (common/kinds/selection.ts).
 */
import type { CompiledKindJob, KindDef, KindRelease, KindReleaseInfo, RoundRecord, StatLayout } from '../../common/kinds/index.js';
import { cellKindRelease, cellNoisePlan, cellReleaseContext, oneRoundCellJob, readReleasedCells } from '../../common/kinds/index.js';
import { summariseCells } from '../../common/job/index.js';
import { DEFAULT_SECURE_MAX_ROWS, withholdTableTotals } from '../../common/secure/index.js';
import { contingencyCells, parseContingencySpec, seamRunsContingency, type ContingencySpec } from './spec.js';
import { renderContingency } from './view.js';

/** The public plan of a compiled contingency job: its cells, in vector order. */
export interface ContingencyPlan {
  readonly cells: readonly string[];
}

export type CompiledContingencyJob = CompiledKindJob<ContingencySpec, ContingencyPlan>;

/** The one block's name (as the built-in kind named it in its privacy statement). */
export const TABLE_BLOCK = 'table';

function compileContingency(spec: ContingencySpec): Omit<CompiledContingencyJob, 'hash'> {
  return {
    kind: 'contingency',
    product: spec.product,
    ...oneRoundCellJob(spec),
    spec,
    plan: { cells: contingencyCells(spec) },
  };
}

/**
 * One block of person counts. Per agent an entry is at most the persons it holds (the secure sums' public cap;
 * plain sums only need finite counts). Counts are integers: grid 2^0, so sums are exact in every secure mode.
 */
function contingencyLayout(job: CompiledContingencyJob): StatLayout {
  const hi = job.secure === 'plain' ? Number.MAX_SAFE_INTEGER : (job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS);
  // local-dp: what an agent sends is already noisy, and a discrete Laplace has no public margin a count stays within.
  const lo = job.privacy.mode === 'local-dp' ? -Number.MAX_SAFE_INTEGER : 0;
  return {
    blocks: [{ name: TABLE_BLOCK, length: job.plan.cells.length, perAgent: { lo, hi }, sensitivity: { l1: 1, l2Sq: 1 }, gridExponent: 0, exactOnGrid: true, release: job.secure === 'plain' ? 'selection' : 'additive' }],
  };
}

function releaseContingency(job: CompiledContingencyJob, history: readonly RoundRecord[], info: KindReleaseInfo): KindRelease {
  const blocks = [{ name: TABLE_BLOCK, cells: job.plan.cells }];
  const ctx = cellReleaseContext(job, blocks, history[history.length - 1]!, info);
  const { cells, suppressed } = readReleasedCells(blocks, ctx);
  if (ctx.secure?.minCellSize !== undefined) withholdTableTotals(cells, suppressed, job.plan.cells, job.spec.rowLevels.length, job.spec.colLevels.length, ctx.secure.minCellSize);
  return cellKindRelease(summariseCells(job.spec, cells, [], undefined), suppressed, ctx, info);
}

export const contingencyKind: KindDef<ContingencySpec, ContingencyPlan, null> = {
  kind: 'contingency',
  builtInSpec: true,
  accepts: seamRunsContingency,
  noisePlan: (job) => cellNoisePlan(job.spec),
  parse: parseContingencySpec,
  compile: compileContingency,
  layout: (job) => contingencyLayout(job),
  // One round: the table is the whole release.
  nextRound: (_job, history) => (history.length === 0 ? null : undefined),
  release: releaseContingency,
  view: renderContingency,
};
