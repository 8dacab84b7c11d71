import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kaplanMeier } from '../../algorithms/survival/index.js';
import { omopDbWith } from '../cohort/test-omop.js';
import type { TestDb } from '../cohort/test-omop.js';
import { survivalCounts, survivalTimeGrid, toStratumCounts } from './index.js';
import type { SurvivalOptions } from './index.js';
import { createCohortTable, dayOf, generate, siteDb } from './test-data.js';
import type { Generated } from './test-data.js';

/*
 * Hand-made fixture, every index on 2020-01-01 (G's too). Grid binDays 10, maxDays 30 → times [0, 10, 20, 30].
 *   A male    outcome day 0                                   → event, bin 0
 *   B female  observation ends day 5                          → censored, bin 1
 *   C male    outcome day 10                                  → event, bin 1
 *   D female  death day 14, outcome day 19                    → censored (death), bin 2
 *   E male    nothing                                         → censored at maxDays, bin 3
 *   F 8551    outcome day 30                                  → event, bin 3
 *   G         no observation period containing the index      → excluded
 *   H male    outcome before index only; obs ends day 20; a later second entry → censored, bin 2
 *   I female  outcome day 25 after obs end day 21             → censored, bin 3
 *   J male    outcome 201 (descendant of 200) day 3           → event, bin 1 (censored bin 3 without descendants)
 */
const P = { A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7, H: 8, I: 9, J: 10 } as const;
const longOp = (id: number, p: number) => [id, p, '2019-01-01', '2021-12-31'];
const fixture = {
  person: [
    [P.A, 8507, 1960, 0, 0],
    [P.B, 8532, 1960, 0, 0],
    [P.C, 8507, 1960, 0, 0],
    [P.D, 8532, 1960, 0, 0],
    [P.E, 8507, 1960, 0, 0],
    [P.F, 8551, 1960, 0, 0],
    [P.G, 8507, 1960, 0, 0],
    [P.H, 8507, 1960, 0, 0],
    [P.I, 8532, 1960, 0, 0],
    [P.J, 8507, 1960, 0, 0],
  ],
  observation_period: [
    longOp(1, P.A),
    [2, P.B, '2019-06-01', '2020-01-06'],
    longOp(3, P.C),
    longOp(4, P.D),
    longOp(5, P.E),
    longOp(6, P.F),
    [7, P.G, '2021-01-01', '2021-12-31'],
    [8, P.H, '2019-01-01', '2020-01-21'],
    [9, P.I, '2019-01-01', '2020-01-22'],
    longOp(10, P.J),
  ],
  condition_occurrence: [
    [1, P.A, 200, '2020-01-01', null, null, 0],
    [2, P.C, 200, '2020-01-11', null, null, 0],
    [3, P.D, 200, '2020-01-20', null, null, 0],
    [4, P.F, 200, '2020-01-31', null, null, 0],
    [5, P.G, 200, '2020-01-02', null, null, 0],
    [6, P.H, 200, '2019-12-25', null, null, 0],
    [7, P.I, 200, '2020-01-26', null, null, 0],
    [8, P.J, 201, '2020-01-04', null, null, 0],
    [9, P.C, 300, '2020-01-02', null, null, 0],
  ],
  death: [[P.D, '2020-01-15', 0]],
  concept_ancestor: [
    [200, 200],
    [200, 201],
  ],
} as const;
const target = Object.values(P).map((p) => [p, '2020-01-01', '2020-01-02'] as const);
const grid = { binDays: 10, maxDays: 30 };
const conditionOutcome = { domain: 'condition', conceptIds: [200] } as const;

