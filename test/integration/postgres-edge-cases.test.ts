/**
 * Red team 17's findings on the PostgreSQL agent, each on a small table in a throw-away PostgreSQL 15 cluster (and
 * DuckDB where the two engines must agree). Each fails with its fix reverted:
 * - glm mode none: a value held only by rows whose privacy unit is NULL passed the numeric-cell rule as 0 persons
 *   (count(DISTINCT u) skips NULL). Counting each such row as a person closed that but left the row out of every
 *   guarded person set (a differencing pair gave its values away); now a row without a unit is a missing value,
 *   dropped and counted in nDropped, in every mode (both engines), and the agent's scope leaves it out before any
 *   kind reads (DuckDB always; PostgreSQL unless the server declares the unit NOT NULL).
 * - TEMP tables are named through pg_temp: a CDM table called like one (owned by the agent's role, or not) is
 *   neither dropped nor in the way.
 * - consent opt-outs compare the unit by its bytes: under a case-insensitive column collation, opting out `p1`
 *   leaves `P1` in, as on DuckDB.
 * - a NUMERIC or DOUBLE privacy unit is the server's own text on every path of a PostgreSQL agent: consent opt-outs
 *   name it `7` (red team 18 found `7.0` there after a first fix), and contingency pushes it down instead of staging
 *   it in DuckDB as `7.0`, so one person hashes alike in every kind's guard sets.
 * - a NUMERIC value beyond the double range is a dropped row in glm, not a failed task.
 * - (red team 28) a partitioned table with a foreign partition: its declared NOT NULL is not enforced for what a read
 *   returns (postgres_fdw to the same server), so the consent scope filters NULL units there.
 * Skips with a message without the PostgreSQL binaries.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { readGlmDesign } from '../../jobs/glm/design.js';
import { parseGlmSpec } from '../../jobs/glm/spec.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import { ENFORCED_NOT_NULL_SQL } from '../../node-agent/data/source/cdm-check.js';
import { pinnedStartupOptions } from '../../node-agent/data/source/session-settings.js';
import { applySourceConsentScope } from '../../node-agent/policy/consent-source.js';
import type { PatientConsent } from '../../node-agent/policy/consent.js';
import { postgresDialect } from '../../node-agent/sql/index.js';
import { contingencySourceQuery } from '../../node-agent/jobs/contingency-source.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';

const noPg = skipWithoutPostgres('PostgreSQL agent edge cases (red team 17)');

/** A session over one client (the data source's own pool and checks are not what is tested here). */
function sessionOf(c: pg.Client): SqlSession {
  const args = (p: readonly unknown[] | undefined): unknown[] => (p ?? []).map((v) => (typeof v === 'bigint' ? v.toString() : v));
  return {
    dialect: postgresDialect,
    run: async (sql, p) => {
      await c.query(sql, args(p));
    },
    all: async (sql, p) => (await c.query(sql, args(p))).rows as Record<string, unknown>[],
    async *stream(sql, p) {
      yield (await c.query(sql, args(p))).rows as Record<string, unknown>[];
    },
  };
}

const deny = (person: string): PatientConsent => ({ person, recordedAtMs: 0, source: 'test', root: { type: 'deny', purposes: [], provisions: [] } as unknown as PatientConsent['root'] });

