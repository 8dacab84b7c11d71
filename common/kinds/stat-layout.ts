import { FedmeshError } from '../errors.js';

/**
 * One block of sufficient statistics that every agent computes for a round: public shape and bounds, fixed by the
 * compiled job before any agent computes (never by data). The coordinator checks every agent's block against them,
 * the privacy modes read the sensitivity from them, the secure sums their range.
 */
export interface StatBlock {
  /** Stable name within the layout (`xtwx`, `deviance`), used in messages and released structures. */
  readonly name: string;
  /** Number of entries (≥ 1). */
  readonly length: number;
  /** Public bounds of one agent's value in every entry of the block; an agent's vector outside them is refused. */
  readonly perAgent: { readonly lo: number; readonly hi: number };
  /**
   * What adding or removing one person can change in the block's sum: L1 norm and squared L2 norm, from declared
   * bounds and the per-person contribution bound; 0 for a block no person can change (it gets no noise and no
   * share of the budget). `'exact-only'`: no DP release is possible (the kind refuses DP).
   */
  readonly sensitivity: { readonly l1: number; readonly l2Sq: number } | 'exact-only';
  /** Values are multiples of 2^gridExponent (fixed-point); absent: the privacy mode chooses a grid below its noise. */
  readonly gridExponent?: number;
  /**
   * Every entry an agent computes is already an exact multiple of 2^gridExponent (counts of persons on grid 2^0), so
   * putting it on the grid moves nothing and the noise need not cover snapping (noise-calibration.ts `gridAndL2`).
   * Needs `gridExponent`. @default false
   */
  readonly exactOnGrid?: boolean;
  /** `additive`: the sum is released; `selection`: only entries that pass a public threshold are. */
  readonly release: 'additive' | 'selection';
  /**
   * The kind's noise plan releases this block by a selection mechanism at the coordinator (`BlockSelector`): its
   * exact sum must reach the coordinator, so only central-dp can run it; a job in another mode is refused at compile.
   * @default false
   */
  readonly selectedAtCoordinator?: boolean;
  /**
   * Selection blocks only: chains of entry indices whose person sets are nested, largest first (a cohort's attrition:
   * qualified ⊇ after rule 0 ⊇ … ⊇ the cohort). Two released neighbours differing by 1 … k − 1 persons would
   * disclose the persons between them, so in mode none the agent withholds the later one too (complementary
   * suppression: common/kinds/selection.ts `withholdNestedDifferences`). @default none
   */
  readonly nested?: readonly (readonly number[])[];
  /**
   * Selection blocks only: entries `parts` that split the persons of entry `total` (each person in exactly one part:
   * a cohort's age bands, its genders), or that it bounds (`entries` ≥ persons). In mode none, after the small and
   * nested cells, the agent withholds every non-empty part when the total is withheld (the released parts would add
   * up to it), and when the withheld parts of a released total add up to 1 … k − 1 persons (total minus the released
   * parts would disclose them) also the smallest released part (complementary suppression:
   * common/kinds/selection.ts `withholdPartitions`; red team 9, F1). @default none
   */
  readonly partitions?: readonly { readonly total: number; readonly parts: readonly number[] }[];
  /**
   * Selection blocks only: entries whose persons are among entry `total`'s (a cohort's breakdowns and concept counts
   * among its persons). In mode none, when the agent withholds the total, it withholds every one of them too, zeros
   * included: next to a withheld cell an empty one says what those few persons have and have not (red team 41, F1;
   * common/kinds/selection.ts `withholdSubsets`). @default none
   */
  readonly subsets?: readonly { readonly total: number; readonly entries: readonly number[] }[];
  /**
   * Relative share of each round's ρ this noisy block gets (public; default 1, an even split). A kind whose blocks
   * matter unequally (a model update against its evaluation counts) gives the block that carries the signal more.
   */
  readonly rhoShare?: number;
  /**
   * The local step's value is already differentially private as it leaves the agent (the kind's own step added
   * calibrated noise, in the kind's account: local DP-SGD updates), or a public constant of that step. Needs
   * sensitivity 0 (the mode adds nothing); node-agent/tasks/exact-blocks.ts lets it through. @default false
   */
  readonly agentNoised?: boolean;
  /**
   * This block is digit `index` (0: least significant) of `of` base-2^32 digits of one signed integer per entry, the
   * digits being `of` consecutive blocks of one length, each exact-only on grid 2^0, every digit of an entry with
   * the integer's sign (so Σ digit_j·2^(32j) is the integer). The kind splits an exact statistic past 2^53 this way
   * because a vector holds doubles. A SecAgg sum adds the integers whole and returns each total as its canonical
   * digits (low digits in [0, 2^32), the top one signed), so nobody sees a digit's own sum over the agents, which
   * would show how their values carry between digits (common/kinds/secure-vector.ts). @default a block of its own
   */
  readonly digit?: { readonly index: number; readonly of: number };
}

