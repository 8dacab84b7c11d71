/**
 * Issue 13, conformance of the agent's task path: GiBleed in PostgreSQL 15 (schemas cdm and vocab, read-only role)
 * and the same CSVs in DuckDB give the same answer — the exact bytes an agent sends — for aggregate and contingency
 * tasks, through `runOldKindTask` (the agent's own plain-task entry), in mode none with small-cell withholding
 * (k = 100, so cells are withheld) and under central-dp with contribution bounding (k rows per person: the bounded
 * statistics sent to the coordinator). And consent: the agent's consent scope on the PostgreSQL source leaves out the
 * persons who opted out of the task's purpose exactly as the DuckDB scope does (control: opted out of another purpose,
 * everybody counts). Skips with a message when ../shared/data or the PostgreSQL binaries are absent.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerRng } from '../../common/crypto-rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { parseJobSpec, planAggregatePrivacy } from '../../common/job/index.js';
import type { AggregateJob, CellJob, JobSpec } from '../../common/job/index.js';
import { secureCells, secureGroupStatistics } from '../../node-agent/secure/secure-guard.js';
import { openPostgresSource, sourceProducts, type PostgresSource, type SqlSession } from '../../node-agent/data/source/index.js';
import { listProducts, type ProductInfo } from '../../node-agent/data/products.js';
import { ReleasedCells } from '../../node-agent/disclosure/released-cells.js';
import { ReleasedConcepts } from '../../node-agent/disclosure/released-concepts.js';
import { runOldKindTask, type OldKindTaskDeps } from '../../node-agent/jobs/old-kind-task.js';
import { withStagedProduct } from '../../node-agent/jobs/aggregate-source.js';
import { withStagedRead } from '../../node-agent/jobs/staged-read.js';
import { runCohort } from '../../node-agent/cohort/index.js';
import { parseCohortDefinition } from '../../common/cohort/index.js';
import { compileKindJob, type AgentKindContext, withholdSmallCells, WITHHELD } from '../../common/kinds/index.js';
import { contingencyKind } from '../../jobs/contingency/index.js';
import { cohortKind } from '../../jobs/cohort/index.js';
import { cohortAgentKind } from '../../jobs/cohort/agent.js';
import { contingencyAgentKind } from '../../jobs/contingency/agent.js';
import { sourceQuery } from '../../jobs/contingency/agent-source.js';
import { compileAgentPolicy } from '../../node-agent/policy.js';
import { ConsentScopes } from '../../node-agent/policy/index.js';
import { applyConsentScope } from '../../node-agent/policy/consent-scope.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { loadGiBleedBoth } from '../helpers/postgres-gibleed.js';
import { HOSTILE_EXPECTED, rawRoleView, setHostileRoleDefaults } from '../helpers/postgres-hostile.js';
import { circeJsonDir, gibleedDir } from '../reference/circe-reference.js';
import { coxKind } from '../../jobs/survival-cox/kind.js';
import { coxAgentKind } from '../../jobs/survival-cox/agent.js';
import { readCoxData } from '../../node-agent/analytics/cox.js';
import { glmKind } from '../../jobs/glm/index.js';
import { glmAgentKind } from '../../jobs/glm/agent.js';
import { trainKind } from '../../jobs/train/index.js';
import { trainAgentKind } from '../../jobs/train/agent.js';
import { withTrainRows, type readTrainData } from '../../jobs/train/data.js';
import { trainStreamOf } from '../../jobs/train/stream.js';
import type { FedmeshError } from '../../common/errors.js';

const noData = !existsSync(gibleedDir);
if (noData) console.warn(`[postgres-jobs] SKIPPING: GiBleed (${gibleedDir}) not found (../shared/data is absent)`);
const noPg = skipWithoutPostgres('aggregate, contingency and consent on the PostgreSQL agent');

const SALT = 'agent-secret-salt';

/** `s` with a cursor of 100 rows, counting the batches read in `counter.n` (the rows cross in many batches). */
function smallBatches(s: SqlSession, counter: { n: number }): SqlSession {
  return {
    dialect: s.dialect,
    run: (sql, params) => s.run(sql, params),
    all: (sql, params) => s.all(sql, params),
    stream: async function* (sql, params) {
      for await (const b of s.stream(sql, params, { batchRows: 100 })) {
        counter.n += 1;
        yield b;
      }
    },
  };
}

/** A differencing guard that records each candidate set's `cell:hash` rows in `into` instead of checking them. */
function recordingGuard(into: string[]): NonNullable<AgentKindContext['guardReleasedSets']> {
  return async (c, candidates) => {
    for (const r of (await c.runAndReadAll(`SELECT cell, h FROM "${candidates}" ORDER BY h, cell`)).getRowObjectsJS()) into.push(`${String(r.cell)}:${String(r.h)}`);
  };
}

/** The session's own TEMP tables and views on the server (pg_my_temp_schema: not in current_schemas, so not in visibleTablesSql). */
async function serverTempTables(s: SqlSession): Promise<string[]> {
  return (await s.all('SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()')).map((r) => String(r['relname']));
}

