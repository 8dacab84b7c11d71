/**
 * The per-bin risk-set statistics of a Cox proportional-hazards model on a public time grid: what each agent
 * computes for the current coefficients β, and how the statistics of several agents add up.
 *
 * Time grid (the conventions of `counts.ts`): `times` t_0 < t_1 < … < t_{m−1} are the right ends of the bins;
 * bin 0 is (−∞, t_0] and bin k is (t_{k−1}, t_k]. A person whose observed time (event or censoring) falls in
 * bin k is **at risk in every bin j ≤ k** and, if the outcome was observed, counts as an **event in bin k**.
 * Censorings in a bin follow its events (a person censored in bin k is still in the risk set of bin k). Events in
 * one bin are tied and handled as Breslow does: each contributes the same risk-set denominator. With one-day bins
 * and integer day times this is exactly Breslow's partial likelihood on the event days (day t is bin t when
 * `times` = [0, 1, …, maxDays]); wider bins coarsen the time axis, i.e. it is the exact Breslow fit of the data
 * with every time rounded up to the end of its bin.
 *
 * Per stratum s (a separate baseline hazard, as `strata()` in R's coxph) and bin k the statistics are sums over
 * the persons at risk at the start of the bin: S0 = Σ e^{η}, S1 = Σ x e^{η} (p entries), S2 = Σ x xᵀ e^{η}
 * (p × p, stored as the packed upper triangle, p(p+1)/2 entries), with η = (x − c)ᵀβ for a public centring
 * vector c; plus the number at risk and the number of events. The sum of (x − c) over all events does not depend
 * on β and enters the likelihood only through its total, so one p-vector is kept instead of one per bin (less is
 * released). Every entry is a sum over persons, so the statistics of agents holding disjoint persons add up to
 * the statistics of the pooled persons exactly (up to floating-point rounding of the sums).
 */

/** Row-level input at one agent (never leaves it). */
export interface CoxPersons {
  /** Observed time per person (event or censoring), in the unit of the grid's `times` (days, or bin indices). */
  time: Int32Array | Float64Array | readonly number[];
  /** 1 when the outcome was observed at `time`, 0 when censored there. */
  event: Uint8Array | readonly number[];
  /** Covariates, row-major n × p (person i's covariate j at `x[i * p + j]`). */
  x: Float64Array | readonly number[];
  /** Stratum index per person in [0, strata); absent: everyone in stratum 0. */
  stratum?: Uint8Array | Int32Array | readonly number[];
}

/** The public layout of a Cox model: the same at the coordinator and every agent. */
export interface CoxLayout {
  /** Right ends of the time bins, strictly increasing and finite. */
  times: readonly number[];
  /** Number of covariates (coefficients), ≥ 1. */
  p: number;
  /**
   * Number of strata, each with its own baseline hazard.
   * @default 1
   */
  strata?: number;
  /**
   * Public centring vector c (length p): η = (x − c)ᵀβ. It changes nothing in the fit (every ratio S1/S0 and
   * the log partial likelihood are invariant), but keeps e^{η} far from overflow; use e.g. the midpoint of each
   * covariate's declared bounds. Never a data-derived mean: that would be a release of its own.
   * @default all zeros
   */
  center?: readonly number[];
}

/** The statistics of one agent (or their sum) for one β. Arrays are indexed stratum-major: (s · m + k). */
export interface CoxStats {
  p: number;
  /** Number of bins m. */
  bins: number;
  strata: number;
  /** Persons at risk at the start of each bin (S · m). */
  atRisk: Float64Array;
  /** Events in each bin (S · m). */
  events: Float64Array;
  /** Σ e^{η} over the risk set (S · m). */
  s0: Float64Array;
  /** Σ (x − c) e^{η} over the risk set (S · m · p). */
  s1: Float64Array;
  /** Σ (x − c)(x − c)ᵀ e^{η}, packed upper triangle (S · m · p(p+1)/2). */
  s2: Float64Array;
  /** Σ (x − c) over all events (p); independent of β. */
  eventX: Float64Array;
}

/** Index of (j, l), j ≤ l, in a packed upper triangle of a p × p matrix. */
export function packedIndex(p: number, j: number, l: number): number {
  const [a, b] = j <= l ? [j, l] : [l, j];
  return a * p - (a * (a - 1)) / 2 + (b - a);
}

/** Number of entries in a packed upper triangle of a p × p matrix. */
export const packedSize = (p: number): number => (p * (p + 1)) / 2;

/**
 * Checks a layout and returns it with its defaults filled in.
 * @throws TypeError / RangeError naming the field at fault
 */