export interface StatLayout {
  readonly blocks: readonly StatBlock[];
}

/** One agent's (or the summed) statistics of a round: the blocks of its layout, back to back, as doubles. */
export interface StatVector {
  readonly values: Float64Array;
  /**
   * An agent step's account of how it computed (public facts only, e.g. the per-person contribution bound it
   * applied), sent with a plain round's reply as its `meta` and checked by the kind's `replyMismatch` at the
   * coordinator. Never a value of the data.
   */
  readonly report?: Readonly<Record<string, string | number | boolean | null>>;
}

/** The largest vector a round may carry (entries); a layout over it is refused when compiled. */
export const MAX_VECTOR_ENTRIES = 1 << 22;

/** Entries in the layout. */
export function layoutLength(layout: StatLayout): number {
  let n = 0;
  for (const b of layout.blocks) n += b.length;
  return n;
}

/**
 * Checks a layout made by a kind's compile step (a programming error, not a researcher's, if it fails).
 * @throws RangeError naming the block and the field
 */
export function checkLayout(layout: StatLayout): void {
  const names = new Set<string>();
  if (layout.blocks.length === 0) throw new RangeError('layout.blocks must not be empty');
  for (const [i, b] of layout.blocks.entries()) {
    const at = `layout.blocks[${i}] (${b.name})`;
    if (!b.name || names.has(b.name)) throw new RangeError(`${at}.name must be unique and non-empty`);
    names.add(b.name);
    if (!Number.isSafeInteger(b.length) || b.length < 1) throw new RangeError(`${at}.length must be a positive integer`);
    if (!(Number.isFinite(b.perAgent.lo) && Number.isFinite(b.perAgent.hi) && b.perAgent.lo <= b.perAgent.hi)) throw new RangeError(`${at}.perAgent must be finite with lo <= hi`);
    if (b.sensitivity !== 'exact-only' && !(b.sensitivity.l1 >= 0 && b.sensitivity.l2Sq >= 0 && Number.isFinite(b.sensitivity.l1) && Number.isFinite(b.sensitivity.l2Sq))) {
      throw new RangeError(`${at}.sensitivity must have finite l1 >= 0 and l2Sq >= 0 (0: the block does not depend on any one person), or be 'exact-only'`);
    }
    if (b.rhoShare !== undefined && !(Number.isFinite(b.rhoShare) && b.rhoShare > 0)) throw new RangeError(`${at}.rhoShare must be a finite number > 0`);
    if (b.agentNoised === true && (b.sensitivity === 'exact-only' || b.sensitivity.l2Sq !== 0)) throw new RangeError(`${at}.agentNoised needs sensitivity 0 (the mode adds no noise to it)`);
    if (b.nested !== undefined && (b.release !== 'selection' || b.nested.some((c) => c.some((j) => !Number.isSafeInteger(j) || j < 0 || j >= b.length)))) {
      throw new RangeError(`${at}.nested needs release 'selection' and entry indices in [0, length)`);
    }
    if (b.partitions !== undefined && (b.release !== 'selection' || b.partitions.some((p) => [p.total, ...p.parts].some((j) => !Number.isSafeInteger(j) || j < 0 || j >= b.length)))) {
      throw new RangeError(`${at}.partitions needs release 'selection' and entry indices in [0, length)`);
    }
    if (b.subsets !== undefined && (b.release !== 'selection' || b.subsets.some((p) => [p.total, ...p.entries].some((j) => !Number.isSafeInteger(j) || j < 0 || j >= b.length)))) {
      throw new RangeError(`${at}.subsets needs release 'selection' and entry indices in [0, length)`);
    }
    if (b.exactOnGrid && b.gridExponent === undefined) throw new RangeError(`${at}.exactOnGrid needs a gridExponent`);
    if (b.gridExponent !== undefined && (!Number.isInteger(b.gridExponent) || b.gridExponent < -60 || b.gridExponent > 60)) throw new RangeError(`${at}.gridExponent must be an integer in [-60, 60]`);
    if (b.digit !== undefined) {
      const { index, of } = b.digit;
      const first = layout.blocks[i - index];
      const okShape = Number.isInteger(of) && of >= 2 && of <= 8 && Number.isInteger(index) && index >= 0 && index < of && first !== undefined;
      // Digit `index` of a group that starts `index` blocks earlier with digit 0, all of one length, exact on 2^0.
      if (!okShape || first.digit?.index !== 0 || first.digit.of !== of || first.length !== b.length || b.sensitivity !== 'exact-only' || b.gridExponent !== 0) {
        throw new RangeError(`${at}.digit must be digit index of \`of\` (2 to 8) consecutive exact-only blocks of one length on grid 2^0, digit 0 first`);
      }
    }
  }
  if (layoutLength(layout) > MAX_VECTOR_ENTRIES) throw new RangeError(`layout has more than ${MAX_VECTOR_ENTRIES} entries`);
}