describe.skipIf(noData || noPg)('aggregate, contingency and consent: the same answer on PostgreSQL 15 and DuckDB', () => {
  let pg: PgCluster;
  let source: PostgresSource;
  let inst: DuckDBInstance;
  let conn: DuckDBConnection;
  let tmp: string;
  let duckProducts: ProductInfo[];
  let pgProducts: ProductInfo[];

  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    pg = await startPostgres();
    tmp = mkdtempSync(join(tmpdir(), 'fedmesh-pg-jobs-'));
    await loadGiBleedBoth(conn, pg, tmp);
    // A site's text columns sort in its locale, not by bytes as DuckDB does: in ICU en-US 'f' < 'F' < 'M', in bytes
    // 'F' < 'M' < 'f'. Every test below runs with the person's source values collated so.
    await pg.exec(`ALTER TABLE cdm.person ALTER COLUMN gender_source_value TYPE varchar COLLATE "en-US-x-icu"`, 'gibleed');
    // A DBA's hostile role defaults (day-first dates, 15-digit doubles, a shadowed md5): pinned sessions ignore them.
    await setHostileRoleDefaults(pg, 'gibleed', 'agent');
    source = await openPostgresSource({ url: `postgres://agent@127.0.0.1:${pg.port}/gibleed`, password: 'agent-pw', schema: 'cdm', vocabularySchema: 'vocab' });
    duckProducts = await listProducts(conn);
    pgProducts = sourceProducts(source.catalogue, () => 'pg');
    for (const p of [...duckProducts, ...pgProducts]) p.privacyUnit = p.columns.some((c) => c.name === 'person_id') ? 'person_id' : undefined;
  }, 300_000);
  afterAll(async () => {
    await source?.close();
    await pg?.stop();
    conn?.closeSync();
    inst?.closeSync();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** One engine's answer to `spec`: the Arrow bytes and meta an agent would send (a new researcher each time, so no earlier release is remembered). */
  async function answer(spec: unknown, onPg: boolean, opts: { minCellSize?: number; salt?: string; withData?: OldKindTaskDeps['withDataSession'] } = {}): Promise<string> {
    const job = parseJobSpec(spec) as JobSpec;
    const ledgerDb = await DuckDBInstance.create(':memory:');
    const ledger = await ledgerDb.connect();
    // The DuckDB agent's data and differencing memory share its database; the PostgreSQL agent's memory is its own.
    const local = onPg ? ledger : conn;
    try {
      const deps: OldKindTaskDeps = {
        products: onPg ? pgProducts : duckProducts,
        policy: compileAgentPolicy({ minCellSize: opts.minCellSize ?? 100, allowModes: ['none', 'central-dp'] }),
        rng: createServerRng(),
        salt: opts.salt ?? SALT,
        cells: await ReleasedCells.open(local),
        concepts: new ReleasedConcepts(),
        charge: async () => undefined,
        once: (_j, _r, f) => f(),
        withTaskConnection: (fn) => fn(local),
        ...(onPg ? { withDataSession: opts.withData ?? ((fn) => source.withSession(fn)) } : {}),
      };
      const task: AgentTask = { taskId: 't1', jobId: 'j1', kind: job.kind, specJson: JSON.stringify(spec), deadlineMs: Date.now() + 60_000, round: 0, researcher: `r-${randomUUID()}`, payload: new Uint8Array() };
      const r = await runOldKindTask(task, job, deps);
      return `${Buffer.from(r.arrow).toString('base64')} ${JSON.stringify(r.meta)}`;
    } finally {
      ledger.closeSync();
      ledgerDb.closeSync();
    }
  }

  // The five most frequent drugs (public keys), filled in before the test runs.
  const DRUGS_BOUNDED = {
    kind: 'aggregate',
    product: 'drug_exposure',
    groupBy: ['drug_concept_id'],
    groupKeys: { drug_concept_id: [] as number[] },
    measures: [{ fn: 'count' }, { fn: 'sum', column: 'days_supply', bounds: [0, 365] }, { fn: 'mean', column: 'quantity', bounds: [0, 100] }],
    privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 2 },
  };

  it("control: the agent role's own defaults are hostile, so the answers below hold under them", async () => {
    expect(await rawRoleView(pg, 'gibleed', 'agent', 'agent-pw')).toEqual(HOSTILE_EXPECTED);
  });

  async function topDrugs(): Promise<void> {
    const top = (await conn.runAndReadAll('SELECT drug_concept_id AS c FROM drug_exposure GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5')).getRowObjectsJS();
    DRUGS_BOUNDED.groupKeys.drug_concept_id = top.map((r) => Number(r.c));
  }

  it('aggregate under central-dp, bounded to 2 rows per person: the same bounded statistics on both engines', async () => {
    await topDrugs();
    expect(DRUGS_BOUNDED.groupKeys.drug_concept_id).toHaveLength(5);
    const d = await answer(DRUGS_BOUNDED, false);
    const p = await answer(DRUGS_BOUNDED, true);
    expect(JSON.parse(d.split(' ')[1]!)).toMatchObject({ contributionBounded: true, maxRowsPerPerson: 2 });
    expect(p).toEqual(d);
    // Controls: bounding changes the answer (so the comparison is about the bounded rows), and so does the salt
    // (which rows of a person are kept is the keyed hash's choice, the same on both engines).
    const unbounded = await answer({ ...DRUGS_BOUNDED, privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 100 } }, true);
    expect(unbounded).not.toEqual(p);
    expect(await answer(DRUGS_BOUNDED, true, { salt: 'another-salt' })).not.toEqual(p);
    expect(await answer(DRUGS_BOUNDED, false, { salt: 'another-salt' })).toEqual(await answer(DRUGS_BOUNDED, true, { salt: 'another-salt' }));
  }, 180_000);

  it('aggregate in mode none with data-derived groups and k = 100: the same groups released and withheld', async () => {
    const spec = { kind: 'aggregate', product: 'condition_occurrence', where: [{ column: 'condition_start_date', op: '>=', value: '1990-01-01' }], groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
    const d = await answer(spec, false);
    const meta = JSON.parse(d.split(' ')[1]!) as { groups: number; withheldGroups: number };
    expect(meta.groups).toBeGreaterThan(0);
    expect(meta.withheldGroups).toBeGreaterThan(0);
    expect(await answer(spec, true)).toEqual(d);
  }, 120_000);

  /** A session that counts the rows the agent reads from the server (all and stream), for the pushdown checks. */
  function counting(seen: { rows: number; streamed: number; statements: string[] }): OldKindTaskDeps['withDataSession'] {
    return (fn) =>
      source.withSession((s) =>
        fn({
          dialect: s.dialect,
          run: (sql, p) => (seen.statements.push(sql), s.run(sql, p)),
          all: async (sql, p) => {
            seen.statements.push(sql);
            const rows = await s.all(sql, p);
            seen.rows += rows.length;
            return rows;
          },
          async *stream(sql, p, o) {
            seen.statements.push(sql);
            for await (const b of s.stream(sql, p, o)) {
              seen.streamed += b.length;
              yield b;
            }
          },
        }),
      );
  }

  it('pushdown: an aggregate over 67 000 drug exposures reads only its group rows from PostgreSQL (central-dp: 5 rows; mode none: the groups, plus the released cells’ persons for the differencing guard)', async () => {
    await topDrugs();
    const dp: { rows: number; streamed: number; statements: string[] } = { rows: 0, streamed: 0, statements: [] };
    const d = await answer(DRUGS_BOUNDED, false);
    expect(await answer(DRUGS_BOUNDED, true, { withData: counting(dp) })).toEqual(d);
    expect(dp).toMatchObject({ rows: 5, streamed: 0 });
    expect(dp.statements.join('\n')).toMatch(/row_number\(\) OVER \(PARTITION BY "person_id"/);
    const exposures = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM drug_exposure')).getRowObjectsJS()[0]!.n);
    expect(exposures).toBeGreaterThan(10_000);
    // Mode none with data-derived groups: every group's row (released or withheld) and the persons of the released cells.
    const none: typeof dp = { rows: 0, streamed: 0, statements: [] };
    const spec = { kind: 'aggregate', product: 'drug_exposure', groupBy: ['drug_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
    const dn = await answer(spec, false);
    expect(await answer(spec, true, { withData: counting(none) })).toEqual(dn);
    const meta = JSON.parse(dn.split(' ')[1]!) as { groups: number; withheldGroups: number };
    expect(none.rows).toBe(meta.groups + meta.withheldGroups);
    const persons = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM (SELECT DISTINCT drug_concept_id, person_id FROM drug_exposure WHERE drug_concept_id IN (SELECT drug_concept_id FROM drug_exposure GROUP BY 1 HAVING count(DISTINCT person_id) >= 100))')).getRowObjectsJS()[0]!.n);
    expect(none.streamed).toBe(persons);
    expect(none.streamed).toBeLessThan(exposures);
  }, 180_000);

  it('aggregate with histogram, quantile, variance, a date filter and data-derived text groups: the same answer on both engines (mode none and central-dp)', async () => {
    const measures = [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1900, 1920, 1940, 1960, 1980, 2000] }, { fn: 'variance', column: 'year_of_birth', bounds: [1900, 2020] }, { fn: 'sum', column: 'month_of_birth', bounds: [1, 12] }];
    const none = { kind: 'aggregate', product: 'person', where: [{ column: 'birth_datetime', op: 'is not null' }], groupBy: ['gender_source_value'], measures, privacy: { mode: 'none' } };
    const d1 = await answer(none, false, { minCellSize: 20 });
    expect(JSON.parse(d1.split(' ')[1]!)).toMatchObject({ groups: 2 });
    expect(await answer(none, true, { minCellSize: 20 })).toEqual(d1);
    const central = {
      kind: 'aggregate',
      product: 'condition_occurrence',
      where: [{ column: 'condition_start_date', op: 'between', value: ['1980-01-01', '2010-12-31'] }],
      groupBy: ['condition_type_concept_id'],
      groupKeys: { condition_type_concept_id: [32020, 38000215, 0] },
      measures: [{ fn: 'count' }, { fn: 'quantile', column: 'visit_occurrence_id', quantiles: [0.5], bounds: [0, 100000] }, { fn: 'mean', column: 'condition_concept_id', bounds: [0, 50000000] }],
      privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 3 },
    };
    const d2 = await answer(central, false);
    expect(await answer(central, true)).toEqual(d2);
    // Control: another date window changes the answer.
    expect(await answer({ ...central, where: [{ column: 'condition_start_date', op: 'between', value: ['1990-01-01', '2010-12-31'] }] }, true)).not.toEqual(d2);
  }, 180_000);

  it('differencing guard on aggregates in mode none: the same refusal on both engines (persons born ≥ 1920, then ≥ 1921, differ by fewer than k)', async () => {
    const born = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM person WHERE year_of_birth = 1920')).getRowObjectsJS()[0]!.n);
    expect(born).toBeGreaterThan(0);
    expect(born).toBeLessThan(100);
    const job = (year: number): Record<string, unknown> => ({ kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: '>=', value: year }], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    const outcomes = async (onPg: boolean): Promise<string[]> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const cells = await ReleasedCells.open(local);
      const researcher = `r-${randomUUID()}`;
      const out: string[] = [];
      try {
        for (const [i, spec] of [job(1920), job(1921), job(1920 - 200)].entries()) {
          const deps: OldKindTaskDeps = {
            products: onPg ? pgProducts : duckProducts,
            policy: compileAgentPolicy({ minCellSize: 100, allowModes: ['none'] }),
            rng: createServerRng(),
            salt: SALT,
            cells,
            concepts: new ReleasedConcepts(),
            charge: async () => undefined,
            once: (_j, _r, f) => f(),
            withTaskConnection: (fn) => fn(local),
            ...(onPg ? { withDataSession: (fn) => source.withSession(fn) } : {}),
          };
          const task: AgentTask = { taskId: `t${i}`, jobId: `j${i}`, kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 60_000, round: 0, researcher, payload: new Uint8Array() };
          try {
            const r = await runOldKindTask(task, parseJobSpec(spec) as JobSpec, deps);
            out.push(`ok ${Buffer.from(r.arrow).toString('base64')}`);
          } catch (e) {
            out.push(`refused ${(e as FedmeshError).code}`);
          }
        }
        return out;
      } finally {
        if (!onPg) await cells.forget(conn, researcher);
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    };
    const onDuck = await outcomes(false);
    expect(onDuck[0]).toMatch(/^ok /);
    expect(onDuck[1]).toBe('refused POLICY_DENIED');
    // The third job (everybody) is compared with both earlier cells: whatever the guard decides, both engines agree.
    expect(await outcomes(true)).toEqual(onDuck);
  }, 180_000);

  it('contingency in mode none with k = 100, counted on the server (pushdown, no staging): the same cells, the same cells withheld', async () => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'year_of_birth', rowLevels: [8507, 8532], colLevels: [1920, 1930, 1940, 1950, 1960, 1970], privacy: { mode: 'none' } };
    const job = compileKindJob(contingencyKind, spec);
    const layout = contingencyKind.layout(job, 0);
    // What the server sent back, by statement: the counts (`all`) and the guard's (place, unit) rows (`stream`).
    const read = { all: [] as string[][], stream: [] as string[][] };
    const recording = (s: SqlSession): SqlSession => ({
      dialect: s.dialect,
      run: (sql, params) => s.run(sql, params),
      all: async (sql, params) => {
        const rows = await s.all(sql, params);
        read.all.push(rows.map((r) => Object.keys(r).join(',')));
        return rows;
      },
      stream: async function* (sql, params, options) {
        for await (const batch of s.stream(sql, params, options)) {
          read.stream.push(batch.map((r) => Object.keys(r).join(',')));
          yield batch;
        }
      },
    });
    // As the agent's task runner does it: on PostgreSQL the kind's onSource step, on DuckDB its localStep.
    const vector = async (onPg: boolean, researcher = `r-${randomUUID()}`, ledger?: DuckDBConnection): Promise<{ values: number[]; withheld: number }> => {
      const ledgerDb = ledger ? undefined : await DuckDBInstance.create(':memory:');
      const own = ledger ?? (await ledgerDb!.connect());
      const local = onPg ? own : conn;
      try {
        const products = onPg ? pgProducts : duckProducts;
        const product = products.find((p) => p.name === 'person')!;
        const cells = await ReleasedCells.open(local);
        const ctx: AgentKindContext = {
          conn: local, jobId: 'j1', round: 0, product, salt: SALT, policy: { minCellSize: 100 }, jobState: new Map(),
          guardReleasedSets: async (c, candidates) => void (await cells.checkAndRecord(c, { researcher, jobId: `j-${randomUUID()}`, candidates, minCellSize: 100, maxRememberedPersons: 1_000_000 })),
        };
        const signal = new AbortController().signal;
        const v = onPg ? await source.withSession((s) => contingencyAgentKind.onSource!(ctx, job as never, null, recording(s), signal)) : await contingencyAgentKind.localStep(ctx, job as never, null, signal);
        const out = withholdSmallCells(layout, v, 100);
        // The kind withholds a table with a small place itself (whole); the runner's rule then finds nothing more.
        return { values: Array.from(out.vector.values), withheld: Array.from(out.vector.values).filter((x) => x === WITHHELD).length };
      } finally {
        if (!ledger) {
          own.closeSync();
          ledgerDb!.closeSync();
        }
      }
    };
    const d = await vector(false);
    expect(d.withheld).toBeGreaterThan(0);
    expect(await vector(true)).toEqual(d);
    // Pushdown: one counts statement returning (place, n) rows only — at most rows × cols + 2 — and the guard's
    // (place, u) rows; the staged path would have streamed the product's columns instead (negative control below).
    expect(read.all).toHaveLength(1);
    expect(read.all[0]!.length).toBeLessThanOrEqual(2 * 6 + 2);
    expect(new Set(read.all[0])).toEqual(new Set(['place,n']));
    expect(new Set(read.stream.flat())).toEqual(new Set(['place,u']));
    // Negative control: the staged path reads the product's rows (every person row) through its cursor.
    read.all.length = 0;
    read.stream.length = 0;
    const product = pgProducts.find((p) => p.name === 'person')!;
    const local = await (await DuckDBInstance.create(':memory:')).connect();
    const staged = await source.withSession((s) => withStagedProduct(recording(s), local, product, async () => contingencyAgentKind.localStep({ conn: local, jobId: 'j1', round: 0, product, salt: SALT, policy: { minCellSize: 100 }, jobState: new Map() }, job as never, null, new AbortController().signal)));
    local.closeSync();
    expect(withholdSmallCells(layout, staged, 100).vector.values).toEqual(Float64Array.from(d.values));
    expect(read.stream.flat().length).toBeGreaterThan(1000);
    expect(read.stream.flat()[0]).not.toBe('place,u');
  }, 120_000);

  it('contingency under central-dp and local-dp on the server: the same exact vector as on DuckDB (the noise is added after the step), no guard, no staging', async () => {
    for (const mode of ['central-dp', 'local-dp']) {
      const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], where: [{ column: 'year_of_birth', op: '>=', value: 1930 }], privacy: { mode, epsilon: 1 } };
      const job = compileKindJob(contingencyKind, spec);
      const guarded: string[] = [];
      const staged: string[] = [];
      const step = async (onPg: boolean): Promise<number[]> => {
        const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
        const ctx: AgentKindContext = { conn, jobId: 'jdp', round: 0, product, salt: SALT, policy: { minCellSize: 100 }, jobState: new Map(), guardReleasedSets: async (_c, t) => void guarded.push(t) };
        const signal = new AbortController().signal;
        const watch = (s: SqlSession): SqlSession => ({ dialect: s.dialect, run: (q, p) => s.run(q, p), all: (q, p) => s.all(q, p), stream: (q, p, o) => (staged.push(q), s.stream(q, p, o)) });
        const v = onPg ? await source.withSession((s) => contingencyAgentKind.onSource!(ctx, job as never, null, watch(s), signal)) : await contingencyAgentKind.localStep(ctx, job as never, null, signal);
        return Array.from(v.values);
      };
      const d = await step(false);
      expect(await step(true), mode).toEqual(d);
      // Cells below k = 100 are present (no selection in the DP modes): the same small counts on both engines.
      expect(d.some((v) => v > 0 && v < 100), mode).toBe(true);
      expect(guarded, mode).toEqual([]);
      expect(staged, mode).toEqual([]);
    }
  }, 120_000);

  it('contingency differencing guard on the server: a table over persons moved by one is refused exactly as on DuckDB', async () => {
    // A year of birth with 1 … 9 persons: '>= Y' and '> Y' differ by them alone.
    const y = Number((await conn.runAndReadAll('SELECT year_of_birth AS y FROM person GROUP BY 1 HAVING count(*) BETWEEN 1 AND 9 ORDER BY 1 LIMIT 1')).getRowObjectsJS()[0]!.y);
    const spec = (op: string) => ({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], where: [{ column: 'year_of_birth', op, value: y }], privacy: { mode: 'none' } });
    const outcome = async (onPg: boolean): Promise<string[]> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const cells = await ReleasedCells.open(local);
      const researcher = `r-${randomUUID()}`;
      const out: string[] = [];
      try {
        for (const op of ['>=', '>', '<']) {
          const job = compileKindJob(contingencyKind, spec(op));
          const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
          const ctx: AgentKindContext = {
            conn: local, jobId: `j${op}`, round: 0, product, salt: SALT, policy: { minCellSize: 10 }, jobState: new Map(),
            guardReleasedSets: async (c, candidates) => void (await cells.checkAndRecord(c, { researcher, jobId: `j${op}`, candidates, minCellSize: 10, maxRememberedPersons: 1_000_000 })),
          };
          const signal = new AbortController().signal;
          const step = onPg ? source.withSession((s) => contingencyAgentKind.onSource!(ctx, job as never, null, s, signal)) : contingencyAgentKind.localStep(ctx, job as never, null, signal);
          out.push(await step.then((v) => `ok ${Array.from(v.values).join(',')}`, (e: FedmeshError) => `${e.code} ${/differencing guard/.test(e.message)}`));
        }
      } finally {
        ledger.closeSync();
        ledgerDb.closeSync();
      }
      return out;
    };
    const onDuck = await outcome(false);
    // The premise: born in Y are 1 … 9 persons, so '>' after '>=' is refused; '<' (far apart) passes.
    expect(onDuck[0]).toMatch(/^ok /);
    expect(onDuck[1]).toBe('POLICY_DENIED true');
    expect(onDuck[2]).toMatch(/^ok /);
    expect(await outcome(true)).toEqual(onDuck);
  }, 120_000);

  it('secure aggregates on the server: the exact statistics equal DuckDB\'s, and the guard inside the sum refuses what it refuses on DuckDB (every local cell from one person)', async () => {
    const job = (year: number) => parseJobSpec({ kind: 'aggregate', product: 'person', where: [{ column: 'year_of_birth', op: '>=', value: year }], groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' }, secure: 'secagg' }) as AggregateJob;
    const outcomes = async (onPg: boolean): Promise<string[]> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const cells = await ReleasedCells.open(local);
      const researcher = `r-${randomUUID()}`;
      const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
      const out: string[] = [];
      try {
        for (const [i, year] of [1920, 1921].entries()) {
          const j = job(year);
          const plan = planAggregatePrivacy(j, (c) => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR');
          const release = { researcher, jobId: `js${i}`, cells, salt: SALT, policy: { minCellSize: 100, maxRememberedPersons: 1_000_000 } };
          try {
            const groups = onPg ? await source.withSession((s) => secureGroupStatistics(local, j, product, plan, SALT, release, s)) : await secureGroupStatistics(local, j, product, plan, SALT, release);
            out.push(`ok ${JSON.stringify(groups, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
          } catch (e) {
            out.push(`refused ${(e as FedmeshError).code}`);
          }
        }
        return out;
      } finally {
        if (!onPg) await cells.forget(conn, researcher);
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    };
    const onDuck = await outcomes(false);
    expect(onDuck[0]).toMatch(/^ok .*"count"/);
    expect(onDuck[1]).toBe('refused POLICY_DENIED');
    expect(await outcomes(true)).toEqual(onDuck);
  }, 120_000);

  it('secure cells on the server (HE contingency, cohort kinds): the exact cells equal DuckDB\'s, and the guard inside the sum (every cell\'s persons) refuses what it refuses on DuckDB', async () => {
    // A year of birth with 1 … 9 persons: '>= Y' and '> Y' differ by them alone (inside a sum, every place from one person is guarded).
    const y = Number((await conn.runAndReadAll('SELECT year_of_birth AS y FROM person GROUP BY 1 HAVING count(*) BETWEEN 1 AND 9 ORDER BY 1 LIMIT 1')).getRowObjectsJS()[0]!.y);
    const celecoxib = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const contingency = (where: unknown[]) => ({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], where });
    const specs = [
      contingency([{ column: 'year_of_birth', op: '>=', value: y }]),
      contingency([{ column: 'year_of_birth', op: '>', value: y }]),
      // A filter on a timestamp column is not compiled: the product is staged and counted by the DuckDB step.
      contingency([{ column: 'birth_datetime', op: 'is not null' }]),
      { kind: 'cohort', definition: celecoxib },
      { kind: 'characterize', definition: celecoxib, conditionConcepts: [192671, 80180], drugConcepts: [1118084] },
      { kind: 'survival', target: celecoxib, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 720 }, strata: 'gender' },
      // The same cohort, a window one day longer: GI bleed within 30 days of the index date is 113 persons here,
      // within 31 days 116 (red team 8). Every cell's persons are guarded, so the second is refused on both engines.
      { kind: 'characterize', definition: celecoxib, conditionConcepts: [192671], drugConcepts: [], windowDays: [0, 30] },
      { kind: 'characterize', definition: celecoxib, conditionConcepts: [192671], drugConcepts: [], windowDays: [0, 31] },
    ];
    const outcomes = async (onPg: boolean): Promise<string[]> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const cells = await ReleasedCells.open(local);
      const researcher = `r-${randomUUID()}`;
      const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
      const out: string[] = [];
      try {
        for (const [i, raw] of specs.entries()) {
          const job = parseJobSpec({ ...raw, privacy: { mode: 'none' }, secure: 'he' }) as CellJob;
          const release = { researcher, jobId: `jc${i}`, cells, salt: SALT, policy: { minCellSize: 10, maxRememberedPersons: 1_000_000 } };
          const unit = job.kind === 'contingency' ? product.privacyUnit : undefined;
          try {
            const values = onPg ? await source.withSession((s) => secureCells(local, job, `t${i}`, unit, release, s, product)) : await secureCells(local, job, `t${i}`, unit, release);
            out.push(`ok ${[...values].map(([k, v]) => `${k}=${v}`).join(',')}`);
          } catch (e) {
            out.push(`refused ${(e as FedmeshError).code} ${/differencing guard/.test((e as Error).message)}`);
          }
        }
        return out;
      } finally {
        if (!onPg) await cells.forget(conn, researcher);
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    };
    const onDuck = await outcomes(false);
    expect(onDuck[0]).toMatch(/^ok cell:0:0=\d+/);
    expect(onDuck[1]).toBe('refused POLICY_DENIED true');
    expect(onDuck[2]).toMatch(/^ok cell:0:0=[1-9]/);
    expect(onDuck[3]).toMatch(/^ok persons=[1-9].*qualified=[1-9]/);
    expect(onDuck[4]).toMatch(/drug:1118084=[1-9]/);
    expect(onDuck[5]).toMatch(/^ok n:male=[1-9].*e:female:0=/);
    expect(onDuck[6]).toMatch(/condition:192671=113$/);
    expect(onDuck[7]).toBe('refused POLICY_DENIED true');
    expect(await outcomes(true)).toEqual(onDuck);
  }, 180_000);

  it('text order filters compare bytes on the server whatever the column collation: aggregate and contingency (pushed down) count what DuckDB counts', async () => {
    const serverCount = async (where: string): Promise<number> => {
      const c = await pg.admin('gibleed');
      try {
        return Number((await c.query(`SELECT count(*) AS n FROM cdm.person WHERE ${where}`)).rows[0].n);
      } finally {
        await c.end();
      }
    };
    const duckCount = async (where: string): Promise<number> => Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM person WHERE ${where}`)).getRowObjectsJS()[0]!.n);
    const filters = [
      { op: '<', value: 'f', sql: `gender_source_value < 'f'` },
      { op: 'between', value: ['A', 'a'], sql: `gender_source_value BETWEEN 'A' AND 'a'` },
      { op: '>=', value: 'f', sql: `gender_source_value >= 'f'` },
    ];
    for (const f of filters) {
      // Control: the server's own comparison follows the column's collation and disagrees with DuckDB's bytes.
      const bytes = await duckCount(f.sql);
      expect(await serverCount(f.sql)).not.toBe(bytes);
      const where = [{ column: 'gender_source_value', op: f.op, value: f.value }];
      const agg = { kind: 'aggregate', product: 'person', where, measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
      const d = await answer(agg, false, { minCellSize: 1 });
      expect(await answer(agg, true, { minCellSize: 1 })).toBe(d);
      const ct = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], where, privacy: { mode: 'none' } };
      const job = compileKindJob(contingencyKind, ct);
      const product = (onPg: boolean): ProductInfo => (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
      // Pushed down (the server counts), not staged.
      expect(sourceQuery(job.spec as never, product(true))).toBeDefined();
      const ctx = (onPg: boolean): AgentKindContext => ({ conn, jobId: 'jt', round: 0, product: product(onPg), salt: SALT, policy: { minCellSize: 1 }, jobState: new Map() });
      const signal = new AbortController().signal;
      const local = await contingencyAgentKind.localStep(ctx(false), job as never, null, signal);
      const server = await source.withSession((s) => contingencyAgentKind.onSource!(ctx(true), job as never, null, s, signal));
      expect(Array.from(server.values)).toEqual(Array.from(local.values));
      // Every person the filter keeps is in one place of the table.
      expect(Array.from(local.values).reduce((a, x) => a + x, 0)).toBe(bytes);
    }
  }, 120_000);

  it('text equality, in and group keys compare bytes on the server even under a case-insensitive (nondeterministic) collation (red team 4, F4)', async () => {
    const admin = async (sql: string): Promise<number> => {
      const c = await pg.admin('gibleed');
      try {
        const r = await c.query(sql);
        return Number((r.rows[0] as { n?: unknown } | undefined)?.n ?? 0);
      } finally {
        await c.end();
      }
    };
    // Every fifth person's source value in lower case, on both engines; the server's column case-insensitive.
    await admin(`CREATE COLLATION IF NOT EXISTS fedmesh_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
    await admin('ALTER TABLE cdm.person ALTER COLUMN gender_source_value TYPE varchar COLLATE fedmesh_ci');
    await admin('UPDATE cdm.person SET gender_source_value = lower(gender_source_value) WHERE person_id % 5 = 0');
    await conn.run('UPDATE person SET gender_source_value = lower(gender_source_value) WHERE person_id % 5 = 0');
    try {
      const duck = async (where: string): Promise<number> => Number((await conn.runAndReadAll(`SELECT count(*) AS n FROM person WHERE ${where}`)).getRowObjectsJS()[0]!.n);
      // Control: the server's own comparison equates 'm' and 'M'; DuckDB's does not.
      expect(await admin(`SELECT count(*) AS n FROM cdm.person WHERE gender_source_value = 'm'`)).toBeGreaterThan(await duck(`gender_source_value = 'm'`));
      expect(await admin(`SELECT count(DISTINCT gender_source_value) AS n FROM cdm.person`)).toBe(2);
      for (const where of [[{ column: 'gender_source_value', op: '=', value: 'm' }], [{ column: 'gender_source_value', op: 'in', value: ['f', 'M'] }], [{ column: 'gender_source_value', op: '!=', value: 'F' }]]) {
        const agg = { kind: 'aggregate', product: 'person', where, measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
        expect(await answer(agg, true, { minCellSize: 1 }), JSON.stringify(where)).toBe(await answer(agg, false, { minCellSize: 1 }));
        const ct = compileKindJob(contingencyKind, { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], where, privacy: { mode: 'none' } });
        const ctx = (onPg: boolean): AgentKindContext => ({ conn, jobId: 'jci', round: 0, product: (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!, salt: SALT, policy: { minCellSize: 1 }, jobState: new Map() });
        const signal = new AbortController().signal;
        const local = await contingencyAgentKind.localStep(ctx(false), ct as never, null, signal);
        const server = await source.withSession((x) => contingencyAgentKind.onSource!(ctx(true), ct as never, null, x, signal));
        expect(Array.from(server.values), JSON.stringify(where)).toEqual(Array.from(local.values));
      }
      // Data-derived text groups: four on DuckDB ('F', 'M', 'f', 'm'), four on the server too, with the same counts.
      const groups = { kind: 'aggregate', product: 'person', groupBy: ['gender_source_value'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
      const d = await answer(groups, false, { minCellSize: 1 });
      expect(JSON.parse(d.split(' ')[1]!)).toMatchObject({ groups: 4 });
      expect(await answer(groups, true, { minCellSize: 1 })).toBe(d);
    } finally {
      await conn.run('UPDATE person SET gender_source_value = upper(gender_source_value) WHERE person_id % 5 = 0');
      await admin('UPDATE cdm.person SET gender_source_value = upper(gender_source_value) WHERE person_id % 5 = 0');
      await admin(`ALTER TABLE cdm.person ALTER COLUMN gender_source_value TYPE varchar COLLATE "en-US-x-icu"`);
    }
  }, 120_000);

  it('Cox regression read on the server through a cursor (no staging): the same round vectors, bit for bit, and the same persons through the differencing guard as on DuckDB', async () => {
    const target = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const spec = { kind: 'survival', model: 'cox', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 1800 }, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }, { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }], privacy: { mode: 'none' } };
    const job = compileKindJob(coxKind, spec);
    const plan = job.plan as { times: number[]; terms: string[] };
    // A cursor of 100 rows: the followed persons (about a thousand) arrive in many batches.
    const batches = { n: 0 };
    const run = async (onPg: boolean): Promise<{ vectors: number[][]; guarded: string[] }> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const guarded: string[] = [];
      try {
        const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
        const ctx: AgentKindContext = {
          conn: local, jobId: 'jcox', round: 0, product, salt: SALT, policy: { minCellSize: 1 }, jobState: new Map(),
          guardReleasedSets: recordingGuard(guarded),
        };
        const signal = new AbortController().signal;
        const step = (input: unknown): Promise<{ values: Float64Array }> => (onPg ? source.withSession((s) => coxAgentKind.onSource!(ctx, job as never, input as never, smallBatches(s, batches), signal)) : coxAgentKind.localStep(ctx, job as never, input as never, signal));
        const counts = await step({ phase: 'counts' });
        const newton = await step({ phase: 'newton', times: plan.times, beta: plan.terms.map(() => 0.01) });
        return { vectors: [Array.from(counts.values), Array.from(newton.values)], guarded };
      } finally {
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    };
    const d = await run(false);
    expect(batches.n).toBe(0);
    const p = await run(true);
    expect(batches.n).toBeGreaterThan(5);
    expect(d.guarded.length).toBeGreaterThan(500);
    expect(p.guarded).toEqual(d.guarded);
    // Both sets: the followed persons and those with an event (an outcome change flips events, not the followed set).
    expect(new Set(d.guarded.map((g) => g.split(':')[0]))).toEqual(new Set(['followed', 'events']));
    // Bit for bit: the rows are read in person order on both engines, so every sum adds in the same order.
    expect(p.vectors).toEqual(d.vectors);
    expect(d.vectors[1]!.some((v) => v !== 0)).toBe(true);
  }, 120_000);

  it('Cox on the server keeps no person between rounds (issue 13): one cursor per round, a job state of a fingerprint and a flag; rows changed between rounds fail the job, naming no value', async () => {
    const target = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const spec = { kind: 'survival', model: 'cox', target, outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: { binDays: 90, maxDays: 1800 }, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }, { name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }], privacy: { mode: 'none' } };
    const job = compileKindJob(coxKind, spec);
    const plan = job.plan as { times: number[]; terms: string[] };
    const ledgerDb = await DuckDBInstance.create(':memory:');
    const ledger = await ledgerDb.connect();
    const admin = async (sql: string): Promise<void> => {
      const c = await pg.admin('gibleed');
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    };
    // A followed person, from the same cohort built on DuckDB.
    await runCohort(conn, parseCohortDefinition(target, 'target'), { targetTable: 'cox_followed' });
    const followed = await readCoxData(conn, { targetTable: 'cox_followed', outcome: spec.outcome, timeGrid: spec.timeGrid, covariates: spec.covariates as never, withIds: true });
    const id = followed.ids![0]!;
    expect(Number(id)).toBeGreaterThan(0);
    const streams = { n: 0 };
    const counting = (s: SqlSession): SqlSession => ({
      ...smallBatches(s, { n: 0 }),
      stream: (sql, params) => {
        streams.n += 1;
        return s.stream(sql, params, { batchRows: 100 });
      },
    });
    const guarded: string[] = [];
    const ctx: AgentKindContext = { conn: ledger, jobId: 'jcox2', round: 0, product: pgProducts.find((p) => p.name === 'person')!, salt: SALT, policy: { minCellSize: 1 }, jobState: new Map(), guardReleasedSets: recordingGuard(guarded) };
    const signal = new AbortController().signal;
    const step = (input: unknown): Promise<{ values: Float64Array }> => source.withSession((s) => coxAgentKind.onSource!(ctx, job as never, input as never, counting(s), signal));
    const newton = { phase: 'newton', times: plan.times, beta: plan.terms.map(() => 0.01) };
    try {
      await step({ phase: 'counts' });
      const first = await step(newton);
      expect(streams.n).toBe(2);
      expect([...ctx.jobState.keys()].sort()).toEqual(['guarded', 'seen']);
      expect(JSON.stringify([...ctx.jobState]).length).toBeLessThan(300);
      expect([...ctx.jobState.values()].some((v) => Array.isArray(v) || ArrayBuffer.isView(v))).toBe(false);
      const once = guarded.length;
      expect(once).toBeGreaterThan(500);
      // The same rows: the same answer, and the guard is not run again.
      expect(Array.from((await step(newton)).values)).toEqual(Array.from(first.values));
      expect(guarded.length).toBe(once);
      await admin(`UPDATE cdm.person SET year_of_birth = year_of_birth - 1 WHERE person_id = ${id}`);
      const err = await step(newton).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', message: 'the data changed on the server during the job' });
      // What reaches the coordinator (message, field, details) names no person: JSON.stringify of an Error drops its
      // message, so each part is checked as text.
      const e = err as { message: string; field?: unknown; details?: unknown };
      expect(`${e.message} ${String(e.field)} ${JSON.stringify(e.details ?? null)}`).not.toContain(String(id));
    } finally {
      await admin(`UPDATE cdm.person SET year_of_birth = year_of_birth + 1 WHERE person_id = ${id}`);
      await conn.run('DROP TABLE IF EXISTS cox_followed');
      ledger.closeSync();
      ledgerDb.closeSync();
    }
  }, 120_000);

  it('glm read on the server through a cursor (no staging): the same round vectors, bit for bit, and the same persons through the differencing guard as on DuckDB; DP keeps the same rows per person', async () => {
    const celecoxib = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const gender = { column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 };
    const specs = {
      // Mode none, in a cohort built on the server, a numeric and a categorical covariate, a filter.
      none: { kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [gender, { column: 'month_of_birth', type: 'numeric', bounds: [1, 12] }], where: [{ column: 'year_of_birth', op: '>=', value: 1920 }], cohort: celecoxib, privacy: { mode: 'none' } },
      // Central DP over drug exposures, several per person: two rows per person kept, chosen by the keyed hash.
      dp: { kind: 'glm', product: 'drug_exposure', family: 'poisson', outcome: 'quantity', outcomeBounds: [0, 100], covariates: [{ column: 'days_supply', type: 'numeric', bounds: [0, 90] }], privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 2 } },
    };
    const batches = { n: 0 };
    const run = async (spec: unknown, onPg: boolean): Promise<{ vectors: number[][]; guarded: string[]; localTables: string[] }> => {
      const job = compileKindJob(glmKind, spec);
      const p = job.plan.terms.length;
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const ledger = await ledgerDb.connect();
      const local = onPg ? ledger : conn;
      const guarded: string[] = [];
      try {
        const productName = (spec as { product: string }).product;
        const product = (onPg ? pgProducts : duckProducts).find((x) => x.name === productName)!;
        const ctx: AgentKindContext = {
          conn: local, jobId: 'jglm', round: 1, product, salt: SALT, policy: { minCellSize: 5 }, jobState: new Map(),
          guardReleasedSets: recordingGuard(guarded),
        };
        const signal = new AbortController().signal;
        const step = (input: unknown): Promise<{ values: Float64Array }> => (onPg ? source.withSession(async (s) => {
          const v = await glmAgentKind.onSource!(ctx, job as never, input as never, smallBatches(s, batches), signal);
          // The server's scratch tables (cohort, rows) are gone with the step.
          expect(await serverTempTables(s)).toEqual([]);
          return v;
        }) : glmAgentKind.localStep(ctx, job as never, input as never, signal));
        const first = await step({ round: 1, beta: null, nullBeta0: null });
        const second = await step({ round: 2, beta: Array.from({ length: p }, (_, j) => (j === 0 ? 0.5 : 0.01)), nullBeta0: null });
        const localTables = (await ledger.runAndReadAll('SELECT table_name FROM duckdb_tables()')).getRowObjectsJS().map((r) => String(r.table_name));
        return { vectors: [Array.from(first.values), Array.from(second.values)], guarded, localTables };
      } finally {
        ledger.closeSync();
        ledgerDb.closeSync();
      }
    };
    for (const [name, spec] of Object.entries(specs)) {
      batches.n = 0;
      const d = await run(spec, false);
      expect(batches.n, name).toBe(0);
      const p = await run(spec, true);
      // The design crossed in many cursor batches of 100 rows, and nothing was staged in the agent's DuckDB.
      expect(batches.n, name).toBeGreaterThan(5);
      expect(p.localTables, name).toEqual([]);
      // Bit for bit: the design rows are summed in the order of their values on both engines.
      expect(p.vectors, name).toEqual(d.vectors);
      expect(d.vectors[1]!.some((v) => v !== 0), name).toBe(true);
      if (name === 'none') {
        expect(d.guarded.length).toBeGreaterThan(100);
        expect(p.guarded).toEqual(d.guarded);
      } else {
        expect(d.guarded).toEqual([]);
      }
    }
    // Negative control: the bounding keeps a data-dependent subset — with one row per person the statistics differ.
    const one = await run({ ...specs.dp, privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 1 } }, true);
    const two = await run(specs.dp, true);
    expect(one.vectors[0]).not.toEqual(two.vectors[0]);
  }, 180_000);

  it('train read on the server (hash split, declared label levels, cohort, DP bounding there; no staging): the same rows and the same guarded persons as on DuckDB', async () => {
    const celecoxib = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    const base = {
      kind: 'train', product: 'person', label: 'gender_concept_id', labelLevels: [8507, 8532],
      features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }, { column: 'race_concept_id', type: 'categorical', levels: [0, 8515, 8516, 8527] }],
      split: { hash: { fraction: 0.3, salt: 'pg' } }, where: [{ column: 'year_of_birth', op: '>=', value: 1915 }], model: { type: 'logistic' },
      training: { rounds: 2, localEpochs: 1, batchSize: 64, seed: 3 }, participation: { minUpdates: 1 }, privacy: { mode: 'none' },
    };
    const specs = { none: { ...base, cohort: celecoxib }, dp: { ...base, product: 'condition_occurrence', features: [{ column: 'condition_concept_id', type: 'categorical', levels: [192671, 80180, 260139] }], label: 'condition_type_concept_id', labelLevels: [32020, 38000175], where: [], privacy: { mode: 'central-dp', epsilon: 4, delta: 1e-5, clip: 1, maxRowsPerPerson: 2 } } };
    /** A side's rows as sorted strings: the same multiset whatever order the engine returns them in. */
    const rowsOf = (side: { x: Float32Array; y: Float32Array; n: number }, inputs: number): string[] =>
      Array.from({ length: side.n }, (_, i) => `${side.y[i]}|${Array.from(side.x.subarray(i * inputs, (i + 1) * inputs)).join(',')}`).sort();
    for (const [name, spec] of Object.entries(specs)) {
      const read = async (onPg: boolean, as: typeof spec = spec) => {
        const job = compileKindJob(trainKind, as);
        const ledgerDb = await DuckDBInstance.create(':memory:');
        const ledger = await ledgerDb.connect();
        const guarded: string[] = [];
        let streamed: Pick<Awaited<ReturnType<typeof readTrainData>>, 'inputs' | 'train' | 'test' | 'nDropped'> | undefined;
        let vector: Float64Array | undefined;
        try {
          const product = (onPg ? pgProducts : duckProducts).find((x) => x.name === spec.product)!;
          const local = onPg ? ledger : conn;
          const ctx: AgentKindContext = {
            conn: local, jobId: 'jtrain', round: 1, product, salt: SALT, policy: { minCellSize: 5 }, jobState: new Map(),
            guardReleasedSets: recordingGuard(guarded),
          };
          const input = { phase: 'train', weights: new Array<number>(job.plan.parameters).fill(0) };
          const signal = new AbortController().signal;
          // The kind's own step, on the server session or the DuckDB connection; its rows are then in the job state.
          const stageRows: Record<string, number> = {};
          if (onPg) {
            await source.withSession(async (s0) => {
              // Each stage's rows, counted on the server as it is made: only the job's rows (where, cohort) are copied.
              const s: SqlSession = {
                dialect: s0.dialect,
                all: (sql, params) => s0.all(sql, params),
                stream: (sql, params, o) => s0.stream(sql, params, o),
                run: async (sql, params) => {
                  await s0.run(sql, params);
                  const made = /^ANALYZE pg_temp\."(train_\w+_(split|label))"$/.exec(sql);
                  if (made) stageRows[made[2]!] = Number((await s0.all(`SELECT count(*) AS n FROM "${made[1]!}"`))[0]!['n']);
                },
              };
              vector = (await trainAgentKind.onSource!(ctx, job as never, input as never, s, signal)).values;
              // The server's scratch tables (cohort, split, label classes, rows) are gone with the step.
              expect(await serverTempTables(s)).toEqual([]);
              // Training on a server streams its rows every round and keeps none: read them here as its rounds do.
              {
                expect(ctx.jobState.has('train-data')).toBe(false);
                streamed = await withTrainRows(s0, job.spec, product, { salt: SALT, minCellSize: 5, scratch: 'tstream' }, signal, async (a) => {
                  const st = await trainStreamOf(job.spec, a, 5);
                  const side = async (w: 'train' | 'test') => {
                    const parts: { x: Float32Array; y: Float32Array; n: number }[] = [];
                    for await (const c of st.side(w, 4096, 1)) parts.push({ x: c.x.slice(), y: c.y.slice(), n: c.n });
                    return { x: Float32Array.from(parts.flatMap((q) => Array.from(q.x))), y: Float32Array.from(parts.flatMap((q) => Array.from(q.y))), n: parts.reduce((t, q) => t + q.n, 0) };
                  };
                  return { inputs: job.plan.inputs.length, train: await side('train'), test: await side('test'), nDropped: a.rows.nDropped };
                });
              }
            });
          }
          else await trainAgentKind.localStep(ctx, job as never, input as never, signal);
          const data = streamed ?? (ctx.jobState.get('train-data') as Awaited<ReturnType<typeof readTrainData>>);
          const localTables = (await ledger.runAndReadAll('SELECT table_name FROM duckdb_tables()')).getRowObjectsJS().map((r) => String(r.table_name));
          return { vector, train: rowsOf(data.train, data.inputs), test: rowsOf(data.test, data.inputs), nDropped: data.nDropped, guarded, localTables, stageRows, all: Number((await (onPg ? source.withSession((x) => x.all(`SELECT count(*) AS n FROM ${spec.product}`)) : conn.runAndReadAll(`SELECT count(*) AS n FROM ${spec.product}`).then((r) => r.getRowObjectsJS())))[0]!['n']) };
        } finally {
          ledger.closeSync();
          ledgerDb.closeSync();
        }
      };
      const d = await read(false);
      const p = await read(true);
      expect(p.localTables, name).toEqual([]);
      expect(d.train.length, name).toBeGreaterThan(50);
      expect(d.test.length, name).toBeGreaterThan(20);
      expect(p.train, name).toEqual(d.train);
      expect(p.test, name).toEqual(d.test);
      expect(p.nDropped, name).toBe(d.nDropped);
      expect(p.guarded, name).toEqual(d.guarded);
      if (name === 'none') expect(d.guarded.length).toBeGreaterThan(50);
      else expect(d.guarded).toEqual([]);
      // The stages on the server held only the job's rows: in the cohort and the where (all of them usable or
      // dropped), fewer than the table's (none of the DP spec's rows is filtered: it has no where and no cohort).
      const used = p.train.length + p.test.length + p.nDropped;
      expect(p.stageRows, name).toEqual({ split: name === 'none' ? used : p.all, label: name === 'none' ? used : p.all });
      if (name === 'none') expect(used).toBeLessThan(p.all);
      // Negative control: another split salt on the server puts other persons in the test side.
      const other = await read(true, { ...spec, split: { hash: { fraction: 0.3, salt: 'other' } } });
      expect(other.test, name).not.toEqual(d.test);
    }
  }, 180_000);

  it('a staged read restricted to a cohort: the cohort is built on the server, only its members\' rows and ids cross, and everything is dropped after', async () => {
    const celecoxib = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    await runCohort(conn, parseCohortDefinition(celecoxib, 'cohort'), { targetTable: 'staged_ref' });
    const members = Number((await conn.runAndReadAll('SELECT count(DISTINCT subject_id) AS n FROM staged_ref')).getRowObjectsJS()[0]!.n);
    await conn.run('DROP TABLE staged_ref');
    const product = pgProducts.find((p) => p.name === 'person')!;
    const local = await (await DuckDBInstance.create(':memory:')).connect();
    const count = async (sql: string): Promise<number> => Number((await local.runAndReadAll(sql)).getRowObjectsJS()[0]!.n);
    let seen = { rows: 0, ids: 0, cols: '', table: '' };
    await source.withSession(async (s) => {
      await withStagedRead(s, local, product, { columns: ['year_of_birth', 'person_id'], where: [{ column: 'year_of_birth', op: '>=', value: 1900 }], cohort: celecoxib }, async (staged) => {
        seen = { rows: await count('SELECT count(*) AS n FROM person'), ids: await count(`SELECT count(*) AS n FROM "${staged.cohortMembers!}"`), cols: (await local.runAndReadAll('SELECT * FROM person LIMIT 1')).columnNames().sort().join(','), table: staged.cohortMembers! };
        return undefined;
      });
      // The server's cohort table is gone with the round.
      expect(await serverTempTables(s)).toEqual([]);
    });
    expect(members).toBeGreaterThan(100);
    expect(seen.ids).toBe(members);
    expect(seen.rows).toBe(members);
    expect(seen.cols).toBe('person_id,year_of_birth');
    expect(await count(`SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = '${seen.table}' OR table_name = 'person'`)).toBe(0);
    // A text order comparison is pushed down and compares bytes whatever the column's collation (en-US here): what
    // crosses is what DuckDB's own filter keeps — every person below 'f', nobody above it.
    for (const [op, rows] of [['<', 2694], ['>', 0]] as const) {
      await source.withSession((s) => withStagedRead(s, local, product, { columns: ['gender_source_value', 'person_id'], where: [{ column: 'gender_source_value', op, value: 'f' }] }, async () => void (seen.rows = await count('SELECT count(*) AS n FROM person'))));
      expect(seen.rows).toBe(rows);
    }
    // Control: without the cohort every person's row is staged.
    await source.withSession((s) => withStagedRead(s, local, product, { columns: ['year_of_birth'], where: [] }, async () => void (seen.rows = await count('SELECT count(*) AS n FROM person'))));
    expect(seen.rows).toBeGreaterThan(members);
    local.closeSync();
  }, 120_000);

  it('consent on the server-side contingency step: 300 persons opted out of HRESCH leave its table; opted out of PUBHLTH only, they count', async () => {
    const ids = ((await conn.runAndReadAll('SELECT person_id FROM person ORDER BY person_id LIMIT 300')).getRowObjectsJS()).map((r) => String(r.person_id));
    const job = compileKindJob(contingencyKind, { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], privacy: { mode: 'none' } });
    const product = pgProducts.find((p) => p.name === 'person')!;
    // Every person is in one place (a cell, outside or ambiguous): the vector's sum is the persons counted.
    const total = async (withSession: PostgresSource['withSession']): Promise<number> => {
      const local = await (await DuckDBInstance.create(':memory:')).connect();
      try {
        const ctx: AgentKindContext = { conn: local, jobId: 'jc', round: 0, product, salt: SALT, policy: { minCellSize: 1 }, jobState: new Map() };
        const v = await withSession((s) => contingencyAgentKind.onSource!(ctx, job as never, null, s, new AbortController().signal));
        return Array.from(v.values).reduce((a, x) => a + x, 0);
      } finally {
        local.closeSync();
      }
    };
    const all = await total((fn) => source.withSession(fn));
    expect(all).toBe(Number((await conn.runAndReadAll('SELECT count(DISTINCT person_id) AS n FROM person')).getRowObjectsJS()[0]!.n));
    for (const [purpose, leavesOut] of [['HRESCH', true], ['PUBHLTH', false]] as const) {
      const dir = mkdtempSync(join(tmp, 'consent-ct-'));
      writeFileSync(join(dir, 'consent.csv'), ['person_id,purpose,decision,start,end', ...ids.map((id) => `${id},${purpose},deny,,`)].join('\n'));
      const scopes = new ConsentScopes(dir, () => undefined);
      const scoped = scopes.wrapSource(source);
      await scopes.reload(conn, () => pgProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
      const n = await scopes.run('HRESCH', () => total((fn) => scoped.withSession(fn)));
      expect(n).toBe(leavesOut ? all - 300 : all);
    }
  }, 120_000);

  it('consent: persons opted out of HRESCH are left out on PostgreSQL exactly as on DuckDB; opted out of PUBHLTH only, they count', async () => {
    // 300 persons opted out: enough to move every count below.
    const ids = ((await conn.runAndReadAll('SELECT person_id FROM person ORDER BY person_id LIMIT 300')).getRowObjectsJS()).map((r) => String(r.person_id));
    const spec = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' } };
    const plain = await answer(spec, false);
    for (const [purpose, leavesOut] of [['HRESCH', true], ['PUBHLTH', false]] as const) {
      const dir = mkdtempSync(join(tmp, 'consent-'));
      writeFileSync(join(dir, 'consent.csv'), ['person_id,purpose,decision,start,end', ...ids.map((id) => `${id},${purpose},deny,,`)].join('\n'));
      const scopes = new ConsentScopes(dir, () => undefined);
      const scopedSource = scopes.wrapSource(source);
      await scopes.reload(conn, () => pgProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
      expect(scopes.records()).toHaveLength(300);
      // PostgreSQL: the agent's hook (ConsentScopes.wrapSource) scopes the task's session for the task's purpose.
      const onPg = await scopes.run('HRESCH', () => answer(spec, true, { withData: (fn) => scopedSource.withSession(fn) }));
      // DuckDB: the same records applied to a connection by the DuckDB scope, over a copy of person.
      const copyDb = await DuckDBInstance.create(':memory:');
      const copy = await copyDb.connect();
      try {
        const rows = (await conn.runAndReadAll('SELECT person_id, gender_concept_id, year_of_birth FROM person')).getRowObjectsJS();
        await copy.run('CREATE TABLE person (person_id BIGINT, gender_concept_id BIGINT, year_of_birth BIGINT)');
        const app = await copy.createAppender('person');
        for (const r of rows) {
          for (const k of ['person_id', 'gender_concept_id', 'year_of_birth']) {
            if (r[k] === null) app.appendNull();
            else app.appendBigInt(BigInt(r[k] as bigint));
          }
          app.endRow();
        }
        app.closeSync();
        await applyConsentScope(copy, { consents: scopes.records(), purpose: 'HRESCH', atMs: Date.now(), products: [{ name: 'person', privacyUnit: 'person_id' }] });
        const product = (await listProducts(copy)).find((p) => p.name === 'person')!;
        product.privacyUnit = 'person_id';
        const saved = duckProducts;
        duckProducts = [product];
        const save = conn;
        conn = copy;
        let onDuck: string;
        try {
          onDuck = await answer(spec, false);
        } finally {
          conn = save;
          duckProducts = saved;
        }
        expect(onPg).toEqual(onDuck);
        if (leavesOut) expect(onPg).not.toEqual(plain);
        else expect(onPg).toEqual(plain);
      } finally {
        copy.closeSync();
        copyDb.closeSync();
      }
    }
  }, 180_000);

  it('consent scopes glm and train on PostgreSQL too: persons opted out of HRESCH leave their rows out exactly as a where on them does (bit for bit); opted out of PUBHLTH only, they count', async () => {
    const ids = ((await conn.runAndReadAll('SELECT person_id FROM person ORDER BY person_id LIMIT 300')).getRowObjectsJS()).map((r) => String(r.person_id));
    const cut = Number(ids.at(-1));
    const product = pgProducts.find((p) => p.name === 'person')!;
    const ledgerDb = await DuckDBInstance.create(':memory:');
    const ledger = await ledgerDb.connect();
    const signal = new AbortController().signal;
    const bits = (v: Float64Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    const after = [{ column: 'person_id', op: '>', value: cut }];
    const glm = (where: unknown[]) => compileKindJob(glmKind, { kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth', covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], where, privacy: { mode: 'none' } });
    const train = (where: unknown[]) => compileKindJob(trainKind, {
      kind: 'train', product: 'person', label: 'gender_concept_id', labelLevels: [8507, 8532], features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }],
      split: { hash: { fraction: 0.3, salt: 'consent' } }, where, model: { type: 'logistic' }, training: { rounds: 1, localEpochs: 1, batchSize: 64, seed: 2 }, privacy: { mode: 'none' },
    });
    const steps = {
      glm: (where: unknown[], s: SqlSession) => {
        const job = glm(where);
        return glmAgentKind.onSource!({ conn: ledger, jobId: 'consent-glm', round: 0, product, salt: SALT, policy: { minCellSize: 5 }, jobState: new Map() }, job as never, glmKind.nextRound(job as never, []) as never, s, signal);
      },
      train: (where: unknown[], s: SqlSession) => {
        const job = train(where);
        return trainAgentKind.onSource!({ conn: ledger, jobId: 'consent-train', round: 0, product, salt: SALT, policy: { minCellSize: 5 }, jobState: new Map() }, job as never, { phase: 'train', weights: new Array<number>(job.plan.parameters).fill(0.1) } as never, s, signal);
      },
    };
    try {
      for (const [purpose, leavesOut] of [['HRESCH', true], ['PUBHLTH', false]] as const) {
        const dir = mkdtempSync(join(tmp, 'consent-kinds-'));
        writeFileSync(join(dir, 'consent.csv'), ['person_id,purpose,decision,start,end', ...ids.map((id) => `${id},${purpose},deny,,`)].join('\n'));
        const scopes = new ConsentScopes(dir, () => undefined);
        const scopedSource = scopes.wrapSource(source);
        await scopes.reload(conn, () => pgProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
        for (const [kind, step] of Object.entries(steps)) {
          const scoped = bits((await scopes.run('HRESCH', () => scopedSource.withSession((s) => step([], s)))).values);
          const byWhere = bits((await source.withSession((s) => step(after, s))).values);
          const everyone = bits((await source.withSession((s) => step([], s))).values);
          expect(byWhere, kind).not.toBe(everyone);
          expect(scoped, `${kind} ${purpose}`).toBe(leavesOut ? byWhere : everyone);
        }
      }
    } finally {
      ledger.closeSync();
      ledgerDb.closeSync();
    }
  }, 180_000);

  it('contingency the server cannot count exactly (a filter on a TIMESTAMP column) stages only the columns its step reads, and gives DuckDB\'s vector', async () => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [0, 8515, 8516, 8527], where: [{ column: 'birth_datetime', op: 'is not null' }], privacy: { mode: 'central-dp', epsilon: 1 } };
    const job = compileKindJob(contingencyKind, spec);
    const streamed: string[] = [];
    const step = async (onPg: boolean): Promise<number[]> => {
      const ledgerDb = await DuckDBInstance.create(':memory:');
      const local = await ledgerDb.connect();
      try {
        const product = (onPg ? pgProducts : duckProducts).find((p) => p.name === 'person')!;
        const ctx: AgentKindContext = { conn: onPg ? local : conn, jobId: 'jts', round: 0, product, salt: SALT, policy: { minCellSize: 100 }, jobState: new Map() };
        const signal = new AbortController().signal;
        const watch = (s: SqlSession): SqlSession => ({ dialect: s.dialect, run: (q, p) => s.run(q, p), all: (q, p) => s.all(q, p), stream: async function* (q, p, o) {
          for await (const batch of s.stream(q, p, o)) {
            if (batch[0]) streamed.push(Object.keys(batch[0]).sort().join(','));
            yield batch;
          }
        } });
        const v = onPg ? await source.withSession((s) => contingencyAgentKind.onSource!(ctx, job as never, null, watch(s), signal)) : await contingencyAgentKind.localStep(ctx, job as never, null, signal);
        return Array.from(v.values);
      } finally {
        local.closeSync();
        ledgerDb.closeSync();
      }
    };
    const d = await step(false);
    expect(d.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    expect(await step(true)).toEqual(d);
    // The fallback staged the product's rows (the control that this is the fallback) with 4 columns — row, column,
    // the filter's and the unit — of the person table's many.
    expect(streamed.length).toBeGreaterThan(0);
    expect(new Set(streamed.map((k) => k.split(',').length))).toEqual(new Set([4]));
    expect(pgProducts.find((p) => p.name === 'person')!.columns.length).toBeGreaterThan(10);
  }, 120_000);

  it('consent scopes the cohort kinds on PostgreSQL: persons opted out of HRESCH leave the celecoxib cohort (its count is the members after the cut), opted out of PUBHLTH only, they stay', async () => {
    const ids = ((await conn.runAndReadAll('SELECT person_id FROM person ORDER BY person_id LIMIT 300')).getRowObjectsJS()).map((r) => String(r.person_id));
    const cut = Number(ids.at(-1));
    const celecoxib = JSON.parse(readFileSync(join(circeJsonDir, 'celecoxib.json'), 'utf8')) as unknown;
    await runCohort(conn, parseCohortDefinition(celecoxib, 'cohort'), { targetTable: 'consent_ref' });
    const ref = (await conn.runAndReadAll(`SELECT count(DISTINCT subject_id) AS everyone, count(DISTINCT subject_id) FILTER (WHERE subject_id > ${cut}) AS kept FROM consent_ref`)).getRowObjectsJS()[0]!;
    await conn.run('DROP TABLE consent_ref');
    const [everyone, kept] = [Number(ref.everyone), Number(ref.kept)];
    expect(kept).toBeLessThan(everyone); // control: some opted-out persons are members
    const job = compileKindJob(cohortKind, { kind: 'cohort', definition: celecoxib, privacy: { mode: 'central-dp', epsilon: 1 } });
    const ledgerDb = await DuckDBInstance.create(':memory:');
    const ledger = await ledgerDb.connect();
    const signal = new AbortController().signal;
    const ctx = (): AgentKindContext => ({ conn: ledger, jobId: 'consent-cohort', round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: SALT, policy: { minCellSize: 5 }, jobState: new Map() });
    try {
      for (const [purpose, persons] of [['HRESCH', kept], ['PUBHLTH', everyone]] as const) {
        const dir = mkdtempSync(join(tmp, 'consent-cohort-'));
        writeFileSync(join(dir, 'consent.csv'), ['person_id,purpose,decision,start,end', ...ids.map((id) => `${id},${purpose},deny,,`)].join('\n'));
        const scopes = new ConsentScopes(dir, () => undefined);
        const scopedSource = scopes.wrapSource(source);
        await scopes.reload(conn, () => pgProducts.map((p) => ({ name: p.name, privacyUnit: p.privacyUnit })));
        const v = await scopes.run('HRESCH', () => scopedSource.withSession((s) => cohortAgentKind.onSource!(ctx(), job as never, null, s, signal)));
        expect(v.values[0], purpose).toBe(persons);
      }
    } finally {
      ledger.closeSync();
      ledgerDb.closeSync();
    }
  }, 180_000);
});
