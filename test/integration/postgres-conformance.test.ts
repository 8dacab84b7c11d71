/**
 * Conformance (issue 13): Eunomia GiBleed loaded into a real PostgreSQL 15 — CDM in schema `cdm`, vocabulary in
 * schema `vocab`, queried by a read-only role — gives the same answers as the same CSVs in DuckDB, through the same
 * builders: the nine Circe cohorts (counts, attrition and every cohort row), characterisation and survival counts.
 * Skips with a message when ../shared/data or the PostgreSQL binaries are absent.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { characterizeCohort, survivalCounts } from '../../node-agent/analytics/index.js';
import { parseCirce, runCohort } from '../../node-agent/cohort/index.js';
import { duckdbSession, openPostgresSource, type PostgresSource, type SqlSession } from '../../node-agent/data/source/index.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { loadGiBleedBoth } from '../helpers/postgres-gibleed.js';
import { HOSTILE_EXPECTED, rawRoleView, ROLE_VIEW_SQL, setHostileRoleDefaults } from '../helpers/postgres-hostile.js';
import { circeJsonDir, gibleedDir } from '../reference/circe-reference.js';
import { compileKindJob, type AgentKindContext, withholdSmallCells } from '../../common/kinds/index.js';
import { cohortKind } from '../../jobs/cohort/index.js';
import { cohortAgentKind } from '../../jobs/cohort/agent.js';
import { ReleasedCells } from '../../node-agent/disclosure/released-cells.js';
import type { FedmeshError } from '../../common/errors.js';

const noData = !existsSync(gibleedDir) || !existsSync(circeJsonDir);
if (noData) console.warn(`[postgres-conformance] SKIPPING: GiBleed (${gibleedDir}) or the Circe definitions (${circeJsonDir}) not found`);
const noPg = skipWithoutPostgres('GiBleed conformance of the PostgreSQL agent');
const CIRCE = noData ? [] : readdirSync(circeJsonDir).filter((f) => f.endsWith('.json')).sort();

/** Every cohort row, as text, in a stable order: the cohort itself, not only its size. */
async function cohortRows(s: SqlSession, table: string): Promise<string[]> {
  const rows = await s.all(
    `SELECT subject_id, ${s.dialect.cast('cohort_start_date', 'VARCHAR')} AS s, ${s.dialect.cast('cohort_end_date', 'VARCHAR')} AS e FROM ${s.dialect.tempTable(table)} ORDER BY 1, 2, 3`,
  );
  return rows.map((r) => `${String(r['subject_id'])}|${String(r['s'])}|${String(r['e'])}`);
}