/**
 * Projects a vector onto the layout's public per-agent box, entry by entry: every entry clamped to its block's
 * [lo, hi]. A projection onto a convex set never moves two inputs further apart (it is 1-Lipschitz in L2 and in L1),
 * so a DP statistic keeps its sensitivity through it. A DP step uses it instead of refusing data beyond a public
 * bound: a refusal on `n > bound` answers an exact yes/no about the data for every bound a researcher tries
 * (bisected, it gives n), while the projection only biases the release of a job whose bound was too small — and
 * whether it acted must not be reported either. Returns the same array, changed in place.
 * @throws RangeError on a length mismatch
 */
export function projectOntoBounds(layout: StatLayout, values: Float64Array): Float64Array {
  if (values.length !== layoutLength(layout)) throw new RangeError(`projectOntoBounds: the vector has ${values.length} entries, the layout ${layoutLength(layout)}`);
  let at = 0;
  for (const b of layout.blocks) {
    for (let j = 0; j < b.length; j++, at++) values[at] = Math.min(b.perAgent.hi, Math.max(b.perAgent.lo, values[at]!));
  }
  return values;
}

/** Start offset of each block in the vector. */
export function blockOffsets(layout: StatLayout): number[] {
  const out: number[] = [];
  let at = 0;
  for (const b of layout.blocks) {
    out.push(at);
    at += b.length;
  }
  return out;
}

/** The entries of one block (a view, not a copy). @throws RangeError for an unknown block */
export function blockOf(layout: StatLayout, v: StatVector, name: string): Float64Array {
  const offsets = blockOffsets(layout);
  const i = layout.blocks.findIndex((b) => b.name === name);
  if (i < 0) throw new RangeError(`no block ${name} in the layout`);
  return v.values.subarray(offsets[i]!, offsets[i]! + layout.blocks[i]!.length);
}

/**
 * Checks one agent's vector against the public layout: length, finite values, per-agent bounds. What an agent
 * sends is untrusted; a vector that fails is that agent's failed answer, and the message names the block and the
 * entry, never the value (it is that agent's data).
 * @throws FedmeshError INTERNAL naming the agent and block
 */
export function checkAgentVector(layout: StatLayout, v: StatVector, agent: string): void {
  const n = layoutLength(layout);
  if (v.values.length !== n) throw new FedmeshError('INTERNAL', `agent ${agent} sent ${v.values.length} statistics, the layout has ${n}`);
  let at = 0;
  for (const b of layout.blocks) {
    for (let j = 0; j < b.length; j++, at++) {
      const x = v.values[at]!;
      if (!Number.isFinite(x) || x < b.perAgent.lo || x > b.perAgent.hi) {
        throw new FedmeshError('INTERNAL', `agent ${agent} sent block ${b.name}[${j}] outside its public bounds [${b.perAgent.lo}, ${b.perAgent.hi}]`);
      }
    }
  }
}

/** Entry-wise sum of vectors of the same layout. @throws RangeError on a length mismatch or no vectors */
export function sumVectors(vectors: readonly StatVector[]): StatVector {
  const first = vectors[0];
  if (!first) throw new RangeError('sumVectors needs at least one vector');
  const out = new Float64Array(first.values.length);
  for (const v of vectors) {
    if (v.values.length !== out.length) throw new RangeError('sumVectors: vectors of different lengths');
    for (let i = 0; i < out.length; i++) out[i]! += v.values[i]!;
  }
  return { values: out };
}

/**
 * A vector as bytes on the wire: little-endian doubles. Raw rather than Arrow IPC: the layout is public and fixed,
 * so the receiver checks the byte length against it before reading anything (no header to trust).
 */
export function encodeVector(v: StatVector): Uint8Array {
  const out = new Uint8Array(v.values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.values.length; i++) view.setFloat64(i * 8, v.values[i]!, true);
  return out;
}

/** @throws FedmeshError INTERNAL when the byte length is not the layout's, before reading anything */
export function decodeVector(layout: StatLayout, bytes: Uint8Array, agent: string): StatVector {
  const n = layoutLength(layout);
  if (bytes.length !== n * 8) throw new FedmeshError('INTERNAL', `agent ${agent} sent ${bytes.length} bytes of statistics, the layout needs ${n * 8}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = view.getFloat64(i * 8, true);
  return { values };
}
