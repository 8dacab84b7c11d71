import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circeJsonDir, gibleedAvailable, gibleedDir, referenceCohortCounts } from '../reference/circe-reference.js';
import { splitGiBleed } from '../helpers/gibleed-split.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const available = gibleedAvailable() && existsSync(circeJsonDir);
if (!available) console.warn(`[skip] GiBleed conformance: ${gibleedDir} or ${circeJsonDir} not found (../shared/data is absent)`);

const PERSON_TABLES = ['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'drug_era', 'condition_era', 'visit_occurrence', 'measurement', 'observation', 'procedure_occurrence', 'death'];

describe.skipIf(!available)('GiBleed split across 3 agents: every Circe definition matches the independent reference SQL', () => {
  let mesh: TestMesh;
  let reference: Record<string, { persons: number; entries: number }>;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3'] });
    const dirs = await splitGiBleed(join(mesh.dir, 'gibleed'), 3, PERSON_TABLES);
    for (const [i, d] of dirs.entries()) await mesh.startAgent(`a${i + 1}`, d, { allowModes: ['none', 'central-dp'], minCellSize: 5 });
    await mesh.waitForAgents(3, 60_000);
    reference = await referenceCohortCounts();
  }, 180_000);
  afterAll(async () => mesh?.close());

  it('runs all nine definitions in mode none with the reference counts', async () => {
    const files = (await readdir(circeJsonDir)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBe(9);
    const seen: string[] = [];
    for (const f of files) {
      const stem = f.replace(/\.json$/, '');
      const definition = JSON.parse(await readFile(join(circeJsonDir, f), 'utf8')) as unknown;
      const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'none' }, timeoutMs: 120_000 });
      expect(job.error, stem).toBeUndefined();
      const s = job.result!.summary as { count: number; entries: number; byAgent: { persons: number }[] };
      expect(reference[stem], stem).toBeDefined();
      expect({ stem, persons: s.count, entries: s.entries }).toEqual({ stem, persons: reference[stem]!.persons, entries: reference[stem]!.entries });
      expect(s.byAgent.reduce((a, b) => a + b.persons, 0)).toBe(s.count);
      seen.push(`${stem}=${s.count}`);
    }
    console.log(`[gibleed] engine counts over 3 agents: ${seen.join(', ')}`);
  }, 300_000);

  it('the same cohort under central-dp is close to the exact count (6σ) and charges the person budget', async () => {
    const definition = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, timeoutMs: 120_000 });
    expect(job.error).toBeUndefined();
    const s = job.result!.summary as { count: number; count_std: number; entries?: number };
    expect(s.entries).toBeUndefined();
    expect(Math.abs(s.count - reference.celecoxib!.persons)).toBeLessThan(6 * s.count_std);
    const budget = await mesh.client.getBudget();
    expect(budget.entries.find((e) => e.population === 'person')!.jobs).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