describe.skipIf(noData || noPg)('GiBleed on PostgreSQL 15 equals GiBleed on DuckDB', () => {
  let pg: PgCluster;
  let source: PostgresSource;
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  let tmp: string | undefined;

  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    pg = await startPostgres();
    tmp = mkdtempSync(join(tmpdir(), 'fedmesh-conformance-'));
    await loadGiBleedBoth(conn, pg, tmp);
    // Every answer below is computed under a DBA's hostile role defaults: the source's session pinning must hold.
    await setHostileRoleDefaults(pg, 'gibleed', 'agent');
    source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/gibleed`, password: 'agent-pw', schema: 'cdm', vocabularySchema: 'vocab' });
  }, 300_000);
  afterAll(async () => {
    await source?.close();
    await pg?.stop();
    conn?.closeSync();
    inst?.closeSync();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the CDM and vocabulary schemas are found, with every GiBleed person', async () => {
    expect(source.catalogue.get('person')?.schema).toBe('cdm');
    expect(source.catalogue.get('concept')?.schema).toBe('vocab');
    const n = await source.withSession((s) => s.all('SELECT count(*) AS n FROM person'));
    expect(Number(n[0]!['n'])).toBe(2694);
  });

  it("session pinning: the role's own defaults are hostile (negative control: a raw connection sees them), the agent's sessions are not", async () => {
    expect(await rawRoleView(pg, 'gibleed', 'agent', 'agent-pw')).toEqual(HOSTILE_EXPECTED);
    const pinned = await source.withSession((s) => s.all(ROLE_VIEW_SQL));
    expect(pinned).toEqual([{ date: '2024-01-05', double: '0.30000000000000004', md5: createHash('md5').update('x').digest('hex'), zone: 'UTC' }]);
  });

  it('finds the nine Circe definitions', () => {
    expect(CIRCE).toHaveLength(9);
  });

  for (const file of CIRCE) {
    it(`${file}: same counts, attrition and cohort rows`, async () => {
      const ir = parseCirce(JSON.parse(readFileSync(join(circeJsonDir, file), 'utf8')));
      const duck = duckdbSession(conn);
      const d = await runCohort(duck, ir, { targetTable: 'conf' });
      const dRows = await cohortRows(duck, 'conf');
      const { p, pRows } = await source.withSession(async (s) => {
        const r = await runCohort(s, ir, { targetTable: 'conf' });
        return { p: r, pRows: await cohortRows(s, 'conf') };
      });
      console.log(`[postgres-conformance] ${file}: persons ${p.persons}, entries ${p.entries} (DuckDB ${d.persons}, ${d.entries})`);
      expect(d.persons).toBeGreaterThan(0);
      expect(p).toEqual(d);
      expect(pRows).toEqual(dRows);
    }, 120_000);
  }

  it('characterisation (age bands, gender, condition and drug prevalence) is identical', async () => {
    const ir = parseCirce(JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')));
    const opts = { conditionConcepts: [192671, 80180, 4112343], drugConcepts: [1118084, 1124300], windowDays: [-365, 30] as [number, number] };
    const duck = duckdbSession(conn);
    await runCohort(duck, ir, { targetTable: 'ch' });
    const d = await characterizeCohort(duck, 'ch', opts);
    const p = await source.withSession(async (s) => {
      await runCohort(s, ir, { targetTable: 'ch' });
      return characterizeCohort(s, 'ch', opts);
    });
    expect(d.persons).toBeGreaterThan(0n);
    expect(d.conditions.some((c) => c.persons > 0n) && d.drugs.some((c) => c.persons > 0n)).toBe(true);
    expect(p).toEqual(d);
  }, 120_000);

  for (const strata of [undefined, 'gender'] as const) {
    it(`survival counts (GI bleed after celecoxib, 30-day bins${strata ? ', by gender' : ''}) are identical`, async () => {
      const target = parseCirce(JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')));
      const opts = { targetTable: 'sv', outcome: { domain: 'condition' as const, conceptIds: [192671] }, timeGrid: { binDays: 30, maxDays: 1800 }, ...(strata ? { strata } : {}) };
      const duck = duckdbSession(conn);
      await runCohort(duck, target, { targetTable: 'sv' });
      const d = await survivalCounts(duck, opts);
      const p = await source.withSession(async (s) => {
        await runCohort(s, target, { targetTable: 'sv' });
        return survivalCounts(s, opts);
      });
      expect(d.strata[0]!.events.some((e) => e > 0n)).toBe(true);
      expect(p).toEqual(d);
    }, 120_000);
  }

  it('cohort jobs in mode none: the same released cells and the same differencing refusal on both sources', async () => {
    const def = (f: string): unknown => JSON.parse(readFileSync(join(circeJsonDir, f), 'utf8'));
    // celecoxib (1800 persons) then celecoxibCensored (1750): their person sets differ by 50 < k = 100.
    const jobs = ['celecoxib.json', 'celecoxibCensored.json'].map((f) => compileKindJob(cohortKind, { kind: 'cohort', definition: def(f), privacy: { mode: 'none' } }));
    // The agent's step (jobs/cohort) and its task runner's withholding below k, with the guard's memory in `ledger`.
    const outcomes = async (ledger: DuckDBConnection, data: SqlSession | undefined): Promise<string[]> => {
      const cells = await ReleasedCells.open(ledger);
      const out: string[] = [];
      for (const [i, job] of jobs.entries()) {
        const ctx: AgentKindContext = {
          conn: ledger, jobId: `job-${i}`, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 'agent-salt', policy: { minCellSize: 100 }, jobState: new Map(),
          guardReleasedSets: async (c, candidates) => void (await cells.checkAndRecord(c, { researcher: 'r1', jobId: `job-${i}`, candidates, minCellSize: 100, maxRememberedPersons: 1_000_000 })),
        };
        const signal = new AbortController().signal;
        try {
          const v = data ? await cohortAgentKind.onSource!(ctx, job, null, data, signal) : await cohortAgentKind.localStep(ctx, job, null, signal);
          out.push(`ok ${Array.from(withholdSmallCells(cohortKind.layout(job, 0), v, 100).vector.values).join(',')}`);
        } catch (e) {
          out.push(`refused ${(e as FedmeshError).code} ${(e as Error).message}`);
        }
      }
      return out;
    };
    // The PostgreSQL agent's ledger is its own DuckDB; the DuckDB agent's data and ledger share one database.
    const pgLedgerDb = await DuckDBInstance.create(':memory:');
    const pgLedger = await pgLedgerDb.connect();
    try {
      const onDuck = await outcomes(conn, undefined);
      const onPg = await source.withSession((s) => outcomes(pgLedger, s));
      expect(onDuck[0]).toMatch(/^ok 1800,/);
      expect(onDuck[1]).toMatch(/^refused POLICY_DENIED .*differencing guard/);
      expect(onPg).toEqual(onDuck);
    } finally {
      pgLedger.closeSync();
      pgLedgerDb.closeSync();
    }
  }, 180_000);

  it('negative control: a different definition gives a different answer (the comparison can fail)', async () => {
    const a = parseCirce(JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')));
    const b = parseCirce(JSON.parse(readFileSync(join(circeJsonDir, 'celecoxibAge40.json'), 'utf8')));
    const d = await runCohort(duckdbSession(conn), a, { targetTable: 'neg' });
    const p = await source.withSession((s) => runCohort(s, b, { targetTable: 'neg' }));
    expect(p).not.toEqual(d);
  }, 120_000);
});
