/**
 * Issue 13: a mesh of one DuckDB agent and two PostgreSQL agents (in-process agents through the real gRPC stack
 * and coordinator) gives the pooled answer. GiBleed is split by person_id mod 3: site 1 as Parquet files for the
 * DuckDB agent, sites 2 and 3 as two CDM schemas of one PostgreSQL 15 (vocabulary in its own schema) read by a
 * read-only role. The pooled answers are computed independently: the nine Circe cohorts by the reference SQL
 * (test/reference), survival counts and the aggregate by one DuckDB over all of GiBleed.
 * Skips with a message when ../shared/data or the PostgreSQL binaries are absent.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { characterizeCohort, contingencyCounts, survivalCounts } from '../../node-agent/analytics/index.js';
import { parseCirce, runCohort } from '../../node-agent/cohort/index.js';
import { duckdbSession } from '../../node-agent/data/source/index.js';
import { coxAgentLayout, readCoxData } from '../../node-agent/analytics/cox.js';
import { fitCoxPooled } from '../../algorithms/survival/index.js';
import type { CoxCovariate } from '../../common/job/index.js';
import { circeJsonDir, gibleedAvailable, gibleedDir, referenceCohortCounts } from '../reference/circe-reference.js';
import { splitGiBleed } from '../helpers/gibleed-split.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { loadOmopCsvIntoDuckDb } from '../helpers/postgres-omop.js';
import { loadGiBleedSites } from '../helpers/postgres-gibleed.js';

const available = gibleedAvailable() && existsSync(circeJsonDir);
if (!available) console.warn(`[skip] PostgreSQL mesh: ${gibleedDir} or ${circeJsonDir} not found (../shared/data is absent)`);
const noPg = skipWithoutPostgres('the mesh of DuckDB and PostgreSQL agents');

const PERSON_TABLES = ['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'drug_era', 'condition_era', 'visit_occurrence', 'measurement', 'observation', 'procedure_occurrence', 'death'];
/** Mode none with k = 1: nothing is withheld, so the pooled answer is exact and comparable. */
const POLICY = { allowModes: ['none', 'central-dp'] as ('none' | 'central-dp')[], minCellSize: 1, allowKinds: ['aggregate', 'cohort', 'characterize', 'survival', 'survival-cox', 'contingency', 'glm', 'train'] };

