/**
 * Secure aggregation of cohort-level jobs (cohort, characterize, survival, contingency). The public vector is the
 * job's cell list in `cellBlocks` order — every block in mode none, the DP-safe blocks in distributed-dp — one
 * statistic per cell (a count of distinct persons, `entries` in mode none), written as limbs (limbs.ts) with the
 * public per-agent bound [−tail, secureMaxRows + tail]. Agents, the coordinator and the researcher's client derive
 * the same plan from the spec, the rule names, n and the ring — never from data. The release (shared by the
 * coordinator for SecAgg and the client for HE) feeds the summed cells to the same summary code as the plaintext job.
 */
import * as dp from '../../algorithms/dp/index.js';
import { FedmeshError, invalidJob } from '../errors.js';
import { planCellPrivacy, type CellPrivacyPlan, summariseCells, type CellSummary, type ReleasedCell, cellBlocks, isConceptCell, type CellBlock, DEFAULT_JOB_DELTA, type CellJob, describeGuarantee, isFilledLinkage, contingencyWithheld } from '../job/index.js';
import { defaultTolerated } from './distributed-noise.js';
import { limbsFor, MAX_LIMBS, readLimbs, writeLimbs, type LimbRing } from './limbs.js';
import { MIN_SECURE_AGENTS, secureThreshold } from './secure-job.js';
import { clipBig, DEFAULT_SECURE_MAX_ROWS, NOISE_TAIL_SIGMAS } from './vector-layout.js';
import { clippingNote } from './secure-max-rows.js';

export interface SecureCellSlot {
  readonly cell: string;
  /** Index into SecureCellPlan.blocks. */
  readonly block: number;
  /** Public per-agent bounds (noise tail included). */
  readonly lo: bigint;
  readonly hi: bigint;
  /** The exact count is clipped to [0, secureMaxRows] before its noise share is added. */
  readonly clipHi: bigint;
  readonly limbs: number;
  readonly offset: number;
}

export interface SecureCellBlockNoise {
  readonly plan: dp.DistributedNoisePlan;
  readonly central: dp.CalibratedNoise;
}

export interface SecureCellNoisePlan {
  readonly agents: number;
  readonly tolerated: number;
  readonly minHonestShares: number;
  /** Per block of SecureCellPlan.blocks. */
  readonly blocks: readonly SecureCellBlockNoise[];
  /** Per block the larger of the KLS bound with n − tolerated shares and the central cost, summed. */
  readonly cost: dp.PrivacyCost;
}

export interface SecureCellPlan {
  readonly ring: LimbRing;
  readonly agents: number;
  readonly maxRowsPerAgent: number;
  readonly ruleNames: readonly string[];
  /** The blocks in the vector, in cellBlocks order. */
  readonly blocks: readonly CellBlock[];
  readonly central: CellPrivacyPlan;
  readonly noise: SecureCellNoisePlan | undefined;
  readonly slots: readonly SecureCellSlot[];
  readonly vectorLength: number;
  readonly threshold: number;
  readonly requiredContributors: number;
}

/**
 * Plans the secure vector of a cohort-level job.
 * @throws FedmeshError INVALID_JOB naming the field; FAILED_PRECONDITION below MIN_SECURE_AGENTS agents
 */
