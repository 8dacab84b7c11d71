import { FedmeshError } from '../errors.js';
import type { KindJobCommon } from './kind.js';
import { blockOffsets, layoutLength, type StatLayout, type StatVector } from './stat-layout.js';

/**
 * `release: 'selection'` blocks (issue 9, "Porting the old kinds" item 3): small-cell withholding at the source in
 * mode none, as the old cell kinds do it. An agent replaces every entry of a selection block that is positive but
 * below its own minimum cell size by {@link WITHHELD} before anything leaves; the coordinator releases such an entry
 * as withheld (no value) and reports which agents withheld it. Zero stays zero (an empty cell is not a small one),
 * except among the entries about a withheld total's persons (`subsets`), which are withheld whole.
 *
 * Why a marker in the vector rather than a side channel: the vector is the only thing a round carries, its layout
 * is public, and a marker below the block's public lower bound cannot be mistaken for a value. Selection blocks
 * must therefore have `perAgent.lo >= 0` (counts). In the DP modes nothing is withheld: the noise protects small
 * cells, and withholding after noise would only bias the release.
 *
 * A marker cannot pass through a secure sum (it would be added into the other agents' values), so a mode-none job
 * with selection blocks runs with the plain sum only; {@link checkSelectionSecure} refuses the rest.
 */
export const WITHHELD = -1;

/** Whether selection applies to this job's rounds: mode none only. */
export function selectionApplies(job: Pick<KindJobCommon, 'privacy'>): boolean {
  return job.privacy.mode === 'none';
}

export function hasSelectionBlocks(layout: StatLayout): boolean {
  return layout.blocks.some((b) => b.release === 'selection');
}

/**
 * A mode-none job whose layout withholds cells must use the plain sum (see the module comment).
 * @throws FedmeshError FAILED_PRECONDITION naming `secure`
 */
export function checkSelectionSecure(job: Pick<KindJobCommon, 'privacy' | 'secure' | 'kind'>, layout: StatLayout): void {
  if (!selectionApplies(job) || job.secure === 'plain' || !hasSelectionBlocks(layout)) return;
  throw new FedmeshError(
    'FAILED_PRECONDITION',
    `secure: a ${job.kind} job in mode none withholds small cells at each agent, which a ${job.secure} sum cannot report; use secure plain, or a DP mode with ${job.secure}`,
    { field: 'secure' },
  );
}

/**
 * The layout an agent's reply is checked against when selection applies: selection blocks also admit the marker.
 * The same layout object when it has no selection blocks.
 * @throws RangeError when a selection block's public lower bound is negative (the marker would be ambiguous)
 */
export function layoutWithWithheld(layout: StatLayout): StatLayout {
  if (!hasSelectionBlocks(layout)) return layout;
  return {
    blocks: layout.blocks.map((b) => {
      if (b.release !== 'selection') return b;
      if (b.perAgent.lo < 0) throw new RangeError(`layout block ${b.name}: a selection block needs perAgent.lo >= 0, the withheld marker is ${WITHHELD}`);
      return { ...b, perAgent: { lo: WITHHELD, hi: b.perAgent.hi } };
    }),
  };
}

/**
 * Agent side, mode none: entries of selection blocks with 0 < value < minCellSize become {@link WITHHELD}; then, along
 * each of the block's `nested` chains, {@link withholdNestedDifferences}. Returns a new vector and how many entries were withheld (for the agent's log; never the values).
 */
export function withholdSmallCells(layout: StatLayout, v: StatVector, minCellSize: number): { vector: StatVector; withheld: number } {
  if (!(Number.isFinite(minCellSize) && minCellSize >= 1)) throw new RangeError(`minCellSize must be >= 1, got ${minCellSize}`);
  const out = Float64Array.from(v.values);
  const offsets = blockOffsets(layout);
  let withheld = 0;
  for (const [i, b] of layout.blocks.entries()) {
    if (b.release !== 'selection') continue;
    for (let j = offsets[i]!; j < offsets[i]! + b.length; j++) {
      const x = out[j]!;
      if (x > 0 && x < minCellSize) {
        out[j] = WITHHELD;
        withheld++;
      }
    }
    for (const chain of b.nested ?? []) withheld += withholdNestedDifferences(out, chain.map((e) => offsets[i]! + e), minCellSize);
    for (const p of b.partitions ?? []) withheld += withholdPartition(out, offsets[i]! + p.total, p.parts.map((e) => offsets[i]! + e), minCellSize);
    for (const p of b.subsets ?? []) withheld += withholdSubsets(out, offsets[i]! + p.total, p.entries.map((e) => offsets[i]! + e));
  }
  return { vector: { values: out }, withheld };
}

/**
 * Complementary suppression of one partition (vector indices), in place: the total withheld → every non-empty part
 * withheld (their sum would give it back); the total released and its withheld parts adding up to 1 … k − 1 → the
 * smallest released non-empty part withheld too, which makes the withheld sum at least k (a released part is ≥ k).
 * Returns how many entries it withheld.
 */
