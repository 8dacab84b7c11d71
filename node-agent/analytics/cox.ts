/**
 * The Cox model at one agent: the survival job's per-person follow-up (analytics/follow-up.ts) with the
 * covariates of the spec, read once into typed arrays, and per round the per-bin risk-set statistics for the
 * round's β (algorithms/survival/cox-stats.ts). Only those sums leave; rows, ids and dates never do.
 *
 * Before it answers a round the agent checks the layout it was given against its own data and refuses
 * (POLICY_DENIED naming the rule, never a count) when a time bin would isolate fewer persons than its minimum
 * cell size — overall or for one level of a categorical covariate — or when the model has more coefficients than
 * a third of its persons (DataSHIELD's rule against saturated models). The coordinator merges small bins by a
 * public rule first (algorithms/survival/cox-bins.ts), so a refusal means that rule was not applied or could not
 * see this agent's level counts: a wider `timeGrid.binDays` helps.
 */
import { FedmeshError, invalidJob } from '../../common/errors.js';
import { coxTerms, type CoxCovariate } from '../../common/job/index.js';
import { binOf, coxBinViolation, coxLocalStats, type CoxLayout, type CoxPersons, type CoxStats } from '../../algorithms/survival/index.js';
import { followUpCtes, type FollowUpOptions } from './follow-up.js';
import { guardDuckDb, requireOmopTable, type AnalyticsDb } from './schema.js';
import { asSession } from '../cohort/run.js';
import { DEFAULT_BATCH_ROWS, type SqlParam } from '../data/source/source.js';
import { Params } from './sql-params.js';
import { GENDER_STRATA, UNSTRATIFIED_LABEL, survivalTimeGrid } from './survival.js';

export interface CoxAgentOptions extends FollowUpOptions {
  timeGrid: { binDays: number; maxDays: number };
  /** 'gender': one baseline hazard per gender (male, female, other), as strata(gender) in R; none: one. */
  strata?: 'gender' | 'none';
  covariates: readonly CoxCovariate[];
  /** Also return the used rows' person ids as text (`CoxAgentData.ids`), for the agent's mode-none differencing guard. */
  withIds?: boolean;
}

/** The followed persons of this agent as a design matrix. Stays at the agent (row-level). */
export interface CoxAgentData {
  persons: CoxPersons & { time: Int32Array; event: Uint8Array; x: Float64Array; stratum: Uint8Array };
  /** For the disclosure check: per categorical covariate, each person's level index (255: not categorical). */
  levels: { name: string; levels: readonly string[]; of: Uint8Array }[];
  terms: string[];
  strataLabels: readonly string[];
  /** Public centring: midpoints of numeric bounds, 0 for dummies. */
  center: number[];
  /** Public span of each term: hi − lo of numeric bounds, 1 for dummies. */
  spans: number[];
  /** Followed persons left out because a covariate value is unknown or outside the listed levels (as R drops NA rows). */
  dropped: number;
  /** With `withIds`: each used row's person id as text, for the differencing guard only (dropped once checked). */
  ids?: string[];
  /**
   * For the disclosure check only: per numeric covariate, each person's group of clamped values — one group per
   * distinct value when it takes at most NUMERIC_AS_LEVELS values here, else at the lower bound, inside, at the
   * upper bound. Exact risk-set sums of a covariate that takes few values are counts in disguise (bounds [99, 100]
   * make age a 0/1 centenarian flag), so these groups obey the rule of categorical levels.
   */
  numericGroups?: { name: string; levels: readonly string[]; of: Uint8Array }[];
}

/** A numeric covariate taking at most this many distinct (clamped) values at an agent is checked value by value. */
export const NUMERIC_AS_LEVELS = 20;

/**
 * The groups of one numeric covariate's clamped values (see CoxAgentData.numericGroups). Labels name no value and no
 * rank: a refusal naming "value 3 of the ones it takes here" told how many distinct values the agent holds (red team 21).
 */
function numericGroups(name: string, values: readonly number[], lo: number, hi: number): { name: string; levels: readonly string[]; of: Uint8Array } {
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  if (distinct.length <= NUMERIC_AS_LEVELS) {
    const index = new Map(distinct.map((v, i) => [v, i]));
    return { name, levels: distinct.map(() => '(one of the values it takes here)'), of: Uint8Array.from(values, (v) => index.get(v)!) };
  }
  return { name, levels: ['(at its lower bound)', '(inside its bounds)', '(at its upper bound)'], of: Uint8Array.from(values, (v) => (v <= lo ? 0 : v >= hi ? 2 : 1)) };
}