export function checkCoxLayout(layout: CoxLayout): Required<CoxLayout> {
  if (typeof layout !== 'object' || layout === null) throw new TypeError('layout must be an object');
  const { times, p } = layout;
  if (!Array.isArray(times) || times.length === 0) throw new RangeError('layout.times must be a non-empty array of bin ends');
  for (let i = 0; i < times.length; i++) {
    const t: unknown = times[i];
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new RangeError(`layout.times[${i}] must be a finite number`);
    if (i > 0 && !(t > times[i - 1]!)) throw new RangeError(`layout.times must be strictly increasing (at index ${i})`);
  }
  if (!Number.isSafeInteger(p) || p < 1 || p > 200) throw new RangeError(`layout.p must be an integer in [1, 200], got ${String(p)}`);
  const strata = layout.strata ?? 1;
  if (!Number.isSafeInteger(strata) || strata < 1 || strata > 100) throw new RangeError(`layout.strata must be an integer in [1, 100], got ${String(strata)}`);
  const center = layout.center ?? new Array<number>(p).fill(0);
  if (!Array.isArray(center) || center.length !== p || center.some((c) => typeof c !== 'number' || !Number.isFinite(c))) {
    throw new RangeError(`layout.center must be ${p} finite numbers`);
  }
  return { times, p, strata, center };
}

/** All-zero statistics for a layout (the neutral element of {@link addCoxStats}). */
export function emptyCoxStats(layout: CoxLayout): CoxStats {
  const { times, p, strata } = checkCoxLayout(layout);
  const cells = strata * times.length;
  return {
    p,
    bins: times.length,
    strata,
    atRisk: new Float64Array(cells),
    events: new Float64Array(cells),
    s0: new Float64Array(cells),
    s1: new Float64Array(cells * p),
    s2: new Float64Array(cells * packedSize(p)),
    eventX: new Float64Array(p),
  };
}

