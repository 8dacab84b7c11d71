/**
 * Patient consent scopes the survival kinds on a PostgreSQL agent exactly as on DuckDB: Kaplan–Meier (`survival`,
 * jobs/survival-km → node-agent/analytics/survival.ts, counted on the server) and Cox regression (jobs/survival-cox,
 * the followed persons streamed from the server every round). 300 persons (the lowest person ids) opt out:
 * - of HRESCH, the job's purpose: they are left out — the PostgreSQL answer (vectors and the persons put through the
 *   differencing guard) equals DuckDB's under the same consent records, and equals the answer on a copy of the data
 *   with their rows deleted (KM counts exactly, Cox bit for bit);
 * - of PUBHLTH only: they count — the answer equals the unscoped one.
 * Negative controls (they fail if consent were ignored): the scoped answer differs from the unscoped one by exactly
 * the opted-out persons the kind follows (KM: its at-risk totals; Cox: the first bin's risk set), counted
 * independently from the cohort built on DuckDB.
 * Skips with a message when ../shared/data or the PostgreSQL binaries are absent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { compileKindJob, type AgentKindContext, type AgentKindDef } from '../../common/kinds/index.js';
import { openPostgresSource, sourceProducts, type PostgresSource, type SqlSession } from '../../node-agent/data/source/index.js';
import { listProducts, type ProductInfo } from '../../node-agent/data/products.js';
import type { AgentDatabase } from '../../node-agent/data/database.js';
import { runCohort } from '../../node-agent/cohort/index.js';
import { readCoxData } from '../../node-agent/analytics/cox.js';
import { ConsentScopes } from '../../node-agent/policy/index.js';
import { kmKind } from '../../jobs/survival-km/index.js';
import { kmAgentKind } from '../../jobs/survival-km/agent.js';
import { coxKind } from '../../jobs/survival-cox/kind.js';
import { coxAgentKind } from '../../jobs/survival-cox/agent.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { loadGiBleedBoth } from '../helpers/postgres-gibleed.js';
import { circeJsonDir, gibleedDir } from '../reference/circe-reference.js';

const celecoxibFile = join(circeJsonDir, 'celecoxib.json');
const noData = !existsSync(gibleedDir) || !existsSync(celecoxibFile);
if (noData) console.warn(`[postgres-consent-survival] SKIPPING: GiBleed (${gibleedDir}) or the celecoxib cohort not found (../shared/data is absent)`);
const noPg = skipWithoutPostgres('consent on the survival kinds (Kaplan–Meier, Cox) on the PostgreSQL agent');

const SALT = 'agent-secret-salt';
/** Persons opted out: enough of the lowest ids that many are followed by both kinds. */
const OPTED_OUT = 300;
/** The catalogue (in the DuckDB instance) holding the GiBleed copy without the opted-out persons' rows. */
const REMOVED = 'consent_removed';

/** What one engine answered: the round vectors (hex of their float64 bytes: bit for bit) and the guarded `cell:hash` rows. */
interface Answer {
  vectors: string[];
  guarded: string[];
}

/** Where a step runs: on the site's PostgreSQL (a session) or on the agent's own DuckDB (a connection). */
type Place = { pg: true; session: <T>(fn: (s: SqlSession) => Promise<T>) => Promise<T> } | { pg: false; connection: <T>(fn: (c: DuckDBConnection) => Promise<T>) => Promise<T> };

const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
// Copied out of Buffer's shared pool, whose offsets need not be 8-byte aligned.
const floats = (hex: string): Float64Array => new Float64Array(Uint8Array.from(Buffer.from(hex, 'hex')).buffer);

/** A differencing guard that records each candidate set's `cell:hash` rows instead of checking them. */
function recordingGuard(into: string[]): NonNullable<AgentKindContext['guardReleasedSets']> {
  return async (c, candidates) => {
    for (const r of (await c.runAndReadAll(`SELECT cell, h FROM "${candidates}" ORDER BY cell, h`)).getRowObjectsJS()) into.push(`${String(r.cell)}:${String(r.h)}`);
  };
}

