/**
 * Time-to-event counts at one agent for Kaplan–Meier and the log-rank test: per public stratum and per bin of a
 * public time grid, the persons with the outcome, the persons censored, and the persons at risk. The conventions
 * are those of `algorithms/survival` (bin i is (t_{i−1}, t_i], censorings follow the events of their bin, at-risk
 * counted at the start of the bin), so `kaplanMeier` on the sum over agents equals Kaplan–Meier on the pooled
 * persons with their times rounded up to the grid (exactly the product-limit estimator when binDays = 1).
 */
import { asSession } from '../cohort/run.js';
import type { SqlParam } from '../data/source/source.js';
import { invalidJob } from '../../common/errors.js';
import { checkTimeGridDays } from '../../common/job/index.js';
import type { StratumCounts } from '../../algorithms/survival/index.js';
import { guardDuckDb, requireOmopTable, toBigInt, type AnalyticsDb } from './schema.js';
import { Params } from './sql-params.js';

import { followUpCtes, type OutcomeDomain } from './follow-up.js';
import type { PersonSetSink } from './person-sets.js';

export type { OutcomeDomain };

/** The outcome: the first entry of another cohort table, or the first event of a domain over a concept list. */
export type SurvivalOutcome =
  | { table: string }
  | {
      domain: OutcomeDomain;
      /** Public concept list. For `death` it filters `cause_concept_id`; empty means any death. */
      conceptIds: readonly number[];
      /**
       * Also match descendants of the concepts through `concept_ancestor` (when the table exists).
       * @default true
       */
      includeDescendants?: boolean;
    };

export interface SurvivalOptions {
  /** Cohort table (`subject_id`, `cohort_start_date`) whose first entry per person is time 0. */
  targetTable: string;
  outcome: SurvivalOutcome;
  /**
   * The public time grid in days: times `[0, binDays, 2·binDays, …, maxDays]`. The first bin holds only day 0
   * (outcome or censoring on the index date); the others are (t_{i−1}, t_i] of width binDays, the last one
   * ending at maxDays. Follow-up is censored at maxDays.
   */
  timeGrid: { binDays: number; maxDays: number };
  /** Strata: by gender ('male', 'female', 'other', always all three), or none (one stratum 'all'). */
  strata?: 'gender' | { column: 'gender_concept_id' } | undefined;
  /**
   * Mode none: each followed person's cells — `n:<stratum>` and `e:<stratum>:<bin>` or `c:<stratum>:<bin>` — for the
   * differencing guard, from the same follow-up as the counts. @default none
   */
  personSets?: PersonSetSink;
}

/** One stratum's counts on the public grid (same grid at every agent, so they add bin by bin). */
export interface SurvivalStratum {
  label: string;
  /** Right ends of the bins in days since index: `[0, binDays, …, maxDays]`. */
  times: number[];
  /** Persons whose outcome falls in the bin. */
  events: bigint[];
  /** Persons censored in the bin (end of observation, death, or maxDays) without the outcome. */
  censored: bigint[];
  /** Persons still followed at the start of the bin: those whose event or censoring falls in this bin or later. */
  atRisk: bigint[];
}

/**
 * Sensitivity (add or remove one person, the privacy unit): each person followed is in exactly one stratum and
 * exactly one bin, as one event or one censoring (L1 change 1 over `events` ∪ `censored`), and is counted in
 * `atRisk` of every bin up to and including that one (up to `times.length` cells, each ±1). `excluded` ±1.
 */
export interface SurvivalCounts {
  /** One entry per public stratum, in the fixed order of {@link GENDER_STRATA} (or `['all']`). */
  strata: SurvivalStratum[];
  /** Persons of the target cohort with no observation period containing their index date (not followed). */
  excluded: bigint;
}

/** The public strata labels for gender, in output order. */
export const GENDER_STRATA: readonly string[] = Object.freeze(['male', 'female', 'other']);
export const UNSTRATIFIED_LABEL = 'all';
/** Grids longer than this are refused (the output and the DP noise grow with the number of bins). */
export const MAX_BINS = 10_000;

