/**
 * The Cox kind's server path (onSource, issue 13) with GiBleed in a DuckDB standing in for the site's server: every
 * round streams the persons once, in batches of 100, and gives bit for bit the vectors of the in-memory path
 * (localStep) through a whole fit; between rounds the job's state holds no per-person array (control: the
 * in-memory path's state does); the guard runs once; rows changed on the server between rounds fail the job with
 * FAILED_PRECONDITION naming no value. Skips visibly without ../shared/data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { AgentKindContext, CompiledKindJob, RoundRecord } from '../../common/kinds/index.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { asSession, parseCirce, runCohort } from '../../node-agent/cohort/index.js';
import { readCoxData } from '../../node-agent/analytics/cox.js';
import type { SqlSession } from '../../node-agent/data/source/index.js';
import type { TestDb } from '../../node-agent/cohort/test-omop.js';
import { gibleedAvailable, gibleedCoxSpec, gibleedMemoryDb, gibleedOmopDir } from '../../test/helpers/gibleed-memory.js';
import { coxAgentKind } from './agent.js';
import { coxKind, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';

if (!gibleedAvailable) console.warn(`[survival-cox stream] SKIPPING: ${gibleedOmopDir} not found`);

const MIN_CELL = 5;

/** The source session, cursor batches of 100 rows, counting stream calls and batches. */
function counted(s: SqlSession, n: { streams: number; batches: number }): SqlSession {
  return {
    dialect: s.dialect,
    run: (sql, params) => s.run(sql, params),
    all: (sql, params) => s.all(sql, params),
    stream: async function* (sql, params) {
      n.streams += 1;
      for await (const b of s.stream(sql, params, { batchRows: 100 })) {
        n.batches += 1;
        yield b;
      }
    },
  };
}

/** The longest array (plain or typed) anywhere in a value. */
function longestArray(v: unknown, seen = new Set<unknown>()): number {
  if (v === null || typeof v !== 'object' || seen.has(v)) return 0;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return (v as unknown as ArrayLike<unknown>).length;
  const own = Array.isArray(v) ? v.length : 0;
  const inner = v instanceof Map ? [...v.values()] : Object.values(v);
  return Math.max(own, ...inner.map((x) => longestArray(x, seen)));
}

describe.skipIf(!gibleedAvailable)('survival-cox on a server session: one stream per round, nothing row-level kept', () => {
  let server: TestDb;
  let ledgerDb: DuckDBInstance;
  let ledger: DuckDBConnection;
  const job = compileKindJob(coxKind, gibleedCoxSpec(90, 1800)) as CompiledKindJob<CoxJobSpec, CoxPlan>;
  const signal = new AbortController().signal;
  const ctxOf = (conn: DuckDBConnection, guards: { n: number }): AgentKindContext => ({
    conn,
    jobId: 'cox-stream',
    round: 0,
    product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' },
    salt: 'test-salt',
    policy: { minCellSize: MIN_CELL },
    jobState: new Map(),
    guardReleasedSets: async () => {
      guards.n += 1;
    },
  });

  beforeAll(async () => {
    server = await gibleedMemoryDb();
    ledgerDb = await DuckDBInstance.create(':memory:');
    ledger = await ledgerDb.connect();
  }, 300_000);
  afterAll(() => {
    ledger?.closeSync();
    ledgerDb?.closeSync();
    server?.close();
  });

  it('a whole fit: the same vectors as in memory, one stream of many batches per round, a small job state, one guard', async () => {
    const n = { streams: 0, batches: 0 };
    const guards = { mem: { n: 0 }, src: { n: 0 }, raw: { n: 0 } };
    const mem = ctxOf(server.conn, guards.mem);
    const src = ctxOf(ledger, guards.src);
    // `fedmesh agent --stream-rows`: the task's own DuckDB connection as the source (no session wrapper).
    const raw = ctxOf(server.conn, guards.raw);
    const session = counted(asSession(server.conn), n);
    const history: RoundRecord<CoxRoundInput>[] = [];
    for (let r = 0; r < job.maxRounds; r++) {
      const input = coxKind.nextRound(job, history);
      if (input === undefined) break;
      const before = { ...n };
      const a = await coxAgentKind.localStep(mem, job, input, signal);
      const b = await coxAgentKind.onSource!(src, job, input, session, signal);
      expect(Array.from(b.values), `round ${r}`).toEqual(Array.from(a.values));
      const c = await coxAgentKind.onSource!(raw, job, input, server.conn, signal);
      expect(Array.from(c.values), `round ${r} (raw connection)`).toEqual(Array.from(a.values));
      expect(n.streams - before.streams).toBe(1);
      expect(n.batches - before.batches).toBeGreaterThan(5);
      // Between rounds: a fingerprint and a flag, no array at all; the in-memory path holds one entry per person.
      expect([...src.jobState.keys()].sort()).toEqual(['guarded', 'seen']);
      expect(longestArray(src.jobState)).toBe(0);
      expect(JSON.stringify([...src.jobState]).length).toBeLessThan(300);
      expect(longestArray(mem.jobState)).toBeGreaterThan(500);
      history.push({ round: r, input, answered: ['a'], released: Array.from(b.values), noiseStd: [] });
    }
    expect(history.length).toBeGreaterThan(3);
    expect(history.at(-1)!.input.phase).toBe('newton');
    expect(history.at(-1)!.released.some((v) => v !== 0)).toBe(true);
    expect([guards.mem.n, guards.src.n]).toEqual([1, 1]);
  }, 300_000);

  it('rows changed on the server between rounds: FAILED_PRECONDITION, no value named; unchanged rows pass', async () => {
    const n = { streams: 0, batches: 0 };
    const ctx = ctxOf(ledger, { n: 0 });
    const session = counted(asSession(server.conn), n);
    await coxAgentKind.onSource!(ctx, job, { phase: 'counts' }, session, signal);
    const newton: CoxRoundInput = { phase: 'newton', times: [job.plan.times.at(-1)!], beta: job.plan.terms.map(() => 0) };
    await expect(coxAgentKind.onSource!(ctx, job, newton, session, signal)).resolves.toBeDefined();
    // One followed person's year of birth moves by a year.
    await runCohort(server.conn, parseCirce(job.spec.target), { targetTable: 'cox_followed' });
    const followed = await readCoxData(server.conn, { targetTable: 'cox_followed', outcome: job.spec.outcome, timeGrid: job.spec.timeGrid, covariates: job.spec.covariates, withIds: true });
    const id = followed.ids![0]!;
    expect(Number(id)).toBeGreaterThan(0);
    await server.conn.run(`UPDATE person SET year_of_birth = year_of_birth - 1 WHERE person_id = ${id}`);
    try {
      const err = await coxAgentKind.onSource!(ctx, job, newton, session, signal).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', message: 'the data changed on the server during the job' });
      expect(String((err as Error).message)).not.toContain(id);
    } finally {
      await server.conn.run(`UPDATE person SET year_of_birth = year_of_birth + 1 WHERE person_id = ${id}`);
    }
    // Back as they were: the round passes again.
    await expect(coxAgentKind.onSource!(ctx, job, newton, session, signal)).resolves.toBeDefined();
    expect(n.streams).toBe(4);
  }, 300_000);
});
