/**
 * Split invariance: persons of a generated OMOP data set are split across 3 DuckDB instances (the vocabulary is
 * public and copied to each); every statistic computed per site and added up must equal the statistic on the
 * pooled data. A property test repeats this over random splits; a control that splits one person across sites
 * must disagree.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kaplanMeier } from '../../algorithms/survival/index.js';
import type { TestDb } from '../cohort/test-omop.js';
import {
  characterizeCohort,
  cohortAttributeCounts,
  contingencyCounts,
  sumSurvivalCounts,
  survivalCounts,
  toStratumCounts,
} from './index.js';
import type { CohortCharacterization, ContingencyCounts, SurvivalCounts, SurvivalOptions } from './index.js';
import { assignSites, createCohortTable, generate, siteDb } from './test-data.js';
import type { Generated } from './test-data.js';

function sumCharacterizations(parts: readonly CohortCharacterization[]): CohortCharacterization {
  const [first, ...rest] = parts as [CohortCharacterization, ...CohortCharacterization[]];
  const add = <T extends { persons: bigint }>(pick: (c: CohortCharacterization) => T[]): T[] =>
    pick(first).map((cell, i) => ({ ...cell, persons: rest.reduce((s, c) => s + pick(c)[i]!.persons, cell.persons) }));
  return {
    persons: parts.reduce((s, c) => s + c.persons, 0n),
    entries: parts.reduce((s, c) => s + c.entries, 0n),
    byGender: add((c) => c.byGender),
    byAgeBand: add((c) => c.byAgeBand),
    conditions: add((c) => c.conditions),
    drugs: add((c) => c.drugs),
  };
}

function sumContingency(parts: readonly ContingencyCounts[]): ContingencyCounts {
  const first = parts[0]!;
  return {
    counts: first.counts.map((row, i) => row.map((_, j) => parts.reduce((s, p) => s + p.counts[i]![j]!, 0n))),
    outside: parts.reduce((s, p) => s + p.outside, 0n),
    ambiguous: parts.reduce((s, p) => s + p.ambiguous, 0n),
  };
}

const characterizeOpts = { conditionConcepts: [100, 200, 300, 101], drugConcepts: [500, 600], windowDays: [-180, 30] as [number, number] };
const survivalOpts: SurvivalOptions[] = [
  { targetTable: 'target', outcome: { domain: 'condition', conceptIds: [200] }, timeGrid: { binDays: 30, maxDays: 365 }, strata: 'gender' },
  { targetTable: 'target', outcome: { table: 'outcome' }, timeGrid: { binDays: 7, maxDays: 200 } },
  { targetTable: 'target', outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 90, maxDays: 720 }, strata: 'gender' },
];

interface AllStats {
  characterization: CohortCharacterization;
  survival: SurvivalCounts[];
  contingency: ContingencyCounts;
  membership: ContingencyCounts;
}

async function allStats(db: TestDb): Promise<AllStats> {
  await db.conn.run(
    `CREATE OR REPLACE TABLE person_conditions AS
       SELECT c.person_id, c.condition_concept_id, p.gender_concept_id, c.condition_start_date
         FROM condition_occurrence c JOIN person p ON p.person_id = c.person_id`,
  );
  const survival: SurvivalCounts[] = [];
  for (const o of survivalOpts) survival.push(await survivalCounts(db.conn, o));
  return {
    characterization: await characterizeCohort(db.conn, 'target', characterizeOpts),
    survival,
    contingency: await contingencyCounts(db.conn, {
      table: 'person_conditions',
      rowColumn: 'gender_concept_id',
      colColumn: 'condition_concept_id',
      rowLevels: [8507, 8532],
      colLevels: [100, 101, 200, 201],
      where: [{ column: 'condition_start_date', op: '>=', value: '2010-06-01' }],
    }),
    membership: await cohortAttributeCounts(db.conn, { cohortTable: 'target', column: 'gender_concept_id', levels: [8507, 8532] }),
  };
}

async function statsOver(g: Generated, siteOf: (p: number) => number, n: number): Promise<AllStats[]> {
  const out: AllStats[] = [];
  for (let site = 0; site < n; site++) {
    const db = await siteDb(g, (p) => siteOf(p) === site);
    try {
      out.push(await allStats(db));
    } finally {
      db.close();
    }
  }
  return out;
}

function sumAll(parts: readonly AllStats[]): AllStats {
  return {
    characterization: sumCharacterizations(parts.map((p) => p.characterization)),
    survival: survivalOpts.map((_, k) => sumSurvivalCounts(parts.map((p) => p.survival[k]!))),
    contingency: sumContingency(parts.map((p) => p.contingency)),
    membership: sumContingency(parts.map((p) => p.membership)),
  };
}

describe('split invariance across 3 sites', () => {
  const data = generate(240, 20240601);
  let pooled: AllStats;
  let pooledDb: TestDb;

  beforeAll(async () => {
    pooledDb = await siteDb(data, () => true);
    pooled = await allStats(pooledDb);
  });
  afterAll(() => pooledDb?.close());

  it('the pooled statistics are not trivial', () => {
    const c = pooled.characterization;
    expect(c.persons).toBeGreaterThan(100n);
    expect(c.entries).toBeGreaterThan(c.persons);
    expect(c.conditions.every((x) => x.persons > 0n)).toBe(true);
    expect(pooled.survival[0]!.excluded).toBeGreaterThan(0n);
    expect(pooled.survival.every((s) => s.strata.some((st) => st.events.some((e) => e > 0n)))).toBe(true);
    expect(pooled.contingency.ambiguous).toBeGreaterThan(0n);
    expect(pooled.contingency.counts.flat().some((x) => x > 0n)).toBe(true);
  });

  it('sums of 3 sites equal the pooled statistics, and so does Kaplan–Meier', async () => {
    const parts = await statsOver(data, assignSites(data, 3, 11), 3);
    expect(parts.every((p) => p.characterization.persons > 0n)).toBe(true);
    const summed = sumAll(parts);
    expect(summed).toEqual(pooled);
    for (const [k, s] of summed.survival.entries()) {
      for (const [j, st] of s.strata.entries()) {
        expect(kaplanMeier(toStratumCounts(st)).survival).toEqual(kaplanMeier(toStratumCounts(pooled.survival[k]!.strata[j]!)).survival);
      }
    }
  });

  it('holds for random splits (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const parts = await statsOver(data, assignSites(data, 3, seed), 3);
        expect(sumAll(parts)).toEqual(pooled);
      }),
      { numRuns: 3, seed: 42 },
    );
  });

  it('control: one person split across two sites breaks the equality', async () => {
    const counts = new Map<number, number>();
    for (const [p] of data.target) counts.set(p, (counts.get(p) ?? 0) + 1);
    const split = [...counts.entries()].find(([, n]) => n >= 2)![0];
    const siteOf = assignSites(data, 3, 11);
    const home = siteOf(split);
    const away = (home + 1) % 3;
    // The person's first entry stays home; the other site holds the person's later entries (and their records).
    const entries = data.target.filter((r) => r[0] === split).sort((a, b) => a[1].localeCompare(b[1]));
    const parts: AllStats[] = [];
    for (let site = 0; site < 3; site++) {
      const keep = (p: number) => siteOf(p) === site || (p === split && site === away);
      const db = await siteDb(data, keep);
      try {
        const mine = site === home ? entries.slice(0, 1) : site === away ? entries.slice(1) : [];
        await createCohortTable(db.conn, 'target', [...data.target.filter((r) => keep(r[0]) && r[0] !== split), ...mine]);
        parts.push(await allStats(db));
      } finally {
        db.close();
      }
    }
    const summed = sumAll(parts);
    expect(summed.characterization.persons).toBe(pooled.characterization.persons + 1n);
    expect(summed.characterization.entries).toBe(pooled.characterization.entries);
    expect(summed).not.toEqual(pooled);
  });
});
