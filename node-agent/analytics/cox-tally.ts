/**
 * One round of the Cox model over persons that arrive in chunks (a cursor on the site's PostgreSQL, issue 13): what
 * the round needs is tallied chunk by chunk and no row is kept — the persons leaving the risk set per stratum × bin
 * (overall, per categorical level and per numeric group, with the events per level: the disclosure rules of
 * {@link coxDisclosureRefusal}), the round-0 bin counts ({@link coxBinCounts}) and the round's risk-set sums
 * (algorithms/survival/cox-stats.ts). State is O(strata × bins × p²), whatever the number of persons. Fed the
 * same persons in the same order, every answer equals the in-memory functions' (the sums bit for bit).
 *
 * Numeric groups need all persons' distinct clamped values (one group per value when there are at most
 * NUMERIC_AS_LEVELS): the counts are kept per value until a value beyond that many appears, and per lower bound /
 * inside / upper bound throughout.
 */
import { createHash } from 'node:crypto';
import { addCoxPersons, binOf, createCoxStatsAccumulator, finishCoxStats, type CoxStats, type CoxStatsAccumulator } from '../../algorithms/survival/index.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { coxDesignMeta, coxRefusalOf, NUMERIC_AS_LEVELS, type CoxAgentData, type CoxRawRows } from './cox.js';

export interface CoxTallyOptions {
  covariates: readonly CoxCovariate[];
  /** Strata by gender (male, female, other), as CoxAgentOptions.strata 'gender'. */
  byGender: boolean;
  /** The round's bin ends: the job grid (round 0) or the merged grid of a Newton round. */
  times: readonly number[];
  /** A Newton round's β (already checked): the risk-set sums are tallied too. Absent: counts only. */
  beta?: readonly number[];
}

export interface CoxTally {
  /** Adds a chunk of persons (a design chunk, after those added before). */
  add(chunk: CoxAgentData): void;
  /** Persons added (rows used) and rows left out for an unknown covariate value. */
  readonly persons: number;
  readonly dropped: number;
  /** As {@link coxBinCounts} on `times` over the persons added. */
  binCounts(minCellSize: number | null): { name: string; counts: (number | null)[] }[];
  /** As {@link coxDisclosureRefusal} on `times` over the persons added. */
  refusal(minCellSize: number): string | null;
  /** As coxLocalStats at `beta` over the persons added; throws the first error the sums met. Call once. */
  stats(): CoxStats;
}

interface Cell {
  leaving: Float64Array;
  events: number;
}

const THREE = ['(at its lower bound)', '(inside its bounds)', '(at its upper bound)'];

/**
 * An empty tally for one round.
 * @throws RangeError / TypeError from the statistics' layout or β checks
 */
