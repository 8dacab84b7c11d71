/**
 * The two cohort-level cell kinds over one cohort definition, `cohort` (persons, entries, attrition, breakdowns) and
 * `characterize` (persons, breakdowns, prevalence of public condition and drug concepts), on the kind seam. One
 * definition for both, parameterised by the kind: parse (the built-in spec) → compile (public blocks of person
 * counts) → one round at the agents (agent.ts) → release (the built-in summary, common/job/cell-summary.ts) → view.
 *
 * Blocks: in mode none one block `cells` with every cell in the built-in order — a selection block with plain sums
 * (each agent withholds its cells below k, and, for a cohort, complementary suppression along the nested attrition
 * chain qualified ⊇ rule 0 ⊇ … ⊇ persons), additive inside a secure sum (the minimum cell size and the nested rule
 * applied to the totals). In the DP modes the DP-safe blocks of the built-in plan (entries, not person-bounded, are
 * not released), with the built-in noise plan, so draws, charges and statements are the built-in kinds'. Pure.
 */
import { Z_975 } from '../../algorithms/dp/index.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { FedmeshError } from '../../common/errors.js';
import { summariseCells, cellBlocks, parseJobSpec } from '../../common/job/index.js';
import type { CellJob } from '../../common/job/index.js';
import type { CompiledKindJob, KindDef, KindRelease, KindReleaseInfo, RoundRecord, StatBlock, StatLayout } from '../../common/kinds/index.js';
import { cellKindRelease, cellNoisePlan, cellReleaseContext, oneRoundCellJob, readReleasedCells } from '../../common/kinds/index.js';
import { CONCEPT_TOTALS_NOTE, cellPartitions, cellSubsets, withholdCloseConceptTotals, withholdSubsetTotals, withholdNestedTotals, withholdPartitionTotals, DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';
import { renderCohortCells } from './view.js';

export type CohortCellKind = 'cohort' | 'characterize';
export type CohortCellSpec = Extract<CellJob, { kind: CohortCellKind }>;

/** The public plan: the inclusion rule names (cohort) and the layout's blocks of cells, in vector order. */
export interface CohortCellPlan {
  readonly ruleNames: readonly string[];
  readonly blocks: readonly { readonly name: string; readonly cells: readonly string[]; readonly l1: number; readonly l2Sq: number }[];
}

export type CompiledCohortCellJob = CompiledKindJob<CohortCellSpec, CohortCellPlan>;

/** The one block of mode none. */
export const CELLS_BLOCK = 'cells';

/** The nested attrition chain of a cohort (largest set first), by cell name. */
export function attritionChain(plan: CohortCellPlan): string[] {
  return ['qualified', ...plan.ruleNames.map((_, i) => `rule:${i}`), 'persons'];
}

/**
 * Which specs run on the kind seam. HE stays on the built-in path: a built-in HE job is decrypted by the researcher's
 * client with its own key, which the seam's HE sum (a key-holding agent) does not offer.
 */
export function seamRunsCohortCells(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return true;
  return (raw as { secure?: unknown }).secure !== 'he';
}

function parseSpec(kind: CohortCellKind, raw: unknown): CohortCellSpec {
  const spec = parseJobSpec(raw);
  if (spec.kind !== kind) throw new FedmeshError('INVALID_JOB', `kind: must be ${kind}`, { field: 'kind' });
  // The mesh's sites-per-person floor goes into the spec in the DP modes, as the built-in admission writes it.
  if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, 1);
  return spec as CohortCellSpec;
}

function compile(spec: CohortCellSpec): Omit<CompiledCohortCellJob, 'hash'> {
  const ruleNames = spec.kind === 'cohort' ? parseCohortDefinition(spec.definition).inclusionRules.map((r) => r.name) : [];
  const all = cellBlocks(spec, ruleNames);
  const blocks =
    spec.privacy.mode === 'none'
      ? [{ name: CELLS_BLOCK, cells: all.flatMap((b) => b.cells), l1: 1, l2Sq: 1 }]
      : all.filter((b) => b.dpSafe).map((b) => ({ name: b.name, cells: b.cells, l1: b.l1, l2Sq: b.l2Sq }));
  return {
    kind: spec.kind,
    // The OMOP person table: the product every agent with OMOP data serves, and whose privacy unit is the person.
    product: 'person',
    ...oneRoundCellJob(spec),
    spec,
    plan: { ruleNames, blocks },
  };
}