describe.skipIf(noData || noPg)('consent scopes Kaplan–Meier and Cox on PostgreSQL 15 exactly as on DuckDB', () => {
  let pg: PgCluster;
  let source: PostgresSource;
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  let tmp: string;
  let pgPerson: ProductInfo;
  let duckPerson: ProductInfo;
  let cut: number;
  let target: unknown;
  /** Per purpose opted out of: the PostgreSQL and DuckDB places scoped by those records for a HRESCH task. */
  const scoped = new Map<string, { pg: Place; duck: Place }>();
  let pgPlain: Place;
  let duckPlain: Place;
  let duckRemoved: Place;

  beforeAll(async () => {
    target = JSON.parse(readFileSync(celecoxibFile, 'utf8')) as unknown;
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    pg = await startPostgres();
    tmp = mkdtempSync(join(tmpdir(), 'fedmesh-pg-consent-surv-'));
    const tables = await loadGiBleedBoth(conn, pg, tmp);
    source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/gibleed`, password: 'agent-pw', schema: 'cdm', vocabularySchema: 'vocab' });
    const duckProducts = await listProducts(conn);
    const pgProducts = sourceProducts(source.catalogue, () => 'pg');
    for (const p of [...duckProducts, ...pgProducts]) p.privacyUnit = p.columns.some((c) => c.name === 'person_id') ? 'person_id' : undefined;
    pgPerson = pgProducts.find((p) => p.name === 'person')!;
    duckPerson = duckProducts.find((p) => p.name === 'person')!;

    const ids = (await conn.runAndReadAll(`SELECT person_id FROM person ORDER BY person_id LIMIT ${OPTED_OUT}`)).getRowObjectsJS().map((r) => String(r.person_id));
    // The opted-out persons are exactly those with person_id <= cut (the lowest ids), so "removed" is a cut.
    cut = Number(ids.at(-1));

    // The reference with the persons removed: every table with a person_id copied without their rows (a row without
    // a person stays, as the consent scope keeps it), the others as they are; read through `USE` on its own connection.
    const db = String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!.d);
    await conn.run(`ATTACH ':memory:' AS ${REMOVED}`);
    for (const t of tables) {
      const keep = t.columns.includes('person_id') ? ` WHERE person_id IS NULL OR person_id > ${cut}` : '';
      await conn.run(`CREATE TABLE ${REMOVED}.main."${t.name}" AS SELECT * FROM "${db}".main."${t.name}"${keep}`);
    }

    const fresh = async <T>(fn: (c: DuckDBConnection) => Promise<T>, use?: string): Promise<T> => {
      const c = await inst.connect();
      try {
        if (use !== undefined) await c.run(`USE ${use}`);
        return await fn(c);
      } finally {
        c.closeSync();
      }
    };
    const agentDb: AgentDatabase = { instance: inst, path: ':memory:', withConnection: (fn) => fresh(fn), close: () => undefined };
    pgPlain = { pg: true, session: (fn) => source.withSession(fn) };
    duckPlain = { pg: false, connection: (fn) => fresh(fn) };
    duckRemoved = { pg: false, connection: (fn) => fresh(fn, REMOVED) };

    for (const purpose of ['HRESCH', 'PUBHLTH']) {
      const dir = mkdtempSync(join(tmp, `consent-${purpose}-`));
      writeFileSync(join(dir, 'consent.csv'), ['person_id,purpose,decision,start,end', ...ids.map((id) => `${id},${purpose},deny,,`)].join('\n'));
      // One scope per engine: wrapping a source turns the DuckDB hook off for that scope (its data is on the server).
      const onPg = new ConsentScopes(dir, () => undefined);
      const pgSource = onPg.wrapSource(source);
      await onPg.reload(conn, () => pgProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
      const onDuck = new ConsentScopes(dir, () => undefined);
      const duckDb = onDuck.wrap(agentDb);
      await onDuck.reload(conn, () => duckProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
      expect(onPg.records()).toHaveLength(OPTED_OUT);
      expect(onDuck.records()).toHaveLength(OPTED_OUT);
      // Every task runs for the job's purpose, HRESCH: each session or connection it opens is scoped by the hook.
      scoped.set(purpose, {
        pg: { pg: true, session: (fn) => onPg.run('HRESCH', () => pgSource.withSession(fn)) },
        duck: { pg: false, connection: (fn) => onDuck.run('HRESCH', () => duckDb.withConnection(fn)) },
      });
    }
  }, 300_000);

  afterAll(async () => {
    await source?.close();
    await pg?.stop();
    conn?.closeSync();
    inst?.closeSync();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /**
   * Runs one job's rounds at a fresh agent (a new job state and guard memory) on `place`: on PostgreSQL through
   * `onSource` (the agent's own DuckDB is a fresh in-memory ledger), on DuckDB through `localStep` on the data's connection.
   */
  async function runRounds(place: Place, agent: AgentKindDef, job: unknown, inputs: readonly unknown[], jobId: string): Promise<Answer> {
    const guarded: string[] = [];
    const signal = new AbortController().signal;
    const vectors: string[] = [];
    const jobState = new Map<string, unknown>();
    const ctxOf = (local: DuckDBConnection, product: ProductInfo): AgentKindContext => ({ conn: local, jobId, round: 0, product, salt: SALT, policy: { minCellSize: 1 }, jobState, guardReleasedSets: recordingGuard(guarded) });
    if (place.pg) {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      try {
        for (const input of inputs) vectors.push(bits((await place.session((s) => agent.onSource!(ctxOf(ledger, pgPerson), job as never, input, s, signal))).values));
      } finally {
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    } else {
      for (const input of inputs) vectors.push(bits((await place.connection((c) => agent.localStep(ctxOf(c, duckPerson), job as never, input, signal))).values));
    }
    return { vectors, guarded };
  }

  /** The target cohort built on the unscoped DuckDB data, for the independent counts of the controls. */
  async function withTargetCohort<T>(fn: (table: string) => Promise<T>): Promise<T> {
    await runCohort(conn, parseCohortDefinition(target, 'target'), { targetTable: 'consent_surv_target' });
    try {
      return await fn('consent_surv_target');
    } finally {
      await conn.run('DROP TABLE IF EXISTS consent_surv_target');
    }
  }

  /**
   * The same job at every place, and what holds for any kind: DuckDB = PostgreSQL unscoped; opted out of HRESCH (the
   * task's purpose), PostgreSQL = DuckDB = the rows deleted; opted out of PUBHLTH only, both = unscoped. Returns the
   * unscoped and the HRESCH-scoped answers for the kind's own negative control.
   */
  async function consentRuns(run: (place: Place) => Promise<Answer>): Promise<{ everyone: Answer; pgScoped: Answer }> {
    const everyone = await run(pgPlain);
    expect(await run(duckPlain), 'unscoped: DuckDB = PostgreSQL').toEqual(everyone);
    const removed = await run(duckRemoved);
    const hresch = scoped.get('HRESCH')!;
    const pgScoped = await run(hresch.pg);
    expect(await run(hresch.duck), 'HRESCH: DuckDB = PostgreSQL').toEqual(pgScoped);
    expect(pgScoped, 'HRESCH on PostgreSQL = rows deleted').toEqual(removed);
    const pubhlth = scoped.get('PUBHLTH')!;
    expect(await run(pubhlth.pg), 'PUBHLTH on PostgreSQL = unscoped').toEqual(everyone);
    expect(await run(pubhlth.duck), 'PUBHLTH on DuckDB = unscoped').toEqual(everyone);
    return { everyone, pgScoped };
  }

  it('Kaplan–Meier: opted out of HRESCH, the persons leave every count (PostgreSQL = DuckDB = their rows deleted, exactly); opted out of PUBHLTH only, they count', async () => {
    const spec = { kind: 'survival', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 720 }, strata: 'gender', privacy: { mode: 'none' } };
    const job = compileKindJob(kmKind, spec);
    const cells = job.plan.blocks.flatMap((b) => b.cells);
    const run = (place: Place): Promise<Answer> => runRounds(place, kmAgentKind, job, [null], 'km');
    const counts = (a: Answer): Map<string, number> => new Map(Array.from(floats(a.vectors[0]!), (v, i) => [cells[i]!, v]));
    const followed = (a: Answer): number => [...counts(a)].filter(([c]) => c.startsWith('n:')).reduce((s, [, v]) => s + v, 0);

    // Opted out of the job's purpose: left out on the server exactly as on DuckDB and as deleting their rows does —
    // every count, and every person the guard sees.
    const { everyone, pgScoped } = await consentRuns(run);
    // Counts are exact integers.
    for (const v of floats(pgScoped.vectors[0]!)) expect(Number.isInteger(v)).toBe(true);

    // Negative control: consent ignored would give `everyone`. The at-risk totals differ by exactly the opted-out
    // members of the target cohort (each followed person is in one n: cell; no member lacks an observation period
    // here, checked by the totals matching the cohort).
    const [members, optedOutMembers] = await withTargetCohort(async (t) => {
      const r = (await conn.runAndReadAll(`SELECT count(DISTINCT subject_id) AS m, count(DISTINCT subject_id) FILTER (WHERE subject_id <= ${cut}) AS o FROM ${t}`)).getRowObjectsJS()[0]!;
      return [Number(r.m), Number(r.o)];
    });
    expect(followed(everyone)).toBe(members);
    expect(optedOutMembers).toBeGreaterThan(10);
    expect(followed(everyone) - followed(pgScoped)).toBe(optedOutMembers);
    expect(pgScoped.vectors).not.toEqual(everyone.vectors);
    // The guard saw the cohort's persons: as many fewer.
    const cohortRows = (a: Answer): number => a.guarded.filter((g) => g.startsWith('cohort:')).length;
    expect(cohortRows(everyone)).toBe(members);
    expect(cohortRows(everyone) - cohortRows(pgScoped)).toBe(optedOutMembers);
  }, 120_000);

  it('Cox: opted out of HRESCH, the persons leave every round (PostgreSQL = DuckDB = their rows deleted, bit for bit); opted out of PUBHLTH only, they count', async () => {
    const covariates = [
      { name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] },
      { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' },
    ];
    const spec = { kind: 'survival', model: 'cox', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 1800 }, covariates, privacy: { mode: 'none' } };
    const job = compileKindJob(coxKind, spec);
    const plan = job.plan;
    const rounds = [{ phase: 'counts' }, { phase: 'newton', times: plan.times, beta: plan.terms.map(() => 0.01) }, { phase: 'newton', times: plan.times, beta: plan.terms.map((_, j) => (j === 0 ? 0.02 : -0.3)) }];
    const run = (place: Place): Promise<Answer> => runRounds(place, coxAgentKind, job, rounds, 'cox');

    // Bit for bit (the hex of the float64 vectors): the persons are read in person order on every path, so the
    // same persons add in the same order.
    const { everyone, pgScoped } = await consentRuns(run);

    // Negative control: the first bin's risk set (atRisk, stratum 0, bin 0: every followed person) is smaller by
    // exactly the opted-out persons the fit follows, read from the cohort built on the unscoped DuckDB data.
    const ids = await withTargetCohort(async (t) => (await readCoxData(conn, { targetTable: t, outcome: spec.outcome, timeGrid: spec.timeGrid, covariates: covariates as never, withIds: true })).ids!);
    const optedOutFollowed = ids.filter((id) => Number(id) <= cut).length;
    expect(optedOutFollowed).toBeGreaterThan(10);
    const atRisk0 = (a: Answer): number => floats(a.vectors[1]!)[0]!;
    expect(atRisk0(everyone)).toBe(ids.length);
    expect(atRisk0(everyone) - atRisk0(pgScoped)).toBe(optedOutFollowed);
    for (const r of [1, 2]) expect(pgScoped.vectors[r], `round ${r}`).not.toBe(everyone.vectors[r]);
    const followedRows = (a: Answer): number => a.guarded.filter((g) => g.startsWith('followed:')).length;
    expect(followedRows(everyone) - followedRows(pgScoped)).toBe(optedOutFollowed);
  }, 120_000);
});