describe.skipIf(noPg)('PostgreSQL agent edge cases (red team 17)', () => {
  let cluster: PgCluster;
  let seq = 0;
  beforeAll(async () => {
    cluster = await startPostgres();
    await cluster.exec("CREATE COLLATION fedmesh_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)");
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A fresh schema `cdm_N` with `setup` run in it, and a session as the superuser with it on the search path. */
  async function withSchema<T>(setup: string, fn: (s: SqlSession, c: pg.Client, schema: string) => Promise<T>): Promise<T> {
    const schema = `cdm_${++seq}`;
    await cluster.exec(`CREATE SCHEMA ${schema}; SET search_path = ${schema}; ${setup}`);
    const c = new pg.Client({ connectionString: cluster.url(), options: pinnedStartupOptions([schema]) });
    await c.connect();
    try {
      return await fn(sessionOf(c), c, schema);
    } finally {
      await c.end();
    }
  }
  async function withDuck<T>(setup: string, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      for (const st of setup.split(';').map((x) => x.trim()).filter(Boolean)) await conn.run(st);
      return await fn(conn);
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  }

  it('glm in mode none drops a NULL-unit row as a missing value (never read, counted in nDropped) on both engines; controls: the same row with a unit is refused alone, accepted with 5 persons', async () => {
    const product = { name: 't', columns: [{ name: 'pid', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }, { name: 'y', type: 'DOUBLE' }], privacyUnit: 'pid' };
    const job = parseGlmSpec({ kind: 'glm', product: 't', family: 'gaussian', outcome: 'y', covariates: [{ column: 'x', type: 'numeric', bounds: [0, 1] }], privacy: { mode: 'none' } });
    const opts = { salt: 's', minCellSize: 5, scratch: 'edge', numericCells: true };
    const rows = (tail: string): string => `CREATE TABLE t (pid BIGINT, x DOUBLE PRECISION, y DOUBLE PRECISION); INSERT INTO t SELECT g, 0, g % 7 FROM generate_series(1, 20) g; INSERT INTO t VALUES ${tail}`;
    const outcome = async (read: () => Promise<{ design: { n: number; y: Float64Array }; nDropped: number }>): Promise<string> =>
      read().then((r) => `accepted n=${r.design.n} dropped=${r.nDropped} sumY=${r.design.y.reduce((a, v) => a + v, 0)}`, (e: unknown) => (e instanceof FedmeshError ? e.code : String(e)));
    // 20 persons with x = 0 and y = g % 7 (sum 63). The NULL-unit row (x = 1, y = 42) is left out: the design is the
    // 20 persons' alone, so no job can tell it is there from the statistics (it was a cell of its own before, and
    // once counted as a person it passed the size rules while no guarded set held it).
    const cases = [
      ['(NULL, 1, 42)', 'accepted n=20 dropped=1 sumY=63'],
      // Controls: the same value held by one person with a unit is refused by the numeric-cell rule (the rule is live)…
      ['(21, 1, 42)', 'POLICY_DENIED'],
      // … and by 5 persons it passes, read in full.
      ['(21, 1, 1), (22, 1, 2), (23, 1, 3), (24, 1, 4), (25, 1, 5)', 'accepted n=25 dropped=0 sumY=78'],
    ] as const;
    for (const [tail, want] of cases) {
      expect(await withSchema(rows(tail), (s) => outcome(() => readGlmDesign(s, job, product, opts))), `postgres ${tail}`).toBe(want);
      const duck = rows(tail).replace(/DOUBLE PRECISION/g, 'DOUBLE').replace('generate_series(1, 20) g', 'generate_series(1, 20) AS s(g)');
      expect(await withDuck(duck, (conn) => outcome(() => readGlmDesign(conn, job, product, opts))), `duckdb ${tail}`).toBe(want);
    }
  });

  it('the scope leaves NULL-unit rows out on PostgreSQL: a view over a NULL-able unit with nobody opted out; a unit declared NOT NULL is read as stored (control)', async () => {
    const setup = 'CREATE TABLE t (pid BIGINT, v INT); INSERT INTO t VALUES (1, 10), (2, 20), (NULL, 99); CREATE TABLE s (pid BIGINT NOT NULL, v INT); INSERT INTO s VALUES (1, 10)';
    const seen = await withSchema(setup, async (s, _c, schema) => {
      await applySourceConsentScope(s, { consents: [], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 't', privacyUnit: 'pid', schema }, { name: 's', privacyUnit: 'pid', schema, unitNotNull: true }] });
      const views = (await s.all("SELECT table_name AS v FROM information_schema.views WHERE table_schema LIKE 'pg_temp%' ORDER BY 1")).map((r) => String(r['v']));
      return { views, t: (await s.all('SELECT sum(v)::int AS v, count(*)::int AS n FROM t'))[0] };
    });
    expect(seen).toEqual({ views: ['t'], t: { v: 30, n: 2 } });
    // With an opt-out the NOT NULL table gets its view too, and the NULL-unit row stays out of the NULL-able one.
    const opted = await withSchema(setup, async (s, _c, schema) => {
      await applySourceConsentScope(s, { consents: [deny('1')], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 't', privacyUnit: 'pid', schema }, { name: 's', privacyUnit: 'pid', schema, unitNotNull: true }] });
      return [(await s.all('SELECT count(*)::int AS n FROM s'))[0], (await s.all('SELECT sum(v)::int AS v FROM t'))[0]];
    });
    expect(opted).toEqual([{ n: 0 }, { v: 20 }]);
  });

  it('a unit counts as NOT NULL only where the server enforces it for every row a read returns: not on a parent with an inheritance child that dropped it (red team 27); a plain NOT NULL table and a partitioned one do (controls)', async () => {
    const setup = `CREATE TABLE m (pid BIGINT NOT NULL, v INT); CREATE TABLE m_2025 () INHERITS (m); ALTER TABLE m_2025 ALTER COLUMN pid DROP NOT NULL;
      INSERT INTO m VALUES (1, 10); INSERT INTO m_2025 VALUES (NULL, 99);
      CREATE TABLE plain (pid BIGINT NOT NULL); CREATE TABLE part (pid BIGINT NOT NULL, y INT) PARTITION BY RANGE (y); CREATE TABLE part_a PARTITION OF part FOR VALUES FROM (0) TO (10)`;
    const nn = await withSchema(setup, async (s, _c, schema) =>
      Object.fromEntries((await s.all(`SELECT c.relname AS t, ${ENFORCED_NOT_NULL_SQL} AS nn FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'pid' WHERE n.nspname = '${schema}' AND c.relname IN ('m', 'plain', 'part')`)).map((r) => [String(r['t']), r['nn']])),
    );
    expect(nn).toEqual({ m: false, plain: true, part: true });
    // And the consent scope built from it leaves the child's NULL-unit row out of a read of the parent.
    const read = await withSchema(setup, async (s, _c, schema) => {
      await applySourceConsentScope(s, { consents: [], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 'm', privacyUnit: 'pid', schema, unitNotNull: nn['m'] === true }] });
      return (await s.all('SELECT count(*)::int AS n, sum(v)::int AS v FROM m'))[0];
    });
    expect(read).toEqual({ n: 1, v: 10 });
  });

  it('a partitioned table with a foreign partition (postgres_fdw) is not NOT NULL-enforced even though its parent declares it, so the consent scope leaves the remote NULL-unit row out (red team 28, tested at last); control: the same table with a local partition only', async () => {
    // The foreign partition reads a remote table (here the same server, through postgres_fdw) whose unit may be NULL:
    // the server checks no constraint of a foreign table, so the parent's NOT NULL does not hold for what a read returns.
    const remote = `remote_${++seq}`;
    await cluster.exec(`CREATE EXTENSION IF NOT EXISTS postgres_fdw;
      CREATE TABLE public.${remote} (pid BIGINT, y INT, v INT); INSERT INTO public.${remote} VALUES (NULL, 15, 99), (2, 12, 5);
      DROP SERVER IF EXISTS loop CASCADE;
      CREATE SERVER loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${cluster.port}', dbname 'postgres');
      CREATE USER MAPPING FOR CURRENT_USER SERVER loop OPTIONS (user '${cluster.adminUser}', password '${cluster.adminPassword}')`);
    const setup = `CREATE TABLE fp (pid BIGINT NOT NULL, y INT, v INT) PARTITION BY RANGE (y);
      CREATE TABLE fp_local PARTITION OF fp FOR VALUES FROM (0) TO (10);
      CREATE FOREIGN TABLE fp_remote PARTITION OF fp FOR VALUES FROM (10) TO (20) SERVER loop OPTIONS (schema_name 'public', table_name '${remote}');
      INSERT INTO fp VALUES (1, 5, 10);
      CREATE TABLE lp (pid BIGINT NOT NULL, y INT) PARTITION BY RANGE (y); CREATE TABLE lp_a PARTITION OF lp FOR VALUES FROM (0) TO (10)`;
    const got = await withSchema(setup, async (s, _c, schema) => {
      const nn = Object.fromEntries((await s.all(`SELECT c.relname AS t, ${ENFORCED_NOT_NULL_SQL} AS nn FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'pid' WHERE n.nspname = '${schema}' AND c.relname IN ('fp', 'lp')`)).map((r) => [String(r['t']), r['nn']]));
      // A read of the parent returns the remote row whose unit is NULL: the declared NOT NULL does not hold.
      const raw = (await s.all('SELECT count(*)::int AS n, count(pid)::int AS with_unit FROM fp'))[0];
      await applySourceConsentScope(s, { consents: [], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 'fp', privacyUnit: 'pid', schema, unitNotNull: nn['fp'] === true }] });
      const scoped = (await s.all('SELECT count(*)::int AS n, sum(v)::int AS v FROM fp'))[0];
      return { nn, raw, scoped };
    });
    expect(got.raw).toEqual({ n: 3, with_unit: 2 });
    expect(got.nn).toEqual({ fp: false, lp: true });
    expect(got.scoped).toEqual({ n: 2, v: 15 });
  });

  it('TEMP tables go through pg_temp: CDM tables named like the consent and linkage tables are neither dropped nor in the way', async () => {
    const setup = `CREATE TABLE t (pid BIGINT); INSERT INTO t VALUES (1), (2);
      CREATE TABLE _fedmesh_consent_optout (note TEXT); INSERT INTO _fedmesh_consent_optout VALUES ('hospital data');
      CREATE TABLE _fedmesh_linkage_keep (note TEXT)`;
    await withSchema(setup, async (s, _c, schema) => {
      await applySourceConsentScope(s, { consents: [deny('1')], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 't', privacyUnit: 'pid', schema }] });
      expect((await s.all('SELECT pid FROM t ORDER BY pid')).map((r) => String(r['pid']))).toEqual(['2']);
      for (const stmt of postgresDialect.createTempTableAs('_fedmesh_linkage_keep', 'SELECT 1 AS x')) await s.run(stmt);
      expect((await s.all(`SELECT note FROM ${schema}._fedmesh_consent_optout`)).map((r) => r['note'])).toEqual(['hospital data']);
      expect((await s.all(`SELECT count(*)::int AS n FROM ${schema}._fedmesh_linkage_keep`))[0]!['n']).toBe(0);
    });
  });

  it('consent opt-outs compare the unit by its bytes under a case-insensitive column collation (P1 stays when p1 opts out, as on DuckDB)', async () => {
    const setup = "CREATE TABLE t (pid TEXT COLLATE fedmesh_ci); INSERT INTO t VALUES ('p1'), ('P1'), ('p2')";
    const seen = await withSchema(setup.replace('COLLATE fedmesh_ci', 'COLLATE public.fedmesh_ci'), async (s, _c, schema) => {
      await applySourceConsentScope(s, { consents: [deny('p1')], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 't', privacyUnit: 'pid', schema }] });
      return (await s.all('SELECT pid FROM t ORDER BY pid COLLATE "C"')).map((r) => String(r['pid']));
    });
    expect(seen).toEqual(['P1', 'p2']);
  });

  it('a NUMERIC or DOUBLE privacy unit on PostgreSQL: opting out 7 removes person 7 (the server\'s text of the unit, as consent records name it); control: BIGINT', async () => {
    for (const type of ['BIGINT', 'NUMERIC', 'NUMERIC(20,0)', 'DOUBLE PRECISION']) {
      const seen = await withSchema(`CREATE TABLE t (pid ${type}); INSERT INTO t VALUES (6), (7), (8)`, async (s, _c, schema) => {
        await applySourceConsentScope(s, { consents: [deny('7')], purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 't', privacyUnit: 'pid', schema }] });
        return (await s.all('SELECT pid FROM t ORDER BY pid')).map((r) => String(r['pid']));
      });
      expect(seen, type).toEqual(['6', '8']);
    }
  });

  it('contingency pushes a DOUBLE unit down (the server\'s text, as the other kinds hash it), rather than staging it as 7.0', () => {
    const product = { name: 't', columns: [{ name: 'pid', type: 'DOUBLE' }, { name: 'a', type: 'VARCHAR' }, { name: 'b', type: 'VARCHAR' }], privacyUnit: 'pid' };
    const q = contingencySourceQuery({ rowColumn: 'a', colColumn: 'b', rowLevels: ['x'], colLevels: ['y'], where: [] } as unknown as Parameters<typeof contingencySourceQuery>[0], product);
    expect(q?.person).toEqual({ name: 'pid', type: 'DOUBLE' });
  });

  it('glm: a NUMERIC value beyond the double range is a dropped row, not a failed task', async () => {
    const product = { name: 't', columns: [{ name: 'pid', type: 'BIGINT' }, { name: 'x', type: 'DOUBLE' }, { name: 'y', type: 'DOUBLE' }], privacyUnit: 'pid' };
    const job = parseGlmSpec({ kind: 'glm', product: 't', family: 'gaussian', outcome: 'y', covariates: [{ column: 'x', type: 'numeric', bounds: [0, 1] }], privacy: { mode: 'none' } });
    const setup = "CREATE TABLE t (pid BIGINT, x NUMERIC, y NUMERIC); INSERT INTO t SELECT g, g % 2, g FROM generate_series(1, 20) g; INSERT INTO t VALUES (21, 1e400, 1), (22, 'NaN', 1)";
    const r = await withSchema(setup, (s) => readGlmDesign(s, job, product, { salt: 's', minCellSize: 1, scratch: 'edge' }));
    expect(r.design.n).toBe(20);
    expect(r.nDropped).toBe(2);
  });
});
