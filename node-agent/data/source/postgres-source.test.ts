/**
 * The PostgreSQL data source against a real, throw-away PostgreSQL (test/helpers/postgres.ts; skipped with a
 * message when the server binaries are absent): every bad start names its problem, reads are read-only and
 * streamed through a cursor, and a connection lost mid-task fails that task and the next one reconnects.
 */
import pgDriver from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../../common/errors.js';
import { omopTableAnyVersion } from '../omop/cdm-spec.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../../../test/helpers/postgres.js';
import { createReadOnlyRole, createTableSql } from '../../../test/helpers/postgres-omop.js';
import { openPostgresSource, parseDatabaseUrl, type PostgresSourceOptions } from './index.js';
import { checkPinnedSettings } from './session-settings.js';

type pgClient = pgDriver.Client;
const pgClientCtor = pgDriver.Client;
const noPg = skipWithoutPostgres('PostgreSQL data source tests');
const DB = 'hospital';
const PASSWORD = 'reader-pw-7f3a';

/** Every column of the spec in both CDM versions, as a conformant CDM DDL would have. */
const cols = (t: string): string[] => omopTableAnyVersion(t)!.columns.filter((c) => c.onlyIn === undefined).map((c) => c.name);

async function rejection(p: Promise<unknown>): Promise<FedmeshError> {
  try {
    await p;
  } catch (e) {
    return e as FedmeshError;
  }
  throw new Error('expected a rejection');
}

describe('parseDatabaseUrl', () => {
  it('takes user, host, port and database', () => {
    expect(parseDatabaseUrl('postgres://agent@db.example:6543/cdm', {})).toEqual({ host: 'db.example', port: 6543, user: 'agent', database: 'cdm', ssl: { mode: 'disable' } });
    expect(parseDatabaseUrl('postgresql://agent@db/cdm').port).toBe(5432);
  });
  it('refuses a password in the URL without echoing it, and other schemes or parts missing', () => {
    const e = (() => {
      try {
        parseDatabaseUrl('postgres://agent:hunter2@db/cdm');
      } catch (x) {
        return x as FedmeshError;
      }
      throw new Error('accepted');
    })();
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe('database');
    expect(e.message).toMatch(/must not contain a password/);
    expect(e.message).not.toContain('hunter2');
    expect(() => parseDatabaseUrl('mysql://a@b/c')).toThrow(/scheme/);
    expect(() => parseDatabaseUrl('postgres://db/cdm')).toThrow(/user, host and database/);
    expect(() => parseDatabaseUrl('not a url')).toThrow(/not a URL/);
  });
});

