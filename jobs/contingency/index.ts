/**
 * The `contingency` job kind on the kind seam: an r × c table of distinct persons over public row and column levels
 * with Pearson's χ² test. parse (spec.ts, the built-in spec) → compile (one public block of r·c + 2 person counts,
 * each person in exactly one entry, so L1 = L2² = 1) → one round at the agents (agent.ts) → release (the built-in
 * summary: common/job/cell-summary.ts) → view (view.ts). In mode none the block is a selection block: each agent
 * withholds its cells below its minimum cell size before anything leaves (common/kinds/selection.ts).
 */
import type { CompiledKindJob, KindDef, KindRelease, KindReleaseInfo, RoundRecord, StatLayout } from '../../common/kinds/index.js';
import { cellDpStatement, cellNoisePlan, cellSecureStatement, kindPrivacyOf } from '../../common/kinds/index.js';
import { summariseCells, type ReleasedCell } from '../../common/job/cell-summary.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/vector-layout.js';
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
    privacy: kindPrivacyOf(spec.privacy),
    secure: spec.secure ?? 'plain',
    maxRounds: 1,
    roundTimeoutMs: spec.timeoutMs ?? 30_000,
    dropout: 'fail',
    minAgents: 1,
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
  const last = history[history.length - 1]!;
  const mode = job.privacy.mode;
  const dpStatement = mode === 'central-dp' || mode === 'local-dp' ? cellDpStatement(job.spec, last.answered.length) : undefined;
  const secure = job.secure !== 'plain' ? secureStatement(job, last, info) : undefined;
  const withheldBy = new Map((last.withheld ?? []).map((w) => [w.entry, [...w.agents]]));
  const cells = new Map<string, ReleasedCell>();
  const suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[] = [];
  job.plan.cells.forEach((name, i) => {
    const v = last.released[i]!;
    const by = withheldBy.get(i) ?? (secure?.minCellSize !== undefined && v > 0 && v < secure.minCellSize ? ['minCellSize'] : undefined);
    if (by) {
      suppressed.push({ group: { cell: name }, suppressedBy: by });
      cells.set(name, { value: null, std: 0 });
    } else cells.set(name, { value: v, std: dpStatement?.blockStd[0] ?? secure?.cellStd ?? 0 });
  });
  const s = summariseCells(job.spec, cells, [], undefined);
  if (dpStatement) return { columns: s.columns, rows: s.rows, suppressed, summary: s.summary, privacy: dpStatement.privacy, notes: [dpStatement.note, ...s.notes] };
  if (secure) return { columns: s.columns, rows: s.rows, suppressed, summary: s.summary, privacy: secure.privacy, notes: [...secure.notes, ...s.notes] };
  const minCellSize = Object.fromEntries(last.answered.map((a) => [a, info.minCellSize?.[a]]).filter((e) => e[1] !== undefined));
  return {
    columns: s.columns,
    rows: s.rows,
    suppressed,
    summary: s.summary,
    privacy: { mode: 'none', exact: true, minCellSize },
    notes: ["mode none: exact counts of distinct persons; cells below an agent's minimum cell size are withheld and reported as suppressed", ...s.notes],
  };
}

/**
 * Secure sums (secagg): the coordinator sees only the summed table. Mode none: cells whose total is positive but
 * below the largest minimum cell size among the contributors are withheld (per-agent withholding is impossible
 * inside a secure sum). distributed-dp: the total carries every contributor's discrete Gaussian share (the seam's
 * KLS 2021 shares, sized on the block's exact L2 = 1 per person × sites).
 */
function secureStatement(job: CompiledContingencyJob, last: RoundRecord, info: KindReleaseInfo): { privacy: Record<string, unknown>; notes: string[]; minCellSize?: number; cellStd: number } {
  const s = cellSecureStatement(job, [TABLE_BLOCK], job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS, last, info);
  return { privacy: s.privacy, notes: s.notes, ...(s.minCellSize !== undefined ? { minCellSize: s.minCellSize } : {}), cellStd: s.blockStd[0]! };
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