/**
 * Largest |β_j| × (declared range of covariate j) an agent evaluates: a hazard ratio of e^30 across a covariate's
 * whole range is beyond any fit worth reporting, and larger β would let the sums single out extreme persons.
 */
export const MAX_LINEAR_PREDICTOR_SPAN = 30;

const GENDER_OF: Record<number, string> = { 8507: 'male', 8532: 'female' };

/** A person's level of a categorical covariate, or -1 when the value is not one of its levels. */
function levelIndex(c: CoxCovariate, age: number | null, genderConcept: number | null): number {
  if (c.type === 'numeric') return -1;
  if (c.source === 'gender') return c.levels.indexOf(genderConcept === null ? 'other' : (GENDER_OF[genderConcept] ?? 'other'));
  if (age === null) return -1;
  for (let i = 0; i + 1 < c.bands.length; i++) if (age >= c.bands[i]! && age < c.bands[i + 1]!) return i;
  return -1;
}

/** Per-person values of the followed persons as read from the database (one entry per person, person order). */
export interface CoxRawRows {
  days: ArrayLike<number>;
  event: ArrayLike<number>;
  age: ArrayLike<number | null>;
  gender: ArrayLike<number | null>;
  id?: ArrayLike<unknown>;
}

/** What a Cox design is, apart from its persons: public, from the spec alone. */
export interface CoxDesignMeta {
  terms: string[];
  strataLabels: readonly string[];
  center: number[];
  spans: number[];
  /** The numeric covariates' design columns and declared bounds (for the disclosure groups). */
  numericCols: { name: string; col: number; lo: number; hi: number }[];
}

/** The public facts of the design of `covariates` (see {@link CoxAgentData}). */
export function coxDesignMeta(covariates: readonly CoxCovariate[], byGender: boolean): CoxDesignMeta {
  const numericCols: CoxDesignMeta['numericCols'] = [];
  let col = 0;
  for (const c of covariates) {
    if (c.type === 'numeric') numericCols.push({ name: c.name, col: col++, lo: c.bounds[0], hi: c.bounds[1] });
    else col += c.levels.length - 1;
  }
  return {
    terms: coxTerms(covariates),
    strataLabels: byGender ? GENDER_STRATA : [UNSTRATIFIED_LABEL],
    center: covariates.flatMap((c) => (c.type === 'numeric' ? [(c.bounds[0] + c.bounds[1]) / 2] : c.levels.filter((l) => l !== c.reference).map(() => 0))),
    spans: covariates.flatMap((c) => (c.type === 'numeric' ? [c.bounds[1] - c.bounds[0]] : c.levels.filter((l) => l !== c.reference).map(() => 1))),
    numericCols,
  };
}

/**
 * The design of some followed persons without the numeric disclosure groups (which need all persons' values): a
 * chunk of a stream, or the first step of {@link coxDesign}.
 */
export function coxDesignChunk(rows: CoxRawRows, covariates: readonly CoxCovariate[], byGender: boolean): CoxAgentData {
  const meta = coxDesignMeta(covariates, byGender);
  const p = meta.terms.length;
  const n = rows.days.length;
  const time: number[] = [];
  const event: number[] = [];
  const x: number[] = [];
  const stratum: number[] = [];
  const cats = covariates.filter((c) => c.type === 'categorical');
  const levelOf: number[][] = cats.map(() => []);
  let dropped = 0;
  const ids: string[] | undefined = rows.id ? [] : undefined;
  for (let i = 0; i < n; i++) {
    const age = rows.age[i] ?? null;
    const g = rows.gender[i] ?? null;
    const row: number[] = [];
    const lv: number[] = [];
    let ok = true;
    for (const c of covariates) {
      if (c.type === 'numeric') {
        if (age === null) ok = false;
        else row.push(Math.min(c.bounds[1], Math.max(c.bounds[0], age)));
        continue;
      }
      const li = levelIndex(c, age, g);
      if (li < 0) ok = false;
      lv.push(li);
      for (const l of c.levels) if (l !== c.reference) row.push(c.levels[li] === l ? 1 : 0);
    }
    if (!ok) {
      dropped++;
      continue;
    }
    time.push(rows.days[i]!);
    event.push(rows.event[i]!);
    ids?.push(String(rows.id![i]));
    x.push(...row);
    lv.forEach((v, j) => levelOf[j]!.push(v));
    stratum.push(byGender ? (g === 8507 ? 0 : g === 8532 ? 1 : 2) : 0);
  }
  if (x.length !== time.length * p) throw new FedmeshError('INTERNAL', 'cox design: wrong row width');
  return {
    persons: { time: Int32Array.from(time), event: Uint8Array.from(event), x: Float64Array.from(x), stratum: Uint8Array.from(stratum) },
    levels: cats.map((c, j) => ({ name: c.name, levels: c.levels, of: Uint8Array.from(levelOf[j]!) })),
    terms: meta.terms,
    strataLabels: meta.strataLabels,
    center: meta.center,
    spans: meta.spans,
    dropped,
    ...(ids ? { ids } : {}),
  };
}

