/**
 * Real data: Eunomia GiBleed (../shared/data/omop/gibleed). Survival from the celecoxib cohort to GI bleed
 * (192671) and characterisation of the GiBleed cohort, checked by invariants. Skips visibly without the data.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kaplanMeier } from '../../algorithms/survival/index.js';
import { parseCirce, runCohort } from '../cohort/index.js';
import { createOmopDb, loadOmopCsvFolder, sharedDataDir } from '../cohort/test-omop.js';
import type { TestDb } from '../cohort/test-omop.js';
import { characterizeCohort, survivalCounts, toStratumCounts } from './index.js';

const dataDir = sharedDataDir();
const omopDir = path.join(dataDir, 'omop', 'gibleed');
const circeDir = path.join(dataDir, 'cohorts', 'circe');
const available = existsSync(omopDir) && existsSync(circeDir);
if (!available) console.warn(`[analytics] SKIPPING GiBleed tests: ${omopDir} or ${circeDir} not found`);

const GI_BLEED = 192671;

async function cohortFrom(db: TestDb, file: string, table: string): Promise<number> {
  const ir = parseCirce(JSON.parse(readFileSync(path.join(circeDir, file), 'utf8')));
  return (await runCohort(db.conn, ir, { targetTable: table })).persons;
}

const nonIncreasing = (xs: readonly bigint[]): boolean => xs.every((x, i) => i === 0 || x <= xs[i - 1]!);

describe.skipIf(!available)('analytics on Eunomia GiBleed', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createOmopDb();
    await loadOmopCsvFolder(db.conn, omopDir);
  });
  afterAll(() => db?.close());

  it('survival from celecoxib to GI bleed: counts add up, at-risk never grows, events within at-risk', async () => {
    const persons = await cohortFrom(db, 'celecoxib.json', 'celecoxib');
    const opts = {
      targetTable: 'celecoxib',
      outcome: { domain: 'condition', conceptIds: [GI_BLEED] },
      timeGrid: { binDays: 30, maxDays: 3650 },
    } as const;
    const all = await survivalCounts(db.conn, opts);
    const byGender = await survivalCounts(db.conn, { ...opts, strata: 'gender' });
    const s = all.strata[0]!;
    const followed = s.atRisk[0]!;
    const events = s.events.reduce((a, b) => a + b, 0n);
    console.log(`[analytics] celecoxib → GI bleed: persons=${persons} followed=${followed} excluded=${all.excluded} events=${events}`);
    expect(followed + all.excluded).toBe(BigInt(persons));
    expect(s.censored.reduce((a, b) => a + b, 0n) + events).toBe(followed);
    expect(events).toBeGreaterThan(0n);
    expect(nonIncreasing(s.atRisk)).toBe(true);
    s.events.forEach((e, i) => expect(e + s.censored[i]!).toBeLessThanOrEqual(s.atRisk[i]!));
    // Strata partition the followed persons bin by bin.
    expect(byGender.strata.map((x) => x.label)).toEqual(['male', 'female', 'other']);
    for (const key of ['events', 'censored', 'atRisk'] as const) {
      expect(s[key].map((_, i) => byGender.strata.reduce((acc, st) => acc + st[key][i]!, 0n))).toEqual(s[key]);
    }
    for (const st of byGender.strata) {
      expect(nonIncreasing(st.atRisk)).toBe(true);
      st.events.forEach((e, i) => expect(e).toBeLessThanOrEqual(st.atRisk[i]!));
    }
    const km = kaplanMeier(toStratumCounts(s));
    expect(km.notes.filter((n) => !n.startsWith('before the first event'))).toEqual([]);
    km.survival.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(i === 0 ? 1 : km.survival[i - 1]!);
    });
  });

  it('characterisation of the GiBleed cohort: margins sum to persons, the index condition is universal', async () => {
    const persons = await cohortFrom(db, 'GiBleed_default.json', 'gibleed');
    const r = await characterizeCohort(db.conn, 'gibleed', {
      conditionConcepts: [GI_BLEED, 4112343, 260139, 80180, 28060, 257012],
      drugConcepts: [1118084, 1124300, 1177480, 1125315],
    });
    console.log(`[analytics] GiBleed characterisation ${JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`);
    expect(r.persons).toBe(BigInt(persons));
    expect(r.entries).toBeGreaterThanOrEqual(r.persons);
    expect(r.byGender.reduce((a, g) => a + g.persons, 0n)).toBe(r.persons);
    expect(r.byAgeBand.reduce((a, g) => a + g.persons, 0n)).toBe(r.persons);
    // Every member entered on a GI bleed on the index day, inside the [-365, 0] window.
    expect(r.conditions[0]).toEqual({ concept_id: GI_BLEED, persons: r.persons });
    for (const c of [...r.conditions, ...r.drugs]) expect(c.persons).toBeLessThanOrEqual(r.persons);
    // Drug exposures are recorded as clinical drugs: ingredients only match through concept_ancestor.
    expect(r.drugs.some((d) => d.persons > 0n)).toBe(true);
  });
});
