/**
 * The release of the ported cell kinds (contingency, survival Kaplan–Meier, cohort and characterize): the last
 * round's vector read back into named cells, block by block, and the privacy statement of the job's mode around the
 * kind's own summary. One copy of what the three kinds' release functions each spelled out before.
 */
import type { CellJob, ReleasedCell } from '../job/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../secure/index.js';
import { cellDpStatement } from './cell-dp.js';
import { kindPrivacyOf } from './noise-calibration.js';
import { cellSecureStatement, type CellSecureStatement } from './cell-secure-statement.js';
import type { CompiledKindJob, KindRelease, KindReleaseInfo, RoundRecord } from './kind.js';

/** A cell withheld from the release, named as the kind names its cells, with who withheld it. */
export interface SuppressedCell {
  group: Record<string, unknown>;
  suppressedBy: string[];
}

/** The public cells of a cell kind's plan, in layout order: one block per name. */
export interface CellBlockPlan {
  readonly name: string;
  readonly cells: readonly string[];
  /** Per-person L1 and L2² of the block (before the sites factor), for the secure statement. @default 1 and 1 */
  readonly l1?: number;
  readonly l2Sq?: number;
}

/** How a cell job's values were protected, and what its release states. */
export interface CellReleaseContext {
  readonly last: RoundRecord;
  readonly dp?: { privacy: Record<string, unknown>; note: string; blockStd: number[] };
  readonly secure?: CellSecureStatement;
}

/**
 * The round fields every ported cell kind compiles the same way: one round, the built-in job's timeout, every
 * agent must answer. Spread between the kind's `kind`/`product` and its `spec`/`plan` (the compiled job's key order).
 */
export function oneRoundCellJob(spec: { readonly privacy: CellJob['privacy']; readonly secure?: CellJob['secure']; readonly timeoutMs?: number; readonly agents?: readonly string[] }): Pick<CompiledKindJob, 'privacy' | 'secure' | 'maxRounds' | 'roundTimeoutMs' | 'dropout' | 'minAgents' | 'agents'> {
  // Named agents travel in the compiled job, so that an agent not named refuses the task (kind-task-runner.ts).
  return { privacy: kindPrivacyOf(spec.privacy), secure: spec.secure ?? 'plain', maxRounds: 1, roundTimeoutMs: spec.timeoutMs ?? 30_000, dropout: 'fail', minAgents: 1, ...(spec.agents ? { agents: spec.agents } : {}) };
}

export const MODE_NONE_CELL_NOTE = "mode none: exact counts of distinct persons; cells below an agent's minimum cell size are withheld and reported as suppressed";

/**
 * The statements of a cell job's mode: the DP statement in central-dp and local-dp, the secure statement with a
 * secure sum (none or distributed-dp), neither with plain sums in mode none.
 * @param ruleNames a cohort's inclusion rules (their cells are part of the DP plan's split)
 * @param sensitivity give the blocks' own L1 and L2² when they are not one cell per person
 */
export function cellReleaseContext(job: CompiledKindJob<CellJob, unknown>, blocks: readonly CellBlockPlan[], last: RoundRecord, info: KindReleaseInfo, ruleNames?: readonly string[], sensitivity?: boolean): CellReleaseContext {
  const mode = job.privacy.mode;
  const dp = mode === 'central-dp' || mode === 'local-dp' ? cellDpStatement(job.spec, last.answered.length, ruleNames) : undefined;
  const secure =
    job.secure !== 'plain'
      ? cellSecureStatement(job, blocks.map((b) => b.name), job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS, last, info, sensitivity ? blocks.map((b) => ({ l1: b.l1 ?? 1, l2Sq: b.l2Sq ?? 1 })) : undefined)
      : undefined;
  return { last, ...(dp ? { dp } : {}), ...(secure ? { secure } : {}) };
}

/**
 * The last round's released vector as named cells. An entry is withheld (value null, listed in `suppressed`) when
 * agents withheld it at the source (mode none, plain sums: the runner's `withheld`), or, inside a secure sum in mode
 * none, when its total is positive but below the largest minimum cell size among the contributors. Every other
 * entry carries its block's noise std (0 when exact).
 */
export function readReleasedCells(blocks: readonly CellBlockPlan[], ctx: CellReleaseContext): { cells: Map<string, ReleasedCell>; suppressed: SuppressedCell[] } {
  const { last, dp, secure } = ctx;
  const withheldBy = new Map((last.withheld ?? []).map((w) => [`${w.block}:${w.entry}`, [...w.agents]]));
  const cells = new Map<string, ReleasedCell>();
  const suppressed: SuppressedCell[] = [];
  let at = 0;
  blocks.forEach((block, bi) => {
    const std = dp?.blockStd[bi] ?? secure?.blockStd[bi] ?? 0;
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
  return { cells, suppressed };
}

/**
 * The kind's summary (`columns`, `rows`, `summary`, `notes`) inside the statement of its mode: the DP statement and
 * its note first, or the secure statement's notes (then `noneNotes` in mode none), or, with plain sums in mode none,
 * each answering agent's minimum cell size and {@link MODE_NONE_CELL_NOTE} followed by `noneNotes`.
 */
export function cellKindRelease(s: { columns: string[]; rows: Record<string, unknown>[]; summary: Record<string, unknown>; notes: string[] }, suppressed: SuppressedCell[], ctx: CellReleaseContext, info: KindReleaseInfo, noneNotes: readonly string[] = []): KindRelease {
  const { last, dp, secure } = ctx;
  const base = { columns: s.columns, rows: s.rows, suppressed, summary: s.summary };
  if (dp) return { ...base, privacy: dp.privacy, notes: [dp.note, ...s.notes] };
  if (secure) return { ...base, privacy: secure.privacy, notes: [...secure.notes, ...(secure.minCellSize !== undefined ? noneNotes : []), ...s.notes] };
  const minCellSize = Object.fromEntries(last.answered.map((a) => [a, info.minCellSize?.[a]]).filter((e) => e[1] !== undefined));
  return { ...base, privacy: { mode: 'none', exact: true, minCellSize }, notes: [MODE_NONE_CELL_NOTE, ...noneNotes, ...s.notes] };
}
