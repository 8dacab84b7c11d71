/**
 * Per-time-bin survival counts as agents return them, their validation, their additive combination across
 * agents, and the post-processing that makes noisy (DP) counts usable.
 *
 * Time grid: `times` t_1 < … < t_m label the right ends of bins; bin i is (t_{i−1}, t_i] (t_0 = −∞). A subject
 * whose observed time falls in bin i contributes to `events[i]` (outcome) or `censored[i]` (censored), and is
 * counted in `atRisk[j]` for every j ≤ i. Censorings in a bin are taken to follow the events of that bin, which
 * is the usual Kaplan–Meier convention for ties; with one bin per distinct observed time the estimator is the
 * exact product-limit estimator.
 */

/** Counts for one stratum over a time grid. Give either `atRisk` or `initialAtRisk`, not both. */
export interface StratumCounts {
  /** Name of the stratum, carried to the output (e.g. 'treated'). */
  label?: string;
  /** Right ends of the time bins, strictly increasing and finite. */
  times: readonly number[];
  /** Outcomes observed in each bin. */
  events: readonly number[];
  /** Censorings in each bin. Required with `initialAtRisk`; optional with `atRisk` (then derived). */
  censored?: readonly number[];
  /** Number at risk at the start of each bin. This is what agents return: it adds up across agents. */
  atRisk?: readonly number[];
  /** Number at risk before the first bin; per-bin at-risk is then n_1 = initialAtRisk, n_{i+1} = n_i − d_i − c_i. */
  initialAtRisk?: number;
}

/** Options for the post-processing of counts. */
export interface CountPostProcessingOptions {
  /**
   * Project `atRisk` onto non-increasing sequences (pool-adjacent-violators, least squares). Correct whenever
   * no one enters late (time is measured from cohort entry); exact counts are left unchanged.
   * @default true
   */
  enforceMonotoneAtRisk?: boolean;
  /**
   * How noisy endpoint counts given with `initialAtRisk` are made consistent. `'cumulative'`: the cumulative
   * sums of events and of censorings are projected onto non-decreasing sequences (least squares), bounded by the
   * initial at-risk, and differenced — noise of either sign cancels along the curve, so the estimate does not drift.
   * `'per-bin-clamp'`: each negative count is set to 0 (biased: it adds the positive part of the noise in every bin,
   * which pulls a DP curve down; kept only as the negative control of the statistical test).
   * Exact counts come out unchanged either way.
   * @default 'cumulative'
   */
  noisyEndpoints?: 'cumulative' | 'per-bin-clamp';
}

/** Counts after validation and post-processing: every array has one entry per bin, all ≥ 0, events ≤ atRisk. */
export interface PreparedStratum {
  label: string | undefined;
  times: number[];
  atRisk: number[];
  events: number[];
  censored: number[];
  /** Plain-language notes on every post-processing step that changed something. */
  notes: string[];
}

