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
import { cellDpStatement, cellNoisePlan, cellSecureStatement, kindPrivacyOf } from '../../common/kinds/index.js';
import { summariseCells, type ReleasedCell } from '../../common/job/cell-summary.js';
import { cellBlocks } from '../../common/job/cohort-jobs.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/vector-layout.js';
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
    privacy: kindPrivacyOf(spec.privacy),
    secure: spec.secure ?? 'plain',
    maxRounds: 1,
    roundTimeoutMs: spec.timeoutMs ?? 30_000,
    dropout: 'fail',
    minAgents: 1,
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
  const last = history[history.length - 1]!;
  const mode = job.privacy.mode;
  const names = job.plan.blocks.map((b) => b.name);
  const dpStatement = mode === 'central-dp' || mode === 'local-dp' ? cellDpStatement(job.spec, last.answered.length) : undefined;
  const secure = job.secure !== 'plain' ? cellSecureStatement(job, names, job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS, last, info) : undefined;
  const withheldBy = new Map((last.withheld ?? []).map((w) => [`${w.block}:${w.entry}`, [...w.agents]]));
  const cells = new Map<string, ReleasedCell>();
  const suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[] = [];
  let at = 0;
  job.plan.blocks.forEach((block, bi) => {
    const std = dpStatement?.blockStd[bi] ?? secure?.blockStd[bi] ?? 0;
    block.cells.forEach((name, i) => {
      const v = last.released[at + i]!;
      const by = withheldBy.get(`${block.name}:${i}`) ?? (secure?.minCellSize !== undefined && v > 0 && v < secure.minCellSize ? ['minCellSize'] : undefined);
      if (by) {
        suppressed.push({ group: { cell: name }, suppressedBy: by });
        cells.set(name, { value: null, std: 0 });
      } else cells.set(name, { value: v, std });
    });
    at += block.cells.length;
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