/**
 * The design matrix from per-person values: numeric covariates clamped into their declared bounds (the
 * per-person contribution is bounded), categorical ones dummy-coded against their reference level.
 * Pure; exported for tests.
 */
export function coxDesign(rows: CoxRawRows, covariates: readonly CoxCovariate[], byGender: boolean): CoxAgentData {
  const data = coxDesignChunk(rows, covariates, byGender);
  const p = data.terms.length;
  const n = data.persons.time.length;
  const x = data.persons.x;
  // The numeric columns' clamped values, for the disclosure groups.
  data.numericGroups = coxDesignMeta(covariates, byGender).numericCols.map((nc) => numericGroups(nc.name, Array.from({ length: n }, (_, i) => x[i * p + nc.col]!), nc.lo, nc.hi));
  return data;
}

/** The options of a Cox read, checked (INVALID_JOB naming the option at fault). */
function checkCoxOptions(opts: CoxAgentOptions): void {
  if (typeof opts !== 'object' || opts === null) throw invalidJob('opts', 'must be an object');
  survivalTimeGrid(opts.timeGrid.binDays, opts.timeGrid.maxDays);
  const strata = opts.strata ?? 'none';
  if (strata !== 'gender' && strata !== 'none') throw invalidJob('opts.strata', "must be 'gender' or 'none'");
  if (!Array.isArray(opts.covariates) || opts.covariates.length === 0) throw invalidJob('opts.covariates', 'must be a non-empty list');
}

/**
 * The followed persons of the target cohort with the values their covariates come from (age at index =
 * year(index) − year_of_birth; gender from gender_concept_id), in person order, through a cursor: one batch of
 * plain arrays at a time, never all persons at once. Engine errors end as INTERNAL with the engine's text only in
 * `cause` (it can quote a value).
 * @throws FedmeshError INVALID_JOB naming the option at fault; FAILED_PRECONDITION when a table is missing
 */
export async function* streamCoxRows(db: AnalyticsDb, opts: CoxAgentOptions, batchRows = DEFAULT_BATCH_ROWS): AsyncGenerator<CoxRawRows & { days: number[]; event: number[]; age: (number | null)[]; gender: (number | null)[]; id?: string[] }> {
  checkCoxOptions(opts);
  const conn = asSession(db);
  const x = conn.dialect;
  const person = await requireOmopTable(conn, 'person', ['person_id', 'gender_concept_id', 'year_of_birth']);
  const params = new Params(x);
  const followUp = await followUpCtes(conn, opts, params);
  // Ordered by person, so that the sums of every round add in the same order on every engine (DuckDB, PostgreSQL).
  const sql = `WITH ${followUp},
    people AS (SELECT person_id, min(gender_concept_id) AS gender_concept_id, min(year_of_birth) AS year_of_birth
                 FROM ${person.sql} GROUP BY person_id)
    SELECT ${x.cast('o.days', 'INTEGER')} AS days, o.is_event,
           ${x.cast(`${x.year('fu.index_date')} - p.year_of_birth`, 'INTEGER')} AS age, ${x.cast('p.gender_concept_id', 'INTEGER')} AS gender${opts.withIds ? `, ${x.cast('o.person_id', 'VARCHAR')} AS id` : ''}
      FROM observed o JOIN fu ON fu.person_id = o.person_id LEFT JOIN people p ON p.person_id = o.person_id
     ORDER BY o.person_id`;
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const it = conn.stream(sql, params.values as SqlParam[], { batchRows })[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await guardDuckDb('cox rows', () => it.next());
      if (next.done === true) return;
      const batch = next.value;
      yield {
        days: batch.map((r) => Number(r['days'])),
        event: batch.map((r) => (r['is_event'] === true ? 1 : 0)),
        age: batch.map((r) => num(r['age'])),
        gender: batch.map((r) => num(r['gender'])),
        ...(opts.withIds ? { id: batch.map((r) => String(r['id'])) } : {}),
      };
    }
  } finally {
    // A consumer that stops early (an error, a refusal) closes the cursor.
    await it.return?.().catch(() => undefined);
  }
}

