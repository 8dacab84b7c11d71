/**
 * Issue 13 with issue 15's linkage bounding: a linkage-bounded task on an agent whose data is on the site's
 * PostgreSQL keeps exactly the persons a DuckDB agent with the same data keeps (node-agent/linkage/linkage-scope.ts
 * `writeSourceLinkageKeep`, the TEMP views of node-agent/policy/consent-source.ts), for each of a three-site job's
 * site positions, and every kind reads the scoped data (here the glm design reader, on the server session).
 *
 * The data: GiBleed's persons in both engines, with a linkage key column on `person`: NULL for some persons (left
 * out), one key shared by two local persons (a duplicate record: only the least local id is kept), and keys that
 * differ from another person's only in letter case, under a case-insensitive, numeric (nondeterministic) collation on
 * the server — `9a…` sorts before `55…` there and `AB…` equals `ab…` — while keys, ids and the keys' hashes compare
 * by their bytes, so those are different persons and every key falls in the bucket DuckDB gives it. Aggregate jobs
 * bound by linkage in their own SQL (node-agent/linkage/linkage-sql.ts): the same on both engines too.
 *
 * Skips with a message when ../shared/data or the PostgreSQL binaries are absent.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDatabase } from '../../node-agent/data/database.js';
import { openPostgresSource, type PostgresSource, type SqlSession } from '../../node-agent/data/source/index.js';
import { ConsentScopes } from '../../node-agent/policy/consent-context.js';
import type { ScopedProduct } from '../../node-agent/policy/consent-scope.js';
import { readGlmDesign } from '../../jobs/glm/design.js';
import { planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../../node-agent/data/products.js';
import { queryGroupStatistics } from '../../node-agent/query/group-statistics.js';
import { parseGlmSpec } from '../../jobs/glm/spec.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { copyDuckDbTablesToPostgres, createReadOnlyRole, loadOmopCsvIntoDuckDb, VOCABULARY_TABLES } from '../helpers/postgres-omop.js';
import { gibleedDir } from '../reference/circe-reference.js';

const noData = !existsSync(gibleedDir);
if (noData) console.warn(`[postgres-linkage] SKIPPING: GiBleed (${gibleedDir}) not found (../shared/data is absent)`);
const noPg = skipWithoutPostgres('linkage bounding on the PostgreSQL agent');

const SITES = ['s1', 's2', 's3'];
const LINKAGE = { sites: SITES, salt: '00112233445566778899aabbccddeeff' };
const OTHER_SALT = { sites: SITES, salt: 'ffeeddccbbaa99887766554433221100' };
/** Keys: NULL when person_id % 17 = 0; otherwise md5 of person_id % 2000 (so ids 2000 apart share a key), upper-cased for ids % 5 = 1 above 2000. */
const KEY_SQL = `CASE WHEN person_id % 17 = 0 THEN NULL WHEN person_id > 2000 AND person_id % 5 = 1 THEN upper(md5('k' || CAST(person_id % 2000 AS VARCHAR))) ELSE md5('k' || CAST(person_id % 2000 AS VARCHAR)) END`;

