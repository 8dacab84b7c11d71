/**
 * The fixed, public vector of a secure aggregate job: for every public group combination, the integer statistics
 * its measures need (row count; n / sum / sum of squares on the plan's grids; histogram bins), each with public
 * per-agent bounds and written as limbs (see limbs.ts). Agents, the coordinator and the researcher's client derive
 * the same layout from the spec, the column types, n and the ring — never from data.
 */
import type { GroupPartial, KeyValue, MeasurePartial } from '../../algorithms/aggregate/index.js';
import type { Rational } from '../../algorithms/dp/index.js';
import { FedmeshError, invalidJob } from '../errors.js';
import { publicGroupCombos, measureField, type AggregateJob } from '../job/index.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout } from '../job/index.js';
import type { NoisyStatistic, SecureNoisePlan } from './distributed-noise.js';
import { limbsFor, MAX_LIMBS, readLimbs, writeLimbs, type LimbRing } from './limbs.js';

/** Rows one agent may contribute to a secure job unless the spec says otherwise (a public cap for the overflow bound). */
export const DEFAULT_SECURE_MAX_ROWS = 1 << 24;
/** Noise shares are bounded by this many share standard deviations (exceeded with probability < 1e-80). */
export const NOISE_TAIL_SIGMAS = 20;

export interface StatisticSlot {
  /** -1 for the group's row count. */
  readonly measure: number;
  readonly kind: NoisyStatistic;
  readonly bin: number;
  /** Public per-agent bounds (grid units, noise tail included). */
  readonly lo: bigint;
  readonly hi: bigint;
  /** Public per-agent bounds of the exact statistic (secureMaxRows × the per-row bound): it is clipped to them. */
  readonly clipLo: bigint;
  readonly clipHi: bigint;
  readonly limbs: number;
  /** Offset of the slot's first limb within its group's block. */
  readonly offset: number;
  /** σᵢ² of this agent's noise share (distributed-dp), grid units. */
  readonly shareSigma2?: Rational;
  readonly label: string;
}

export interface SecureVectorLayout {
  readonly ring: LimbRing;
  readonly agents: number;
  readonly maxRowsPerAgent: number;
  readonly combos: readonly KeyValue[][];
  /** The statistics of one group, in order; every group has the same block. */
  readonly slots: readonly StatisticSlot[];
  readonly limbsPerGroup: number;
  readonly vectorLength: number;
}

const ceilBig = (x: number): bigint => BigInt(Math.ceil(x));
const floorBig = (x: number): bigint => BigInt(Math.floor(x));

/** Per-row bounds of a statistic in grid units (conservative: one unit of slack for rounding). */
function rowBounds(l: AgentMeasureLayout, kind: NoisyStatistic): [bigint, bigint] {
  if (kind === 'rows' || kind === 'n' || kind === 'bin') return [0n, 1n];
  if (l.kind !== 'moments') throw new TypeError('moments statistic without a moments layout');
  if (kind === 'sum') return [floorBig((l.lower - l.center) * 2 ** l.scaleBits) - 1n, ceilBig((l.upper - l.center) * 2 ** l.scaleBits) + 1n];
  const halfSq = l.center === 0 ? Math.max(l.lower * l.lower, l.upper * l.upper) : ((l.upper - l.lower) / 2) ** 2;
  return [0n, ceilBig(halfSq * 2 ** l.sqScaleBits) + 1n];
}

/**
 * The public per-agent clip bounds of one statistic (grid units): secureMaxRows × its per-row bound, 0 included.
 * @param l the measure's layout (undefined: the group's row count)
 */
export function statisticClip(l: AgentMeasureLayout | undefined, kind: NoisyStatistic, maxRowsPerAgent: number): [bigint, bigint] {
  const [rowLo, rowHi] = l ? rowBounds(l, kind) : [0n, 1n];
  const cap = BigInt(maxRowsPerAgent);
  return [cap * (rowLo < 0n ? rowLo : 0n), cap * (rowHi > 0n ? rowHi : 0n)];
}