function layout(job: CompiledCohortCellJob): StatLayout {
  const plain = job.secure === 'plain';
  const hi = plain ? Number.MAX_SAFE_INTEGER : (job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS);
  // local-dp: what an agent sends is already noisy, and a discrete Laplace has no public margin a count stays within.
  const lo = job.privacy.mode === 'local-dp' ? -Number.MAX_SAFE_INTEGER : 0;
  return {
    blocks: job.plan.blocks.map((b): StatBlock => {
      // Mode none with plain sums: complementary suppression at each agent (the attrition chain, the breakdowns).
      const selection = job.privacy.mode === 'none' && plain;
      const at = (c: string): number => b.cells.indexOf(c);
      const chain = selection && job.spec.kind === 'cohort' ? [attritionChain(job.plan).map(at)] : undefined;
      const partitions = selection ? cellPartitions(job.spec).map((p) => ({ total: at(p.total), parts: p.parts.map(at) })) : undefined;
      const subsets = selection ? cellSubsets(job.spec).map((p) => ({ total: at(p.total), entries: p.entries.map(at) })) : undefined;
      return { name: b.name, length: b.cells.length, perAgent: { lo, hi }, sensitivity: { l1: b.l1, l2Sq: b.l2Sq }, gridExponent: 0, exactOnGrid: true, release: plain ? 'selection' : 'additive', ...(chain ? { nested: chain } : {}), ...(partitions ? { partitions } : {}), ...(subsets ? { subsets } : {}) };
    }),
  };
}

/** Each answering agent's persons where the built-in kinds showed them (plain sums, mode none and local-dp). */
function byAgentOf(job: CompiledCohortCellJob, last: RoundRecord): { agent: string; persons: number | null }[] | undefined {
  if (!last.perAgent) return undefined;
  const first = job.plan.blocks[0]!;
  const withheld = new Set((last.withheld ?? []).filter((w) => w.block === first.name && w.entry === first.cells.indexOf('persons')).flatMap((w) => w.agents));
  return last.answered.map((agent) => ({ agent, persons: withheld.has(agent) ? null : (last.perAgent![agent]?.[0] ?? 0) }));
}

function release(job: CompiledCohortCellJob, history: readonly RoundRecord[], info: KindReleaseInfo): KindRelease {
  const last = history[history.length - 1]!;
  const ctx = cellReleaseContext(job, job.plan.blocks, last, info, job.plan.ruleNames, true);
  const { cells, suppressed } = readReleasedCells(job.plan.blocks, ctx);
  const secure = ctx.secure;
  // Inside a secure sum in mode none, a cohort's attrition steps 1 … k − 1 apart are withheld on the totals.
  if (secure?.minCellSize !== undefined && job.spec.kind === 'cohort') withholdNestedTotals(cells, suppressed, attritionChain(job.plan), secure.minCellSize);
  if (secure?.minCellSize !== undefined) for (const p of cellPartitions(job.spec)) withholdPartitionTotals(cells, suppressed, p.total, p.parts, secure.minCellSize);
  if (secure?.minCellSize !== undefined) for (const p of cellSubsets(job.spec)) withholdSubsetTotals(cells, suppressed, p.total, p.entries);
  // ... and a concept total 1 … k − 1 from a kept total (the agents cannot withhold inside the sum: within-job.ts).
  if (secure?.minCellSize !== undefined && job.spec.kind === 'characterize') withholdCloseConceptTotals(cells, suppressed, secure.minCellSize);
  const s = summariseCells(job.spec, cells, job.plan.ruleNames, byAgentOf(job, last));
  if (secure && !ctx.dp) {
    // distributed-dp: a normal-approximation interval on the headline count, as the built-in secure release gave it.
    const persons = cells.get('persons');
    if (secure.minCellSize === undefined && persons && persons.value !== null) s.summary.count_ci95 = [Math.max(0, persons.value - Z_975 * persons.std), persons.value + Z_975 * persons.std];
  }
  // A withheld concept need not be a small one (node-agent/disclosure/within-job.ts); the release cannot tell which.
  return cellKindRelease(s, suppressed, ctx, info, job.spec.kind === 'characterize' ? [secure ? CONCEPT_TOTALS_NOTE : CONCEPT_WITHHELD_NOTE] : []);
}

/** Mode none, plain sums: why a large concept cell may be withheld (node-agent/disclosure/within-job.ts). */
const CONCEPT_WITHHELD_NOTE = "a condition or drug cell whose persons differ from another cell of this job at an agent (an ancestor listed before it, the cohort, an age band or gender) by fewer than that agent's minimum cell size is withheld there too, however large: releasing both would give the difference";

/** The kind definition of `cohort` or `characterize`. */
export function cohortCellKind(kind: CohortCellKind): KindDef<CohortCellSpec, CohortCellPlan, null> {
  return {
    kind,
    builtInSpec: true,
    accepts: seamRunsCohortCells,
    noisePlan: (job) => cellNoisePlan(job.spec, job.plan.ruleNames),
    parse: (raw) => parseSpec(kind, raw),
    compile,
    layout: (job) => layout(job),
    // One round: the counts are the whole release.
    nextRound: (_job, history) => (history.length === 0 ? null : undefined),
    // The persons per agent, as the built-in kinds showed them: the first entry of the first block.
    perAgentBlocks: (job) => [job.plan.blocks[0]!.name],
    release,
    view: renderCohortCells,
  };
}