export function planSecureCells(job: CellJob, ruleNames: readonly string[], agents: number, ring: LimbRing): SecureCellPlan {
  if (agents < MIN_SECURE_AGENTS) {
    throw new FedmeshError('FAILED_PRECONDITION', `secure aggregation needs at least ${MIN_SECURE_AGENTS} agents (with two, the sum reveals the other's input); ${agents} serve this job`, { field: 'agents' });
  }
  const mode = job.privacy.mode;
  if (mode !== 'none' && mode !== 'distributed-dp') throw invalidJob('privacy.mode', `secure aggregation supports modes none and distributed-dp, not ${mode}`);
  const all = cellBlocks(job, ruleNames);
  const central = planCellPrivacy(job, all);
  const kept = all.map((block, i) => ({ block, noise: central.blocks[i]!.noise })).filter((b) => mode === 'none' || b.block.dpSafe);
  let noise: SecureCellNoisePlan | undefined;
  if (mode === 'distributed-dp') {
    const tolerated = job.privacy.tolerated ?? defaultTolerated(agents);
    if (!Number.isInteger(tolerated) || tolerated < 0 || tolerated >= agents) {
      throw invalidJob('privacy.tolerated', `must be an integer in [0, ${agents - 1}] for ${agents} agents, got ${tolerated}`);
    }
    const costs: dp.PrivacyCost[] = [];
    const blocks = kept.map(({ block, noise: c }): SecureCellBlockNoise => {
      if (!c || c.info.distribution !== 'discrete-gaussian') {
        throw invalidJob('privacy', `distributed-dp adds discrete Gaussian shares: give delta > 0 or rho (a pure-epsilon budget selects Laplace noise) (block ${block.name})`);
      }
      let p: dp.DistributedNoisePlan;
      try {
        p = dp.planDistributedNoise({ agents, tolerated, l2Sensitivity: c.info.sensitivity, dimension: block.cells.length, rho: c.cost.rho });
      } catch (e) {
        throw invalidJob('privacy', `block ${block.name}: ${(e as Error).message}`);
      }
      costs.push({ rho: Math.max(p.rho, c.cost.rho), epsilon: Infinity, delta: 0 });
      return { plan: p, central: c };
    });
    noise = { agents, tolerated, minHonestShares: agents - tolerated, blocks, cost: dp.addCosts(...costs) };
  }
  const cap = job.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
  const slots: SecureCellSlot[] = [];
  let offset = 0;
  kept.forEach(({ block }, bi) => {
    const share = noise?.blocks[bi];
    const tail = share ? BigInt(Math.ceil(NOISE_TAIL_SIGMAS * Math.sqrt(share.plan.shareSigma2Value))) : 0n;
    const lo = -tail;
    const hi = BigInt(cap) + tail;
    const limbs = limbsFor(ring, lo, hi, agents);
    if (limbs === undefined) {
      throw invalidJob('secureMaxRows', `block ${block.name}: the secure sum of ${agents} agents with up to ${cap} persons each spans [${BigInt(agents) * lo}, ${BigInt(agents) * hi}], more than ${MAX_LIMBS} limbs of the ${ring.kind} ring hold; lower secureMaxRows`);
    }
    for (const cell of block.cells) {
      slots.push({ cell, block: bi, lo, hi, clipHi: BigInt(cap), limbs, offset });
      offset += limbs;
    }
  });
  if (offset === 0) throw invalidJob('kind', 'nothing to aggregate');
  const threshold = secureThreshold(job, agents);
  if (job.quorum !== undefined && job.quorum > agents) throw invalidJob('quorum', `${job.quorum} agents required but only ${agents} take part`);
  // The default quorum is every agent asked: a dropout the researcher did not accept fails the job, never shrinks it silently.
  const requiredContributors = Math.max(threshold, job.quorum ?? agents, noise ? noise.minHonestShares : 0);
  return Object.freeze({ ring, agents, maxRowsPerAgent: cap, ruleNames: [...ruleNames], blocks: kept.map((b) => b.block), central, noise, slots, vectorLength: offset, threshold, requiredContributors });
}

/**
 * One agent's vector: each cell CLIPPED to [0, secureMaxRows] (plus its block's noise share in distributed-dp, the
 * sum clamped to the bound with the 20σ noise tail), written as limbs. Never refuses on a value (see
 * encodeSecureVector): clipping is 1-Lipschitz, so the blocks' sensitivities hold.
 */
export function encodeSecureCells(plan: SecureCellPlan, values: ReadonlyMap<string, bigint>, noise: ((block: number) => bigint) | undefined, asBigInt: boolean): Uint32Array | BigInt64Array {
  const out = asBigInt ? new BigInt64Array(plan.vectorLength) : new Uint32Array(plan.vectorLength);
  for (const s of plan.slots) {
    const exact = clipBig(values.get(s.cell) ?? 0n, 0n, s.clipHi);
    const x = clipBig(exact + (noise && plan.noise ? noise(s.block) : 0n), s.lo, s.hi);
    writeLimbs(plan.ring, s.limbs, x, out as never, s.offset, asBigInt);
  }
  return out;
}

/** Reads the summed cells back from the summed limbs. */
export function decodeSecureCells(plan: SecureCellPlan, sums: ArrayLike<number | bigint>): Map<string, bigint> {
  if (sums.length !== plan.vectorLength) throw new FedmeshError('INVALID_ARGUMENT', `secure sum has ${sums.length} elements, the layout ${plan.vectorLength}`);
  const n = BigInt(plan.agents);
  return new Map(plan.slots.map((s) => [s.cell, readLimbs(plan.ring, s.limbs, sums, s.offset, n * s.lo)]));
}

export interface SecureCellRelease extends CellSummary {
  suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[];
  privacy: Record<string, unknown>;
}