/** The statistics a measure needs, in order. Mode none sends what its exact release reads; distributed-dp what it noises. */
export function measureStatistics(job: AggregateJob, plan: AggregatePrivacyPlan, i: number): { kind: NoisyStatistic; bins: number }[] {
  const m = job.measures[i]!;
  const l = plan.layout[i]!;
  if (m.fn === 'count') return [];
  if (l.kind === 'histogram') return [{ kind: 'bin', bins: l.bins }];
  if (m.fn === 'sum') return [{ kind: 'sum', bins: 1 }];
  if (m.fn === 'mean') return [{ kind: 'n', bins: 1 }, { kind: 'sum', bins: 1 }];
  return [{ kind: 'n', bins: 1 }, { kind: 'sum', bins: 1 }, { kind: 'sumSq', bins: 1 }];
}

export interface SecureLayoutOptions {
  ring: LimbRing;
  agents: number;
  /** Public cap on the rows one agent contributes. @default DEFAULT_SECURE_MAX_ROWS */
  maxRowsPerAgent?: number;
  /** distributed-dp: the shares each agent adds. */
  noise?: SecureNoisePlan;
}

/**
 * Builds the layout. Needs public group keys (or no groupBy): the vector must not depend on which groups exist.
 * @throws FedmeshError INVALID_JOB naming the field (data-dependent groups, or a statistic that would need more
 *   than MAX_LIMBS limbs)
 */
export function secureVectorLayout(job: AggregateJob, plan: AggregatePrivacyPlan, options: SecureLayoutOptions): SecureVectorLayout {
  const combos = publicGroupCombos(job);
  if (!combos) throw invalidJob('groupKeys', 'secure aggregation needs a fixed public layout: give groupKeys (one list of public values per groupBy column), or no groupBy');
  if (plan.mode !== 'none' && plan.mode !== 'distributed-dp') {
    throw invalidJob('privacy.mode', `secure aggregation supports modes none and distributed-dp, not ${plan.mode}`);
  }
  if (plan.mode === 'distributed-dp' && !options.noise) throw new TypeError('distributed-dp layout needs the noise plan');
  const cap = options.maxRowsPerAgent ?? DEFAULT_SECURE_MAX_ROWS;
  const slots: StatisticSlot[] = [];
  let offset = 0;
  const add = (measure: number, kind: NoisyStatistic, bin: number, l: AgentMeasureLayout | undefined, field: string): void => {
    const share = measure >= 0 ? options.noise?.measures[measure]?.shares[kind] : options.noise ? sharesForRows(options.noise, job) : undefined;
    if (plan.mode === 'distributed-dp' && !share) return; // not noised: not released, not sent
    const tail = share ? ceilBig(NOISE_TAIL_SIGMAS * Math.sqrt(share.plan.shareSigma2Value)) : 0n;
    const [clipLo, clipHi] = statisticClip(l, kind, cap);
    const lo = clipLo - tail;
    const hi = clipHi + tail;
    const limbs = limbsFor(options.ring, lo, hi, options.agents);
    const label = kind === 'rows' ? 'row count' : `${field} ${kind === 'bin' ? `bin ${bin}` : kind}`;
    if (limbs === undefined) {
      throw invalidJob(
        measure >= 0 ? `measures[${measure}]` : 'secureMaxRows',
        `${label}: the secure sum of ${options.agents} agents with up to ${cap} rows each spans [${BigInt(options.agents) * lo}, ${BigInt(options.agents) * hi}], more than ${MAX_LIMBS} limbs of the ${options.ring.kind} ring hold; narrow the bounds or lower secureMaxRows`,
      );
    }
    slots.push({ measure, kind, bin, lo, hi, clipLo, clipHi, limbs, offset, ...(share ? { shareSigma2: share.plan.shareSigma2 } : {}), label });
    offset += limbs;
  };
  add(-1, 'rows', 0, undefined, 'count');
  job.measures.forEach((m, i) => {
    for (const s of measureStatistics(job, plan, i)) {
      for (let b = 0; b < s.bins; b++) add(i, s.kind, b, plan.layout[i], `measures[${i}] (${measureField(m)})`);
    }
  });
  const vectorLength = offset * combos.length;
  if (vectorLength === 0) throw invalidJob('measures', 'nothing to aggregate');
  return Object.freeze({ ring: options.ring, agents: options.agents, maxRowsPerAgent: cap, combos, slots, limbsPerGroup: offset, vectorLength });
}