describe('survivalCounts on a hand-made fixture', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await omopDbWith(fixture);
    await createCohortTable(db.conn, 'target', [...target, [P.H, '2020-01-15', '2020-01-16']]);
    await createCohortTable(db.conn, 'outcome_cohort', [
      [P.A, '2020-01-01', '2020-01-01'],
      [P.C, '2020-01-11', '2020-01-11'],
      [P.H, '2019-12-01', '2019-12-01'],
    ]);
  });
  afterAll(() => db?.close());

  it('counts events, censorings and at-risk per bin as computed by hand', async () => {
    const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: conditionOutcome, timeGrid: grid });
    expect(r).toEqual({
      strata: [{ label: 'all', times: [0, 10, 20, 30], events: [1n, 2n, 0n, 1n], censored: [0n, 1n, 2n, 2n], atRisk: [9n, 8n, 5n, 3n] }],
      excluded: 1n,
    });
  });

  it('stratifies by gender over the public strata', async () => {
    const expected = [
      { label: 'male', times: [0, 10, 20, 30], events: [1n, 2n, 0n, 0n], censored: [0n, 0n, 1n, 1n], atRisk: [5n, 4n, 2n, 1n] },
      { label: 'female', times: [0, 10, 20, 30], events: [0n, 0n, 0n, 0n], censored: [0n, 1n, 1n, 1n], atRisk: [3n, 3n, 2n, 1n] },
      { label: 'other', times: [0, 10, 20, 30], events: [0n, 0n, 0n, 1n], censored: [0n, 0n, 0n, 0n], atRisk: [1n, 1n, 1n, 1n] },
    ];
    for (const strata of ['gender', { column: 'gender_concept_id' }] as const) {
      const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: conditionOutcome, timeGrid: grid, strata });
      expect(r.strata).toEqual(expected);
    }
  });

  it('matches descendants only when asked', async () => {
    const r = await survivalCounts(db.conn, {
      targetTable: 'target',
      outcome: { ...conditionOutcome, includeDescendants: false },
      timeGrid: grid,
    });
    expect(r.strata[0]).toMatchObject({ events: [1n, 1n, 0n, 1n], censored: [0n, 1n, 2n, 3n], atRisk: [9n, 8n, 6n, 4n] });
  });

  it('takes the outcome from a cohort table', async () => {
    const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: { table: 'outcome_cohort' }, timeGrid: grid });
    expect(r.strata[0]).toMatchObject({ events: [1n, 1n, 0n, 0n], censored: [0n, 1n, 2n, 4n], atRisk: [9n, 8n, 6n, 4n] });
  });

  it('uses death as the outcome (and then does not censor at death)', async () => {
    const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: { domain: 'death', conceptIds: [] }, timeGrid: grid });
    // D dies on day 14 (bin 2); everyone else is censored: B bin 1, H bin 2, A C E F I J bin 3.
    expect(r.strata[0]).toMatchObject({ events: [0n, 0n, 1n, 0n], censored: [0n, 1n, 1n, 6n], atRisk: [9n, 9n, 8n, 6n] });
  });

  it('builds the public grid with a day-0 bin and a last bin ending at maxDays', () => {
    expect(survivalTimeGrid(10, 30)).toEqual([0, 10, 20, 30]);
    expect(survivalTimeGrid(30, 100)).toEqual([0, 30, 60, 90, 100]);
    expect(survivalTimeGrid(50, 20)).toEqual([0, 20]);
    expect(survivalTimeGrid(1, 3)).toEqual([0, 1, 2, 3]);
  });

  it('rejects bad options with messages naming the option', async () => {
    const base: SurvivalOptions = { targetTable: 'target', outcome: conditionOutcome, timeGrid: grid };
    const bad: [unknown, RegExp][] = [
      [{ ...base, timeGrid: { binDays: 0, maxDays: 30 } }, /^opts\.timeGrid\.binDays: /],
      [{ ...base, timeGrid: { binDays: 1, maxDays: 2.5 } }, /^opts\.timeGrid\.maxDays: /],
      [{ ...base, timeGrid: { binDays: 1, maxDays: 50_000 } }, /^opts\.timeGrid: .*at most 10000 bins/],
      [{ ...base, strata: { column: 'race_concept_id' } }, /^opts\.strata\.column: /],
      [{ ...base, strata: 'race' }, /^opts\.strata: /],
      [{ ...base, targetTable: 'missing' }, /^opts\.targetTable: /],
      [{ ...base, outcome: { table: 'nope' } }, /^opts\.outcome\.table: /],
      [{ ...base, outcome: { domain: 'visit', conceptIds: [1] } }, /^opts\.outcome\.domain: /],
      [{ ...base, outcome: { domain: 'condition', conceptIds: [] } }, /^opts\.outcome\.conceptIds: /],
      [{ ...base, outcome: { domain: 'condition', conceptIds: [200], includeDescendants: 'yes' } }, /^opts\.outcome\.includeDescendants: /],
    ];
    for (const [opts, message] of bad) {
      await expect(survivalCounts(db.conn, opts as SurvivalOptions), String(message)).rejects.toThrow(message);
    }
  });
});

interface PersonTime {
  gender: number;
  days: number;
  event: boolean;
}