/**
 * Releases the summed cells of a secure cohort-level job through the same summary as the plaintext job. Mode none:
 * exact totals, cells with 0 < total < minCellSize suppressed (per-agent suppression is impossible inside a secure
 * sum). distributed-dp: the totals carry the contributors' shares; each cell's std is that of the summed shares.
 */
export function releaseSecureCells(job: CellJob, plan: SecureCellPlan, totals: ReadonlyMap<string, bigint>, contributors: number, minCellSize: number): SecureCellRelease {
  const k = BigInt(minCellSize);
  const cells = new Map<string, ReleasedCell>();
  const suppressed: SecureCellRelease['suppressed'] = [];
  const ring = `${plan.ring.kind}: ${plan.ring.digitBits}-bit digits`;
  plan.blocks.forEach((block, bi) => {
    const share = plan.noise?.blocks[bi];
    const std = share ? Math.sqrt(contributors * dp.noiseDistribution.discreteGaussianVariance(share.plan.shareSigma2Value)) : 0;
    for (const cell of block.cells) {
      const v = totals.get(cell) ?? 0n;
      if (!share && v > 0n && v < k) {
        suppressed.push({ group: { cell }, suppressedBy: ['minCellSize'] });
        cells.set(cell, { value: null, std: 0 });
      } else cells.set(cell, { value: Number(v), std });
    }
  });
  // Mode none, a cohort's attrition: nested person sets (qualified ⊇ rule 0 ⊇ … ⊇ the cohort). Two released totals
  // that differ by 1 … k − 1 persons disclose the persons one rule removed, so such a step is withheld too, as the
  // plain path's agents withhold it (complementary suppression on the totals; red team 8, F2).
  if (!plan.noise && job.kind === 'cohort') withholdNestedTotals(cells, suppressed, ['qualified', ...plan.ruleNames.map((_, i) => `rule:${i}`), 'persons'], minCellSize);
  // Mode none: the breakdowns split the persons (and entries are at least the persons): complementary suppression.
  if (!plan.noise) for (const p of cellPartitions(job)) withholdPartitionTotals(cells, suppressed, p.total, p.parts, minCellSize);
  if (!plan.noise && job.kind === 'characterize') withholdCloseConceptTotals(cells, suppressed, minCellSize);
  // Mode none: a cohort's (or stratum's) withheld persons take every cell about them along, zeros included.
  if (!plan.noise) for (const s of cellSubsets(job)) withholdSubsetTotals(cells, suppressed, s.total, s.entries);
  // Mode none: a contingency table's lines (common/job/contingency-suppression.ts), on the totals.
  if (!plan.noise && job.kind === 'contingency') withholdTableTotals(cells, suppressed, plan.blocks.flatMap((b) => b.cells), job.rowLevels.length, job.colLevels.length, minCellSize);
  const summary = summariseCells(job, cells, plan.ruleNames, undefined);
  if (!plan.noise) {
    return {
      ...summary,
      suppressed,
      privacy: { mode: 'none', secure: job.secure, exact: true, minCellSize, contributors, secureMaxRows: plan.maxRowsPerAgent, ring },
      notes: [
        `mode none with secure aggregation (${job.secure}): exact counts of distinct persons; no agent's counts were visible to the coordinator`,
        `the minimum cell size (${minCellSize}, the largest among the contributing agents) is applied to the released totals, not per agent: per-agent suppression is impossible inside secure aggregation`,
        clippingNote(plan.maxRowsPerAgent, 'persons', 'none'),
        ...(job.kind === 'characterize' ? [CONCEPT_TOTALS_NOTE] : []),
        ...summary.notes,
      ],
    };
  }
  const noise = plan.noise;
  const delta = job.privacy.delta && job.privacy.delta > 0 ? job.privacy.delta : DEFAULT_JOB_DELTA;
  // Cell values carry <name>_std from the summary; add a normal-approximation interval to the headline count.
  const persons = cells.get('persons');
  if (persons && persons.value !== null) summary.summary.count_ci95 = [Math.max(0, persons.value - dp.Z_975 * persons.std), persons.value + dp.Z_975 * persons.std];
  return {
    ...summary,
    suppressed,
    privacy: {
      mode: 'distributed-dp',
      secure: job.secure,
      spent: { rho: noise.cost.rho, epsilon: dp.epsilonAtDelta(noise.cost, delta), delta },
      agents: noise.agents,
      tolerated: noise.tolerated,
      minHonestShares: noise.minHonestShares,
      contributors,
      budgetSplit: plan.central.budgetSplit,
      mechanisms: plan.blocks.map((b, bi) => {
        const sh = noise.blocks[bi]!;
        return { block: b.name, sensitivity: { l1: b.l1, l2: Math.sqrt(b.l2Sq) }, distribution: 'discrete-gaussian', shareSigma2: sh.plan.shareSigma2Value, shareStd: Math.sqrt(sh.plan.shareSigma2Value), totalStd: Math.sqrt(contributors * dp.noiseDistribution.discreteGaussianVariance(sh.plan.shareSigma2Value)), rho: Math.max(sh.plan.rho, sh.central.cost.rho) };
      }),
      secureMaxRows: plan.maxRowsPerAgent,
      ring,
      maxRowsPerPerson: 1,
      guarantee: describeGuarantee({
        mode: 'distributed-dp',
        secure: job.secure,
        maxRowsPerPerson: 1,
        maxSitesPerPerson: job.privacy.maxSitesPerPerson ?? 1,
        ...(isFilledLinkage(job.privacy.linkage) ? { linkageSites: job.privacy.linkage.sites.length } : {}),
        mechanism: 'discrete-gaussian noise shares, one per agent, summed inside secure aggregation',
        spent: { rho: noise.cost.rho, epsilon: dp.epsilonAtDelta(noise.cost, delta), delta },
        agents: noise.agents,
        tolerated: noise.tolerated,
      }),
    },
    notes: [
      `distributed-dp with ${job.secure}: each of ${contributors} contributing agents added a discrete Gaussian share per block before ${job.secure === 'he' ? 'encrypting' : 'masking'}; only the noisy sum was ever decoded. <name>_std is the std of the summed shares; entries (not person-bounded) are not released`,
      `privacy charged for ${noise.minHonestShares} honest shares (n = ${noise.agents}, tolerating ${noise.tolerated} dropped or colluding agents; Kairouz, Liu & Steinke 2021), never less than the central cost of the same budget`,
      clippingNote(plan.maxRowsPerAgent, 'persons', 'distributed-dp'),
      ...summary.notes,
    ],
  };
}

