import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCirce, runCohort } from '../../node-agent/cohort/index.js';
import { createOmopDb, loadOmopCsvFolder, sharedDataDir } from '../../node-agent/cohort/test-omop.js';
import type { TestDb } from '../../node-agent/cohort/test-omop.js';

/** Eunomia GiBleed (../shared/data/omop/gibleed) and its Circe cohorts; tests skip visibly when absent. */
export const gibleedOmopDir = path.join(sharedDataDir(), 'omop', 'gibleed');
export const gibleedCirceDir = path.join(sharedDataDir(), 'cohorts', 'circe');
export const gibleedAvailable = existsSync(gibleedOmopDir) && existsSync(path.join(gibleedCirceDir, 'celecoxib.json'));

/** A Circe cohort definition of the GiBleed study (public JSON). */
export function gibleedCohort(file: string): unknown {
  return JSON.parse(readFileSync(path.join(gibleedCirceDir, file), 'utf8'));
}

const PERSON_TABLES = ['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'procedure_occurrence', 'measurement', 'visit_occurrence', 'death', 'observation'];

/**
 * GiBleed in an in-memory DuckDB. With `site`, only persons with person_id % sites = site are kept (the split of
 * test/helpers/gibleed-split.ts, without files). With `cohorts`, those Circe cohorts are built into tables.
 */
export async function gibleedMemoryDb(opts: { site?: number; sites?: number; cohorts?: Record<string, string> } = {}): Promise<TestDb> {
  const db = await createOmopDb();
  await loadOmopCsvFolder(db.conn, gibleedOmopDir);
  if (opts.site !== undefined) {
    const sites = opts.sites ?? 3;
    const tables = new Set((await db.conn.runAndReadAll(`SELECT table_name FROM information_schema.columns WHERE column_name = 'person_id'`)).getRowObjectsJS().map((r) => String(r['table_name'])));
    for (const t of PERSON_TABLES.filter((x) => tables.has(x))) await db.conn.run(`DELETE FROM ${t} WHERE person_id % ${sites} <> ${opts.site}`);
  }
  for (const [table, file] of Object.entries(opts.cohorts ?? {})) await runCohort(db.conn, parseCirce(gibleedCohort(file)), { targetTable: table });
  return db;
}

/**
 * The Cox job the GiBleed tests and the Cox benchmark fit: GI bleed after celecoxib ~ age group + gender, mode none,
 * on a grid of `binDays` up to `maxDays`.
 */
export function gibleedCoxSpec(binDays: number, maxDays: number): Record<string, unknown> {
  return {
    kind: 'survival',
    target: gibleedCohort('celecoxib.json'),
    outcome: { domain: 'condition', conceptIds: [192671] },
    timeGrid: { binDays, maxDays },
    model: 'cox',
    covariates: [
      { name: 'ageGroup', source: 'age', type: 'categorical', bands: [0, 35, 40, 130], reference: '35-39' },
      { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' },
    ],
    privacy: { mode: 'none' },
  };
}