/** An independent reading of the follow-up rules, on the generated rows, in plain JS. */
function personTimes(g: Generated, maxDays: number): { followed: PersonTime[]; excluded: number } {
  const concepts = new Set([200, 201]);
  const index = new Map<number, number>();
  for (const [p, start] of g.target) index.set(p, Math.min(index.get(p) ?? Infinity, dayOf(start)));
  const followed: PersonTime[] = [];
  let excluded = 0;
  for (const [p, t0] of index) {
    const ends = g.tables.observation_period
      .filter((r) => r[1] === p && dayOf(r[2] as string) <= t0 && t0 <= dayOf(r[3] as string))
      .map((r) => dayOf(r[3] as string));
    if (ends.length === 0) {
      excluded++;
      continue;
    }
    const after = (days: number[]): number | undefined => {
      const d = days.filter((x) => x >= t0);
      return d.length === 0 ? undefined : Math.min(...d) - t0;
    };
    const outcome = after(g.tables.condition_occurrence.filter((r) => r[1] === p && concepts.has(r[2] as number)).map((r) => dayOf(r[3] as string)));
    const death = after(g.tables.death.filter((r) => r[0] === p).map((r) => dayOf(r[1] as string)));
    const censor = Math.min(Math.max(...ends) - t0, maxDays, death ?? Infinity);
    const event = outcome !== undefined && outcome <= censor;
    const gender = g.tables.person.find((r) => r[0] === p)?.[1] as number;
    followed.push({ gender, days: event ? outcome : censor, event });
  }
  return { followed, excluded };
}

/** The product-limit estimator on individual times, evaluated at `at` (censorings at t follow events at t). */
function productLimit(people: readonly PersonTime[], at: readonly number[]): number[] {
  const eventTimes = [...new Set(people.filter((q) => q.event).map((q) => q.days))].sort((a, b) => a - b);
  const factors = eventTimes.map((t) => {
    const n = people.filter((q) => q.days >= t).length;
    const d = people.filter((q) => q.event && q.days === t).length;
    return [t, 1 - d / n] as const;
  });
  return at.map((t) => factors.filter(([s]) => s <= t).reduce((s, [, f]) => s * f, 1));
}

describe('Kaplan–Meier from the agent counts equals the per-person Kaplan–Meier', () => {
  const data = generate(300, 987654);
  const maxDays = 365;
  let db: TestDb;
  beforeAll(async () => {
    db = await siteDb(data, () => true);
  });
  afterAll(() => db?.close());

  it('with daily bins: exactly the product-limit estimator', async () => {
    const { followed, excluded } = personTimes(data, maxDays);
    const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: conditionOutcome, timeGrid: { binDays: 1, maxDays } });
    expect(r.excluded).toBe(BigInt(excluded));
    const s = r.strata[0]!;
    // The fixture must be able to expose convention errors: events on day 0, and bins with events and censorings.
    expect(s.events[0]).toBeGreaterThan(0n);
    expect(s.events.some((e, i) => e > 0n && s.censored[i]! > 0n)).toBe(true);
    expect(s.atRisk[0]).toBe(BigInt(followed.length));
    const km = kaplanMeier(toStratumCounts(s));
    const expected = productLimit(followed, s.times);
    km.survival.forEach((v, i) => expect(v, `S(${s.times[i]})`).toBeCloseTo(expected[i]!, 12));
  });

  it('with 30-day bins: the product-limit estimator on times rounded up to the grid, per stratum', async () => {
    const binDays = 30;
    const times = survivalTimeGrid(binDays, maxDays);
    const roundUp = (d: number): number => (d === 0 ? 0 : Math.min(Math.ceil(d / binDays) * binDays, maxDays));
    const { followed } = personTimes(data, maxDays);
    const r = await survivalCounts(db.conn, { targetTable: 'target', outcome: conditionOutcome, timeGrid: { binDays, maxDays }, strata: 'gender' });
    const groups: Record<string, (g: number) => boolean> = { male: (g) => g === 8507, female: (g) => g === 8532, other: (g) => g !== 8507 && g !== 8532 };
    for (const s of r.strata) {
      const people = followed.filter((q) => groups[s.label]!(q.gender)).map((q) => ({ ...q, days: roundUp(q.days) }));
      expect(s.times).toEqual(times);
      // Counts per bin, read straight off the individual data.
      expect(s.events).toEqual(times.map((t) => BigInt(people.filter((q) => q.event && q.days === t).length)));
      expect(s.censored).toEqual(times.map((t) => BigInt(people.filter((q) => !q.event && q.days === t).length)));
      expect(s.atRisk).toEqual(times.map((t) => BigInt(people.filter((q) => q.days >= t).length)));
      const km = kaplanMeier(toStratumCounts(s));
      const expected = productLimit(people, times);
      km.survival.forEach((v, i) => expect(v, `${s.label} S(${times[i]})`).toBeCloseTo(expected[i]!, 12));
    }
  });
});
