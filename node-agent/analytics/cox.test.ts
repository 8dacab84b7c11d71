/**
 * The Cox model at the agent: the design matrix, the disclosure checks, and — on Eunomia GiBleed
 * (../shared/data/omop/gibleed, skipped visibly without it) split by person across 3 sites — a federated fit of
 * time from celecoxib to GI bleed by age group and gender (the example) that equals the pooled fit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCoxStats, coxNewtonStep, coxStart, coxSummary, fitCoxPooled, mergeSmallBins } from '../../algorithms/survival/index.js';
import type { CoxFitState, CoxSummary } from '../../algorithms/survival/index.js';
import type { CoxCovariate } from '../../common/job/index.js';
import type { TestDb } from '../cohort/test-omop.js';
import { gibleedAvailable, gibleedMemoryDb, gibleedOmopDir } from '../../test/helpers/gibleed-memory.js';
import { coxAgentLayout, coxAgentStats, coxBinCounts, coxDesign, coxDisclosureRefusal, readCoxData } from './cox.js';
import type { CoxAgentData, CoxAgentOptions } from './cox.js';
import { survivalTimeGrid } from './survival.js';

// GiBleed's celecoxib users are 30–49 years old at index; the bands keep every level above the minimum cell size.
const AGE_GROUP: CoxCovariate = { name: 'ageGroup', source: 'age', type: 'categorical', bands: [0, 35, 40, 130], levels: ['0-34', '35-39', '40+'], reference: '35-39' };
const GENDER: CoxCovariate = { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' };

describe('coxDesign', () => {
  it('dummy-codes against the reference, clamps numeric covariates into their bounds, drops unknown values (as R drops NA)', () => {
    const d = coxDesign(
      { days: [5, 7, 9, 11], event: [1, 0, 1, 0], age: [30, 70, null, 95], gender: [8532, 8507, 8532, 0] },
      [{ name: 'age', source: 'age', type: 'numeric', bounds: [18, 90] }, AGE_GROUP, GENDER],
      false,
    );
    expect(d.terms).toEqual(['age', 'ageGroup=0-34', 'ageGroup=40+', 'gender=female']);
    // Person 3 (age unknown) and person 4 (gender 'other', not a listed level) are dropped.
    expect(d.dropped).toBe(2);
    expect(Array.from(d.persons.x)).toEqual([30, 1, 0, 1, 70, 0, 1, 0]);
    expect(Array.from(d.persons.time)).toEqual([5, 7]);
    expect(d.center).toEqual([54, 0, 0, 0]);
    const clamped = coxDesign({ days: [1], event: [1], age: [95], gender: [8507] }, [{ name: 'age', source: 'age', type: 'numeric', bounds: [18, 90] }], false);
    expect(Array.from(clamped.persons.x)).toEqual([90]);
  });

  it('strata by gender: male 0, female 1, anything else 2', () => {
    const d = coxDesign({ days: [1, 2, 3], event: [1, 1, 0], age: [50, 50, 50], gender: [8507, 8532, 0] }, [AGE_GROUP], true);
    expect(Array.from(d.persons.stratum)).toEqual([0, 1, 2]);
    expect(d.strataLabels).toEqual(['male', 'female', 'other']);
  });
});

describe('coxDisclosureRefusal', () => {
  const data = coxDesign({ days: Array.from({ length: 30 }, (_, i) => (i < 29 ? 10 : 20)), event: Array.from({ length: 30 }, (_, i) => i % 2), age: Array.from({ length: 30 }, () => 50), gender: Array.from({ length: 30 }, (_, i) => (i < 15 ? 8507 : 8532)) }, [GENDER], false);
  it('refuses a layout where one person alone leaves the risk set, naming the rule and no count', () => {
    const r = coxDisclosureRefusal(data, coxAgentLayout(data, [10, 20]), 5);
    expect(r).toMatch(/minimum cell size/);
    expect(r).not.toMatch(/\b1\b person|\b29\b/);
    expect(() => coxAgentStats(data, [0], [10, 20], 5)).toThrow(expect.objectContaining({ code: 'POLICY_DENIED' }));
  });
  it('accepts the merged layout (one bin)', () => {
    expect(coxDisclosureRefusal(data, coxAgentLayout(data, [20]), 5)).toBeNull();
  });
  it('refuses a β no plausible fit reaches (the sums would single out the extreme person), naming beta', () => {
    const aged = coxDesign({ days: Array.from({ length: 30 }, (_, i) => 1 + (i % 3)), event: Array.from({ length: 30 }, (_, i) => i % 2), age: Array.from({ length: 30 }, (_, i) => 20 + i), gender: Array.from({ length: 30 }, () => 8507) }, [{ name: 'age', source: 'age', type: 'numeric', bounds: [18, 90] }], false);
    expect(() => coxAgentStats(aged, [1], [3], 5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'beta' }));
    expect(() => coxAgentStats(aged, [0.4], [3], 5)).not.toThrow();
    expect(() => coxAgentStats(aged, [Number.NaN], [3], 5)).toThrow(/beta\[0\] \(age\) must be finite/);
  });

  it('red team: narrow numeric bounds make a hidden 0/1 covariate; one centenarian among 40 is refused, naming the covariate and no value', () => {
    const days = Array.from({ length: 40 }, (_, i) => 100 + 300 * (i % 4));
    const event = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const age = Array.from({ length: 40 }, (_, i) => (i === 7 ? 101 : 40 + i));
    const gender = Array.from({ length: 40 }, () => 8507);
    const grid = [365, 730, 1095, 1460];
    // Bounds [99, 100]: age clamps to 99 (everybody else) or 100 (the one person aged 101).
    const flag = coxDesign({ days, event, age, gender }, [{ name: 'a', source: 'age', type: 'numeric', bounds: [99, 100] }], false);
    const r = coxDisclosureRefusal(flag, coxAgentLayout(flag, grid), 5);
    expect(r).toMatch(/minimum cell size: a=/);
    expect(r).not.toMatch(/99|100|101/);
    // Bounds [99.5, 100.5] (the single value inside) and [40, 79] (few distinct values: checked value by value) too.
    const inside = coxDesign({ days, event, age: age.map((a, i) => (i === 7 ? 100 : a)), gender }, [{ name: 'a', source: 'age', type: 'numeric', bounds: [99.5, 100.5] }], false);
    expect(coxDisclosureRefusal(inside, coxAgentLayout(inside, grid), 5)).toMatch(/minimum cell size: a=/);
    // Control: wide bounds over 40 distinct ages, nobody clamped, pass the same layout.
    const wide = coxDesign({ days, event, age, gender }, [{ name: 'a', source: 'age', type: 'numeric', bounds: [0, 120] }], false);
    expect(coxDisclosureRefusal(wide, coxAgentLayout(wide, grid), 5)).toBeNull();
    // Few distinct values (4 ages, 10 persons each) pass when every value has enough persons leaving and events.
    const four = coxDesign({ days, event, age: Array.from({ length: 40 }, (_, i) => 50 + (i % 4) * 10), gender }, [{ name: 'a', source: 'age', type: 'numeric', bounds: [0, 120] }], false);
    expect(coxDisclosureRefusal(four, coxAgentLayout(four, [1460]), 3)).toBeNull();
    expect(coxDisclosureRefusal(four, coxAgentLayout(four, [1460]), 11)).toMatch(/a=/);
  });

  it('refuses a saturated model (more coefficients than a third of the persons)', () => {
    const tiny = coxDesign({ days: [1, 2], event: [1, 0], age: [50, 50], gender: [8507, 8532] }, [GENDER], false);
    expect(coxDisclosureRefusal(tiny, coxAgentLayout(tiny, [2]), 1)).toMatch(/saturated/);
  });
});

const available = gibleedAvailable;
if (!available) console.warn(`[cox] SKIPPING the GiBleed Cox tests: ${gibleedOmopDir} not found`);

const SITES = 3;
const MIN_CELL = 5;
const OPTS: CoxAgentOptions = {
  targetTable: 'celecoxib',
  outcome: { domain: 'condition', conceptIds: [192671] },
  timeGrid: { binDays: 30, maxDays: 3650 },
  covariates: [AGE_GROUP, GENDER],
};
const gibleedDb = (site?: number): Promise<TestDb> => gibleedMemoryDb({ ...(site === undefined ? {} : { site, sites: SITES }), cohorts: { celecoxib: 'celecoxib.json' } });

describe.skipIf(!available)('Cox on GiBleed split across 3 sites: time from celecoxib to GI bleed by age group and gender', () => {
  let pooled: TestDb;
  const sites: TestDb[] = [];
  let siteData: CoxAgentData[];
  let pooledData: CoxAgentData;
  let times: number[];
  let fed: CoxFitState;
  let fedSummary: CoxSummary;

  beforeAll(async () => {
    pooled = await gibleedDb();
    for (let s = 0; s < SITES; s++) sites.push(await gibleedDb(s));
    siteData = await Promise.all(sites.map((db) => readCoxData(db.conn, OPTS)));
    pooledData = await readCoxData(pooled.conn, OPTS);
    // Round 0, as a Cox job releases it in mode none: per site, stratum, level and bin, the persons leaving the risk
    // set, withheld below the minimum cell size. The coordinator merges bins from these released values only.
    const grid = survivalTimeGrid(OPTS.timeGrid.binDays, OPTS.timeGrid.maxDays);
    const released = siteData.flatMap((d) => coxBinCounts(d, grid, MIN_CELL).map((r) => r.counts));
    times = mergeSmallBins(grid, released, MIN_CELL).times;
    fed = coxStart(pooledData.terms.length);
    while (fed.status === 'running') fed = coxNewtonStep(addCoxStats(...siteData.map((d) => coxAgentStats(d, fed.beta, times, MIN_CELL))), fed);
    fedSummary = coxSummary(fed, pooledData.terms);
  }, 240_000);
  afterAll(() => {
    pooled?.close();
    sites.forEach((s) => s.close());
  });

  it('the sites hold disjoint persons that add up to the pooled persons', () => {
    expect(siteData.reduce((s, d) => s + d.persons.time.length, 0)).toBe(pooledData.persons.time.length);
    expect(siteData.reduce((s, d) => s + d.dropped, 0)).toBe(pooledData.dropped);
    expect(siteData.every((d) => d.persons.time.length > 100)).toBe(true);
  });

  it('the federated fit equals the pooled fit on the same (merged) grid to 1e-6: coefficients, SEs, tests', () => {
    const ref = fitCoxPooled(pooledData.persons, coxAgentLayout(pooledData, times), pooledData.terms).summary;
    console.log(`[cox] GiBleed celecoxib → GI bleed: n=${fedSummary.n} events=${fedSummary.events} bins=${times.length} iterations=${fedSummary.iterations}`);
    console.table(fedSummary.coefficients.map((c) => ({ term: c.term, coef: c.coef.toFixed(4), hr: c.expCoef.toFixed(3), se: c.se?.toFixed(4), p: c.pValue?.toPrecision(3) })));
    expect(fed.status).toBe('converged');
    expect(fedSummary.n).toBe(ref.n);
    expect(fedSummary.events).toBe(ref.events);
    fedSummary.coefficients.forEach((c, j) => {
      const r = ref.coefficients[j]!;
      expect(Math.abs(c.coef - r.coef)).toBeLessThan(1e-6);
      expect(Math.abs(c.se! - r.se!)).toBeLessThan(1e-6);
    });
    for (const t of ['likelihoodRatio', 'wald', 'score'] as const) expect(Math.abs(fedSummary[t].statistic! - ref[t].statistic!)).toBeLessThan(1e-6 * Math.max(1, ref[t].statistic!));
  });

  it('negative control: leaving one site out moves the fit by more than the tolerance', () => {
    let two = coxStart(pooledData.terms.length);
    while (two.status === 'running') two = coxNewtonStep(addCoxStats(...siteData.slice(0, 2).map((d) => coxAgentStats(d, two.beta, times, MIN_CELL))), two);
    expect(two.beta.some((b, j) => Math.abs(b - fed.beta[j]!) > 1e-6)).toBe(true);
  });

  it('a one-day grid isolates persons: the agent refuses rather than answer', () => {
    const daily = survivalTimeGrid(1, 400);
    expect(() => coxAgentStats(siteData[0]!, [0, 0, 0], daily, MIN_CELL)).toThrow(expect.objectContaining({ code: 'POLICY_DENIED' }));
  });
});