describe.skipIf(noPg)('PostgreSQL data source on PostgreSQL 15', () => {
  let pg: PgCluster;
  const opts = (over: Partial<PostgresSourceOptions> = {}): PostgresSourceOptions => ({
    url: `postgres://reader@127.0.0.1:${pg.port}/${DB}`,
    password: PASSWORD,
    schema: 'cdm',
    connectTimeoutMs: 5000,
    ...over,
  });

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.exec(`CREATE DATABASE ${DB}`);
    const ddl = ['cdm', 'broken', 'nocols'].map((s) => `CREATE SCHEMA ${s}`);
    for (const t of ['person', 'observation_period', 'condition_occurrence']) ddl.push(createTableSql('cdm', t, cols(t)));
    // broken: no observation_period; nocols: person without year_of_birth.
    ddl.push(createTableSql('broken', 'person', cols('person')));
    ddl.push(createTableSql('nocols', 'person', cols('person').filter((c) => c !== 'year_of_birth')));
    ddl.push(createTableSql('nocols', 'observation_period', cols('observation_period')));
    ddl.push(`INSERT INTO cdm.person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id)
              SELECT g, 8507, 1950 + g % 40, 0, 0 FROM generate_series(1, 25) g`);
    await pg.exec(ddl.join(';\n'), DB);
    await createReadOnlyRole(pg, DB, 'reader', PASSWORD, ['cdm', 'broken', 'nocols']);
    await pg.exec(`CREATE ROLE writer LOGIN PASSWORD '${PASSWORD}'; GRANT USAGE ON SCHEMA cdm TO writer; GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA cdm TO writer`, DB);
    // Read-only on the CDM but able to write elsewhere in the database: a results table, a schema to create in, the
    // database itself (red team 22 audit: only the CDM's schemas were checked).
    for (const [role, grant] of [
      ['outside', 'CREATE SCHEMA results; CREATE TABLE results.cohort (id int); GRANT USAGE ON SCHEMA results TO outside; GRANT UPDATE ON results.cohort TO outside'],
      ['creator', 'CREATE SCHEMA scratch; GRANT USAGE, CREATE ON SCHEMA scratch TO creator'],
      ['dbcreator', `GRANT CREATE ON DATABASE ${DB} TO dbcreator`],
      // A column-level grant: has_table_privilege says no, the role can still update that column.
      ['colwriter', 'GRANT UPDATE (year_of_birth) ON cdm.person TO colwriter'],
      // No TEMP privilege: every task would fail staging its working tables.
      ['notemp', `REVOKE TEMPORARY ON DATABASE ${DB} FROM PUBLIC; GRANT TEMPORARY ON DATABASE ${DB} TO reader, writer, outside, creator, dbcreator, colwriter`],
    ] as const) {
      await createReadOnlyRole(pg, DB, role, PASSWORD, ['cdm']);
      await pg.exec(grant, DB);
    }
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('starts with a read-only role and finds the OMOP tables and their columns', async () => {
    const src = await openPostgresSource(opts());
    try {
      expect([...src.catalogue.keys()].sort()).toEqual(['condition_occurrence', 'observation_period', 'person']);
      expect(src.catalogue.get('person')!.columns).toContain('year_of_birth');
      const rows = await src.withSession((s) => s.all('SELECT count(*) AS n, sum(person_id) AS s FROM person WHERE year_of_birth >= $1', [1960]));
      // count is int8 → bigint; sum(bigint) is numeric in PostgreSQL → bigint when integral.
      expect(typeof rows[0]!['n']).toBe('bigint');
      expect(typeof rows[0]!['s']).toBe('bigint');
    } finally {
      await src.close();
    }
  });

  const bad: [string, () => Partial<PostgresSourceOptions>, RegExp, string][] = [
    ['an unreachable server', () => ({ url: `postgres://reader@127.0.0.1:1/${DB}` }), /cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/, 'database'],
    ['a wrong password', () => ({ password: 'wrong-password-xyz' }), /password authentication failed for role reader/, 'database'],
    ['no password at all', () => ({ password: undefined }), /asks role reader for a password and none was given|password authentication failed/, 'database'],
    ['a missing database', () => ({ url: `postgres://reader@127.0.0.1:${pg.port}/nodb` }), /database nodb does not exist/, 'database'],
    ['a missing schema', () => ({ schema: 'nope' }), /schema nope does not exist/, 'schema'],
    ['a missing vocabulary schema', () => ({ vocabularySchema: 'vocab' }), /schema vocab does not exist/, 'vocabularySchema'],
    ['a missing table', () => ({ schema: 'broken' }), /OMOP tables missing from broken: observation_period/, 'schema'],
    ['a missing column', () => ({ schema: 'nocols' }), /person lacks year_of_birth/, 'schema'],
    ['a role that can write', () => ({ url: `postgres://writer@127.0.0.1:${pg.port}/${DB}` }), /role writer can write to the CDM \(INSERT on cdm\./, 'database'],
    ['a role that can write outside the CDM', () => ({ url: `postgres://outside@127.0.0.1:${pg.port}/${DB}` }), /role outside can write to this database \(UPDATE on results\.cohort\)/, 'database'],
    ['a role that can create in another schema', () => ({ url: `postgres://creator@127.0.0.1:${pg.port}/${DB}` }), /role creator can CREATE in schema scratch/, 'database'],
    ['a role that can update one column', () => ({ url: `postgres://colwriter@127.0.0.1:${pg.port}/${DB}` }), /role colwriter can write to the CDM \(UPDATE on cdm\.person\)/, 'database'],
    ['a role that can create schemas', () => ({ url: `postgres://dbcreator@127.0.0.1:${pg.port}/${DB}` }), /role dbcreator can CREATE schemas in this database/, 'database'],
    ['a role that cannot create TEMP tables', () => ({ url: `postgres://notemp@127.0.0.1:${pg.port}/${DB}` }), /role notemp cannot create TEMP tables in this database/, 'database'],
    ['a superuser', () => ({ url: `postgres://${pg.adminUser}@127.0.0.1:${pg.port}/${DB}`, password: pg.adminPassword }), /is a superuser/, 'database'],
  ];
  for (const [what, over, message, field] of bad) {
    it(`refuses ${what} at start, naming it`, async () => {
      const e = await rejection(openPostgresSource(opts(over())));
      expect(e).toBeInstanceOf(FedmeshError);
      expect(e.code).toBe('FAILED_PRECONDITION');
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain(PASSWORD);
      expect(e.message).not.toContain('wrong-password-xyz');
    });
  }

  it('the pinning check refuses a connection whose startup options were dropped (as by a pooler), naming the setting', async () => {
    const raw = await pg.admin(DB);
    try {
      const e = await rejection(checkPinnedSettings(raw, ['cdm']));
      expect(e.code).toBe('FAILED_PRECONDITION');
      expect(e.message).toMatch(/session setting DateStyle is "ISO, MDY", not the pinned "ISO, YMD"/);
      // Control: the same check passes on a pinned session of the source.
      const src = await openPostgresSource(opts());
      await src.close();
    } finally {
      await raw.end();
    }
  });

  it('refuses a bad schema name before connecting', async () => {
    const e = await rejection(openPostgresSource(opts({ schema: 'cdm; DROP TABLE person' })));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe('schema');
  });

  it('reads run in a READ ONLY transaction; TEMP working tables still work through run()', async () => {
    const src = await openPostgresSource(opts());
    try {
      await src.withSession(async (s) => {
        const e = await rejection(s.all('CREATE TEMP TABLE sneaky AS SELECT 1 AS a'));
        expect((e.cause as Error).message).toMatch(/read-only transaction/);
        for (const st of s.dialect.createTempTableAs('work', 'SELECT person_id FROM person')) await s.run(st);
        expect(Number((await s.all(`SELECT count(*) AS n FROM ${s.dialect.tempTable('work')}`))[0]!['n'])).toBe(25);
      });
      // The temp table went with the session (DISCARD TEMP before the connection is reused).
      const left = await src.withSession((s) => s.all(`SELECT count(*) AS n FROM pg_class WHERE relname = 'work' AND relpersistence = 't'`));
      expect(Number(left[0]!['n'])).toBe(0);
    } finally {
      await src.close();
    }
  });

  it('streams a large result through a cursor in batches, and stops early cleanly', async () => {
    const src = await openPostgresSource(opts());
    try {
      await src.withSession(async (s) => {
        const sizes: number[] = [];
        for await (const b of s.stream('SELECT person_id FROM person ORDER BY person_id', [], { batchRows: 10 })) sizes.push(b.length);
        expect(sizes).toEqual([10, 10, 5]);
        // Break after the first batch: the transaction and the cursor are closed, the session stays usable.
        for await (const b of s.stream('SELECT person_id FROM person WHERE person_id > $1', [0], { batchRows: 4 })) {
          expect(b).toHaveLength(4);
          break;
        }
        expect((await s.all('SELECT 1 AS one'))[0]!['one']).toBe(1);
      });
    } finally {
      await src.close();
    }
  });

  it('snapshot(): the reads of one step (all and a cursor) see one REPEATABLE READ snapshot while the database is written; outside it each read sees the new rows', async () => {
    const src = await openPostgresSource(opts());
    const count = (rows: Record<string, unknown>[]): number => Number(rows[0]!['n']);
    try {
      await src.withSession(async (s) => {
        const seen = await s.snapshot!(async () => {
          const before = count(await s.all('SELECT count(*) AS n, current_setting($1) AS iso FROM person GROUP BY 2', ['transaction_isolation']));
          const iso = String((await s.all('SELECT current_setting($1) AS iso', ['transaction_isolation']))[0]!['iso']);
          await pg.exec('INSERT INTO cdm.person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id) VALUES (1001, 8532, 1990, 0, 0)', DB);
          let streamed = 0;
          for await (const b of s.stream('SELECT person_id FROM person', [], { batchRows: 7 })) streamed += b.length;
          const after = count(await s.all('SELECT count(*) AS n FROM person'));
          return { before, iso, streamed, after };
        });
        expect(seen).toEqual({ before: 25, iso: 'repeatable read', streamed: 25, after: 25 });
        // Control: outside the snapshot the next read sees the row written meanwhile.
        expect(count(await s.all('SELECT count(*) AS n FROM person'))).toBe(26);
        // And the session is usable for ordinary reads and cursors afterwards.
        let n = 0;
        for await (const b of s.stream('SELECT person_id FROM person', [], { batchRows: 10 })) n += b.length;
        expect(n).toBe(26);
      });
    } finally {
      await pg.exec('DELETE FROM cdm.person WHERE person_id = 1001', DB);
      await src.close();
    }
  });

  it('a connection lost mid-task fails that task (retryable, with a message) and the next task reconnects', async () => {
    const src = await openPostgresSource(opts({ poolSize: 1 }));
    const admin = await pg.admin(DB);
    try {
      const e = await rejection(
        src.withSession(async (s) => {
          const pid = (await s.all('SELECT pg_backend_pid() AS pid'))[0]!['pid'];
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          await s.all('SELECT count(*) FROM person');
        }),
      );
      expect(e.code).toBe('AGENT_UNAVAILABLE');
      expect(e.retryable).toBe(true);
      expect(e.message).toMatch(/connection was lost during the task; the agent reconnects/);
      const after = await src.withSession((s) => s.all('SELECT count(*) AS n FROM person'));
      expect(Number(after[0]!['n'])).toBe(25);
    } finally {
      await admin.end();
      await src.close();
    }
  });

  it("a cancelled task's running statement is cancelled on the server, and the session's connection serves the next task", async () => {
    const src = await openPostgresSource(opts({ poolSize: 1 }));
    const admin = await pg.admin(DB);
    const ac = new AbortController();
    try {
      const started = Date.now();
      const running = rejection(src.withSession((s) => s.all('SELECT pg_sleep(60) AS slept'), { signal: ac.signal }));
      // Abort once the server shows the statement running (an event, not a fixed sleep).
      for (let i = 0; i < 500; i++) {
        const r = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(60)%'");
        if ((r.rows[0] as { n: number }).n > 0) break;
        await new Promise((res) => setImmediate(res));
      }
      ac.abort();
      const e = await running;
      expect(e.code).toBe('ROUND_TIMEOUT');
      expect(e.message).toMatch(/cancelled/);
      expect(Date.now() - started).toBeLessThan(30_000);
      const left = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(60)%'");
      expect((left.rows[0] as { n: number }).n).toBe(0);
      expect(Number((await src.withSession((s) => s.all('SELECT count(*) AS n FROM person')))[0]!['n'])).toBe(25);
      // An already-cancelled task does not start.
      expect((await rejection(src.withSession((s) => s.all('SELECT 1'), { signal: ac.signal }))).name).toBe('AbortError');
    } finally {
      await admin.end();
      await src.close();
    }
  }, 60_000);

  /** Waits (on the server's own view, no fixed sleep) until backend `pid` is inside pg_sleep. */
  async function untilSleeping(admin: pgClient, pid: number): Promise<void> {
    for (let i = 0; i < 2000; i++) {
      const r = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND wait_event = 'PgSleep'", [pid]);
      if ((r.rows[0] as { n: number }).n > 0) return;
      await new Promise((res) => setImmediate(res));
    }
    throw new Error(`backend ${pid} never reached pg_sleep`);
  }

  it('late cancel: a task cancelled inside a cursor (transaction open, TEMP table made, a SET) returns its pooled connection clean; the next task on it sees nothing of it', async () => {
    const src = await openPostgresSource(opts({ poolSize: 1 }));
    const admin = await pg.admin(DB);
    const ac = new AbortController();
    try {
      let pid = 0;
      const running = rejection(
        src.withSession(async (s) => {
          pid = Number((await s.all('SELECT pg_backend_pid() AS pid'))[0]!['pid']);
          for (const st of s.dialect.createTempTableAs('left_behind', 'SELECT person_id FROM person')) await s.run(st);
          await s.run('SET extra_float_digits = 0');
          // A slow statement the test causes: every row of the cursor sleeps.
          for await (const rows of s.stream('SELECT person_id, pg_sleep(30) AS z FROM person', [], { batchRows: 5 })) expect(rows).toHaveLength(0);
        }, { signal: ac.signal }),
      );
      while (pid === 0) await new Promise((res) => setImmediate(res));
      await untilSleeping(admin, pid);
      ac.abort();
      const e = await running;
      expect(['ROUND_TIMEOUT', 'CANCELLED']).toContain(e.code);
      // Back in the pool: idle, outside any transaction (not "idle in transaction"), the statement gone.
      const state = (await admin.query('SELECT state, backend_xid FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0] as { state: string; backend_xid: unknown };
      expect(state).toEqual({ state: 'idle', backend_xid: null });
      const next = await src.withSession((s) =>
        s.all(`SELECT pg_backend_pid() AS pid, to_regclass('left_behind') IS NULL AS gone, (SELECT count(*) FROM pg_cursors) AS cursors, current_setting('extra_float_digits') AS efd, current_setting('DateStyle') AS ds`),
      );
      expect(next).toEqual([{ pid, gone: true, cursors: 0n, efd: '3', ds: 'ISO, YMD' }]);
    } finally {
      await admin.end();
      await src.close();
    }
  }, 60_000);

  it('negative control: the same cancel on a plain connection without the reset leaves its TEMP table and SET for whoever uses it next', async () => {
    const raw = new pgClientCtor({ host: '127.0.0.1', port: pg.port, user: 'reader', password: PASSWORD, database: DB });
    await raw.connect();
    const admin = await pg.admin(DB);
    try {
      const pid = Number((await raw.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      await raw.query('CREATE TEMP TABLE left_behind AS SELECT person_id FROM cdm.person');
      await raw.query('SET extra_float_digits = 0');
      await raw.query('BEGIN READ ONLY');
      await raw.query('DECLARE c NO SCROLL CURSOR FOR SELECT person_id, pg_sleep(30) FROM cdm.person');
      const fetching = raw.query('FETCH FORWARD 5 FROM c').then(() => 'done', (x: Error) => x.message);
      await untilSleeping(admin, pid);
      await admin.query('SELECT pg_cancel_backend($1)', [pid]);
      expect(await fetching).toMatch(/canceling statement/);
      await expect(raw.query('SELECT 1')).rejects.toThrow(/current transaction is aborted/);
      await raw.query('ROLLBACK');
      const r = (await raw.query(`SELECT to_regclass('left_behind') IS NULL AS gone, current_setting('extra_float_digits') AS efd`)).rows[0];
      expect(r).toEqual({ gone: false, efd: '0' });
    } finally {
      await admin.end();
      await raw.end();
    }
  }, 60_000);

  it('an abort just after the last statement finished cannot cancel the next task on the same connection', async () => {
    const src = await openPostgresSource(opts({ poolSize: 1 }));
    try {
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController();
        await src.withSession(async (s) => {
          await s.all('SELECT 1 AS one');
          ac.abort(); // the cancel is sent while the backend is idle, and waited for before the connection is reused
          await expect(s.all('SELECT 2 AS two')).rejects.toMatchObject({ code: 'CANCELLED' });
        }, { signal: ac.signal });
        const r = await src.withSession((s) => s.all('SELECT 3 AS three FROM (SELECT pg_sleep(0.05)) AS z'));
        expect(r).toEqual([{ three: 3 }]);
      }
    } finally {
      await src.close();
    }
  }, 60_000);
});