/**
 * Reads the followed persons of the target cohort with their covariates (see {@link streamCoxRows}) into a design
 * matrix held in memory (the agent's own DuckDB keeps it for the job's rounds).
 * @throws FedmeshError INVALID_JOB naming the option at fault; FAILED_PRECONDITION when a table is missing
 */
export async function readCoxData(db: AnalyticsDb, opts: CoxAgentOptions, batchRows = DEFAULT_BATCH_ROWS): Promise<CoxAgentData> {
  checkCoxOptions(opts);
  const days: number[] = [];
  const event: number[] = [];
  const age: (number | null)[] = [];
  const gender: (number | null)[] = [];
  const id: string[] = [];
  for await (const b of streamCoxRows(db, opts, batchRows)) {
    for (let i = 0; i < b.days.length; i++) {
      days.push(b.days[i]!);
      event.push(b.event[i]!);
      age.push(b.age[i]!);
      gender.push(b.gender[i]!);
      if (b.id) id.push(b.id[i]!);
    }
  }
  return coxDesign({ days, event, age, gender, ...(opts.withIds ? { id } : {}) }, opts.covariates, (opts.strata ?? 'none') === 'gender');
}

/** The layout of this agent's data on the given bin ends (the job grid, or a merged one from the coordinator). */
export function coxAgentLayout(data: CoxAgentData, times: readonly number[]): CoxLayout {
  return { times, p: data.terms.length, strata: data.strataLabels.length, center: data.center };
}

/**
 * The disclosure checks of one round's layout against this agent's data; null when it may answer.
 * Public rule names only, never a count.
 */
export function coxDisclosureRefusal(data: CoxAgentData, layout: CoxLayout, minCellSize: number): string | null {
  const n = data.persons.time.length;
  const m = layout.times.length;
  const strata = layout.strata ?? 1;
  const atRisk = new Float64Array(strata * m);
  const groups = [...data.levels, ...(data.numericGroups ?? [])];
  const leaving = groups.flatMap((c) => c.levels.map((l) => ({ name: `${c.name}=${l}`, leaving: new Float64Array(strata * m) })));
  const eventsByLevel = new Float64Array(leaving.length);
  for (let i = 0; i < n; i++) {
    const cell = data.persons.stratum[i]! * m + binOf(layout.times, data.persons.time[i]!);
    atRisk[cell]! += 1;
    let offset = 0;
    for (const c of groups) {
      const li = offset + c.of[i]!;
      leaving[li]!.leaving[cell]! += 1;
      if (data.persons.event[i] === 1) eventsByLevel[li]! += 1;
      offset += c.levels.length;
    }
  }
  return coxRefusalOf({ persons: n, terms: data.terms.length, leavingAll: atRisk, bins: m, strata, leaving, eventsByLevel }, minCellSize);
}

/**
 * The rules of {@link coxDisclosureRefusal} on counts already tallied (in memory or streamed): per stratum × bin the
 * persons leaving the risk set (`leavingAll`, turned into risk sets here, in place), the same per group level, and
 * the events per group level. Public rule names only, never a count.
 */
export function coxRefusalOf(t: { persons: number; terms: number; leavingAll: Float64Array; bins: number; strata: number; leaving: readonly { name: string; leaving: Float64Array }[]; eventsByLevel: ArrayLike<number> }, minCellSize: number): string | null {
  const { persons: n, bins: m, strata, leaving, eventsByLevel } = t;
  if (n > 0 && t.terms > 0.33 * n) return 'the model has more coefficients than a third of the persons at this agent (saturated-model rule)';
  const atRisk = t.leavingAll;
  for (let s = 0; s < strata; s++) for (let k = m - 2; k >= 0; k--) atRisk[s * m + k]! += atRisk[s * m + k + 1]!;
  const bins = coxBinViolation(atRisk, m, strata, minCellSize, leaving);
  if (bins !== null) return `minimum cell size: ${bins}`;
  const small = leaving.findIndex((_, j) => eventsByLevel[j]! > 0 && eventsByLevel[j]! < minCellSize);
  if (small >= 0) return `minimum cell size: fewer events among ${leaving[small]!.name} than the minimum cell size`;
  return null;
}

