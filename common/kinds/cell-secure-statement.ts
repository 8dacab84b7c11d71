/**
 * How a ported cell kind (contingency, survival Kaplan–Meier: person counts in public cells) states a secure sum's
 * release: in mode none the minimum cell size applied to the totals (per-agent withholding is impossible inside a
 * secure sum); in distributed-dp the contributors' discrete Gaussian shares per block (the seam's KLS 2021 shares,
 * the job's ρ split evenly over the noisy blocks). Pure.
 */
import { jobRho } from './noise-calibration.js';
import { toleratedAgents } from './agent-noise-modes.js';
import type { CompiledKindJob, KindReleaseInfo, RoundRecord } from './kind.js';
import type { StatVector } from './stat-layout.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../secure/index.js';
import { FedmeshError } from '../errors.js';

export interface CellSecureStatement {
  privacy: Record<string, unknown>;
  notes: string[];
  /** Mode none: totals 0 < v < minCellSize are withheld. */
  minCellSize?: number;
  /** The noise std of each block's entries (0 in mode none), in layout order. */
  blockStd: number[];
}

/** How a distributed-dp round's noise shares are stated: sized for the round's n agents, of which c contributed. */
export interface RoundShares {
  /** n: the agents the round asked (the shares were sized for them). */
  readonly agents: number;
  readonly contributors: number;
  /** t(n): the agents that may drop out or collude with the coordinator, dropouts included. */
  readonly tolerated: number;
  readonly minHonestShares: number;
  /** √(c/n): the std of c agents' shares relative to the n the round's noise was stated for. */
  readonly stdScale: number;
}

/**
 * The shares of a one-round secure job's round (red team 49: the statement took the contributors for n, so with a
 * dropout it claimed t(c) more colluders tolerated than the shares were sized for, and an explicit `tolerated` valid
 * for n failed the release after every ledger was charged). For kinds that pick each round's agents, n is not this.
 */
export function roundShares(job: CompiledKindJob, last: RoundRecord): RoundShares {
  const contributors = last.answered.length;
  const agents = contributors + (last.missed?.length ?? 0);
  const tolerated = toleratedAgents(job, agents);
  return { agents, contributors, tolerated, minHonestShares: agents - tolerated, stdScale: Math.sqrt(contributors / agents) };
}

/**
 * The minimum cell size a secure sum's release applies to its pooled totals in mode none: the largest any answering
 * agent published. Inside the sum it is the only suppression there is, so it is never guessed.
 * @throws FedmeshError FAILED_PRECONDITION naming an answering agent whose published size is not known (red team 48:
 *   after a restart with the agent not connected again, it counted as 0 and small totals were released)
 */
export function pooledMinCellSize(answered: readonly string[], info: KindReleaseInfo): number {
  const unknown = answered.filter((a) => info.minCellSize?.[a] === undefined);
  if (unknown.length > 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `result not released: the minimum cell size ${unknown.join(', ')} published is not known to the coordinator, and inside a secure sum it is what suppresses small totals; run the job again`, { field: 'secure' });
  }
  return Math.max(1, ...answered.map((a) => info.minCellSize![a]!));
}

/**
 * @param blocks the layout's block names, in order
 * @param sensitivity each block's per-person L1 and L2² (before the sites factor). @default L1 = L2² = 1 (one cell per person)
 * @param secureMaxRows the public per-agent bound every cell is clipped to before masking
 */
export function cellSecureStatement(job: CompiledKindJob, blocks: readonly string[], secureMaxRows: number, last: RoundRecord, info: KindReleaseInfo, sensitivity?: readonly { readonly l1: number; readonly l2Sq: number }[]): CellSecureStatement {
  const contributors = last.answered.length;
  const clip = `secureMaxRows ${secureMaxRows}: every agent clips each cell to the public per-agent bound (${secureMaxRows} persons) before masking, so a value differs from the exact one only where an agent holds more persons in a cell`;
  if (job.privacy.mode === 'none') {
    const k = pooledMinCellSize(last.answered, info);
    return {
      minCellSize: k,
      blockStd: blocks.map(() => 0),
      privacy: { mode: 'none', secure: job.secure, exact: true, minCellSize: k, contributors, secureMaxRows },
      notes: [
        `mode none with secure aggregation (${job.secure}): exact counts of distinct persons; no agent's counts were visible to the coordinator`,
        `the minimum cell size (${k}, the largest among the contributing agents) is applied to the released totals, not per agent: per-agent suppression is impossible inside secure aggregation`,
        clip,
      ],
    };
  }
  const shares = roundShares(job, last);
  // The round states its noise for the n agents asked; c contributed.
  const blockStd = blocks.map((_, i) => (last.noiseStd[i] ?? 0) * shares.stdScale);
  const sites = job.privacy.maxSitesPerPerson ?? 1;
  return {
    blockStd,
    privacy: {
      mode: job.privacy.mode,
      secure: job.secure,
      ...(job.privacy.epsilon !== undefined ? { epsilon: job.privacy.epsilon, delta: job.privacy.delta } : {}),
      rho: jobRho(job),
      contributors,
      tolerated: shares.tolerated,
      ...(shares.agents !== contributors ? { agents: shares.agents, minHonestShares: shares.minHonestShares } : {}),
      maxRowsPerPerson: 1,
      budgetSplit: blocks.length === 1 ? `the whole budget on 1 block: ${blocks[0]}` : `equal ρ shares over ${blocks.length} blocks: ${blocks.join(', ')}`,
      mechanism: 'discrete-gaussian noise shares, one per agent, summed inside secure aggregation',
      mechanisms: blocks.map((block, i) => ({ block, sensitivity: { l1: (sensitivity?.[i]?.l1 ?? 1) * sites, l2: Math.sqrt(sensitivity?.[i]?.l2Sq ?? 1) * sites }, distribution: 'discrete-gaussian', totalStd: blockStd[i] })),
      secureMaxRows,
    },
    notes: [
      `${job.privacy.mode} with ${job.secure}: each of ${contributors} contributing agents added a discrete Gaussian share to its ${blocks.length === 1 ? 'table' : 'blocks'} before masking; only the noisy sum was ever decoded. <name>_std is the std of the summed shares`,
      clip,
    ],
  };
}

/**
 * Inside a secure sum every agent clips each count of a ported cell kind to the public per-agent bound
 * (`secureMaxRows`) before masking, as the built-in kinds did: a value differs from the exact one only where an agent
 * holds more persons in a cell, and no agent refuses on a value (which would tell that it holds that many).
 * Plain sums: unchanged.
 */
export function clipToSecureMaxRows(job: { readonly secure: string; readonly spec: { readonly secureMaxRows?: number } }, v: StatVector): StatVector {
  if (job.secure === 'plain') return v;
  const hi = job.spec.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
  return { values: v.values.map((x) => Math.min(x, hi)) };
}
