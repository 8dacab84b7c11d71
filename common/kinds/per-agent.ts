import type { StatLayout, StatVector } from './stat-layout.js';

/**
 * Each agent's entries of the named blocks (layout order), for a round the coordinator summed in the clear (mode
 * none, plain sums): it holds every agent's vector then anyway, so keeping a few blocks per agent reveals nothing
 * new. Never called for secure sums or the DP modes (the round runner checks).
 */
export function agentBlockSlices(layout: StatLayout, blocks: readonly string[], replies: readonly { agent: string; vector: StatVector }[]): Record<string, number[]> {
  const ranges: [number, number][] = [];
  let at = 0;
  for (const b of layout.blocks) {
    if (blocks.includes(b.name)) ranges.push([at, at + b.length]);
    at += b.length;
  }
  const out: Record<string, number[]> = {};
  for (const r of replies) out[r.agent] = ranges.flatMap(([lo, hi]) => Array.from(r.vector.values.slice(lo, hi)));
  return out;
}
