/**
 * Patient consent over the mesh, for every job kind (issue 11): two sites where some persons opted out of health
 * research (HRESCH) — half through the OMOP consent table, half through FHIR R4 Consent resources. A job under
 * HRESCH must give exactly the result of the same job over the sites' files with those persons' rows deleted by
 * this test (a second mesh), and its counts must equal the counts this test computes itself from the fixture files.
 * Negative control: once the records opt those persons out of public health (PUBHLTH) instead — a purpose the
 * HRESCH job does not run under — the same HRESCH job gives the full-data result, which differs.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const SITES = ['s1', 's2'];
const KINDS = ['aggregate', 'cohort', 'characterize', 'survival', 'contingency', 'glm', 'survival-cox', 'train'];
const diabetes = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
const none = { mode: 'none' };
const SPECS: Record<string, Record<string, unknown>> = {
  aggregate: { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }], privacy: none },
  cohort: { kind: 'cohort', definition: diabetes, privacy: none },
  characterize: { kind: 'characterize', definition: diabetes, conditionConcepts: [320128], drugConcepts: [1503297], privacy: none },
  survival: { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, privacy: none },
  contingency: { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 8516, 8515, 0], privacy: none },
  glm: { kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], privacy: none },
  // Training: a linear model of year of birth on race, men's rows for training and women's for the test metrics (the
  // person table has no split column). One full batch per round: the gradient is a sum over the rows, so the same
  // rows in another order give the same model up to float rounding (compared with TRAIN_REL_TOL below).
  train: {
    kind: 'train', product: 'person', label: 'year_of_birth', loss: 'mse', model: { type: 'linear' },
    features: [{ column: 'race_concept_id', type: 'categorical', levels: [8527, 8516, 8515, 0] }],
    split: { column: 'gender_concept_id', train: 8507, test: 8532 },
    training: { rounds: 2, localEpochs: 1, batchSize: 65536, optimizer: 'sgd', learningRate: 0.001, seed: 7 },
    participation: { fraction: 1, minUpdates: 2 }, privacy: none,
  },
  'survival-cox': { kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 180, maxDays: 3650 }, model: 'cox', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 120] }], privacy: none },
};

let consentMesh: TestMesh;
let filteredMesh: TestMesh;
let duck: DuckDBInstance;
let conn: DuckDBConnection;
let siteDirs: string[] = [];
const filteredDirs: string[] = [];
/** Persons who opted out, per site. */
const optedOut = new Map<string, number[]>();

const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];

/** The consent records of a site: even positions in the consent table, odd ones as FHIR Consent resources. */
function writeConsent(dir: string, persons: readonly number[], purpose: string): void {
  const table = persons.filter((_, k) => k % 2 === 0).map((p) => `${p},${purpose},deny,2020-01-01,`);
  writeFileSync(join(dir, 'consent.csv'), `person_id,purpose,decision,start,end\n${table.join('\n')}\n`);
  const fhir = persons.filter((_, k) => k % 2 === 1).map((p) => JSON.stringify({ resourceType: 'Consent', id: `c${p}`, status: 'active', scope: { coding: [{ code: 'research' }] }, patient: { reference: `Patient/${p}` }, dateTime: '2024-05-01', provision: { type: 'deny', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: purpose }] } }));
  writeFileSync(join(dir, 'Consent.ndjson'), `${fhir.join('\n')}\n`);
}

/**
 * What a job releases, without the parts that name the run (ids, times). Integers (every count) compare exactly;
 * other numbers to 10 significant digits, as the GLM's sums run over the rows in another order when the scope's
 * anti-join reads them (the last bits of a double differ; a left-out person moves them by far more).
 */
function released(job: { error?: unknown; result?: { rows?: unknown; summary?: unknown; columns?: unknown } }): unknown {
  expect(job.error).toBeUndefined();
  const round = (v: unknown): unknown =>
    typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(10)) : Array.isArray(v) ? v.map(round) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)])) : v;
  return round({ columns: job.result?.columns, rows: job.result?.rows, summary: job.result?.summary });
}