/** The public time grid: `[0, b, 2b, …, maxDays]`. */
export function survivalTimeGrid(binDays: number, maxDays: number): number[] {
  // The coordinator's parser checks the same day limits (common/job/cell-limits.ts) before admission.
  const { binDays: b, maxDays: max } = checkTimeGridDays(binDays, maxDays, 'opts.timeGrid');
  const bins = Math.ceil(max / b);
  if (bins > MAX_BINS) throw invalidJob('opts.timeGrid', `must have at most ${MAX_BINS} bins, got ${bins}`);
  const times = [0];
  for (let i = 1; i < bins; i++) times.push(i * b);
  times.push(max);
  return times;
}

/** Converts one stratum to the `StratumCounts` of `algorithms/survival` (counts must be below 2^53). */
export function toStratumCounts(s: SurvivalStratum): StratumCounts {
  const num = (v: bigint): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError('count exceeds the safe integer range');
    }
    return Number(v);
  };
  return {
    label: s.label,
    times: [...s.times],
    events: s.events.map(num),
    censored: s.censored.map(num),
    atRisk: s.atRisk.map(num),
  };
}

/** Adds per-agent survival counts stratum by stratum and bin by bin (all must share strata and grid). */
export function sumSurvivalCounts(parts: readonly SurvivalCounts[]): SurvivalCounts {
  if (parts.length === 0) throw new RangeError('parts must not be empty');
  const first = parts[0]!;
  parts.forEach((p, k) => {
    const same =
      p.strata.length === first.strata.length &&
      p.strata.every(
        (s, j) => s.label === first.strata[j]!.label && s.times.length === first.strata[j]!.times.length && s.times.every((t, i) => t === first.strata[j]!.times[i]),
      );
    if (!same) throw new RangeError(`parts[${k}] has other strata or another time grid than parts[0]`);
  });
  const add = (pick: (p: SurvivalCounts) => readonly bigint[]): bigint[] =>
    pick(first).map((_, i) => parts.reduce((s, p) => s + pick(p)[i]!, 0n));
  return {
    strata: first.strata.map((s, j) => ({
      label: s.label,
      times: [...s.times],
      events: add((p) => p.strata[j]!.events),
      censored: add((p) => p.strata[j]!.censored),
      atRisk: add((p) => p.strata[j]!.atRisk),
    })),
    excluded: parts.reduce((s, p) => s + p.excluded, 0n),
  };
}

function checkStrata(strata: unknown): boolean {
  if (strata === undefined) return false;
  if (strata === 'gender') return true;
  if (typeof strata === 'object' && strata !== null && 'column' in strata) {
    if ((strata as { column: unknown }).column === 'gender_concept_id') return true;
    throw invalidJob('opts.strata.column', "must be 'gender_concept_id' (strata come from a public set)");
  }
  throw invalidJob('opts.strata', "must be 'gender', { column: 'gender_concept_id' } or undefined");
}

/**
 * Survival counts for the time from each person's first entry in `targetTable` to their first outcome on or after
 * that date.
 *
 * Follow-up ends at the earliest of: the end of the observation period containing the index date (the latest
 * end if periods overlap), index + maxDays, and death (when the outcome is not death and a `death` table exists).
 * An outcome on or before the end of follow-up is an event at that day; otherwise the person is censored at the
 * end of follow-up. A time of t days falls in bin 0 when t = 0, else in the bin (t_{i−1}, t_i] containing t.
 * Persons with no observation period containing their index date are not followed and are counted in `excluded`.
 *
 * Every count is of persons (each person once, in one stratum and one bin), so counts from agents holding
 * disjoint persons add up to the counts of the pooled data; see {@link SurvivalCounts} for the sensitivity.
 *
 * @throws FedmeshError INVALID_JOB naming the option at fault; FAILED_PRECONDITION when an OMOP table it needs is
 *   missing; INTERNAL (DuckDB error only in `cause`)
 */