describe.skipIf(!available || noPg)('one DuckDB agent and two PostgreSQL agents give the pooled GiBleed answer', () => {
  let mesh: TestMesh;
  let pg: PgCluster;
  let all: DuckDBInstance;
  let conn: DuckDBConnection;
  let site1: string | undefined;
  let site2: string | undefined;
  let manifest = '';

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3', 'a4'] });
    [site1, site2] = await splitGiBleed(join(mesh.dir, 'gibleed'), 3, PERSON_TABLES, [0, 1]);
    pg = await startPostgres();
    await loadGiBleedSites(pg, 'cdm', 3, [{ schema: 'site2', residue: 1 }, { schema: 'site3', residue: 2 }], { name: 'agent', password: 'agent-pw' });
    // The person product is open to glm at every site (its default manifest is not); the PostgreSQL agents read
    // their manifest (and consent records) from their data folder.
    manifest = JSON.stringify({ products: { person: { allowedJobKinds: ['aggregate', 'cohort', 'characterization', 'survival', 'contingency', 'glm', 'fl'] } } });
    await writeFile(join(site1!, 'fedmesh.products.json'), manifest);
    await mesh.startAgent('a1', site1!, POLICY);
    for (const [i, schema] of ['site2', 'site3'].entries()) {
      const empty = join(mesh.dir, `empty-${i}`);
      await mkdir(empty);
      await writeFile(join(empty, 'fedmesh.products.json'), manifest);
      await mesh.startAgent(`a${i + 2}`, empty, POLICY, { database: { url: `postgres://agent@127.0.0.1:${pg.port}/cdm`, password: 'agent-pw', schema, vocabularySchema: 'vocab' } });
    }
    await mesh.waitForAgents(3, 60_000);
    all = await DuckDBInstance.create(':memory:');
    conn = await all.connect();
    await loadOmopCsvIntoDuckDb((sql) => conn.run(sql), gibleedDir);
  }, 400_000);
  afterAll(async () => {
    await mesh?.close();
    await pg?.stop();
    conn?.closeSync();
    all?.closeSync();
  });

  it('the PostgreSQL agents publish the OMOP tables of their schema (vocabulary included) as products', () => {
    for (const a of ['a2', 'a3']) {
      const names = mesh.agents.get(a)!.listProducts().map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(['person', 'condition_occurrence', 'drug_exposure', 'concept', 'concept_ancestor']));
      expect(mesh.agents.get(a)!.listProducts().find((p) => p.name === 'person')!.privacyUnit).toBe('person_id');
    }
  });

  it('the nine Circe cohorts: pooled persons and entries equal the reference SQL over all of GiBleed', async () => {
    const reference = await referenceCohortCounts();
    const files = (await readdir(circeJsonDir)).filter((f) => f.endsWith('.json')).sort();
    expect(files).toHaveLength(9);
    for (const f of files) {
      const stem = f.replace(/\.json$/, '');
      const definition = JSON.parse(await readFile(join(circeJsonDir, f), 'utf8')) as unknown;
      const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'none' }, timeoutMs: 180_000 });
      expect(job.error, stem).toBeUndefined();
      expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
      const s = job.result!.summary as { count: number; entries: number; byAgent: { persons: number }[] };
      expect({ stem, persons: s.count, entries: s.entries }).toEqual({ stem, persons: reference[stem]!.persons, entries: reference[stem]!.entries });
      // Every site contributes (the PostgreSQL agents are not answering zero).
      expect(s.byAgent.every((b) => b.persons > 0), stem).toBe(true);
    }
  }, 600_000);

  it('survival counts (GI bleed after celecoxib, 30-day bins, by gender) equal those of one DuckDB over all the data', async () => {
    const target = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const timeGrid = { binDays: 30, maxDays: 720 };
    const job = await mesh.client.run({ kind: 'survival', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid, strata: 'gender', privacy: { mode: 'none' }, timeoutMs: 180_000 });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    const duck = duckdbSession(conn);
    await runCohort(duck, parseCirce(target), { targetTable: 'sv_all' });
    const exact = await survivalCounts(duck, { targetTable: 'sv_all', outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid, strata: 'gender' });
    const curves = job.result!.summary!.curves as { label: string; atRisk: number[]; events: number[]; censored: number[] }[];
    // The release leaves out strata with nobody at risk (a public stratum list, zero everywhere).
    const present = exact.strata.filter((st) => (st.atRisk[0] ?? 0n) > 0n);
    expect(curves.map((c) => c.label).sort()).toEqual(present.map((st) => st.label).sort());
    expect(present.length).toBeGreaterThanOrEqual(2);
    for (const st of present) {
      const c = curves.find((x) => x.label === st.label)!;
      expect(c.events).toEqual(st.events.map(Number));
      expect(c.censored).toEqual(st.censored.map(Number));
      expect(c.atRisk).toEqual(st.atRisk.map(Number));
    }
    expect(curves.some((c) => c.events.some((e) => e > 0))).toBe(true);
  }, 300_000);

  it('characterisation (celecoxib cohort: gender, GI bleed and osteoarthritis, a drug) equals one DuckDB over all the data', async () => {
    const definition = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const conditionConcepts = [192671, 80180];
    const drugConcepts = [1118084];
    const job = await mesh.client.run({ kind: 'characterize', definition, conditionConcepts, drugConcepts, privacy: { mode: 'none' }, timeoutMs: 180_000 });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    const duck = duckdbSession(conn);
    await runCohort(duck, parseCirce(definition), { targetTable: 'ch_all' });
    const exact = await characterizeCohort(duck, 'ch_all', { conditionConcepts, drugConcepts });
    const s = job.result!.summary as { count: number; conditions: { persons: number }[]; drugs: { persons: number }[] };
    expect(s.count).toBe(Number(exact.persons));
    expect(s.conditions.map((c) => c.persons)).toEqual(exact.conditions.map((c) => Number(c.persons)));
    expect(s.drugs.map((c) => c.persons)).toEqual(exact.drugs.map((c) => Number(c.persons)));
    expect(s.conditions.some((c) => c.persons > 0)).toBe(true);
  }, 300_000);

  it('Cox regression (GI bleed after celecoxib ~ age + gender), read on the servers through a cursor: equals the pooled Breslow fit over all the data to 1e-6', async () => {
    const target = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const covariates = [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }, { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }];
    const outcome = { domain: 'condition', conceptIds: [192671] };
    const timeGrid = { binDays: 90, maxDays: 1800 };
    const job = await mesh.client.run({ kind: 'survival', model: 'cox', target, outcome, timeGrid, covariates, privacy: { mode: 'none' }, timeoutMs: 180_000 });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    const summary = job.result!.summary! as { n: number; events: number; status: string; bins: { times: number[] } };
    const rows = job.result!.rows as { term: string; coef: number; 'se(coef)': number }[];
    expect(summary.status).toBe('converged');
    const duck = duckdbSession(conn);
    await runCohort(duck, parseCirce(target), { targetTable: 'cox_all' });
    const data = await readCoxData(conn, { targetTable: 'cox_all', outcome, timeGrid, covariates: covariates as CoxCovariate[] });
    const ref = fitCoxPooled(data.persons, coxAgentLayout(data, summary.bins.times), data.terms).summary;
    expect(rows.map((r) => r.term)).toEqual(data.terms);
    expect([summary.n, summary.events]).toEqual([ref.n, ref.events]);
    expect(ref.events).toBeGreaterThan(10);
    rows.forEach((r, j) => {
      expect(Math.abs(r.coef - ref.coefficients[j]!.coef), r.term).toBeLessThan(1e-6);
      expect(Math.abs(r['se(coef)'] - ref.coefficients[j]!.se!), r.term).toBeLessThan(1e-6);
    });
    // Control: the fit is not trivially zero, and leaving out a PostgreSQL agent changes n.
    expect(rows.some((r) => Math.abs(r.coef) > 1e-3)).toBe(true);
    const two = await mesh.client.run({ kind: 'survival', model: 'cox', target, outcome, timeGrid, covariates, agents: ['a1', 'a2'], privacy: { mode: 'none' }, timeoutMs: 180_000 });
    expect(two.error).toBeUndefined();
    expect((two.result!.summary as { n: number }).n).toBeLessThan(summary.n);
  }, 300_000);

  it('aggregate (persons by gender: count, mean and histogram of year of birth) equals one DuckDB over all the data', async () => {
    const edges = [1900, 1930, 1950, 1970, 2000];
    const job = await mesh.client.run({
      kind: 'aggregate',
      product: 'person',
      where: [{ column: 'year_of_birth', op: '>=', value: 1920 }],
      groupBy: ['gender_concept_id'],
      measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'histogram', column: 'year_of_birth', bins: edges }],
      privacy: { mode: 'none' },
    });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    const expected = (await conn.runAndReadAll(
      `SELECT gender_concept_id AS g, count(*)::INTEGER AS n, sum(year_of_birth)::BIGINT AS s,
              ${edges.slice(0, -1).map((e, i) => `count(*) FILTER (WHERE year_of_birth >= ${e} AND (year_of_birth < ${edges[i + 1]} OR ${i === edges.length - 2 ? `year_of_birth = ${edges[i + 1]}` : 'false'}))::INTEGER AS b${i}`).join(', ')}
         FROM person WHERE year_of_birth >= 1920 GROUP BY 1 ORDER BY 1`,
    )).getRowObjectsJS();
    expect(job.result!.rows).toHaveLength(expected.length);
    for (const e of expected) {
      const row = job.result!.rows.find((r) => r.gender_concept_id === Number(e.g))!;
      expect(row.count).toBe(e.n);
      expect(row.mean_year_of_birth).toBe(Number(e.s) / Number(e.n));
      expect(row.histogram_year_of_birth).toEqual(edges.slice(0, -1).map((_, i) => e[`b${i}`]));
    }
  }, 120_000);

  it('contingency (persons by gender × race) equals one DuckDB over all the data', async () => {
    const spec = { product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], where: [{ column: 'year_of_birth', op: '>=', value: 1920 }] };
    const job = await mesh.client.run({ kind: 'contingency', ...spec, privacy: { mode: 'none' } });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    const exact = await contingencyCounts(conn, { table: 'person', ...spec, where: spec.where as never });
    const s = job.result!.summary as { table: number[][]; outside: number; ambiguous: number };
    expect(s.table).toEqual(exact.counts.map((r) => r.map(Number)));
    expect([s.outside, s.ambiguous]).toEqual([Number(exact.outside), Number(exact.ambiguous)]);
    expect(s.table.flat().some((n) => n > 0)).toBe(true);
  }, 120_000);

  it('glm (gaussian, year of birth ~ gender, mode none) equals the least-squares fit over all the data', async () => {
    const job = await mesh.client.run({ kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], privacy: { mode: 'none' }, timeoutMs: 120_000 });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['a1', 'a2', 'a3']);
    // With one categorical covariate the fit is the group means: intercept = mean(male), slope = mean(female) − mean(male).
    const m = (await conn.runAndReadAll(`SELECT avg(year_of_birth) FILTER (WHERE gender_concept_id = 8507) AS m, avg(year_of_birth) FILTER (WHERE gender_concept_id = 8532) AS f FROM person WHERE gender_concept_id IN (8507, 8532) AND year_of_birth IS NOT NULL`)).getRowObjectsJS()[0]!;
    const est = job.result!.rows.map((r) => Number(r.estimate));
    expect(est[0]).toBeCloseTo(Number(m.m), 6);
    expect(est[1]).toBeCloseTo(Number(m.f) - Number(m.m), 6);
    expect(Math.abs(est[1]!)).toBeGreaterThan(1e-6);
  }, 180_000);

  it('a PostgreSQL agent names the data-derived concept ids it released from its vocabulary schema, as the DuckDB agent does', async () => {
    const spec = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 120_000 };
    const onPg = await mesh.client.run({ ...spec, agents: ['a2'] });
    const onDuck = await mesh.client.run({ ...spec, agents: ['a1'] });
    expect(onPg.agents.answered).toEqual(['a2']);
    const names = (await conn.runAndReadAll('SELECT concept_id, concept_name FROM concept WHERE concept_id IN (8507, 8532) ORDER BY 1')).getRowObjectsJS();
    expect(names).toHaveLength(2);
    for (const n of names) expect(onPg.result!.conceptNames?.[Number(n.concept_id)]).toBe(String(n.concept_name));
    expect(onPg.result!.conceptNames).toEqual(onDuck.result!.conceptNames);
  }, 120_000);

  it('secure sums on PostgreSQL agents (every kind): glm, contingency, Cox, aggregate, cohort, characterize and Kaplan–Meier under secagg, and aggregate, contingency and Kaplan–Meier under he, equal the plain run', async () => {
    const target = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const specs: Record<string, Record<string, unknown>> = {
      glm: { kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', outcomeBounds: [1900, 2030], covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], privacy: { mode: 'none' } },
      contingency: { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], privacy: { mode: 'none' } },
      cox: { kind: 'survival', model: 'cox', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 180, maxDays: 1800 }, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }], privacy: { mode: 'none' } },
      // The older kind's secure path: its statistics computed on the server, its guard's person hashes in the agent.
      aggregate: { kind: 'aggregate', product: 'person', where: [{ column: 'gender_source_value', op: '<', value: 'f' }], groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' } },
      // The older cell kinds' secure path: the cohort SQL on the server, the guard's person hashes in the agent.
      cohort: { kind: 'cohort', definition: target, privacy: { mode: 'none' } },
      characterize: { kind: 'characterize', definition: target, conditionConcepts: [192671, 80180], drugConcepts: [1118084], privacy: { mode: 'none' } },
      survival: { kind: 'survival', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 1800 }, strata: 'gender', privacy: { mode: 'none' } },
    };
    const numbers = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) ? v.flatMap(numbers) : v !== null && typeof v === 'object' ? Object.keys(v).sort().filter((k) => !/ms$|Ms$|secure|timing/i.test(k)).flatMap((k) => numbers((v as Record<string, unknown>)[k])) : []);
    for (const [kind, spec] of Object.entries(specs)) {
      const plain = await mesh.client.run({ ...spec, timeoutMs: 180_000 });
      const secure = await mesh.client.run({ ...spec, secure: 'secagg', timeoutMs: 180_000 });
      expect(plain.error, kind).toBeUndefined();
      expect(secure.error, `${kind}: ${JSON.stringify(secure.error)}`).toBeUndefined();
      expect(secure.agents.answered, kind).toEqual(['a1', 'a2', 'a3']);
      // The released figures (rows: estimates, standard errors, cells) agree; the fixed-point ring costs < 1e-9 relative.
      const a = numbers(plain.result!.rows);
      const b = numbers(secure.result!.rows);
      expect(b.length, kind).toBe(a.length);
      expect(a.length, kind).toBeGreaterThan(0);
      a.forEach((x, i) => expect(Math.abs(x - b[i]!), `${kind}[${i}]`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x))));
    }
    // The built-in HE path (the researcher's client decrypts): the same statistics and counts from the servers.
    for (const kind of ['aggregate', 'contingency', 'survival']) {
      const he = await mesh.client.run({ ...specs[kind]!, secure: 'he', timeoutMs: 180_000 }, undefined, { keyDir: join(mesh.dir, `he-keys-${kind}`) });
      expect(he.error, `${kind}: ${JSON.stringify(he.error)}`).toBeUndefined();
      expect(he.agents.answered, kind).toEqual(['a1', 'a2', 'a3']);
      const plain = await mesh.client.run({ ...specs[kind]!, timeoutMs: 180_000 });
      expect(numbers(he.result!.rows), kind).toEqual(numbers(plain.result!.rows));
      expect(numbers(plain.result!.rows).some((x) => x > 0), kind).toBe(true);
    }
  }, 600_000);

  it('kinds the PostgreSQL agents do not run there are refused by them, naming the kind (negative control)', async () => {
    const a2 = mesh.agents.get('a2')!;
    const task = (kind: string, spec: Record<string, unknown>): Parameters<typeof a2.serveTask>[0] => ({ taskId: `t-${kind}`, jobId: `j-${kind}`, kind, specJson: JSON.stringify({ kind, ...spec }), deadlineMs: Date.now() + 60_000, round: 0, researcher: 'researcher', payload: new Uint8Array() });
    const unknown = await a2.serveTask(task('dwell', { product: 'person', privacy: { mode: 'none' } }));
    expect(unknown.ok).toBe(false);
    expect(unknown.ok ? '' : unknown.error.message).toMatch(/dwell jobs do not run on this agent's PostgreSQL source/);
    // Control: the same agent answers a kind it runs there (a built-in-path task: data-derived groups in mode none; a
    // seam task would need the compiled job's hash in its payload).
    const ok = await a2.serveTask(task('aggregate', { product: 'person', where: [], groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
    expect(ok.ok).toBe(true);
  }, 120_000);
  it('every kind on a PostgreSQL agent equals the same kind on a DuckDB agent holding the same persons (a2 and its twin a4)', async () => {
    // a4 reads site 2's Parquet files, the rows a2 reads from schema site2: the same persons on the other engine.
    await writeFile(join(site2!, 'fedmesh.products.json'), manifest);
    await mesh.startAgent('a4', site2!, POLICY);
    await mesh.waitForAgents(4, 60_000);
    try {
      const celecoxib = JSON.parse(await readFile(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
      const none = { mode: 'none' };
      const specs: Record<string, Record<string, unknown>> = {
        cohort: { kind: 'cohort', definition: celecoxib, privacy: none },
        characterize: { kind: 'characterize', definition: celecoxib, conditionConcepts: [192671, 80180], drugConcepts: [1118084], privacy: none },
        survival: { kind: 'survival', target: celecoxib, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 1800 }, privacy: none },
        'survival-cox': { kind: 'survival', model: 'cox', target: celecoxib, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 180, maxDays: 1800 }, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }], privacy: none },
        aggregate: { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: none },
        contingency: { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], privacy: none },
        // One full batch per round: the same rows in another order give the same model up to float32 rounding.
        train: {
          kind: 'train', product: 'person', label: 'year_of_birth', loss: 'mse', model: { type: 'linear' },
          features: [{ column: 'race_concept_id', type: 'categorical', levels: [8527, 8516, 8515, 0] }],
          split: { column: 'gender_concept_id', train: 8507, test: 8532 },
          training: { rounds: 2, localEpochs: 1, batchSize: 65536, optimizer: 'sgd', learningRate: 0.001, seed: 7 },
          participation: { fraction: 1, minUpdates: 1 }, privacy: none,
        },
      };
      specs.glm = { kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }, { column: 'race_concept_id', type: 'categorical', levels: [0, 8515, 8516, 8527], reference: 0 }], privacy: none };
      const stripped = (job: { error?: unknown; result?: { rows?: unknown; summary?: unknown; columns?: unknown } }): unknown => {
        expect(job.error).toBeUndefined();
        // Without what names the run or the agent (ids, times, the agent's name in per-agent parts).
        const clean = (v: unknown): unknown => (Array.isArray(v) ? v.map(clean) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !/^(jobId|agent|agents|name|site|ms|elapsedMs|durationMs|timing|startedAt|finishedAt)$/.test(k)).map(([k, x]) => [k.replace(/^a[24]$/, 'A'), clean(x)])) : typeof v === 'string' ? v.replace(/\ba[24]\b/g, 'A') : v);
        return clean({ columns: job.result?.columns, rows: job.result?.rows, summary: job.result?.summary });
      };
      const close = (a: unknown, b: unknown, rel: number, path: string): void => {
        if (typeof a === 'number' && typeof b === 'number') {
          if (Number.isInteger(a) && Number.isInteger(b)) expect(a, path).toBe(b);
          else expect(Math.abs(a - b), path).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(a)));
          return;
        }
        if (Array.isArray(a) && Array.isArray(b)) {
          expect(b.length, path).toBe(a.length);
          a.forEach((x, i) => close(x, b[i], rel, `${path}[${i}]`));
          return;
        }
        if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') {
          expect(Object.keys(b).sort(), path).toEqual(Object.keys(a).sort());
          for (const k of Object.keys(a)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], rel, `${path}.${k}`);
          return;
        }
        expect(b, path).toEqual(a);
      };
      // Restricted to a cohort: built on the server, its members' rows staged (node-agent/jobs/staged-read.ts).
      specs['glm in a cohort'] = { ...specs.glm, cohort: celecoxib };
      specs['train in a cohort'] = { ...specs.train, cohort: celecoxib };
      for (const [kind, spec] of Object.entries(specs)) {
        const onPg = await mesh.client.run({ ...spec, agents: ['a2'], timeoutMs: 180_000 });
        const onDuck = await mesh.client.run({ ...spec, agents: ['a4'], timeoutMs: 180_000 });
        expect(onPg.error, kind).toBeUndefined();
        expect(onPg.agents.answered, kind).toEqual(['a2']);
        expect(onDuck.agents.answered, kind).toEqual(['a4']);
        // Counts exactly; float statistics to 1e-9 (another row order); the trained model to float32 rounding.
        close(stripped(onDuck), stripped(onPg), kind.startsWith('train') ? 1e-5 : 1e-9, kind);
      }
      // The cohort restricts: fewer persons in the cohort fit than in the whole-table fit (control for the two above).
      const n = (job: { result?: { summary?: unknown } }): number => Number((job.result!.summary as { nUsed: number }).nUsed);
      const whole = await mesh.client.run({ ...specs.glm!, agents: ['a2'] });
      const within = await mesh.client.run({ ...specs['glm in a cohort']!, agents: ['a2'] });
      expect(n(within)).toBeGreaterThan(10);
      expect(n(within)).toBeLessThan(n(whole));
      // Control: a1 holds other persons, so the comparison above can fail.
      const other = await mesh.client.run({ ...specs.contingency!, agents: ['a1'] });
      expect(JSON.stringify(stripped(other))).not.toBe(JSON.stringify(stripped(await mesh.client.run({ ...specs.contingency!, agents: ['a2'] }))));
    } finally {
      await mesh.stopAgent('a4');
    }
  }, 900_000);
});