export function withholdPartition(values: Float64Array, total: number, parts: readonly number[], minCellSize: number): number {
  let withheld = 0;
  if (values[total] === WITHHELD) {
    for (const j of parts) {
      if (values[j] !== WITHHELD && values[j]! > 0) {
        values[j] = WITHHELD;
        withheld++;
      }
    }
    return withheld;
  }
  const released = parts.filter((j) => values[j] !== WITHHELD);
  const hidden = values[total]! - released.reduce((s, j) => s + values[j]!, 0);
  if (hidden > 0 && hidden < minCellSize && released.length < parts.length) {
    const smallest = released.filter((j) => values[j]! > 0).sort((a, b) => values[a]! - values[b]! || a - b)[0];
    if (smallest !== undefined) {
      values[smallest] = WITHHELD;
      withheld++;
    }
  }
  return withheld;
}

/**
 * The entries about a withheld total's persons (vector indices), in place: all withheld, zeros included (an empty
 * cell next to a withheld one says what the few persons behind the total have not). Returns how many it withheld.
 */
export function withholdSubsets(values: Float64Array, total: number, entries: readonly number[]): number {
  if (values[total] !== WITHHELD) return 0;
  let withheld = 0;
  for (const j of entries) {
    if (values[j] === WITHHELD) continue;
    values[j] = WITHHELD;
    withheld++;
  }
  return withheld;
}

/**
 * Complementary suppression along one chain of nested person sets (vector indices, largest set first), in place:
 * an entry whose difference from the last entry released before it in the chain is 1 … k − 1 persons is withheld
 * too (else the parent minus the child would disclose the persons one rule removed), and the next entry is compared
 * with that last released one. Entries already withheld are skipped. The old cell path's rule for a cohort's
 * attrition (node-agent/jobs/cell-jobs.ts), reproduced exactly. Returns how many entries it withheld.
 */
export function withholdNestedDifferences(values: Float64Array, chain: readonly number[], minCellSize: number): number {
  let last: number | undefined;
  let withheld = 0;
  for (const j of chain) {
    const v = values[j]!;
    if (v === WITHHELD) continue;
    if (last !== undefined && last - v > 0 && last - v < minCellSize) {
      values[j] = WITHHELD;
      withheld++;
      continue;
    }
    last = v;
  }
  return withheld;
}

/** One entry some agents withheld: the block, the entry's index in it, and who withheld it (sorted). */
export interface WithheldEntry {
  readonly block: string;
  readonly entry: number;
  readonly agents: readonly string[];
}

/**
 * Coordinator side: the withheld entries of the agents' replies, and the replies with every marker replaced by 0 so
 * that they sum. An entry any agent withheld is not released at all (its sum would be the other agents' part,
 * which the researcher could not tell from a complete one); the caller zeroes it in the released vector.
 */
export function collectWithheld(layout: StatLayout, replies: readonly { agent: string; vector: StatVector }[]): { replies: { agent: string; vector: StatVector }[]; withheld: WithheldEntry[] } {
  const n = layoutLength(layout);
  const by = new Map<number, string[]>();
  const cleaned = replies.map((r) => {
    const values = Float64Array.from(r.vector.values);
    for (let i = 0; i < n; i++) {
      if (values[i] === WITHHELD && isSelectionEntry(layout, i)) {
        values[i] = 0;
        const list = by.get(i) ?? [];
        list.push(r.agent);
        by.set(i, list);
      }
    }
    return { agent: r.agent, vector: { values } };
  });
  const offsets = blockOffsets(layout);
  const withheld: WithheldEntry[] = [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, agents]) => {
      let bi = 0;
      while (bi + 1 < offsets.length && offsets[bi + 1]! <= i) bi++;
      return { block: layout.blocks[bi]!.name, entry: i - offsets[bi]!, agents: [...agents].sort() };
    });
  return { replies: cleaned, withheld };
}

/** Zeroes the withheld entries of a summed vector (nothing of them is released). */
export function zeroWithheld(layout: StatLayout, sum: StatVector, withheld: readonly WithheldEntry[]): StatVector {
  if (withheld.length === 0) return sum;
  const values = Float64Array.from(sum.values);
  const offsets = blockOffsets(layout);
  for (const w of withheld) {
    const bi = layout.blocks.findIndex((b) => b.name === w.block);
    values[offsets[bi]! + w.entry] = 0;
  }
  return { values };
}

/** How many entries each agent withheld in a round (the release reports it per agent). */
export function withheldPerAgent(withheld: readonly WithheldEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of withheld) for (const a of w.agents) out[a] = (out[a] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The job result's `suppressed` list when the kind names no cells itself: the last round's withheld entries (a
 * kind's release reads the released values of that round, so those are the ones it could not show).
 */
export function suppressedOfRounds(history: readonly { readonly withheld?: readonly WithheldEntry[] }[]): { group: Record<string, unknown>; suppressedBy: string[] }[] {
  const last = history[history.length - 1];
  return (last?.withheld ?? []).map((w) => ({ group: { block: w.block, entry: w.entry }, suppressedBy: [...w.agents] }));
}

function isSelectionEntry(layout: StatLayout, i: number): boolean {
  let at = 0;
  for (const b of layout.blocks) {
    if (i < at + b.length) return b.release === 'selection';
    at += b.length;
  }
  return false;
}
