/**
 * The statistics vector as integers for a secure sum, whatever the kind. Each block lives on a public power-of-two
 * grid 2^g — the privacy mode's noise grid for a noisy block, else the block's own `gridExponent` — and has public
 * per-agent bounds [lo, hi] (its `perAgent` bounds in grid units, widened by 12 standard deviations of the noise an
 * agent adds). One agent's entry k·2^g is sent as the limbs of k (common/secure/limbs.ts: b-bit digits that add
 * without carries lost, in Z_2^32 for SecAgg, below the plain modulus for HE), and the sum is read back from the
 * window [n·lo, n·hi] of n agents' totals: exactly, with no rounding at all.
 *
 * Everything here is decided from public information only (layout, mode, n, ring), before any agent computes: a
 * block without a grid, with bounds too wide for the ring, or a vector too long is refused up front naming the
 * block. A value outside the bounds at an agent is clamped, never refused (the refusal would tell the coordinator
 * something about the data); in mode none the kind's own bounds check has already refused it before any noise.
 *
 * Plain sums of gridded blocks use the same exact integer sum (`exactSumVectors`), so a job gives the same result
 * to the last bit with plain, secagg and he sums.
 */
import { gridOfExponent } from '../../algorithms/dp/index.js';
import { FedmeshError } from '../errors.js';
import { limbsFor, MAX_LIMBS, readLimbs, secAggCarryRing, writeLimbs, type LimbRing } from '../secure/index.js';
import type { BlockNoise } from './noise-calibration.js';
import type { StatLayout, StatVector } from './stat-layout.js';

/** Noise standard deviations an agent's noisy entry may stray past the block's bounds before it is clamped. */
export const NOISE_MARGIN_STDS = 12;
/** Most limbs a secure vector may carry (SecAgg masks and HE slots grow with it). */
export const MAX_SECURE_VECTOR_LIMBS = 1 << 24;

/** One block's integer encoding. */
export interface SecureBlockCodec {
  readonly name: string;
  readonly length: number;
  readonly gridExponent: number;
  /** Per-agent bounds in grid units (lo ≤ 0 ≤ hi). */
  readonly lo: bigint;
  readonly hi: bigint;
  /** Limbs per entry. */
  readonly limbs: number;
  /** First limb of the block in the encoded vector. */
  readonly offset: number;
  /**
   * Digit blocks summed as one integer (StatBlock.digit; SecAgg's carry ring only): each entry is the integer
   * Σ_j v_j·2^(32j) of the `digits` consecutive blocks' entries, and decodes to its canonical digits. @default 1
   */
  readonly digits: number;
}

/** How a round's vector is encoded for n agents on a ring (the same at the coordinator and every agent). */
export interface SecureVectorPlan {
  readonly ring: LimbRing;
  readonly agents: number;
  readonly blocks: readonly SecureBlockCodec[];
  /** Limbs in the encoded vector. */
  readonly vectorLength: number;
}

/** The grid exponent a block is encoded on, or undefined when it has none. */
export function blockGridExponent(layout: StatLayout, noise: readonly BlockNoise[], i: number): number | undefined {
  const n = noise[i]!;
  return n.sigma2Grid > 0 || n.agentSigma2Grid > 0 ? n.gridExponent : layout.blocks[i]!.gridExponent;
}

function toGridUnits(x: number, exponent: number, round: (y: number) => number): bigint | undefined {
  const y = round(x / gridOfExponent(exponent).size);
  return Number.isFinite(y) ? BigInt(y) : undefined;
}

/**
 * Plans the integer encoding of a round's vector for `agents` contributions on `ring`.
 * @throws FedmeshError INVALID_JOB naming `secure` and the block when it cannot be summed securely
 */