function checkNumberArray(name: string, value: unknown, length?: number): asserts value is readonly number[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of numbers`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must have ${length} entries (one per time bin), got ${value.length}`);
  }
  value.forEach((v: unknown, i) => {
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${typeof v}`);
    if (!Number.isFinite(v)) throw new RangeError(`${name}[${i}] must be finite, got ${v}`);
  });
}

/**
 * Checks the shape and types of one stratum's counts (values may still be negative: that is noise).
 * @throws TypeError / RangeError naming the offending field, prefixed by `name`
 */
export function validateStratumCounts(name: string, s: StratumCounts): void {
  if (typeof s !== 'object' || s === null) throw new TypeError(`${name} must be an object`);
  if (s.label !== undefined && typeof s.label !== 'string') throw new TypeError(`${name}.label must be a string`);
  checkNumberArray(`${name}.times`, s.times);
  const m = s.times.length;
  if (m < 1) throw new RangeError(`${name}.times must have at least one bin`);
  for (let i = 1; i < m; i++) {
    if (!(s.times[i]! > s.times[i - 1]!)) throw new RangeError(`${name}.times must be strictly increasing (at index ${i})`);
  }
  checkNumberArray(`${name}.events`, s.events, m);
  if (s.censored !== undefined) checkNumberArray(`${name}.censored`, s.censored, m);
  const hasAtRisk = s.atRisk !== undefined;
  const hasInitial = s.initialAtRisk !== undefined;
  if (hasAtRisk === hasInitial) throw new TypeError(`${name}: give exactly one of atRisk and initialAtRisk`);
  if (hasAtRisk) checkNumberArray(`${name}.atRisk`, s.atRisk, m);
  if (hasInitial) {
    if (typeof s.initialAtRisk !== 'number') throw new TypeError(`${name}.initialAtRisk must be a number`);
    if (!Number.isFinite(s.initialAtRisk)) throw new RangeError(`${name}.initialAtRisk must be finite`);
    if (s.censored === undefined) throw new TypeError(`${name}.censored is required with initialAtRisk`);
  }
}

/** Least-squares projection onto non-increasing sequences (pool adjacent violators). Leaves a monotone input as is. */
export function nonIncreasingProjection(values: readonly number[]): number[] {
  const sums: number[] = [];
  const sizes: number[] = [];
  for (const v of values) {
    sums.push(v);
    sizes.push(1);
    // A violation is a block whose mean exceeds the mean of the block before it.
    while (sums.length > 1 && sums.at(-1)! / sizes.at(-1)! > sums.at(-2)! / sizes.at(-2)!) {
      const s = sums.pop()!;
      const n = sizes.pop()!;
      sums[sums.length - 1]! += s;
      sizes[sizes.length - 1]! += n;
    }
  }
  const out: number[] = [];
  sums.forEach((s, b) => {
    const n = sizes[b]!;
    // An unpooled block keeps its value bit for bit, so exact counts are never perturbed by s/n rounding.
    const v = n === 1 ? s : s / n;
    for (let k = 0; k < n; k++) out.push(v);
  });
  return out;
}

/** Least-squares projection onto non-decreasing sequences. */
export function nonDecreasingProjection(values: readonly number[]): number[] {
  return nonIncreasingProjection(values.map((v) => -v)).map((v) => (v === 0 ? 0 : -v));
}

function cumulative(values: readonly number[]): number[] {
  let acc = 0;
  return values.map((v) => (acc += v));
}

function differences(values: readonly number[]): number[] {
  return values.map((v, i) => v - (i > 0 ? values[i - 1]! : 0));
}

/**
 * Consistent endpoint counts from noisy ones (post-processing, no privacy cost): cumulative events Ê and
 * censorings Ĉ, each projected onto non-decreasing sequences within [0, n]; then Ĉ_i ≤ n − Ê_i by a suffix
 * minimum (which keeps Ĉ non-decreasing). Differences give events and censorings ≥ 0 whose running total never
 * exceeds n, so at-risk n − Ê_{i−1} − Ĉ_{i−1} is non-increasing and events ≤ at-risk. Exact counts are a fixed point.
 */
export function projectNoisyEndpoints(initialAtRisk: number, events: readonly number[], censored: readonly number[]): { initialAtRisk: number; events: number[]; censored: number[]; changed: number } {
  const n = Math.max(0, initialAtRisk);
  const clampTo = (v: number): number => Math.min(n, Math.max(0, v));
  const e = nonDecreasingProjection(cumulative(events)).map(clampTo);
  const c = nonDecreasingProjection(cumulative(censored)).map(clampTo);
  for (let i = c.length - 1; i >= 0; i--) c[i] = Math.min(c[i]!, n - e[i]!, i + 1 < c.length ? c[i + 1]! : Infinity);
  const ev = differences(e);
  const ce = differences(c);
  const changed = ev.filter((v, i) => v !== events[i]).length + ce.filter((v, i) => v !== censored[i]).length + (n !== initialAtRisk ? 1 : 0);
  return { initialAtRisk: n, events: ev, censored: ce, changed };
}

function clampNonNegative(values: readonly number[]): { values: number[]; clamped: number } {
  let clamped = 0;
  const out = values.map((v) => {
    if (v < 0) {
      clamped++;
      return 0;
    }
    return v === 0 ? 0 : v;
  });
  return { values: out, clamped };
}

/**
 * Validates one stratum and applies the post-processing for noisy counts, each step stated in `notes`:
 * negatives clamped to 0; at-risk derived from `initialAtRisk` (floored at 0) or made non-increasing;
 * events capped at the number at risk; missing censorings derived from consecutive at-risk differences.
 * Exact counts come out unchanged. All of it is post-processing of released values (no privacy cost).
 * @throws TypeError / RangeError naming the offending field, prefixed by `name`
 */
export function prepareStratum(name: string, s: StratumCounts, options: CountPostProcessingOptions = {}): PreparedStratum {
  validateStratumCounts(name, s);
  const enforceMonotone = options.enforceMonotoneAtRisk ?? true;
  if (typeof enforceMonotone !== 'boolean') throw new TypeError('options.enforceMonotoneAtRisk must be a boolean');
  const m = s.times.length;
  const notes: string[] = [];
  const mode = options.noisyEndpoints ?? 'cumulative';
  if (mode !== 'cumulative' && mode !== 'per-bin-clamp') throw new TypeError(`options.noisyEndpoints must be 'cumulative' or 'per-bin-clamp', got ${String(mode)}`);
  if (mode === 'cumulative' && s.initialAtRisk !== undefined && s.censored !== undefined) {
    const p = projectNoisyEndpoints(s.initialAtRisk, s.events, s.censored);
    const atRisk: number[] = [];
    let n = p.initialAtRisk;
    for (let i = 0; i < m; i++) {
      atRisk.push(n);
      // Never below 0 by construction; the max only absorbs floating-point dust.
      n = Math.max(0, n - p.events[i]! - p.censored[i]!);
    }
    if (p.changed > 0) notes.push(`noisy counts made consistent by projecting cumulative events and censorings onto non-decreasing sequences within [0, initial at-risk] (${p.changed} count(s) changed); no bin-by-bin clamping`);
    return { label: s.label, times: [...s.times], atRisk, events: p.events, censored: p.censored, notes };
  }
  const ev = clampNonNegative(s.events);
  const ce = s.censored === undefined ? undefined : clampNonNegative(s.censored);
  let clamped = ev.clamped + (ce?.clamped ?? 0);
  const events = ev.values;
  let atRisk: number[];
  if (s.atRisk !== undefined) {
    const ar = clampNonNegative(s.atRisk);
    clamped += ar.clamped;
    atRisk = ar.values;
    if (clamped > 0) notes.push(`${clamped} negative count(s) clamped to 0`);
    if (enforceMonotone) {
      const projected = nonIncreasingProjection(atRisk);
      const changed = projected.filter((v, i) => v !== atRisk[i]).length;
      if (changed > 0) notes.push(`at-risk made non-increasing by least-squares projection (${changed} bin(s) changed)`);
      atRisk = projected;
    }
  } else {
    let n = s.initialAtRisk!;
    if (n < 0) {
      clamped++;
      n = 0;
    }
    if (clamped > 0) notes.push(`${clamped} negative count(s) clamped to 0`);
    atRisk = [];
    let floored = 0;
    for (let i = 0; i < m; i++) {
      atRisk.push(n);
      n -= events[i]! + ce!.values[i]!;
      if (n < 0) {
        floored++;
        n = 0;
      }
    }
    if (floored > 0) notes.push(`at-risk derived from initialAtRisk fell below 0 in ${floored} bin(s) and was floored at 0`);
  }
  let capped = 0;
  for (let i = 0; i < m; i++) {
    if (events[i]! > atRisk[i]!) {
      events[i] = atRisk[i]!;
      capped++;
    }
  }
  if (capped > 0) notes.push(`events capped at the number at risk in ${capped} bin(s)`);
  let censored: number[];
  if (ce !== undefined) {
    censored = ce.values;
  } else {
    censored = atRisk.map((n, i) => Math.max(0, n - events[i]! - (i + 1 < m ? atRisk[i + 1]! : 0)));
    notes.push('censored counts derived from consecutive at-risk differences');
  }
  return { label: s.label, times: [...s.times], atRisk, events, censored, notes };
}

/**
 * Adds the counts of one stratum from several agents bin by bin. All parts must share the same time grid.
 * The sum uses `initialAtRisk` when every part does, and per-bin `atRisk` otherwise (parts given with
 * `initialAtRisk` are expanded first, without post-processing); `censored` is summed when every part has it.
 * Because every count is a sum over subjects, the sum equals the counts of the pooled data exactly.
 * @throws TypeError / RangeError naming the offending part and field, or a mismatched time grid
 */
export function sumStratumCounts(parts: readonly StratumCounts[]): StratumCounts {
  if (!Array.isArray(parts as unknown)) throw new TypeError('parts must be an array');
  if (parts.length === 0) throw new RangeError('parts must not be empty');
  parts.forEach((p, k) => validateStratumCounts(`parts[${k}]`, p));
  const first = parts[0]!;
  const m = first.times.length;
  parts.forEach((p, k) => {
    if (p.times.length !== m || p.times.some((t, i) => t !== first.times[i])) {
      throw new RangeError(`parts[${k}].times differs from parts[0].times: all parts must share one time grid`);
    }
  });
  const add = (pick: (p: StratumCounts) => readonly number[]): number[] =>
    Array.from({ length: m }, (_, i) => parts.reduce((s, p) => s + pick(p)[i]!, 0));
  const events = add((p) => p.events);
  const censored = parts.every((p) => p.censored !== undefined) ? add((p) => p.censored!) : undefined;
  const label = first.label;
  const base = { ...(label !== undefined ? { label } : {}), times: [...first.times], events, ...(censored ? { censored } : {}) };
  if (parts.every((p) => p.initialAtRisk !== undefined)) {
    return { ...base, initialAtRisk: parts.reduce((s, p) => s + p.initialAtRisk!, 0) };
  }
  const expand = (p: StratumCounts): readonly number[] => {
    if (p.atRisk !== undefined) return p.atRisk;
    const out: number[] = [];
    let n = p.initialAtRisk!;
    for (let i = 0; i < m; i++) {
      out.push(n);
      n -= p.events[i]! + p.censored![i]!;
    }
    return out;
  };
  return { ...base, atRisk: add(expand) };
}
