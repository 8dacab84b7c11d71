/**
 * The streamed Cox round (cox-tally.ts) against the in-memory functions over the same persons: random rows split
 * into random chunks give the same disclosure answer, the same round-0 counts and, bit for bit, the same sums. The
 * numeric groups switch from value by value to bounds at NUMERIC_AS_LEVELS + 1 distinct values, as in memory.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng, type SeededRng } from '../../algorithms/testing/seeded-rng.js';
import { coxLocalStats, type CoxStats } from '../../algorithms/survival/index.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { coxAgentLayout, coxBinCounts, coxDesign, coxDesignChunk, coxDisclosureRefusal, NUMERIC_AS_LEVELS, type CoxAgentData, type CoxRawRows } from './cox.js';
import { createCoxRowsFingerprint, createCoxTally } from './cox-tally.js';

interface Rows {
  days: number[];
  event: number[];
  age: (number | null)[];
  gender: (number | null)[];
  id: string[];
}

const AGE_GROUP: CoxCovariate = { name: 'ageGroup', source: 'age', type: 'categorical', bands: [0, 40, 60, 130], levels: ['0-39', '40-59', '60+'], reference: '40-59' };
const GENDER: CoxCovariate = { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' };

function randomRows(rng: SeededRng, n: number, ages: number): Rows {
  const r = (k: number): number => rng.nextUint32() % k;
  return {
    days: Array.from({ length: n }, () => r(400)),
    event: Array.from({ length: n }, () => (r(10) < 3 ? 1 : 0)),
    age: Array.from({ length: n }, () => (r(50) === 0 ? null : 20 + r(ages))),
    gender: Array.from({ length: n }, () => [8507, 8532, 8532, 8507, 0, null][r(6)]!),
    id: Array.from({ length: n }, (_, i) => String(1000 + i)),
  };
}

function split(rows: Rows, cuts: number[]): CoxRawRows[] {
  const out: CoxRawRows[] = [];
  let from = 0;
  for (const to of [...cuts, rows.days.length]) {
    out.push({ days: rows.days.slice(from, to), event: rows.event.slice(from, to), age: rows.age.slice(from, to), gender: rows.gender.slice(from, to), id: rows.id.slice(from, to) });
    from = to;
  }
  return out;
}

const oneShot = (data: CoxAgentData, beta: number[], times: number[]): CoxStats => coxLocalStats(data.persons, beta, coxAgentLayout(data, times));

function sameBits(a: CoxStats, b: CoxStats): boolean {
  return (['atRisk', 'events', 's0', 's1', 's2', 'eventX'] as const).every((k) => a[k].length === b[k].length && a[k].every((v, i) => Object.is(v, b[k][i])));
}

describe('a Cox round tallied chunk by chunk', () => {
  const times = [30, 90, 180, 400];
  const cases: { name: string; covariates: CoxCovariate[]; byGender: boolean; ages: number }[] = [
    { name: 'age (many values) + gender, strata by gender', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [25, 80] }, GENDER], byGender: true, ages: 70 },
    { name: 'age with few values (value by value) + age group', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 120] }, AGE_GROUP], byGender: false, ages: 6 },
    { name: `age with exactly ${NUMERIC_AS_LEVELS} values`, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 120] }], byGender: false, ages: NUMERIC_AS_LEVELS },
    { name: `age with ${NUMERIC_AS_LEVELS + 1} values`, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 120] }], byGender: false, ages: NUMERIC_AS_LEVELS + 1 },
  ];

  for (const c of cases) {
    it(`gives the in-memory answers (refusal, counts, sums bit for bit): ${c.name}`, () => {
      const rng = createSeededRng(`tally:${c.name}`);
      let refused = 0;
      let accepted = 0;
      const messages = new Set<string>();
      let byBounds = 0;
      for (let trial = 0; trial < 12; trial++) {
        const n = 20 + (rng.nextUint32() % 1500);
        const rows = randomRows(rng, n, c.ages);
        const data = coxDesign(rows, c.covariates, c.byGender);
        if (data.numericGroups?.[0]?.levels[0] === '(at its lower bound)') byBounds++;
        const beta = data.terms.map((_, j) => ((rng.nextUint32() % 200) - 100) / (j === 0 && c.covariates[0]!.type === 'numeric' ? 5000 : 200));
        const cuts = Array.from({ length: rng.nextUint32() % 8 }, () => rng.nextUint32() % (n + 1)).sort((a, b) => a - b);
        const tally = createCoxTally({ covariates: c.covariates, byGender: c.byGender, times, beta });
        for (const part of split(rows, cuts)) tally.add(coxDesignChunk(part, c.covariates, c.byGender));
        expect([tally.persons, tally.dropped]).toEqual([data.persons.time.length, data.dropped]);
        for (const k of [1, 3, 8, 25, 200]) {
          const expected = coxDisclosureRefusal(data, coxAgentLayout(data, times), k);
          expect(tally.refusal(k), `trial ${trial}, k ${k}`).toBe(expected);
          if (expected === null) accepted++;
          else refused++;
          if (expected !== null) messages.add(expected.replace(/stratum \d+, time bin \d+/, ''));
          expect(tally.binCounts(k)).toEqual(coxBinCounts(data, times, k));
        }
        expect(tally.binCounts(null)).toEqual(coxBinCounts(data, times, null));
        expect(sameBits(tally.stats(), oneShot(data, beta, times))).toBe(true);
      }
      // Both answers were exercised (the comparison can tell them apart).
      expect(refused).toBeGreaterThan(0);
      expect(accepted).toBeGreaterThan(0);
      // The numeric groups were reached, value by value up to NUMERIC_AS_LEVELS values and by bounds beyond.
      // (A small sample of 21 possible ages may take 20 or fewer of them: then value by value is right.)
      if (c.ages <= NUMERIC_AS_LEVELS) expect([...messages].some((m) => m.includes('(one of the values it takes here)')), [...messages].join(' | ')).toBe(true);
      else expect(byBounds).toBeGreaterThan(0);
    });
  }

  it('negative control: one more person in a chunk changes the sums', () => {
    const c = cases[0]!;
    const rows = randomRows(createSeededRng(11), 500, c.ages);
    const data = coxDesign(rows, c.covariates, c.byGender);
    const beta = data.terms.map(() => 0.01);
    const tally = createCoxTally({ covariates: c.covariates, byGender: c.byGender, times, beta });
    for (const part of split(rows, [100, 300])) tally.add(coxDesignChunk(part, c.covariates, c.byGender));
    tally.add(coxDesignChunk({ days: [5], event: [1], age: [50], gender: [8507] }, c.covariates, c.byGender));
    expect(sameBits(tally.stats(), oneShot(data, beta, times))).toBe(false);
  });
});

describe('the fingerprint of streamed rows', () => {
  const rows = randomRows(createSeededRng(5), 300, 60);
  const digest = (parts: CoxRawRows[]): string => {
    const f = createCoxRowsFingerprint();
    parts.forEach((p) => f.add(p));
    return f.digest().sha256;
  };
  it('does not depend on the batches, and changes with any one value, a null, or the order', () => {
    const base = digest(split(rows, []));
    expect(digest(split(rows, [1, 50, 299]))).toBe(base);
    const changed = (f: (r: Rows) => void): string => {
      const r = structuredClone(rows);
      f(r);
      return digest(split(r, [100]));
    };
    expect(changed(() => undefined)).toBe(base);
    expect(changed((r) => (r.days[17] = r.days[17]! + 1))).not.toBe(base);
    expect(changed((r) => (r.event[3] = 1 - r.event[3]!))).not.toBe(base);
    expect(changed((r) => (r.age[40] = null))).not.toBe(base);
    expect(changed((r) => (r.id[0] = '999999'))).not.toBe(base);
    const j = rows.days.findIndex((d) => d !== rows.days[0]);
    expect(changed((r) => ([r.days[0], r.days[j]] = [r.days[j]!, r.days[0]!]))).not.toBe(base);
  });
});