export function planSecureVector(layout: StatLayout, noise: readonly BlockNoise[], ring: LimbRing, agents: number, kind: string): SecureVectorPlan {
  if (!Number.isSafeInteger(agents) || agents < 1) throw new RangeError(`agents must be a positive integer, got ${agents}`);
  let offset = 0;
  const carries = ring.kind === 'secagg' && ring.digitBits === secAggCarryRing().digitBits;
  const blocks: SecureBlockCodec[] = [];
  for (let i = 0; i < layout.blocks.length; i++) {
    const b = layout.blocks[i]!;
    if (b.digit !== undefined && carries) {
      const codec = digitCodec(layout, noise, i, agents, kind, offset);
      blocks.push(codec);
      offset += codec.length * codec.limbs;
      i += codec.digits - 1;
      continue;
    }
    // Digits summed apart would show how the agents' values carry between them: only the carry ring adds them whole.
    if (b.digit !== undefined) throw new FedmeshError('INVALID_JOB', `secure: block ${b.name} of kind ${kind} cannot be summed under ${ring.kind}: its digits would be summed one by one (only SecAgg adds them as one integer)`, { field: 'secure' });
    blocks.push(blockCodec(layout, noise, i, ring, agents, kind, offset));
    offset += b.length * blocks[blocks.length - 1]!.limbs;
  }
  if (offset > MAX_SECURE_VECTOR_LIMBS) throw new FedmeshError('INVALID_JOB', `secure: the round's vector needs ${offset} limbs, more than ${MAX_SECURE_VECTOR_LIMBS}`, { field: 'secure' });
  return Object.freeze({ ring, agents, blocks: Object.freeze(blocks), vectorLength: offset });
}

function blockCodec(layout: StatLayout, noise: readonly BlockNoise[], i: number, ring: LimbRing, agents: number, kind: string, offset: number): SecureBlockCodec {
  const b = layout.blocks[i]!;
  const g = blockGridExponent(layout, noise, i);
  const refuse = (why: string): never => {
    throw new FedmeshError('INVALID_JOB', `secure: block ${b.name} of kind ${kind} cannot be summed under ${ring.kind}: ${why}`, { field: 'secure' });
  };
  if (g === undefined) return refuse('it has no fixed-point grid (the kind gives none in this privacy mode)');
  const margin = BigInt(Math.ceil(NOISE_MARGIN_STDS * Math.sqrt(noise[i]!.agentSigma2Grid)));
  const lo = toGridUnits(b.perAgent.lo, g, Math.floor);
  const hi = toGridUnits(b.perAgent.hi, g, Math.ceil);
  if (lo === undefined || hi === undefined) return refuse(`its per-agent bounds [${b.perAgent.lo}, ${b.perAgent.hi}] do not fit a fixed-point grid of 2^${g} (declare narrower bounds or a row cap)`);
  const loM = (lo < 0n ? lo : 0n) - margin;
  const hiM = (hi > 0n ? hi : 0n) + margin;
  const limbs = limbsFor(ring, loM, hiM, agents);
  if (limbs === undefined) return refuse(`the sum of ${agents} agents' values in [${b.perAgent.lo}, ${b.perAgent.hi}] on a grid of 2^${g} needs more than ${(hiM - loM).toString(2).length + Math.ceil(Math.log2(agents))} bits (declare narrower bounds or a row cap)`);
  // An exact integer block (mode none, exact on its grid: aggregate's limbs) is read back as doubles
  // (decodeSecureVector): its sum over the agents must stay an exact integer, or a release would round what it
  // claims exact (a real-valued exact block, glm's, is rounded once to a double by design) (red team 48: checked only at the release, after
  // every agent had computed).
  const widest = (-loM > hiM ? -loM : hiM) * BigInt(agents);
  if (b.sensitivity === 'exact-only' && b.exactOnGrid === true && widest > BigInt(Number.MAX_SAFE_INTEGER)) refuse(`the exact sum of ${agents} agents' values in [${b.perAgent.lo}, ${b.perAgent.hi}] passes 2^53, where a double stops being exact (fewer agents, or narrower bounds)`);
  return { name: b.name, length: b.length, gridExponent: g, lo: loM, hi: hiM, limbs, offset, digits: 1 };
}

const DIGIT = 1n << 32n;

/**
 * One codec for the digit blocks starting at `i` (StatBlock.digit): the integer of every entry in the fewest 32-bit
 * limbs its sum over the agents needs. @throws FedmeshError INVALID_JOB for digit blocks that break the contract
 *   (a kind's bug) or whose sum the carry ring or a double cannot hold
 */