/** Float32 sums in another row order differ in the 7th digit; removing the opted-out persons moves them far more. */
const TRAIN_REL_TOL = 1e-5;
/** Deep equality with numbers equal up to a relative tolerance. */
function sameUpTo(a: unknown, b: unknown, rel: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameUpTo(x, b[i], rel));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return JSON.stringify(ka) === JSON.stringify(kb) && ka.every((k) => sameUpTo((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], rel));
  }
  return a === b;
}

/** Two significant figures, "< 10" below the default minimum cell size: the catalog's coarsening, written out here. */
const coarse = (n: number): number | string => (n < 10 ? '< 10' : n < 100 ? n : Math.round(n / 10 ** (Math.floor(Math.log10(n)) - 1)) * 10 ** (Math.floor(Math.log10(n)) - 1));
const personsAt = async (site: number): Promise<number> => Number((await rows(`SELECT count(DISTINCT person_id)::INTEGER AS n FROM read_parquet('${join(siteDirs[site]!, 'person.parquet')}')`))[0]!.n);
const catalogCounts = (agent: string): Promise<unknown> => Promise.resolve(consentMesh.agents.get(agent)!.registration().products.find((p) => p.name === 'person')?.metadata.personsByPurpose);

beforeAll(async () => {
  consentMesh = await startMesh({ agentNames: SITES });
  filteredMesh = await startMesh({ agentNames: SITES });
  const synth = await synthesize({ outDir: join(consentMesh.dir, 'synth'), sites: 2, persons: 600, seed: 11, format: 'parquet' });
  siteDirs = synth.sites.map((s) => s.dir);
  duck = await DuckDBInstance.create(':memory:');
  conn = await duck.connect();
  for (const [i, dir] of siteDirs.entries()) {
    // Every 4th person of the site, by id: enough to move every count, few enough to keep cells above the minimum.
    const ids = (await rows(`SELECT person_id::BIGINT AS p FROM read_parquet('${join(dir, 'person.parquet')}') ORDER BY 1`)).map((r) => Number(r.p)).filter((_, k) => k % 4 === 1);
    optedOut.set(SITES[i]!, ids);
    writeConsent(dir, ids, 'HRESCH');
    const out = join(filteredMesh.dir, `filtered-${i}`);
    mkdirSync(out, { recursive: true });
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.parquet'))) {
      const cols = (await rows(`DESCRIBE SELECT * FROM read_parquet('${join(dir, f)}')`)).map((r) => String(r.column_name));
      const where = cols.includes('person_id') ? `WHERE person_id NOT IN (${ids.join(', ')})` : '';
      await conn.run(`COPY (SELECT * FROM read_parquet('${join(dir, f)}') ${where}) TO '${join(out, f)}' (FORMAT parquet)`);
    }
    filteredDirs.push(out);
  }
  // The person product is open to glm too (its default manifest is not), at both meshes alike.
  const manifest = JSON.stringify({ products: { person: { allowedJobKinds: ['aggregate', 'cohort', 'characterization', 'survival', 'contingency', 'glm', 'fl'] } } });
  for (const d of [...siteDirs, ...filteredDirs]) writeFileSync(join(d, 'fedmesh.products.json'), manifest);
  // k = 5: at 300 persons a site has fewer than 10 deaths in the Cox cohort, which the agents rightly refuse at k = 10.
  const policy = { allowModes: ['none' as const], allowKinds: KINDS, minCellSize: 5 };
  for (const [i, s] of SITES.entries()) {
    await consentMesh.startAgent(s, siteDirs[i]!, policy);
    await filteredMesh.startAgent(s, filteredDirs[i]!, policy);
  }
  await consentMesh.waitForAgents(SITES.length);
  await filteredMesh.waitForAgents(SITES.length);
}, 240_000);

afterAll(async () => {
  conn?.closeSync();
  duck?.closeSync();
  await consentMesh?.close();
  await filteredMesh?.close();
});

/** Drops both meshes' differencing memory of one researcher (the domain's deliberate reset). */
async function forgetAll(researcher: string): Promise<void> {
  for (const mesh of [consentMesh, filteredMesh]) for (const a of mesh.agents.values()) await a.forgetReleasedCells(researcher);
}

