/**
 * Multi-limb integer encoding for secure sums. A signed statistic x with public per-agent bounds [lo, hi] is sent as
 * L limbs: the residue r = x mod M written in base 2^b (digits d_0 … d_{L−2} of b bits, then a top limb). The
 * secure layer adds limbs position by position: in Z_2^32 for SecAgg, exactly (below the plain modulus) for HE.
 *
 * Carries are never lost: b is chosen so that n digits of b bits add up without wrapping the limb's ring
 * (n·(2^b − 1) < 2^32 for SecAgg; for HE the plan's plain modulus was sized so that n values ≤ 2^b − 1 never wrap).
 * The top limb of a SecAgg sum may wrap Z_2^32 freely: M = 2^(b(L−1)+32) then, and Σ_j D_j·2^(bj) ≡ Σ x_i (mod M).
 * For HE every limb is a b-bit digit and M = 2^(bL).
 *
 * Recovery: the sum S of c ≤ n contributions lies in [n·lo, n·hi] (lo ≤ 0 ≤ hi), a window of width n·(hi − lo) < M,
 * so S = n·lo + ((s − n·lo) mod M) exactly. L is the smallest limb count with that width below M.
 */

/** How limbs add up in the secure layer. */
export interface LimbRing {
  readonly kind: 'secagg' | 'he';
  /** Bits of every limb but the top one. */
  readonly digitBits: number;
  /** Bits of the top limb: 32 for SecAgg (wraps freely), digitBits for HE. */
  readonly topBits: number;
}

/** Most limbs one statistic may take; beyond this, a job must narrow its bounds or row cap. */
export const MAX_LIMBS = 8;

/** SecAgg sums in Z_2^32: n digits of b bits must not wrap, so b = 32 − ⌈log2 n⌉. */
export function secAggLimbRing(agents: number): LimbRing {
  if (!Number.isInteger(agents) || agents < 1) throw new RangeError(`agents must be a positive integer, got ${agents}`);
  const b = 32 - Math.ceil(Math.log2(agents));
  return Object.freeze({ kind: 'secagg', digitBits: b, topBits: 32 });
}

/**
 * SecAgg sums whose multi-limb values add as whole integers (the round's `elements` make each value's limbs carry
 * into one another, algorithms/secagg `ringAddInPlaceCarry`): full 32-bit limbs, M = 2^(32L). Nobody sees a
 * limb's own sum over the agents, which would show how their values carry between limbs (the digit ring above
 * shows it: the sum of every agent's low digit, among others). The kind seam sums with this ring.
 */
export function secAggCarryRing(): LimbRing {
  return CARRY_RING;
}
const CARRY_RING: LimbRing = Object.freeze({ kind: 'secagg', digitBits: 32, topBits: 32 });

/** HE sums: digits of b bits, where the plan bounds every slot by 2^b − 1 (and its plain modulus holds n of them). */
export function heLimbRing(digitBits: number): LimbRing {
  if (!Number.isInteger(digitBits) || digitBits < 1 || digitBits > 62) throw new RangeError(`digitBits must be an integer in [1, 62], got ${digitBits}`);
  return Object.freeze({ kind: 'he', digitBits, topBits: digitBits });
}

/** The modulus M of L limbs. */
export function limbModulus(ring: LimbRing, limbs: number): bigint {
  return 1n << BigInt(ring.digitBits * (limbs - 1) + ring.topBits);
}

/**
 * The fewest limbs whose modulus exceeds the width of the total over `agents` contributions in [lo, hi], or
 * undefined above MAX_LIMBS.
 */
export function limbsFor(ring: LimbRing, lo: bigint, hi: bigint, agents: number): number | undefined {
  if (lo > 0n || hi < 0n) throw new RangeError(`per-agent bounds must contain 0, got [${lo}, ${hi}]`);
  const width = BigInt(agents) * (hi - lo);
  for (let L = 1; L <= MAX_LIMBS; L++) if (width < limbModulus(ring, L)) return L;
  return undefined;
}

/** Writes the limbs of x (mod M) into `out` at `offset`. */
export function writeLimbs(ring: LimbRing, limbs: number, x: bigint, out: { [i: number]: number | bigint } & { length: number }, offset: number, asBigInt: boolean): void {
  const M = limbModulus(ring, limbs);
  let r = ((x % M) + M) % M;
  const b = BigInt(ring.digitBits);
  const mask = (1n << b) - 1n;
  for (let j = 0; j < limbs; j++) {
    const digit = j === limbs - 1 ? r : r & mask;
    r >>= b;
    out[offset + j] = asBigInt ? digit : Number(digit);
  }
}

/** Reads a total back from the limb sums at `offset`: the unique value in [agents·lo, agents·lo + M) congruent to them. */
export function readLimbs(ring: LimbRing, limbs: number, sums: ArrayLike<number | bigint>, offset: number, windowLow: bigint): bigint {
  const M = limbModulus(ring, limbs);
  let s = 0n;
  for (let j = 0; j < limbs; j++) s += BigInt(sums[offset + j]!) << BigInt(ring.digitBits * j);
  return windowLow + ((((s - windowLow) % M) + M) % M);
}