function digitCodec(layout: StatLayout, noise: readonly BlockNoise[], i: number, agents: number, kind: string, offset: number): SecureBlockCodec {
  const first = layout.blocks[i]!;
  const of = first.digit!.of;
  const group = layout.blocks.slice(i, i + of);
  const bad = group.length !== of || group.some((d, j) => d.digit?.index !== j || d.digit.of !== of || d.length !== first.length || d.sensitivity !== 'exact-only' || d.gridExponent !== 0 || blockGridExponent(layout, noise, i + j) !== 0 || noise[i + j]!.agentSigma2Grid > 0);
  if (bad || of < 2) throw new FedmeshError('INVALID_JOB', `secure: block ${first.name} of kind ${kind}: blocks from it are not ${of} exact digit blocks of one length on grid 2^0, digit 0 first (a bug in the kind's layout)`, { field: 'secure' });
  let lo = 0n;
  let hi = 0n;
  group.forEach((d, j) => {
    lo += BigInt(Math.floor(d.perAgent.lo)) << BigInt(32 * j);
    hi += BigInt(Math.ceil(d.perAgent.hi)) << BigInt(32 * j);
  });
  if (lo > 0n) lo = 0n;
  if (hi < 0n) hi = 0n;
  const limbs = limbsFor(secAggCarryRing(), lo, hi, agents);
  const widest = (-lo > hi ? -lo : hi) * BigInt(agents);
  // The total decodes to canonical digits: each must be an exact double (the top one carries the rest).
  if (limbs === undefined || (widest >> BigInt(32 * (of - 1))) + 1n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FedmeshError('INVALID_JOB', `secure: block ${first.name} of kind ${kind} cannot be summed under secagg: the sum of ${agents} agents' values needs more than ${MAX_LIMBS} limbs or a top digit past 2^53 (fewer agents, or narrower bounds)`, { field: 'secure' });
  }
  return { name: first.name, length: first.length, gridExponent: 0, lo, hi, limbs, offset, digits: of };
}

/**
 * The SecAgg round's integers (algorithms/secagg `SecAggRoundConfig.elements`): each entry of a block is one
 * integer of the block's limb count, so a multi-limb entry's limbs carry into one another and only its total is
 * unmasked (the carry ring, common/secure/limbs.ts `secAggCarryRing`). Adjacent blocks of one limb count share a run.
 */
export function secAggElements(plan: SecureVectorPlan): { limbs: number; count: number }[] {
  const runs: { limbs: number; count: number }[] = [];
  for (const b of plan.blocks) {
    if (b.length === 0) continue;
    const last = runs[runs.length - 1];
    if (last && last.limbs === b.limbs) last.count += b.length;
    else runs.push({ limbs: b.limbs, count: b.length });
  }
  return runs;
}

/**
 * Snaps every gridded block of a vector to its grid (round to nearest); blocks without a grid stay as they are.
 * Noisy blocks are on their grid already (the mode snapped them before adding integer noise).
 */
export function snapVectorToGrid(layout: StatLayout, noise: readonly BlockNoise[], v: StatVector): StatVector {
  const out = Float64Array.from(v.values);
  let at = 0;
  layout.blocks.forEach((b, i) => {
    const g = blockGridExponent(layout, noise, i);
    if (g !== undefined) {
      const size = gridOfExponent(g).size;
      const { lo, hi } = b.perAgent;
      for (let j = 0; j < b.length; j++) {
        const x = out[at + j]!;
        let y = Math.round(x / size) * size;
        // A value within the public bounds stays within them (red team 27: a bound that is not on the grid, such as
        // maxExamples × clip, rounded outward and the coordinator refused the agent — a refusal that told whether the
        // data went past a bound the researcher chose). Values already beyond them (agent noise) are left as rounded.
        const inLo = Math.ceil(lo / size) * size;
        const inHi = Math.floor(hi / size) * size;
        // (Bounds narrower than one grid step hold no grid point: nothing to round into.)
        if (x >= lo && x <= hi && inLo <= inHi) y = Math.min(Math.max(y, inLo), inHi);
        out[at + j] = y;
      }
    }
    at += b.length;
  });
  return { values: out };
}

