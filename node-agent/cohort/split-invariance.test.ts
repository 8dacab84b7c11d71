/**
 * Split invariance: persons of a generated OMOP data set are split across 3 separate DuckDB instances (the
 * vocabulary is public and copied to each); every cohort computed per site and added up must equal the cohort on
 * the pooled data, row for row. A control splits one person's events across sites and must disagree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCirce, parseNativeCohort, runCohort } from './index.js';
import type { CohortIR, CohortRunResult } from './index.js';
import { circe, cohortRows, conceptSet, correlated, rule, window } from './test-circe.js';
import type { CohortRow } from './test-circe.js';
import { omopDbWith } from './test-omop.js';
import type { Fixture, Row, TestDb } from './test-omop.js';

/** mulberry32: a tiny seeded generator for test data only (never for privacy). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const iso = (dayNumber: number): string => new Date(Date.UTC(2010, 0, 1) + dayNumber * DAY_MS).toISOString().slice(0, 10);

interface Tables {
  person: Row[];
  observation_period: Row[];
  condition_occurrence: Row[];
  drug_exposure: Row[];
  measurement: Row[];
  procedure_occurrence: Row[];
}

function generate(persons: number, seed: number): Tables {
  const rnd = seeded(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const t: Tables = {
    person: [],
    observation_period: [],
    condition_occurrence: [],
    drug_exposure: [],
    measurement: [],
    procedure_occurrence: [],
  };
  let id = 1;
  for (let p = 1; p <= persons; p++) {
    t.person.push([p, rnd() < 0.5 ? 8507 : 8532, int(1930, 2000), 0, 0]);
    let day = int(0, 400);
    const periods = int(1, 2);
    for (let k = 0; k < periods; k++) {
      const start = day;
      const end = start + int(200, 1500);
      t.observation_period.push([id++, p, iso(start), iso(end)]);
      day = end + int(30, 300);
    }
    const span = day;
    for (let k = int(0, 6); k > 0; k--) {
      const s = int(-100, span);
      t.condition_occurrence.push([id++, p, [100, 101, 102, 200][int(0, 3)] as number, iso(s), rnd() < 0.5 ? null : iso(s + int(0, 20)), null, 0]);
    }
    for (let k = int(0, 5); k > 0; k--) {
      const s = int(-100, span);
      t.drug_exposure.push([id++, p, 500, iso(s), rnd() < 0.3 ? null : iso(s + int(0, 60)), rnd() < 0.5 ? int(1, 90) : null, null, 0]);
    }
    for (let k = int(0, 3); k > 0; k--) {
      t.measurement.push([id++, p, 800, iso(int(0, span)), Math.round(rnd() * 200) / 10, null]);
    }
    for (let k = int(0, 2); k > 0; k--) t.procedure_occurrence.push([id++, p, 700, iso(int(0, span)), null]);
  }
  return t;
}

const vocabulary: Fixture = {
  concept: [100, 101, 102, 200, 500, 700, 800].map((c) => [c, `c${c}`, null]),
  concept_ancestor: [
    [100, 100],
    [100, 101],
    [100, 102],
    [101, 101],
    [102, 102],
  ],
};

function subset(t: Tables, keep: (person: number) => boolean): Fixture {
  const out: Fixture = {};
  for (const [name, rows] of Object.entries(t) as [string, Row[]][]) {
    // Column 0 of person is person_id; column 1 of every event table is person_id.
    const pidIndex = name === 'person' ? 0 : 1;
    (out as Record<string, Row[]>)[name] = rows.filter((r) => keep(r[pidIndex] as number));
  }
  return out;
}

const sets = [conceptSet(0, [[100, { descendants: true }], [102, { excluded: true }]]), conceptSet(1, [500]), conceptSet(2, [700]), conceptSet(3, [800])];
const condition = { ConditionOccurrence: { CodesetId: 0 } };
const drugBefore = correlated({ DrugExposure: { CodesetId: 1 } }, { type: 2, count: 1 }, window(-180, 0));

const cohorts: Record<string, CohortIR> = {
  'first event, prior observation, two rules, date offset, pad': parseCirce(
    circe(sets, [condition], {
      InclusionRules: [
        rule('drug in prior 180d', { CriteriaList: [drugBefore] }),
        rule('age 30+', { DemographicCriteriaList: [{ Age: { Op: 'gte', Value: 30 } }] }),
      ],
      EndStrategy: { DateOffset: { DateField: 'StartDate', Offset: 60 } },
      CollapseSettings: { CollapseType: 'ERA', EraPad: 30 },
    }, { prior: 90, limit: 'First' }),
  ),
  'all events, custom era, censoring, censor window': parseCirce(
    circe(sets, [{ DrugExposure: { CodesetId: 1 } }], {
      EndStrategy: { CustomEra: { DrugCodesetId: 1, GapDays: 30, Offset: 0 } },
      CensoringCriteria: [{ ProcedureOccurrence: { CodesetId: 2 } }],
      CensorWindow: { StartDate: '2010-06-01', EndDate: '2014-12-31' },
    }),
  ),
  'native: measurement entry with value range and exclusion rule': parseNativeCohort({
    entry: { domain: 'measurement', concepts: { include: [800] }, occurrence: 'all', valueRange: { min: 5 } },
    observation: { priorDays: 30, postDays: 30 },
    inclusionRules: [
      { name: 'no condition before', type: 'occurrence', domain: 'condition', concepts: { include: [100], descendants: true }, window: { endDays: -1 }, count: { op: 'exactly', value: 0 } },
    ],
    exit: { type: 'fixedOffset', from: 'start', days: 90 },
  }),
};

describe('split invariance across 3 sites', () => {
  const data = generate(240, 20240531);
  const siteOf = (() => {
    const rnd = seeded(7);
    const map = new Map<number, number>();
    for (const r of data.person) map.set(r[0] as number, Math.floor(rnd() * 3));
    return (p: number) => map.get(p) as number;
  })();
  let pooled: TestDb;
  let sites: TestDb[];

  beforeAll(async () => {
    pooled = await omopDbWith({ ...vocabulary, ...data });
    sites = await Promise.all([0, 1, 2].map((s) => omopDbWith({ ...vocabulary, ...subset(data, (p) => siteOf(p) === s) })));
  });
  afterAll(() => {
    pooled?.close();
    for (const s of sites ?? []) s.close();
  });

  for (const [name, ir] of Object.entries(cohorts)) {
    it(name, async () => {
      const whole = await runCohort(pooled.conn, ir);
      const wholeRows = await cohortRows(pooled.conn, whole.table);
      const parts: CohortRunResult[] = [];
      const partRows: CohortRow[] = [];
      for (const s of sites) {
        const r = await runCohort(s.conn, ir);
        parts.push(r);
        partRows.push(...(await cohortRows(s.conn, r.table)));
      }
      console.log(`[cohort] split ${name}: pooled persons=${whole.persons} entries=${whole.entries}; sites ${parts.map((p) => `${p.persons}/${p.entries}`).join(' + ')}`);
      expect(whole.persons).toBeGreaterThan(5);
      expect(parts.reduce((a, p) => a + p.persons, 0)).toBe(whole.persons);
      expect(parts.reduce((a, p) => a + p.entries, 0)).toBe(whole.entries);
      expect(partRows.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))).toEqual(wholeRows);
      whole.attrition.forEach((row, i) => {
        expect(parts.reduce((a, p) => a + (p.attrition[i]?.persons ?? 0), 0)).toBe(row.persons);
        expect(parts.reduce((a, p) => a + (p.attrition[i]?.entries ?? 0), 0)).toBe(row.entries);
      });
    });
  }

  it('control: splitting one person across sites changes the answer', async () => {
    const ir = cohorts['first event, prior observation, two rules, date offset, pad'] as CohortIR;
    // Split by event row instead of by person: events are separated from their observation periods and drugs.
    const byRow = [0, 1, 2].map((s) => {
      const f: Fixture = {};
      for (const [name, rows] of Object.entries(data) as [string, Row[]][]) {
        (f as Record<string, readonly Row[]>)[name] = name === 'person' ? rows : rows.filter((_, i) => i % 3 === s);
      }
      return f;
    });
    const dbs = await Promise.all(byRow.map((f) => omopDbWith({ ...vocabulary, ...f })));
    try {
      const whole = await runCohort(pooled.conn, ir);
      let persons = 0;
      for (const d of dbs) persons += (await runCohort(d.conn, ir)).persons;
      expect(persons).not.toBe(whole.persons);
    } finally {
      for (const d of dbs) d.close();
    }
  });
});
