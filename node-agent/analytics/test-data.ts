/**
 * Test support (imported only by `*.test.ts`): cohort tables, a seeded generator of OMOP persons with cohort
 * entries, outcomes and deaths, and the split of a generated data set across sites by person.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { omopDbWith } from '../cohort/test-omop.js';
import type { Fixture, Row, TestDb } from '../cohort/test-omop.js';
import { seededUniform as seeded } from '../../algorithms/fl/init.js';

/** A tiny seeded generator for test data only (never for privacy): the one mulberry32 of algorithms/fl/init.ts. */
export { seeded };

const DAY_MS = 86_400_000;
const BASE_MS = Date.UTC(2010, 0, 1);
/** ISO date of day `n` counted from 2010-01-01. */
export const iso = (n: number): string => new Date(BASE_MS + n * DAY_MS).toISOString().slice(0, 10);
/** Inverse of {@link iso}. */
export const dayOf = (s: string): number => Math.round((Date.parse(`${s}T00:00:00Z`) - BASE_MS) / DAY_MS);

/** `[subject_id, cohort_start_date, cohort_end_date]`. */
export type CohortRow = readonly [number, string, string];

/** Creates a cohort table `(subject_id, cohort_start_date, cohort_end_date)` filled with bound values. */
export async function createCohortTable(conn: DuckDBConnection, name: string, rows: readonly CohortRow[]): Promise<void> {
  if (!/^\w+$/.test(name)) throw new RangeError(`test cohort table name ${name}`);
  await conn.run(`CREATE OR REPLACE TABLE ${name} (subject_id BIGINT, cohort_start_date DATE, cohort_end_date DATE)`);
  for (let k = 0; k < rows.length; k += 200) {
    const chunk = rows.slice(k, k + 200);
    const params = chunk.flatMap((r) => [r[0], r[1], r[2]]);
    const values = chunk.map((_, i) => `($${3 * i + 1}::BIGINT, $${3 * i + 2}::DATE, $${3 * i + 3}::DATE)`);
    await conn.run(`INSERT INTO ${name} VALUES ${values.join(', ')}`, params);
  }
}

/** The public vocabulary every site holds: 100 ⊃ 101, 200 ⊃ 201 (with the self rows OMOP has). */
export const VOCABULARY: Fixture = {
  concept: [100, 101, 200, 201, 300, 500, 600].map((c) => [c, `c${c}`, null]),
  concept_ancestor: [
    [100, 100],
    [100, 101],
    [101, 101],
    [200, 200],
    [200, 201],
    [201, 201],
    [300, 300],
  ],
};

export interface Generated {
  tables: {
    person: Row[];
    observation_period: Row[];
    condition_occurrence: Row[];
    drug_exposure: Row[];
    death: Row[];
  };
  target: CohortRow[];
  outcome: CohortRow[];
}

/**
 * Persons with 1–2 observation periods, gender among male/female/unknown, conditions (100, 101, 200, 201, 300),
 * drugs (500, 600), some deaths, entries in a target cohort (some outside every observation period) and in an
 * outcome cohort. Days cluster so that ties (events and censorings on one day, events on day 0) are common.
 */
export function generate(persons: number, seed: number): Generated {
  const rnd = seeded(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const g: Generated = {
    tables: { person: [], observation_period: [], condition_occurrence: [], drug_exposure: [], death: [] },
    target: [],
    outcome: [],
  };
  let id = 1;
  for (let p = 1; p <= persons; p++) {
    g.tables.person.push([p, pick([8507, 8532, 8551]), rnd() < 0.05 ? null : int(1930, 2015), 0, 0]);
    let day = int(0, 300);
    for (let k = int(1, 2); k > 0; k--) {
      const end = day + int(20, 700);
      g.tables.observation_period.push([id++, p, iso(day), iso(end)]);
      day = end + int(30, 300);
    }
    const span = day;
    const entries: number[] = [];
    if (rnd() < 0.8) {
      for (let k = int(1, 3); k > 0; k--) {
        const s = int(0, span);
        entries.push(s);
        g.target.push([p, iso(s), iso(s + int(0, 30))]);
      }
    }
    const index = entries.length > 0 ? Math.min(...entries) : int(0, span);
    for (let k = int(0, 6); k > 0; k--) {
      const s = rnd() < 0.6 ? index + int(-400, 400) : int(-100, span);
      g.tables.condition_occurrence.push([id++, p, pick([100, 101, 200, 201, 300]), iso(s), null, null, 0]);
    }
    if (rnd() < 0.4) {
      // Outcomes near the index, on day 0 now and then.
      const s = index + (rnd() < 0.15 ? 0 : int(-30, 300));
      g.tables.condition_occurrence.push([id++, p, pick([200, 201]), iso(s), null, null, 0]);
    }
    for (let k = int(0, 4); k > 0; k--) {
      const s = index + int(-500, 200);
      g.tables.drug_exposure.push([id++, p, pick([500, 600]), iso(s), null, null, null, 0]);
    }
    if (rnd() < 0.15) g.tables.death.push([p, iso(index + int(0, 500)), 0]);
    if (rnd() < 0.4) {
      for (let k = int(1, 2); k > 0; k--) {
        const s = index + int(-50, 300);
        g.outcome.push([p, iso(s), iso(s)]);
      }
    }
  }
  return g;
}

/** One site's database holding the persons `keep` selects, with the vocabulary and both cohort tables. */
export async function siteDb(g: Generated, keep: (person: number) => boolean): Promise<TestDb> {
  const t = g.tables;
  const byPid = (i: number) => (r: Row) => keep(r[i] as number);
  const db = await omopDbWith({
    ...VOCABULARY,
    person: t.person.filter(byPid(0)),
    observation_period: t.observation_period.filter(byPid(1)),
    condition_occurrence: t.condition_occurrence.filter(byPid(1)),
    drug_exposure: t.drug_exposure.filter(byPid(1)),
    death: t.death.filter(byPid(0)),
  });
  await createCohortTable(db.conn, 'target', g.target.filter((r) => keep(r[0])));
  await createCohortTable(db.conn, 'outcome', g.outcome.filter((r) => keep(r[0])));
  return db;
}

/** A seeded assignment of the generated persons to `n` sites. */
export function assignSites(g: Generated, n: number, seed: number): (person: number) => number {
  const rnd = seeded(seed);
  const site = new Map<number, number>();
  for (const r of g.tables.person) site.set(r[0] as number, Math.floor(rnd() * n));
  return (p) => site.get(p) ?? 0;
}