/** Along a chain of nested cells (largest first): a released total 1 … k − 1 below the last released one is withheld. */
export function withholdNestedTotals(cells: Map<string, ReleasedCell>, suppressed: SecureCellRelease['suppressed'], chain: readonly string[], minCellSize: number): void {
  let last: number | undefined;
  for (const name of chain) {
    const v = cells.get(name)?.value;
    if (v === null || v === undefined) continue;
    if (last !== undefined && last - v > 0 && last - v < minCellSize) {
      cells.set(name, { value: null, std: 0 });
      suppressed.push({ group: { cell: name }, suppressedBy: ['minCellSize'] });
      continue;
    }
    last = v;
  }
}

/**
 * The partitions of a cohort-level job's persons (red team 9, F1): the age bands and the genders each split the
 * cohort's persons, and `entries` is at least the persons — so a withheld part is the total minus the released ones.
 */
export function cellPartitions(job: CellJob): { total: string; parts: string[] }[] {
  if (job.kind !== 'cohort' && job.kind !== 'characterize') return [];
  const blocks = cellBlocks(job, []);
  const cellsOf = (name: string): string[] => blocks.find((b) => b.name === name)?.cells ?? [];
  return [
    { total: 'persons', parts: cellsOf('byAgeBand') },
    { total: 'persons', parts: cellsOf('byGender') },
    ...(job.kind === 'cohort' ? [{ total: 'persons', parts: ['entries'] }] : []),
  ];
}

/**
 * Mode none: cells whose persons are among a total's — a cohort's breakdowns and concept counts among its persons, a
 * Kaplan–Meier stratum's endpoints among its persons at risk. When the total is withheld (1 … k − 1 persons) every
 * one of them is withheld too, zeros included: next to a withheld cell an empty one says what those few persons have
 * and have not (red team 41, F1: three diabetics' age bands, conditions, drugs and years of censoring). Cell names.
 */
export function cellSubsets(job: CellJob): { total: string; entries: string[] }[] {
  if (job.kind === 'contingency') return [];
  const blocks = cellBlocks(job, []);
  const cellsOf = (name: string): string[] => blocks.find((b) => b.name === name)?.cells ?? [];
  if (job.kind === 'survival') {
    const endpoints = cellsOf('endpoints');
    return cellsOf('initialAtRisk').map((n) => {
      const stratum = n.slice('n:'.length);
      return { total: n, entries: endpoints.filter((c) => c.startsWith(`e:${stratum}:`) || c.startsWith(`c:${stratum}:`)) };
    });
  }
  const about = blocks.filter((b) => b.name !== 'persons' && b.name !== 'attrition').flatMap((b) => b.cells);
  return [{ total: 'persons', entries: about }];
}