export function createCoxTally(opts: CoxTallyOptions): CoxTally {
  const meta = coxDesignMeta(opts.covariates, opts.byGender);
  const { times } = opts;
  const m = times.length;
  const strata = meta.strataLabels.length;
  const p = meta.terms.length;
  const cells = strata * m;
  const cell = (): Cell => ({ leaving: new Float64Array(cells), events: 0 });
  const leavingAll = new Float64Array(cells);
  const cats = opts.covariates.flatMap((c) => (c.type === 'categorical' ? [{ name: c.name, levels: c.levels, cells: c.levels.map(cell) }] : []));
  const nums = meta.numericCols.map((nc) => ({ ...nc, three: THREE.map(cell), byValue: new Map<number, Cell>() as Map<number, Cell> | null }));
  const acc: CoxStatsAccumulator | undefined = opts.beta === undefined ? undefined : createCoxStatsAccumulator(opts.beta, { times, p, strata, center: meta.center });
  // An error of the sums (an overflow) is raised only after the disclosure rules had their say, as coxAgentStats does.
  let statsError: unknown;
  let persons = 0;
  let dropped = 0;

  const add = (chunk: CoxAgentData): void => {
    const { time, event, stratum, x } = chunk.persons;
    const n = time.length;
    for (let i = 0; i < n; i++) {
      const at = stratum[i]! * m + binOf(times, time[i]!);
      const ev = event[i] === 1;
      leavingAll[at]! += 1;
      cats.forEach((c, j) => {
        const g = c.cells[chunk.levels[j]!.of[i]!]!;
        g.leaving[at]! += 1;
        if (ev) g.events += 1;
      });
      for (const nc of nums) {
        const v = x[i * p + nc.col]!;
        const g3 = nc.three[v <= nc.lo ? 0 : v >= nc.hi ? 2 : 1]!;
        g3.leaving[at]! += 1;
        if (ev) g3.events += 1;
        if (nc.byValue === null) continue;
        let g = nc.byValue.get(v);
        if (g === undefined) {
          if (nc.byValue.size >= NUMERIC_AS_LEVELS) {
            nc.byValue = null;
            continue;
          }
          g = cell();
          nc.byValue.set(v, g);
        }
        g.leaving[at]! += 1;
        if (ev) g.events += 1;
      }
    }
    if (acc !== undefined && statsError === undefined) {
      try {
        addCoxPersons(acc, chunk.persons);
      } catch (e) {
        statsError = e;
      }
    }
    persons += n;
    dropped += chunk.dropped;
  };

  return {
    add,
    get persons() {
      return persons;
    },
    get dropped() {
      return dropped;
    },
    binCounts(minCellSize) {
      const rows = meta.strataLabels.flatMap((s, st) => [
        { name: `stratum=${s}`, counts: Array.from(leavingAll.subarray(st * m, st * m + m)) },
        ...cats.flatMap((c) => c.levels.map((l, li) => ({ name: `stratum=${s}:${c.name}=${l}`, counts: Array.from(c.cells[li]!.leaving.subarray(st * m, st * m + m)) }))),
      ]);
      const k = minCellSize;
      return rows.map((r) => ({ name: r.name, counts: r.counts.map((v) => (k !== null && v > 0 && v < k ? null : v)) }));
    },
    refusal(minCellSize) {
      const groups = [
        ...cats.map((c) => ({ name: c.name, labels: c.levels, cells: c.cells })),
        ...nums.map((nc) => {
          if (nc.byValue === null) return { name: nc.name, labels: THREE, cells: nc.three };
          const values = [...nc.byValue.keys()].sort((a, b) => a - b);
          return { name: nc.name, labels: values.map(() => '(one of the values it takes here)'), cells: values.map((v) => nc.byValue!.get(v)!) };
        }),
      ];
      const leaving = groups.flatMap((g) => g.labels.map((l, i) => ({ name: `${g.name}=${l}`, leaving: g.cells[i]!.leaving })));
      const eventsByLevel = groups.flatMap((g) => g.cells.map((c) => c.events));
      return coxRefusalOf({ persons, terms: p, leavingAll: Float64Array.from(leavingAll), bins: m, strata, leaving, eventsByLevel }, minCellSize);
    },
    stats() {
      if (acc === undefined) throw new RangeError('this tally has no beta: no statistics');
      if (statsError !== undefined) throw statsError;
      return finishCoxStats(acc);
    },
  };
}

/** What a later round compares with the first: counts and a SHA-256 of the rows streamed, in order. No value. */
export interface CoxRowsFingerprint {
  rows: number;
  sha256: string;
}

/** A running SHA-256 over streamed Cox rows (each value written out, so that any change of any value changes it). */
export function createCoxRowsFingerprint(): { add(rows: CoxRawRows): void; digest(): CoxRowsFingerprint } {
  const hash = createHash('sha256');
  let rows = 0;
  const text = (v: unknown): string => (v === null || v === undefined ? '~' : String(v));
  return {
    add(b) {
      const lines: string[] = [];
      for (let i = 0; i < b.days.length; i++) lines.push(`${text(b.days[i])},${text(b.event[i])},${text(b.age[i])},${text(b.gender[i])},${text(b.id?.[i])}\n`);
      hash.update(lines.join(''));
      rows += b.days.length;
    },
    digest: () => ({ rows, sha256: hash.digest('hex') }),
  };
}