describe.skipIf(noData || noPg)('linkage bounding on a PostgreSQL agent equals a DuckDB agent', () => {
  let pg: PgCluster;
  let source: PostgresSource;
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  let tmp: string;

  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    const tables = await loadOmopCsvIntoDuckDb((sql) => conn.run(sql), gibleedDir);
    await conn.run('ALTER TABLE person ADD COLUMN link_key VARCHAR');
    await conn.run(`UPDATE person SET link_key = ${KEY_SQL}`);
    const withKey = tables.map((t) => (t.name === 'person' ? { ...t, columns: [...t.columns, 'link_key'] } : t));
    pg = await startPostgres();
    await pg.exec('CREATE DATABASE gibleed');
    tmp = mkdtempSync(join(tmpdir(), 'fedmesh-pg-linkage-'));
    await copyDuckDbTablesToPostgres((sql) => conn.run(sql), withKey, pg, 'gibleed', (t) => (VOCABULARY_TABLES.includes(t) ? 'vocab' : 'cdm'), tmp);
    await pg.exec(`CREATE COLLATION IF NOT EXISTS fedmesh_ci_kn (provider = icu, locale = 'und-u-kn-ks-level2', deterministic = false)`, 'gibleed');
    await pg.exec('ALTER TABLE cdm.person ALTER COLUMN link_key TYPE text COLLATE fedmesh_ci_kn', 'gibleed');
    await createReadOnlyRole(pg, 'gibleed', 'agent', 'agent-pw', ['cdm', 'vocab']);
    source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/gibleed`, password: 'agent-pw', schema: 'cdm', vocabularySchema: 'vocab' });
  }, 300_000);
  afterAll(async () => {
    await source?.close();
    await pg?.stop();
    conn?.closeSync();
    inst?.closeSync();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const products = (site: string): ScopedProduct[] => [
    { name: 'person', privacyUnit: 'person_id', linkage: { column: 'link_key', site } },
    { name: 'condition_occurrence', privacyUnit: 'person_id' },
  ];

  /** What a task of a linkage-bounded job reads at `site` (the persons it sees, their conditions, a glm design's n) on one engine. */
  async function scoped(onPg: boolean, site: string, linkage: unknown): Promise<{ persons: string[]; conditions: number; glmN: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-linkage-scopes-'));
    try {
      const scopes = new ConsentScopes(dir, () => undefined);
      await scopes.reload(conn, () => products(site));
      const spec = parseGlmSpec({ kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], privacy: { mode: 'none' } });
      const product = { name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'gender_concept_id', type: 'BIGINT' }, { name: 'year_of_birth', type: 'INTEGER' }], privacyUnit: 'person_id' };
      const read = async (db: DuckDBConnection | SqlSession, all: (sql: string) => Promise<Record<string, unknown>[]>) => {
        const persons = (await all('SELECT CAST(person_id AS VARCHAR) AS p FROM person')).map((r) => String(r['p'])).sort();
        const conditions = Number((await all('SELECT count(*) AS n FROM condition_occurrence'))[0]!['n']);
        const glmN = (await readGlmDesign(db, spec, product, { salt: 's', minCellSize: 1, scratch: 'lk', skipDisclosure: true })).design.n;
        return { persons, conditions, glmN };
      };
      if (onPg) {
        const wrapped = scopes.wrapSource(source);
        return await scopes.run('HRESCH', () => wrapped.withSession((s) => read(s as SqlSession, (sql) => (s as SqlSession).all(sql))), linkage);
      }
      const agentDb = { instance: inst, path: ':memory:', withConnection: async <T>(f: (c: DuckDBConnection) => Promise<T>) => { const c = await inst.connect(); try { return await f(c); } finally { c.closeSync(); } }, close: () => undefined } as unknown as AgentDatabase;
      return await scopes.run('HRESCH', () => scopes.wrap(agentDb).withConnection((c) => read(c, async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[])), linkage);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('each site position keeps the same persons on both engines; together they keep every keyed person once', async () => {
    const all = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM person')).getRowObjectsJS()[0]!.n);
    // Persons with a key, one per distinct key (byte-wise): what the three sites keep between them.
    const linkable = Number((await conn.runAndReadAll('SELECT count(DISTINCT link_key) AS n FROM person')).getRowObjectsJS()[0]!.n);
    const kept: string[] = [];
    for (const site of SITES) {
      const d = await scoped(false, site, LINKAGE);
      const p = await scoped(true, site, LINKAGE);
      expect(p.persons, site).toEqual(d.persons);
      expect(p.conditions, site).toBe(d.conditions);
      expect(p.glmN, site).toBe(d.glmN);
      expect(d.glmN, site).toBe(d.persons.length);
      expect(d.persons.length, site).toBeGreaterThan(linkable / 6);
      kept.push(...p.persons);
    }
    expect(new Set(kept).size).toBe(kept.length);
    expect(kept.length).toBe(linkable);
    expect(linkable).toBeLessThan(all);
  }, 180_000);

  it('aggregate jobs bound by linkage in their own SQL: the same bounded counts per gender at each site position on both engines', async () => {
    const job = (linkage: unknown): AggregateJob => parseJobSpec({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 1, linkage } }) as AggregateJob;
    const counts = async (onPg: boolean, site: string, linkage: unknown): Promise<string> => {
      const product: ProductInfo = { name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'gender_concept_id', type: 'BIGINT' }, { name: 'link_key', type: 'VARCHAR' }], privacyUnit: 'person_id', linkage: { column: 'link_key', site }, description: '', source: '' };
      const j = job(linkage);
      const privacy = planAggregatePrivacy(j, () => 'VARCHAR');
      const stats = onPg ? await source.withSession((s) => queryGroupStatistics(s, j, product, privacy, 'agent-salt')) : await queryGroupStatistics(conn, j, product, privacy, 'agent-salt');
      return JSON.stringify(stats.groups.map((g, i) => [stats.cells[i]!.label, String(g.count)]));
    };
    const seen = new Set<string>();
    for (const site of SITES) {
      const d = await counts(false, site, LINKAGE);
      expect(await counts(true, site, LINKAGE), site).toBe(d);
      seen.add(d);
    }
    // The three sites count different persons, and another salt designates others (the comparison can fail).
    expect(seen.size).toBe(3);
    expect(await counts(true, 's1', OTHER_SALT)).not.toBe(await counts(true, 's1', LINKAGE));
  }, 180_000);

  it('controls: without linkage a PostgreSQL task sees every person; another salt designates other persons; case-variant keys stay distinct', async () => {
    const all = (await conn.runAndReadAll('SELECT CAST(person_id AS VARCHAR) AS p FROM person')).getRowObjectsJS().map((r) => String(r.p)).sort();
    const unbounded = await scoped(true, 's1', undefined);
    expect(unbounded.persons).toEqual(all);
    const a = await scoped(true, 's1', LINKAGE);
    const b = await scoped(true, 's1', OTHER_SALT);
    expect(b.persons).not.toEqual(a.persons);
    // The server's collation equates 'ab…' and 'AB…'; the scope does not: it keeps as many keys as DuckDB counts.
    const admin = await pg.admin('gibleed');
    const ci = await admin.query('SELECT count(DISTINCT link_key) AS n FROM cdm.person').then((r) => Number(r.rows[0].n), async (e: unknown) => { await admin.end(); throw e; });
    await admin.end();
    const bytes = Number((await conn.runAndReadAll('SELECT count(DISTINCT link_key) AS n FROM person')).getRowObjectsJS()[0]!.n);
    expect(ci).toBeLessThan(bytes);
  }, 180_000);
});