/**
 * A contingency table's rule (common/job/contingency-suppression.ts) on released totals, in mode none inside a secure
 * sum, as each agent applies it to its own counts with plain sums. `names`: the places in vector order.
 */
export function withholdTableTotals(cells: Map<string, ReleasedCell>, suppressed: SecureCellRelease['suppressed'], names: readonly string[], rows: number, cols: number, minCellSize: number): void {
  const hide = contingencyWithheld(names.map((c) => cells.get(c)?.value ?? null), rows, cols, minCellSize);
  names.forEach((name, i) => {
    if (!hide[i] || cells.get(name)?.value === null) return;
    cells.set(name, { value: null, std: 0 });
    suppressed.push({ group: { cell: name }, suppressedBy: ['minCellSize'] });
  });
}

/** {@link cellSubsets} on released totals: the total withheld → every entry withheld. */
export function withholdSubsetTotals(cells: Map<string, ReleasedCell>, suppressed: SecureCellRelease['suppressed'], total: string, entries: readonly string[]): void {
  if (cells.get(total)?.value !== null) return;
  for (const e of entries) {
    if (!cells.has(e) || cells.get(e)!.value === null) continue;
    cells.set(e, { value: null, std: 0 });
    suppressed.push({ group: { cell: e }, suppressedBy: ['minCellSize'] });
  }
}

/** Complementary suppression of one partition on released totals (the secure path's twin of the agents' rule). */
export function withholdPartitionTotals(cells: Map<string, ReleasedCell>, suppressed: SecureCellRelease['suppressed'], total: string, parts: readonly string[], minCellSize: number): void {
  const hide = (name: string): void => {
    cells.set(name, { value: null, std: 0 });
    suppressed.push({ group: { cell: name }, suppressedBy: ['minCellSize'] });
  };
  const t = cells.get(total)?.value;
  if (t === undefined) return;
  if (t === null) {
    for (const p of parts) if ((cells.get(p)?.value ?? 0) > 0) hide(p);
    return;
  }
  const released = parts.filter((p) => cells.get(p)?.value !== null && cells.get(p) !== undefined);
  const hidden = t - released.reduce((s, p) => s + (cells.get(p)!.value ?? 0), 0);
  if (hidden > 0 && hidden < minCellSize && released.length < parts.length) {
    const smallest = released.filter((p) => cells.get(p)!.value! > 0).sort((a, b) => cells.get(a)!.value! - cells.get(b)!.value!)[0];
    if (smallest !== undefined) hide(smallest);
  }
}

/** Said in a secure mode-none characterisation's release: why a large concept total may be withheld. */
export const CONCEPT_TOTALS_NOTE = "a condition or drug total that differs from the cohort's total or an earlier concept's by fewer than the minimum cell size is withheld however large (releasing both would give the difference for a concept inside the other); unrelated concepts of similar size are withheld too";


/**
 * Inside a secure sum in mode none, the release's stand-in for the agents' within-job rule
 * (node-agent/disclosure/within-job.ts), which needs person sets the release never sees (the coordinator's for
 * secagg; for HE the researcher's own client, which decrypts the totals, so there it holds for an honest client, as
 * the totals' other rules do): taken in the job's
 * order (the map's), a concept total that differs from the cohort's total or from an earlier concept's kept total by
 * 1 … k − 1 is withheld. A concept's persons are inside the cohort's, and a descendant's inside its ancestor's, so
 * for those pairs the difference of the totals is exactly the persons in one cell and not the other, summed over
 * the sites; for two unrelated concepts of similar size it withholds more than needed, never less. The age bands and
 * genders are not compared (a concept confined to one band is the exception, and comparing every concept with every
 * band withheld most concepts of a few dozen persons in the goldens): that case stays open inside a secure sum.
 * Run after the other rules, so that a total they withheld is not taken as kept.
 */
export function withholdCloseConceptTotals(cells: Map<string, ReleasedCell>, suppressed: SecureCellRelease['suppressed'], minCellSize: number): void {
  const persons = cells.get('persons')?.value;
  const kept: number[] = persons !== null && persons !== undefined && persons > 0 ? [persons] : [];
  for (const [name, c] of cells) {
    if (!isConceptCell(name) || c.value === null || c.value <= 0) continue;
    const v = c.value;
    if (kept.some((d) => Math.abs(v - d) >= 1 && Math.abs(v - d) < minCellSize)) {
      cells.set(name, { value: null, std: 0 });
      suppressed.push({ group: { cell: name }, suppressedBy: ['minCellSize'] });
    } else kept.push(v);
  }
}