/** One agent's vector (on its grids) → limbs (Uint32 for SecAgg, BigInt64 for HE), clamped to the public bounds. */
export function encodeSecureVector(plan: SecureVectorPlan, v: StatVector, asBigInt: boolean): Uint32Array | BigInt64Array {
  const out = asBigInt ? new BigInt64Array(plan.vectorLength) : new Uint32Array(plan.vectorLength);
  let at = 0;
  for (const b of plan.blocks) {
    const size = gridOfExponent(b.gridExponent).size;
    if (b.digits > 1) {
      for (let e = 0; e < b.length; e++) {
        let k = 0n;
        for (let d = b.digits - 1; d >= 0; d--) {
          const x = v.values[at + d * b.length + e]!;
          k = k * DIGIT + (Number.isFinite(x) ? BigInt(Math.round(x)) : 0n);
        }
        if (k < b.lo) k = b.lo;
        if (k > b.hi) k = b.hi;
        writeLimbs(plan.ring, b.limbs, k, out as unknown as { [i: number]: number | bigint; length: number }, b.offset + e * b.limbs, asBigInt);
      }
      at += b.digits * b.length;
      continue;
    }
    for (let j = 0; j < b.length; j++, at++) {
      const x = v.values[at]!;
      // A finite value can still overflow in grid units (1e308 on 2^-18): it is clamped like any other, not a throw.
      const y = Number.isFinite(x) ? Math.round(x / size) : 0;
      let k = Number.isFinite(y) ? BigInt(y) : y > 0 ? b.hi : b.lo;
      if (k < b.lo) k = b.lo;
      if (k > b.hi) k = b.hi;
      writeLimbs(plan.ring, b.limbs, k, out as unknown as { [i: number]: number | bigint; length: number }, b.offset + j * b.limbs, asBigInt);
    }
  }
  return out;
}

/** Entries of the statistics vector a plan encodes (a digit block's entries count once per digit). */
export function secureVectorEntries(plan: SecureVectorPlan): number {
  return plan.blocks.reduce((a, b) => a + b.length * b.digits, 0);
}

/** The summed limbs of up to `plan.agents` contributions → the exact sum, rounded once to a double per entry. */
export function decodeSecureVector(plan: SecureVectorPlan, sums: ArrayLike<number | bigint>): StatVector {
  if (sums.length !== plan.vectorLength) throw new FedmeshError('INTERNAL', `secure sum has ${sums.length} limbs, the plan ${plan.vectorLength}`);
  const out = new Float64Array(secureVectorEntries(plan));
  let at = 0;
  const agents = BigInt(plan.agents);
  for (const b of plan.blocks) {
    const size = gridOfExponent(b.gridExponent).size;
    if (b.digits > 1) {
      for (let e = 0; e < b.length; e++) {
        // The total's canonical digits: the low ones in [0, 2^32), the top one signed (Σ digit_j·2^(32j) is the total).
        let t = readLimbs(plan.ring, b.limbs, sums, b.offset + e * b.limbs, agents * b.lo);
        for (let d = 0; d < b.digits; d++) {
          const digit = d === b.digits - 1 ? t : ((t % DIGIT) + DIGIT) % DIGIT;
          out[at + d * b.length + e] = Number(digit);
          t = (t - digit) / DIGIT;
        }
      }
      at += b.digits * b.length;
      continue;
    }
    for (let j = 0; j < b.length; j++, at++) out[at] = Number(readLimbs(plan.ring, b.limbs, sums, b.offset + j * b.limbs, agents * b.lo)) * size;
  }
  return { values: out };
}

/**
 * Entry-wise sum of agents' vectors: exact in grid units for gridded blocks (so plain sums equal the secure ones to
 * the last bit), floating point for the others.
 */
export function exactSumVectors(layout: StatLayout, noise: readonly BlockNoise[], vectors: readonly StatVector[]): StatVector {
  const first = vectors[0];
  if (!first) throw new RangeError('exactSumVectors needs at least one vector');
  const out = new Float64Array(first.values.length);
  let at = 0;
  layout.blocks.forEach((b, i) => {
    const g = blockGridExponent(layout, noise, i);
    for (let j = 0; j < b.length; j++, at++) {
      if (g === undefined) {
        for (const v of vectors) out[at]! += v.values[at]!;
        continue;
      }
      const size = gridOfExponent(g).size;
      let s = 0n;
      for (const v of vectors) s += BigInt(Math.round(v.values[at]! / size));
      out[at] = Number(s) * size;
    }
  });
  return { values: out };
}

/**
 * The layout with each block's per-agent bounds widened by the noise an agent adds to it (local-dp,
 * distributed-dp): what a coordinator may receive from an honest agent, noise included.
 */
export function layoutWithAgentNoise(layout: StatLayout, noise: readonly BlockNoise[]): StatLayout {
  if (!noise.some((n) => n.agentSigma2Grid > 0)) return layout;
  return {
    blocks: layout.blocks.map((b, i) => {
      const n = noise[i]!;
      if (n.agentSigma2Grid === 0) return b;
      const margin = NOISE_MARGIN_STDS * Math.sqrt(n.agentSigma2Grid) * gridOfExponent(n.gridExponent).size;
      return { ...b, perAgent: { lo: b.perAgent.lo - margin, hi: b.perAgent.hi + margin } };
    }),
  };
}
