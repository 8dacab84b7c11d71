/**
 * Issue 9 §4 on Eunomia GiBleed (2,694 persons): a logistic model of GI bleed on age and gender within the OHDSI
 * Circe celecoxib cohort (../shared/data/cohorts/circe/celecoxib.json), the design read by the agent's reader
 * (cohort run by the agent's Circe compiler) per site — persons split across 3 sites by person_id mod 3 — and
 * fitted from the summed per-site statistics, equals the pooled fit over all sites (1e-9). Skips visibly when
 * ../shared/data is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import { createOmopDb, loadOmopCsvFolder, sharedDataDir, type TestDb } from '../../node-agent/cohort/test-omop.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { readGlmDesign } from './design.js';
import { parseGlmSpec } from './spec.js';

const omopDir = path.join(sharedDataDir(), 'omop', 'gibleed');
const circeFile = path.join(sharedDataDir(), 'cohorts', 'circe', 'celecoxib.json');
const available = existsSync(omopDir) && existsSync(circeFile);
if (!available) console.warn(`[skip] GLM on GiBleed: ${omopDir} or ${circeFile} not found (../shared/data is absent)`);

const GI_BLEED = 192671;

describe.skipIf(!available)('GLM within a Circe cohort on GiBleed', () => {
  let db: TestDb;
  const product: ProductInfo = {
    name: 'person_model',
    columns: [
      { name: 'person_id', type: 'BIGINT' },
      { name: 'site', type: 'BIGINT' },
      { name: 'age', type: 'DOUBLE' },
      { name: 'gender', type: 'VARCHAR' },
      { name: 'gi_bleed', type: 'INTEGER' },
    ],
    privacyUnit: 'person_id',
    description: '',
    source: 'GiBleed',
  };

  beforeAll(async () => {
    db = await createOmopDb();
    await loadOmopCsvFolder(db.conn, omopDir);
    await db.conn.run(`CREATE TABLE person_model AS
      SELECT p.person_id, p.person_id % 3 AS site, (2020 - p.year_of_birth)::DOUBLE AS age,
             CASE p.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE NULL END AS gender,
             (EXISTS (SELECT 1 FROM condition_occurrence c JOIN concept_ancestor a ON a.descendant_concept_id = c.condition_concept_id
                      WHERE a.ancestor_concept_id = ${GI_BLEED} AND c.person_id = p.person_id))::INTEGER AS gi_bleed
      FROM person p`);
  });
  afterAll(() => db?.close());

  const spec = (where: unknown[] = []) =>
    parseGlmSpec({
      kind: 'glm',
      product: 'person_model',
      family: 'binomial',
      outcome: 'gi_bleed',
      covariates: [
        { column: 'age', type: 'numeric', bounds: [0, 120] },
        { column: 'gender', type: 'categorical', levels: ['female', 'male'], reference: 'female' },
      ],
      where,
      cohort: JSON.parse(readFileSync(circeFile, 'utf8')) as unknown,
      privacy: { mode: 'none' },
    });

  it('per-site fits summed equal the pooled fit within the cohort', async () => {
    const opts = { salt: 's', minCellSize: 5, scratch: 'gib' };
    const pooled = await readGlmDesign(db.conn, spec(), product, opts);
    // The celecoxib cohort has 1,800 persons (pinned in node-agent/cohort/gibleed.test.ts).
    expect(pooled.design.n + pooled.nDropped).toBe(1800);
    const sites = [];
    for (const s of [0, 1, 2]) sites.push((await readGlmDesign(db.conn, spec([{ column: 'site', op: '=', value: s }]), product, opts)).design);
    expect(sites.reduce((a, d) => a + d.n, 0)).toBe(pooled.design.n);
    const names = pooled.terms.map((t) => t.name);
    expect(names).toEqual(['(Intercept)', 'age', 'gendermale']);
    const a = fitPooled(pooled.design, glmFamily('binomial'), names).summary;
    const b = fitPooled(sites, glmFamily('binomial'), names).summary;
    console.log(`[glm] GiBleed celecoxib cohort: n=${a.nUsed} iterations=${a.iterations} ${a.coefficients.map((c) => `${c.term}=${c.estimate.toPrecision(6)} (SE ${c.stdError.toPrecision(4)})`).join(', ')}`);
    a.coefficients.forEach((c, j) => {
      expect(Math.abs(c.estimate - b.coefficients[j]!.estimate)).toBeLessThan(1e-9 * Math.max(1, Math.abs(c.estimate)));
      expect(Math.abs(c.stdError - b.coefficients[j]!.stdError)).toBeLessThan(1e-9 * Math.max(1, c.stdError));
    });
    expect(b.iterations).toBe(a.iterations);
    // Negative control: the same model on everyone (no cohort) is a different fit.
    const everyone = await readGlmDesign(db.conn, { ...spec(), cohort: undefined }, product, opts);
    expect(everyone.design.n).toBeGreaterThan(pooled.design.n);
  });
});