describe('patient consent applied to every job kind over the mesh', () => {
  const reference = new Map<string, unknown>();
  const scoped = new Map<string, unknown>();

  it('consent files are not data products', () => {
    const products = consentMesh.agents.get('s1')!.listProducts().map((p) => p.name);
    expect(products).toContain('person');
    expect(products.filter((p) => /consent/i.test(p))).toEqual([]);
  });

  it('the catalog shows, coarsened, how many persons the person product serves per purpose', async () => {
    const published = await catalogCounts('s1');
    const total = await personsAt(0);
    expect(published).toEqual({ HRESCH: coarse(total - optedOut.get('s1')!.length) });
  });

  for (const kind of KINDS) {
    it(`${kind}: under HRESCH the result equals the result over the files without the opted-out persons`, async () => {
      const spec = SPECS[kind]!;
      // Each kind from a clean differencing memory: the guard compares every released cell (red team 8), and one
      // kind's cells differ from another's by a few persons (a cohort's gender counts and survival's persons at risk
      // per stratum leave out different persons). The guard is tested in differencing.test.ts; consent is tested here.
      await forgetAll('researcher');
      reference.set(kind, released(await filteredMesh.client.run(spec)));
      scoped.set(kind, released(await consentMesh.client.run(spec)));
      if (kind === 'train') expect(sameUpTo(scoped.get(kind), reference.get(kind), TRAIN_REL_TOL)).toBe(true);
      else expect(scoped.get(kind)).toEqual(reference.get(kind));
    }, 120_000);
  }

  it('aggregate: the released counts equal the counts of the fixture without the opted-out persons (computed here)', async () => {
    const all = [...optedOut.values()].flat();
    const files = siteDirs.map((d) => `'${join(d, 'person.parquet')}'`).join(', ');
    const expected = await rows(`SELECT gender_concept_id::INTEGER AS g, count(*)::INTEGER AS n FROM read_parquet([${files}]) WHERE person_id NOT IN (${all.join(', ')}) AND gender_concept_id IN (8507, 8532) GROUP BY 1 ORDER BY 1`);
    const got = ((scoped.get('aggregate') as { rows: Record<string, unknown>[] }).rows).map((r) => ({ g: Number(r.gender_concept_id), n: Number(r.count) })).sort((a, b) => a.g - b.g);
    expect(got).toEqual(expected);
    expect(all.length).toBeGreaterThan(50);
  });

  it('negative control: opted out of PUBHLTH only, the persons count in HRESCH jobs of every kind', async () => {
    for (const [i, dir] of siteDirs.entries()) writeConsent(dir, optedOut.get(SITES[i]!)!, 'PUBHLTH');
    for (const s of SITES) await consentMesh.agents.get(s)!.reload();
    const total = await personsAt(0);
    expect(await catalogCounts('s1')).toEqual({ HRESCH: coarse(total), PUBHLTH: coarse(total - optedOut.get('s1')!.length) });
    const files = siteDirs.map((d) => `'${join(d, 'person.parquet')}'`).join(', ');
    const full = await rows(`SELECT gender_concept_id::INTEGER AS g, count(*)::INTEGER AS n FROM read_parquet([${files}]) WHERE gender_concept_id IN (8507, 8532) GROUP BY 1 ORDER BY 1`);
    // Another researcher: the differencing guard (mode none) would rightly refuse the researcher who saw the scoped
    // cells a cell that differs from them by the few opted-out persons.
    const alice = new CoordinatorClient({ address: `127.0.0.1:${consentMesh.server.port}`, tls: loadTlsMaterial(consentMesh.tlsDir, 'researcher', 'alice') });
    for (const kind of KINDS) {
      await forgetAll('alice');
      const unscoped = released(await alice.run(SPECS[kind]!));
      if (kind === 'train') expect(sameUpTo(unscoped, reference.get(kind), TRAIN_REL_TOL), kind).toBe(false);
      else expect(unscoped, kind).not.toEqual(reference.get(kind));
      if (kind === 'aggregate') expect(((unscoped as { rows: Record<string, unknown>[] }).rows).map((r) => ({ g: Number(r.gender_concept_id), n: Number(r.count) })).sort((a, b) => a.g - b.g)).toEqual(full);
    }
    alice.close();
    // And a job that states PUBHLTH as its purpose leaves them out again.
    expect(released(await consentMesh.client.run({ ...SPECS.aggregate, purpose: 'PUBHLTH' }))).toEqual(reference.get('aggregate'));
  }, 300_000);
});
