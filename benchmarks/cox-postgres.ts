/**
 * Issue 13: the time of a whole Cox fit (GI bleed after celecoxib ~ age group + gender, 90-day bins, mode none) at
 * one agent over Eunomia GiBleed, on PostgreSQL 15 (the kind's onSource step, as the task runner calls it) and on
 * the agent's own DuckDB (localStep), the coordinator's round rule in between. Run by hand, e.g. before and after a
 * change of the server path:
 *
 *   npx tsx benchmarks/cox-postgres.ts [fits]
 *
 * Prints one JSON line: rounds per fit and the milliseconds of each fit on each engine (fits interleaved).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import type { AgentKindContext, CompiledKindJob, RoundRecord } from '../common/kinds/index.js';
import { compileKindJob } from '../common/kinds/index.js';
import { openPostgresSource, type SqlSession } from '../node-agent/data/source/index.js';
import { coxAgentKind } from '../jobs/survival-cox/agent.js';
import { coxKind, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from '../jobs/survival-cox/kind.js';
import { gibleedCoxSpec, gibleedOmopDir } from '../test/helpers/gibleed-memory.js';
import { startPostgres } from './postgres-cluster.js';
import { copyDuckDbTablesToPostgres, createReadOnlyRole, loadOmopCsvIntoDuckDb, VOCABULARY_TABLES } from './postgres-omop.js';

const fits = Number(process.argv[2] ?? 5);
const job = compileKindJob(coxKind, gibleedCoxSpec(90, 1800)) as CompiledKindJob<CoxJobSpec, CoxPlan>;

const inst = await DuckDBInstance.create(':memory:');
const conn = await inst.connect();
const tables = await loadOmopCsvIntoDuckDb((sql) => conn.run(sql), gibleedOmopDir);
const pg = await startPostgres();
const tmp = mkdtempSync(join(tmpdir(), 'fedmesh-cox-bench-'));
try {
  await pg.exec('CREATE DATABASE gibleed');
  await copyDuckDbTablesToPostgres((sql) => conn.run(sql), tables, pg, 'gibleed', (t) => (VOCABULARY_TABLES.includes(t) ? 'vocab' : 'cdm'), tmp);
  await createReadOnlyRole(pg, 'gibleed', 'agent', 'agent-pw', ['cdm', 'vocab']);
  const source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/gibleed`, password: 'agent-pw', schema: 'cdm', vocabularySchema: 'vocab' });
  const ledgerDb = await DuckDBInstance.create(':memory:');
  const ledger = await ledgerDb.connect();
  const signal = new AbortController().signal;
  /** One whole fit; the number of rounds. */
  const fit = async (onPg: boolean, id: number): Promise<number> => {
    const ctx: AgentKindContext = {
      conn: onPg ? ledger : conn, jobId: `bench${id}`, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' },
      salt: 'bench-salt', policy: { minCellSize: 5 }, jobState: new Map(), guardReleasedSets: async () => undefined,
    };
    const history: RoundRecord<CoxRoundInput>[] = [];
    for (let r = 0; r < job.maxRounds; r++) {
      const input = coxKind.nextRound(job, history);
      if (input === undefined) break;
      // As the task runner: a session only for a round that reads the server.
      const needs = coxAgentKind.needsSource?.(job, ctx.jobState) ?? true;
      const v = onPg && needs ? await source.withSession((s) => coxAgentKind.onSource!(ctx, job, input, s as SqlSession, signal)) : await coxAgentKind.localStep(ctx, job, input, signal);
      history.push({ round: r, input, answered: ['a'], released: Array.from(v.values), noiseStd: [] });
    }
    return history.length;
  };
  const ms: Record<'postgres' | 'duckdb', number[]> = { postgres: [], duckdb: [] };
  let rounds = 0;
  await fit(true, -1);
  await fit(false, -2);
  for (let i = 0; i < fits; i++) {
    for (const engine of ['postgres', 'duckdb'] as const) {
      const t0 = performance.now();
      rounds = await fit(engine === 'postgres', i);
      ms[engine].push(Math.round(performance.now() - t0));
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(JSON.stringify({ rounds, medianMs: { postgres: median(ms.postgres), duckdb: median(ms.duckdb) }, ms }));
  ledger.closeSync();
  ledgerDb.closeSync();
  await source.close();
} finally {
  await pg.stop();
  conn.closeSync();
  inst.closeSync();
  rmSync(tmp, { recursive: true, force: true });
}