/**
 * Per bin of the job's grid, the persons leaving the risk set (events + censorings) per stratum and per stratum ×
 * level of each categorical covariate; with `minCellSize`, counts below it are null. Never released as counts:
 * round 0 of the survival-cox kind releases only, per cell, whether it is small (0 < count < minimum cell size)
 * or big, and the coordinator merges bins from those flags (algorithms/survival/cox-bins.ts), so the layout of the
 * Newton rounds passes {@link coxDisclosureRefusal} and no withheld count can be recovered by difference.
 */
export function coxBinCounts(data: CoxAgentData, times: readonly number[], minCellSize: number | null): { name: string; counts: (number | null)[] }[] {
  const m = times.length;
  const rows = data.strataLabels.flatMap((s) => [
    { name: `stratum=${s}`, counts: new Array<number>(m).fill(0) },
    ...data.levels.flatMap((c) => c.levels.map((l) => ({ name: `stratum=${s}:${c.name}=${l}`, counts: new Array<number>(m).fill(0) }))),
  ]);
  const perStratum = 1 + data.levels.reduce((a, c) => a + c.levels.length, 0);
  for (let i = 0; i < data.persons.time.length; i++) {
    const k = binOf(times, data.persons.time[i]!);
    const base = data.persons.stratum[i]! * perStratum;
    rows[base]!.counts[k]! += 1;
    let offset = base + 1;
    for (const c of data.levels) {
      rows[offset + c.of[i]!]!.counts[k]! += 1;
      offset += c.levels.length;
    }
  }
  const k = minCellSize;
  return rows.map((r) => ({ name: r.name, counts: r.counts.map((v) => (k !== null && v > 0 && v < k ? null : v)) }));
}

/**
 * The β a round may be evaluated at: one finite number per term, each within {@link MAX_LINEAR_PREDICTOR_SPAN} over
 * its covariate's declared range.
 * @throws FedmeshError INVALID_ARGUMENT (field beta) naming the term at fault
 */
export function checkCoxBeta(design: { terms: readonly string[]; spans: readonly number[] }, beta: readonly number[]): void {
  if (!Array.isArray(beta) || beta.length !== design.terms.length) throw new FedmeshError('INVALID_ARGUMENT', `beta must have ${design.terms.length} entries`, { field: 'beta' });
  beta.forEach((b, j) => {
    // With a huge β the sums are dominated by the one person with the extreme value (S1/S0 ≈ their covariate):
    // a β no plausible fit reaches is refused rather than answered.
    if (typeof b !== 'number' || !Number.isFinite(b) || Math.abs(b) * design.spans[j]! > MAX_LINEAR_PREDICTOR_SPAN) {
      throw new FedmeshError('INVALID_ARGUMENT', `beta[${j}] (${design.terms[j]}) must be finite with |beta| × the covariate's declared range ≤ ${MAX_LINEAR_PREDICTOR_SPAN} (a hazard ratio of e^${MAX_LINEAR_PREDICTOR_SPAN} across it); the fit is diverging (a coefficient may be infinite)`, { field: 'beta' });
    }
  });
}

/** The error of a round the disclosure rules refuse (`refusal` names the rule, never a count). */
export function coxRefused(refusal: string): FedmeshError {
  return new FedmeshError('POLICY_DENIED', `cox model refused at this agent: ${refusal}; a wider timeGrid.binDays or fewer levels helps`, { field: 'timeGrid' });
}

/**
 * One round at this agent: the disclosure checks, then the per-bin statistics at β on the given layout.
 * @param minCellSize the agent's minimum cell size in mode none; null in the DP modes: no disclosure rule is applied,
 *   because the round's success must not depend on the data where the noise is the protection (red team 26, F1)
 * @throws FedmeshError POLICY_DENIED naming the rule (no counts) when a check fails; RangeError from the
 *   statistics on malformed β or layout
 */
export function coxAgentStats(data: CoxAgentData, beta: readonly number[], times: readonly number[], minCellSize: number | null): CoxStats {
  checkCoxBeta(data, beta);
  const layout = coxAgentLayout(data, times);
  // null: a DP round, which applies no disclosure rule (a refusal there would answer about the data exactly).
  const refusal = minCellSize === null ? null : coxDisclosureRefusal(data, layout, minCellSize);
  if (refusal !== null) throw coxRefused(refusal);
  return coxLocalStats(data.persons, beta, layout);
}
