import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { createOmopDb, insertFixture, type Row, type TestDb } from '../cohort/test-omop.js';
import { ConsentScopes } from '../policy/consent-context.js';
import type { ScopedProduct } from '../policy/consent-scope.js';
import type { AgentDatabase } from '../data/database.js';
import type { ProductInfo } from '../data/products.js';
import { NULL_KEY_PERSONS, PERSONS, SALT, SITES, sitesOf } from './test-sites.js';

/**
 * Test fixture (tests only): the three-site mesh of test-sites.ts (persons at 1, 2 or 3 sites under different local
 * ids, one linkage key each) as OMOP sites with a flat `study` product, so every job kind can run its own local step
 * on it. The linkage key is declared on `person` only: the other products are scoped through it (same population).
 */
export { PERSONS, SITES, sitesOf };
/** Rows each person has in `study` at each site they attend (more than any k the tests use). */
export const STUDY_ROWS = 3;
const SHARED_SECRET = 'test-only secret the sites share and the coordinator never holds';
const linkKey = (p: number): string => createHmac('sha256', SHARED_SECRET).update(`national-id-${p}`).digest('hex');
/** The local person id of person `p` at site `s`: only the linkage key says two ids are the same person. */
export const localId = (s: number, p: number): number => 1000 * (s + 1) + p;
const pad = (n: number): string => String(n).padStart(2, '0');

const UNIT = 'person_id';
const columns = (names: [string, string][]): ProductInfo['columns'] => names.map(([name, type]) => ({ name, type }));

/** The products of site `s` as its catalogue states them (person declares the linkage key). */
export function siteProducts(s: number, linkageKey = true): ProductInfo[] {
  const info = (name: string, cols: [string, string][], unit: string | undefined, linkage = false): ProductInfo => ({
    name, columns: columns(cols), privacyUnit: unit, ...(linkage ? { linkage: { column: 'link_key', site: SITES[s]! } } : {}), description: '', source: '',
  });
  return [
    info('person', [['person_id', 'BIGINT'], ['gender_concept_id', 'BIGINT'], ['year_of_birth', 'INTEGER'], ['race_concept_id', 'BIGINT'], ['ethnicity_concept_id', 'BIGINT'], ['link_key', 'VARCHAR']], UNIT, linkageKey),
    info('observation_period', [], UNIT),
    info('condition_occurrence', [], UNIT),
    info('death', [], UNIT),
    info('study', [['person_id', 'BIGINT'], ['x1', 'DOUBLE'], ['x2', 'DOUBLE'], ['sex', 'VARCHAR'], ['y', 'INTEGER'], ['split', 'VARCHAR']], UNIT),
    info('concept', [], undefined),
    info('concept_ancestor', [], undefined),
  ];
}

/** One site's OMOP database with every person in `persons` who attends it (and site-a's persons without a key). */
export async function openOmopSite(s: number, without?: number): Promise<TestDb> {
  const db = await createOmopDb();
  await db.conn.run('CREATE TABLE study (person_id BIGINT, x1 DOUBLE, x2 DOUBLE, sex VARCHAR, y INTEGER, split VARCHAR)');
  const persons: Row[] = [];
  const periods: Row[] = [];
  const conditions: Row[] = [];
  const deaths: Row[] = [];
  const study: string[] = [];
  const ids = [...Array.from({ length: PERSONS }, (_, i) => i + 1).filter((p) => sitesOf(p).includes(s)), ...(s === 0 ? NULL_KEY_PERSONS : [])].filter((p) => p !== without);
  for (const p of ids) {
    const id = localId(s, p);
    persons.push([id, p % 2 === 0 ? 8507 : 8532, 1940 + (p % 40), 0, 0]);
    periods.push([id, id, '2000-01-01', '2020-12-31']);
    conditions.push([10 * id, id, 100, `2010-01-${pad(1 + (p % 27))}`, null, null, 0], [10 * id + 1, id, 100, '2012-06-01', null, null, 0]);
    if (p % 4 === 0) deaths.push([id, `2014-0${1 + (p % 9)}-15`, 0]);
    for (let r = 0; r < STUDY_ROWS; r++) study.push(`(${id}, ${((p * 7 + r) % 10) / 5 - 1}, ${((p + r) % 5) / 5}, '${p % 3 === 0 ? 'F' : 'M'}', ${p % 2}, '${r === 0 ? 'test' : 'train'}')`);
  }
  await insertFixture(db.conn, {
    person: persons, observation_period: periods, condition_occurrence: conditions, death: deaths,
    concept: [[100, 'c100', null]], concept_ancestor: [[100, 100]],
  });
  // Keys after the rows (insertFixture writes the OMOP columns only); NULL for the persons without one.
  await db.conn.run('ALTER TABLE person ADD COLUMN link_key VARCHAR');
  const keyed = ids.filter((p) => !NULL_KEY_PERSONS.includes(p));
  if (keyed.length > 0) await db.conn.run(`UPDATE person SET link_key = k.key FROM (VALUES ${keyed.map((p) => `(${localId(s, p)}, '${linkKey(p)}')`).join(', ')}) AS k(id, key) WHERE person.person_id = k.id`);
  if (study.length > 0) await db.conn.run(`INSERT INTO study VALUES ${study.join(', ')}`);
  return db;
}

/** The filled-in linkage of a job over the three sites (as the coordinator's admission writes it). */
export const LINKAGE = { sites: [...SITES], salt: SALT };

/**
 * Runs `fn` on a connection of site `s`'s database as a task of a job would get it from the agent: through the
 * agent's consent scopes (ConsentScopes.wrap, no consent records), with the job's linkage when given — the hook
 * every kind inherits — or on the stored tables without linkage (the negative control).
 */
export async function withTaskConnection<T>(db: TestDb, s: number, linkage: unknown, fn: (conn: DuckDBConnection) => Promise<T>, products = siteProducts(s)): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-linkage-'));
  try {
    const scopes = new ConsentScopes(dir, () => undefined);
    const agentDb: AgentDatabase = {
      instance: db.instance,
      path: ':memory:',
      withConnection: async (f) => {
        const c = await db.instance.connect();
        try {
          return await f(c);
        } finally {
          c.closeSync();
        }
      },
      close: () => undefined,
    };
    const scoped: ScopedProduct[] = products.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit, linkage: p.linkage }));
    await agentDb.withConnection((c) => scopes.reload(c, () => scoped));
    return await scopes.run('HRESCH', () => scopes.wrap(agentDb).withConnection(fn), linkage);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