/** The bin of a time: the first k with t ≤ times[k]; times beyond the last end fall in the last bin. */
export function binOf(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (t > times[hi]!) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t <= times[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A running sum of {@link coxLocalStats} over persons added in chunks: the per-bin sums over the persons leaving
 * each bin, before the reverse cumulative sums that make them risk sets. Adding the same persons in the same order,
 * whatever the chunk boundaries, gives bit for bit the statistics of the one-shot function (every sum adds in person
 * order; the chunking changes no floating-point operation). Holds O(strata × bins × p²) numbers, never a row.
 */
export interface CoxStatsAccumulator {
  readonly layout: Required<CoxLayout>;
  readonly beta: readonly number[];
  /** Persons added so far. */
  readonly persons: number;
}

interface AccumulatorState extends CoxStatsAccumulator {
  persons: number;
  finished: boolean;
  readonly out: CoxStats;
  readonly xc: Float64Array;
}

/** Checks the persons' array lengths against p (the arrays' contents are checked as they are summed). */
function checkPersons(persons: CoxPersons, p: number): number {
  if (typeof persons !== 'object' || persons === null) throw new TypeError('persons must be an object');
  const n = persons.time.length;
  if (persons.event.length !== n) throw new RangeError(`persons.event must have ${n} entries (one per person), got ${persons.event.length}`);
  if (persons.x.length !== n * p) throw new RangeError(`persons.x must have n × p = ${n * p} entries, got ${persons.x.length}`);
  if (persons.stratum !== undefined && persons.stratum.length !== n) throw new RangeError(`persons.stratum must have ${n} entries, got ${persons.stratum.length}`);
  return n;
}

/**
 * An empty accumulator of the Cox statistics at β on a layout.
 * @throws TypeError / RangeError naming the field at fault (layout, β of the wrong length or non-finite)
 */
export function createCoxStatsAccumulator(beta: readonly number[], layout: CoxLayout): CoxStatsAccumulator {
  const checked = checkCoxLayout(layout);
  const p = checked.p;
  if (!Array.isArray(beta) && !(beta instanceof Float64Array)) throw new TypeError('beta must be an array of numbers');
  if (beta.length !== p || beta.some((b) => typeof b !== 'number' || !Number.isFinite(b))) throw new RangeError(`beta must be ${p} finite numbers`);
  const state: AccumulatorState = { layout: checked, beta: Array.from(beta), persons: 0, finished: false, out: emptyCoxStats(checked), xc: new Float64Array(p) };
  return state;
}

/**
 * Adds a chunk of persons (after those added before) to an accumulator.
 * @throws TypeError / RangeError naming the input at fault (lengths, non-finite values, an event flag other than
 *   0/1, a stratum out of range; indices are the chunk's) or when the accumulator was already finished
 */
export function addCoxPersons(acc: CoxStatsAccumulator, persons: CoxPersons): void {
  const st = acc as AccumulatorState;
  if (st.finished) throw new RangeError('the accumulator was already finished');
  const { times, p, strata, center } = st.layout;
  const n = checkPersons(persons, p);
  const { out, xc, beta } = st;
  const m = times.length;
  const q = packedSize(p);
  for (let i = 0; i < n; i++) {
    const t = Number(persons.time[i]);
    if (!Number.isFinite(t)) throw new RangeError(`persons.time[${i}] must be finite`);
    const e = Number(persons.event[i]);
    if (e !== 0 && e !== 1) throw new RangeError(`persons.event[${i}] must be 0 or 1`);
    const s = persons.stratum === undefined ? 0 : Number(persons.stratum[i]);
    if (!Number.isSafeInteger(s) || s < 0 || s >= strata) throw new RangeError(`persons.stratum[${i}] must be an integer in [0, ${strata})`);
    let eta = 0;
    for (let j = 0; j < p; j++) {
      const v = Number(persons.x[i * p + j]);
      if (!Number.isFinite(v)) throw new RangeError(`persons.x[${i * p + j}] (person ${i}, covariate ${j}) must be finite`);
      xc[j] = v - center[j]!;
      eta += xc[j]! * beta[j]!;
    }
    const w = Math.exp(eta);
    if (!Number.isFinite(w)) throw new RangeError(`exp(xβ) overflows for person ${i}: β is far outside any plausible range`);
    const cell = s * m + binOf(times, t);
    out.atRisk[cell]! += 1;
    out.s0[cell]! += w;
    for (let j = 0; j < p; j++) {
      const wx = w * xc[j]!;
      out.s1[cell * p + j]! += wx;
      for (let l = j; l < p; l++) out.s2[cell * q + packedIndex(p, j, l)]! += wx * xc[l]!;
    }
    if (e === 1) {
      out.events[cell]! += 1;
      for (let j = 0; j < p; j++) out.eventX[j]! += xc[j]!;
    }
  }
  st.persons += n;
}

/**
 * The statistics of the persons added: reverse cumulative sums over the bins make the risk sets (at risk in bin k =
 * leaving in bin k or later). Ends the accumulator.
 * @throws RangeError when it was already finished
 */
export function finishCoxStats(acc: CoxStatsAccumulator): CoxStats {
  const st = acc as AccumulatorState;
  if (st.finished) throw new RangeError('the accumulator was already finished');
  st.finished = true;
  const { out } = st;
  const { times, p, strata } = st.layout;
  const m = times.length;
  const q = packedSize(p);
  for (let s = 0; s < strata; s++) {
    for (let k = m - 2; k >= 0; k--) {
      const cell = s * m + k;
      out.atRisk[cell]! += out.atRisk[cell + 1]!;
      out.s0[cell]! += out.s0[cell + 1]!;
      for (let j = 0; j < p; j++) out.s1[cell * p + j]! += out.s1[(cell + 1) * p + j]!;
      for (let j = 0; j < q; j++) out.s2[cell * q + j]! += out.s2[(cell + 1) * q + j]!;
    }
  }
  return out;
}

/**
 * The Cox statistics of one agent's persons for coefficients β (see the module comment for their definition).
 * Cost O(n p² + S m p²). Row-level data goes in; only per-bin sums come out. The one-shot form of
 * {@link createCoxStatsAccumulator} → {@link addCoxPersons} → {@link finishCoxStats}.
 *
 * @throws TypeError / RangeError naming the input at fault (lengths, non-finite values, an event flag other than
 *   0/1, a stratum out of range, β of the wrong length or non-finite)
 */
export function coxLocalStats(persons: CoxPersons, beta: readonly number[], layout: CoxLayout): CoxStats {
  checkPersons(persons, checkCoxLayout(layout).p);
  const acc = createCoxStatsAccumulator(beta, layout);
  addCoxPersons(acc, persons);
  return finishCoxStats(acc);
}

/**
 * Adds the statistics of several agents entry by entry (all must share one layout). The sum of agents holding
 * disjoint persons equals the statistics of the pooled persons.
 * @throws RangeError when the parts are empty or have different layouts
 */
export function addCoxStats(...parts: readonly CoxStats[]): CoxStats {
  if (parts.length === 0) throw new RangeError('addCoxStats needs at least one part');
  const first = parts[0]!;
  parts.forEach((x, i) => {
    if (x.p !== first.p || x.bins !== first.bins || x.strata !== first.strata) throw new RangeError(`parts[${i}] has another layout (p, bins or strata) than parts[0]`);
  });
  const sum = (pick: (s: CoxStats) => Float64Array): Float64Array => {
    const out = new Float64Array(pick(first).length);
    for (const part of parts) {
      const a = pick(part);
      if (a.length !== out.length) throw new RangeError('a part has arrays of the wrong length for its layout');
      for (let i = 0; i < a.length; i++) out[i]! += a[i]!;
    }
    return out;
  };
  return {
    p: first.p,
    bins: first.bins,
    strata: first.strata,
    atRisk: sum((s) => s.atRisk),
    events: sum((s) => s.events),
    s0: sum((s) => s.s0),
    s1: sum((s) => s.s1),
    s2: sum((s) => s.s2),
    eventX: sum((s) => s.eventX),
  };
}
