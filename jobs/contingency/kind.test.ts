/**
 * The contingency kind through the generic round runner (in-memory transport and DuckDB, no sockets): three agents'
 * tables add up to the pooled table; a cell below an agent's minimum cell size is withheld there and released as
 * withheld, never as 0 (with its negative control: the same cell released when the threshold allows it); a single
 * level is refused before admission; the spec switch keeps HE on the built-in path.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob, decodeRoundPayload, encodeVector, type AgentKindContext, type CompiledKindJob, layoutWithWithheld, withholdSmallCells } from '../../common/kinds/index.js';
import { contingencyCounts } from '../../node-agent/analytics/contingency.js';
import { createMemoryRoundStore, runRounds, type RoundsOutcome, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { contingencyAgentKind } from './agent.js';
import { contingencyKind, type ContingencyPlan } from './index.js';
import type { ContingencySpec } from './spec.js';

const AGENTS = ['a', 'b', 'c'];
const spec = { kind: 'contingency', product: 't', rowColumn: 'sex', colColumn: 'grp', rowLevels: ['f', 'm'], colLevels: [1, 2, 3], privacy: { mode: 'none' } };

/** Persons 0..n−1 at each agent; agent `b` holds only 2 persons in cell (m, 3). */
function rowsOf(agent: string): string {
  const out: string[] = [];
  const n = agent === 'b' ? 60 : 90;
  for (let i = 0; i < n; i++) {
    const id = `${agent}${i}`;
    const sex = i % 2 === 0 ? 'f' : 'm';
    let grp = 1 + (i % 3);
    if (agent === 'b' && sex === 'm' && grp === 3) grp = i < 12 ? 3 : 2;
    out.push(`('${id}', '${sex}', ${grp})`);
    if (i % 7 === 0) out.push(`('${id}', '${sex}', ${grp})`); // a second row of the same person, same cell
  }
  return out.join(', ');
}

async function db(values: string): Promise<DuckDBConnection> {
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  await conn.run('CREATE TABLE t (person_id VARCHAR, sex VARCHAR, grp INTEGER)');
  await conn.run(`INSERT INTO t VALUES ${values}`);
  return conn;
}

/** The agents' task runner in miniature: local step, then (mode none) withholding below the agent's minimum cell size. */
function transport(conns: Map<string, DuckDBConnection>, minCellSize: number): RoundTransport {
  return {
    async ask(agent, task) {
      const { hash } = decodeRoundPayload(task.payload);
      const job = compileKindJob(contingencyKind, JSON.parse(task.specJson)) as CompiledKindJob<ContingencySpec, ContingencyPlan>;
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      const ctx: AgentKindContext = { conn: conns.get(agent)!, jobId: task.jobId, round: 0, product: { name: 't', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize }, jobState: new Map() };
      const v = await contingencyAgentKind.localStep(ctx, job, null, new AbortController().signal);
      return { ok: true, bytes: encodeVector(withholdSmallCells(contingencyKind.layout(job, 0), v, minCellSize).vector) };
    },
    cancelJob: () => undefined,
  };
}

function run(conns: Map<string, DuckDBConnection>, minCellSize: number): Promise<RoundsOutcome> {
  const job = compileKindJob(contingencyKind, spec);
  return runRounds({ def: contingencyKind, job, jobId: 'ct-1', researcher: 'r', specJson: JSON.stringify(job.spec), agents: AGENTS, transport: transport(conns, minCellSize), store: createMemoryRoundStore(), rng: createSeededRng(1), releaseInfo: { minCellSize: { a: minCellSize, b: minCellSize, c: minCellSize } } });
}

describe('contingency kind (round runner, in-memory transport)', () => {
  const conns = new Map<string, DuckDBConnection>();
  let pooled: DuckDBConnection;
  beforeAll(async () => {
    for (const a of AGENTS) conns.set(a, await db(rowsOf(a)));
    pooled = await db(AGENTS.map(rowsOf).join(', '));
  });
  afterAll(() => {
    for (const c of [...conns.values(), pooled]) c?.closeSync();
  });

  it('releases the pooled table when no cell is small (minimum cell size 1)', async () => {
    const out = await run(conns, 1);
    const ref = await contingencyCounts(pooled, { table: 't', rowColumn: 'sex', colColumn: 'grp', rowLevels: ['f', 'm'], colLevels: [1, 2, 3], personColumn: 'person_id' });
    expect(out.release.summary!.table).toEqual(ref.counts.map((r) => r.map(Number)));
    expect(out.release.suppressed).toEqual([]);
    expect(out.release.privacy).toEqual({ mode: 'none', exact: true, minCellSize: { a: 1, b: 1, c: 1 } });
    expect(out.history).toHaveLength(1);
    expect((out.release.summary!.chiSquare as { df: number }).df).toBe(2);
  });

  it("a cell below an agent's minimum cell size withholds that agent's whole table (DataSHIELD's rule; red team 42): every place null, named in suppressed, no chi-square", async () => {
    const out = await run(conns, 5);
    const table = out.release.summary!.table as (number | null)[][];
    expect(table[1]![2]).toBeNull();
    expect(table.flat().every((x) => x === null)).toBe(true);
    expect(out.release.suppressed).toContainEqual({ group: { cell: 'cell:1:2' }, suppressedBy: ['b'] });
    expect(out.release.suppressed!.every((x) => (x.suppressedBy as string[]).includes('b'))).toBe(true);
    expect(out.release.summary!.chiSquare).toBeUndefined();
    expect(out.release.notes).toContain('chi-square not computed: a cell was suppressed');
    expect(contingencyKind.view(out.release)).toMatch(/–/);
  });

  it('refuses a single row or column level before admission (issue 15 point 5) and keeps HE on the built-in path', () => {
    for (const [patch, field] of [[{ rowLevels: ['f'] }, 'rowLevels'], [{ colLevels: [1] }, 'colLevels']] as const) {
      try {
        contingencyKind.parse({ ...spec, ...patch });
        throw new Error('accepted');
      } catch (e) {
        expect(isFedmeshError(e) && e.code === 'INVALID_JOB' && e.field === field).toBe(true);
      }
    }
    expect(contingencyKind.accepts!({ ...spec, secure: 'he', privacy: { mode: 'distributed-dp', rho: 1 } })).toBe(false);
    expect(contingencyKind.accepts!(spec)).toBe(true);
  });

  it('its reply layout carries the withheld marker only in mode none with plain sums', () => {
    const job = compileKindJob(contingencyKind, spec);
    expect(contingencyKind.layout(job, 0).blocks[0]!.release).toBe('selection');
    expect(layoutWithWithheld(contingencyKind.layout(job, 0)).blocks[0]!.perAgent.lo).toBeLessThan(0);
  });
});