export async function survivalCounts(db: AnalyticsDb, opts: SurvivalOptions): Promise<SurvivalCounts> {
  const conn = asSession(db);
  const x = conn.dialect;
  if (typeof opts !== 'object' || opts === null) throw invalidJob('opts', 'must be an object');
  if (typeof opts.timeGrid !== 'object' || opts.timeGrid === null) throw invalidJob('opts.timeGrid', 'must be { binDays, maxDays }');
  const times = survivalTimeGrid(opts.timeGrid.binDays, opts.timeGrid.maxDays);
  const byGender = checkStrata(opts.strata);
  const person = byGender ? await requireOmopTable(conn, 'person', ['person_id', 'gender_concept_id']) : undefined;
  const params = new Params(x);
  const followUp = await followUpCtes(conn, opts, params);

  const binDays = params.add(opts.timeGrid.binDays, 'BIGINT');
  const lastBin = times.length - 1;
  const labels = byGender ? GENDER_STRATA : [UNSTRATIFIED_LABEL];
  // Gender levels are public constants of this module, never input.
  const stratumSql = byGender
    ? `CASE g.gender_concept_id WHEN 8507 THEN 0 WHEN 8532 THEN 1 ELSE 2 END`
    : '0';
  const binSql = `CASE WHEN o.days <= 0 THEN 0 ELSE least(${x.floorDiv(`o.days + ${binDays} - 1`, binDays)}, ${lastBin}) END`;
  // Each followed person's stratum, bin and status (observed holds one row per person): counted, or (personSets) listed.
  const placed = `WITH ${followUp},
    genders AS (${
      person === undefined
        ? `SELECT ${x.cast('NULL', 'BIGINT')} AS person_id, ${x.cast('NULL', 'BIGINT')} AS gender_concept_id WHERE 1 = 0`
        : `SELECT person_id, min(gender_concept_id) AS gender_concept_id FROM ${person.sql} GROUP BY person_id`
    })
    SELECT ${stratumSql} AS stratum,
           ${binSql} AS bin,
           o.is_event, `;
  const from = `
      FROM observed o LEFT JOIN genders g ON g.person_id = o.person_id`;
  const sql = `${placed}COUNT(*) AS n${from}
     GROUP BY ${byGender ? `${stratumSql}, ` : ''}${binSql}, o.is_event
    UNION ALL
    SELECT -1, -1, ${x.boolValue('1 = 0')}, (SELECT COUNT(*) FROM idx) - (SELECT COUNT(*) FROM fu)`;
  const personsSql = `${placed}o.person_id${from}`;

  return guardDuckDb('survival counts', async () => {
    if (opts.personSets) {
      await opts.personSets(personsSql, params.values as SqlParam[], (r) => {
        const label = labels[Number(r['stratum'])]!;
        return [`n:${label}`, `${r['is_event'] === true ? 'e' : 'c'}:${label}:${Number(r['bin'])}`];
      });
    }
    const rows = await conn.all(sql, params.values as SqlParam[]);
    const m = times.length;
    const strata: SurvivalStratum[] = labels.map((label) => ({
      label,
      times: [...times],
      events: new Array<bigint>(m).fill(0n),
      censored: new Array<bigint>(m).fill(0n),
      atRisk: new Array<bigint>(m).fill(0n),
    }));
    let excluded = 0n;
    for (const r of rows) {
      const stratum = Number(r['stratum']);
      const n = toBigInt(r['n']);
      if (stratum === -1) {
        excluded = n;
        continue;
      }
      const s = strata[stratum]!;
      const bin = Number(r['bin']);
      if (r['is_event'] === true) s.events[bin]! += n;
      else s.censored[bin]! += n;
    }
    for (const s of strata) {
      let running = 0n;
      for (let i = m - 1; i >= 0; i--) {
        running += s.events[i]! + s.censored[i]!;
        s.atRisk[i] = running;
      }
    }
    return { strata, excluded };
  });
}