function sharesForRows(noise: SecureNoisePlan, job: AggregateJob) {
  const i = job.measures.findIndex((m) => m.fn === 'count');
  return i >= 0 ? noise.measures[i]?.shares.rows : undefined;
}

/** The exact value of one slot in a group's partial. */
function slotValue(g: GroupPartial, s: StatisticSlot): bigint {
  if (s.kind === 'rows') return g.count;
  const m = g.measures[s.measure];
  if (!m) throw new FedmeshError('INTERNAL', `missing measure ${s.measure}`);
  if (s.kind === 'bin') {
    if (m.kind !== 'histogram') throw new FedmeshError('INTERNAL', `measure ${s.measure}: expected histogram`);
    return m.bins[s.bin] ?? 0n;
  }
  if (m.kind !== 'moments') throw new FedmeshError('INTERNAL', `measure ${s.measure}: expected moments`);
  return s.kind === 'n' ? m.n : s.kind === 'sum' ? m.sum : m.sumSq;
}

/** x clipped to [lo, hi]: 1-Lipschitz, so a statistic's sensitivity holds after clipping. */
export function clipBig(x: bigint, lo: bigint, hi: bigint): bigint {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * One agent's vector: each statistic of each public group, CLIPPED to its public per-agent bound (secureMaxRows ×
 * the per-row bound), plus its noise share, then clamped to the bound with the noise tail (20 share σ: reached with
 * probability below 1e-80) and written as limbs. Never refuses on a value: whether the job succeeds must not depend
 * on the data, and a refusal when a count passes a researcher-chosen bound pinned that count. Clipping is
 * 1-Lipschitz in each statistic, so the plan's sensitivities hold; it changes a value only where this agent has
 * more than secureMaxRows rows in a group. Nothing tells anyone whether it did.
 */
export function encodeSecureVector(layout: SecureVectorLayout, groups: readonly GroupPartial[], noise: ((s: StatisticSlot) => bigint) | undefined, asBigInt: boolean): Uint32Array | BigInt64Array {
  const out = asBigInt ? new BigInt64Array(layout.vectorLength) : new Uint32Array(layout.vectorLength);
  const byKey = new Map(groups.map((g) => [JSON.stringify(g.key), g]));
  layout.combos.forEach((key, gi) => {
    const g = byKey.get(JSON.stringify(key));
    for (const s of layout.slots) {
      const exact = clipBig(g ? slotValue(g, s) : 0n, s.clipLo, s.clipHi);
      const x = clipBig(exact + (noise && s.shareSigma2 ? noise(s) : 0n), s.lo, s.hi);
      writeLimbs(layout.ring, s.limbs, x, out as never, gi * layout.limbsPerGroup + s.offset, asBigInt);
    }
  });
  return out;
}

/**
 * Reads the totals back from the summed limbs: one partial per public group, in the layout of the privacy plan.
 * Measures without a slot (e.g. n of a sum in distributed-dp) read as zero.
 */
export function decodeSecureSum(layout: SecureVectorLayout, plan: AggregatePrivacyPlan, sums: ArrayLike<number | bigint>): GroupPartial[] {
  if (sums.length !== layout.vectorLength) throw new FedmeshError('INVALID_ARGUMENT', `secure sum has ${sums.length} elements, the layout ${layout.vectorLength}`);
  const n = BigInt(layout.agents);
  return layout.combos.map((key, gi) => {
    const measures: MeasurePartial[] = plan.layout.map((l) =>
      l.kind === 'moments'
        ? { kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits }
        : l.kind === 'histogram'
          ? { kind: 'histogram', bins: Array<bigint | null>(l.bins).fill(0n) }
          : { kind: 'count' },
    );
    let count = 0n;
    for (const s of layout.slots) {
      const v = readLimbs(layout.ring, s.limbs, sums, gi * layout.limbsPerGroup + s.offset, n * s.lo);
      if (s.kind === 'rows') count = v;
      else {
        const m = measures[s.measure]!;
        if (m.kind === 'histogram') m.bins[s.bin] = v;
        else if (m.kind === 'moments') {
          if (s.kind === 'n') m.n = v;
          else if (s.kind === 'sum') m.sum = v;
          else m.sumSq = v;
        }
      }
    }
    return { key: [...key], count, measures, suppressedBy: [] };
  });
}
