/**
 * Public limits of cohort-level job parameters, one validator used by the coordinator's parser (INVALID_ARGUMENT
 * before admission) and by the agent (before computing). When the two disagreed, a job the coordinator admitted
 * and charged was refused at the agent afterwards.
 */
import { invalidJob, quote } from '../errors.js';

export const CELL_JOB_LIMITS = Object.freeze({
  /** Either end of a characterisation window, in days from the index date (about 100 years). */
  maxWindowDays: 100 * 366,
  /** Longest survival follow-up, in days (about 200 years). */
  maxSurvivalDays: 200 * 366,
  /** Largest age band edge, in years. */
  maxAgeEdge: 1000,
  /** Most age band edges. */
  maxAgeEdges: 30,
});

/** @throws FedmeshError INVALID_JOB naming `field` unless `value` is an integer in [min, max] */
export function integerWithin(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidJob(field, `must be an integer in [${min}, ${max}], got ${quote(value, 40)}`);
  }
  return value;
}

/**
 * A window `[startDays, endDays]` relative to the index date, start ≤ end, each within ±`maxWindowDays`.
 * @throws FedmeshError INVALID_JOB naming `field` or `field[i]`
 */
export function checkWindowDays(w: unknown, field: string): [number, number] {
  if (!Array.isArray(w) || w.length !== 2) throw invalidJob(field, 'must be [startDays, endDays] relative to index, start ≤ end');
  const max = CELL_JOB_LIMITS.maxWindowDays;
  const lo = integerWithin(w[0], `${field}[0]`, -max, max);
  const hi = integerWithin(w[1], `${field}[1]`, -max, max);
  if (lo > hi) throw invalidJob(field, 'start must not be after end');
  return [lo, hi];
}

/**
 * Age band edges in whole years: 2 to `maxAgeEdges` integers in [0, `maxAgeEdge`], strictly increasing.
 * @throws FedmeshError INVALID_JOB naming `field` or `field[i]`
 */
export function checkAgeBandEdges(edges: unknown, field: string): number[] {
  if (!Array.isArray(edges) || edges.length < 2) throw invalidJob(field, 'must be a list of at least 2 edges');
  if (edges.length > CELL_JOB_LIMITS.maxAgeEdges) throw invalidJob(field, `at most ${CELL_JOB_LIMITS.maxAgeEdges} edges`);
  return edges.map((e: unknown, i) => {
    const v = integerWithin(e, `${field}[${i}]`, 0, CELL_JOB_LIMITS.maxAgeEdge);
    if (i > 0 && !(v > (edges[i - 1] as number))) throw invalidJob(`${field}[${i}]`, 'edges must be strictly increasing');
    return v;
  });
}

/**
 * A survival time grid's day range: `binDays` and `maxDays` in [1, `maxSurvivalDays`]. The coordinator also
 * requires `maxDays ≥ binDays` and at most 400 bins, stricter than the agent (one short last bin, 10,000 bins): a
 * stricter coordinator only refuses earlier, never admits what the agent refuses.
 * @throws FedmeshError INVALID_JOB naming `field.binDays` or `field.maxDays`
 */
export function checkTimeGridDays(binDays: unknown, maxDays: unknown, field: string): { binDays: number; maxDays: number } {
  const b = integerWithin(binDays, `${field}.binDays`, 1, CELL_JOB_LIMITS.maxSurvivalDays);
  const m = integerWithin(maxDays, `${field}.maxDays`, 1, CELL_JOB_LIMITS.maxSurvivalDays);
  return { binDays: b, maxDays: m };
}

/** A top age edge at or above this is beyond any human age: the top band is open ("80+", not "80-199"). */
export const OPEN_AGE_EDGE = 130;

/** Band labels for the edges (the top band "LO+" when its upper edge is {@link OPEN_AGE_EDGE} or more), then "unknown". */
export function ageBandLabelsFor(edges: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const hi = edges[i + 1]!;
    out.push(i + 2 === edges.length && hi >= OPEN_AGE_EDGE ? `${edges[i]}+` : `${edges[i]}-${hi - 1}`);
  }
  return [...out, 'unknown'];
}
