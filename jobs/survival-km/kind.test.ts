/**
 * The Kaplan–Meier kind on the seam. Through the generic round runner (in-memory transport, one DuckDB per agent on
 * synthetic OMOP sites) three agents' counts release the curves of the pooled data; a cell an agent withheld is
 * named by its own cell in the release (the entry → cell mapping of the second block, with its control); the spec
 * switch keeps HE on the built-in path and Cox on survival-cox. The release equals the built-in kind's release
 * draw for draw in every plain and DP mode: test/golden/cell-jobs.golden.test.ts pins that through the real mesh.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { synthesize } from '../../client/tools/synth/synthesize.js';
import { isFedmeshError } from '../../common/errors.js';
import { summariseCells, type ReleasedCell, cellBlocks } from '../../common/job/index.js';
import { compileKindJob, decodeRoundPayload, encodeVector, registryKindCandidates, type AgentKindContext, type RoundRecord, withholdSmallCells } from '../../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundsOutcome, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { computeCells } from '../../node-agent/jobs/cell-jobs.js';
import { kmAgentKind } from './agent.js';
import { kmKind, type CompiledKmJob } from './index.js';

const AGENTS = ['a', 'b', 'c'];
const target = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
const spec = { kind: 'survival', target, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 1825 }, strata: 'gender', privacy: { mode: 'none' } };
const VOCABULARY = /^(concept|vocabulary|domain|relationship|drug_strength)/;

async function load(conn: DuckDBConnection, dirs: readonly string[]): Promise<void> {
  for (const f of readdirSync(dirs[0]!).filter((x) => x.endsWith('.parquet'))) {
    const table = f.replace(/\.parquet$/, '');
    const files = (VOCABULARY.test(table) ? dirs.slice(0, 1) : dirs).map((d) => `'${join(d, f)}'`);
    await conn.run(`CREATE TABLE "${table}" AS SELECT * FROM read_parquet([${files.join(', ')}])`);
  }
}

/** The agents' task runner in miniature: local step, then (mode none) withholding below the agent's minimum cell size. */
function transport(conns: Map<string, DuckDBConnection>, minCellSize: number): RoundTransport {
  return {
    async ask(agent, task) {
      const { hash } = decodeRoundPayload(task.payload);
      const job = compileKindJob(kmKind, JSON.parse(task.specJson)) as CompiledKmJob;
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      const ctx: AgentKindContext = { conn: conns.get(agent)!, jobId: task.jobId, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize }, jobState: new Map() };
      const v = await kmAgentKind.localStep(ctx, job, null, new AbortController().signal);
      return { ok: true, bytes: encodeVector(withholdSmallCells(kmKind.layout(job, 0), v, minCellSize).vector) };
    },
    cancelJob: () => undefined,
  };
}

function run(conns: Map<string, DuckDBConnection>, minCellSize: number): Promise<RoundsOutcome> {
  const job = compileKindJob(kmKind, spec);
  return runRounds({ def: kmKind, job, jobId: 'km-1', researcher: 'r', specJson: JSON.stringify(job.spec), agents: AGENTS, transport: transport(conns, minCellSize), store: createMemoryRoundStore(), rng: createSeededRng(1), releaseInfo: { minCellSize: { a: minCellSize, b: minCellSize, c: minCellSize } } });
}

describe('survival Kaplan–Meier kind (round runner, in-memory transport)', () => {
  const conns = new Map<string, DuckDBConnection>();
  let pooled: DuckDBConnection;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-km-'));
    const synth = await synthesize({ outDir: dir, sites: 3, persons: 300, seed: 5, format: 'parquet' });
    for (const [i, a] of AGENTS.entries()) {
      const conn = await (await DuckDBInstance.create(':memory:')).connect();
      await load(conn, [synth.sites[i]!.dir]);
      conns.set(a, conn);
    }
    pooled = await (await DuckDBInstance.create(':memory:')).connect();
    await load(pooled, synth.sites.map((s) => s.dir));
  }, 120_000);
  afterAll(() => {
    for (const c of [...conns.values(), pooled]) c?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('releases the Kaplan–Meier curves of the pooled data (minimum cell size 1)', async () => {
    const out = await run(conns, 1);
    const job = compileKindJob(kmKind, spec);
    const cells = await computeCells(pooled, job.spec, 'pooled');
    const released = new Map<string, ReleasedCell>([...cells].map(([k, v]) => [k, { value: Number(v), std: 0 }]));
    const ref = summariseCells(job.spec, released, [], undefined);
    expect(out.release.suppressed).toEqual([]);
    expect(out.release.summary!).toEqual(ref.summary);
    expect(out.release.rows).toEqual(ref.rows);
    const curves = out.release.summary!.curves as { events: number[]; atRisk: number[] }[];
    // The premise: persons followed and events at more than one site, so the sum is not one agent's counts.
    expect(curves.length).toBe(2);
    expect(curves.every((c) => c.atRisk[0]! > 0 && c.events.some((e) => e > 0))).toBe(true);
    expect(AGENTS.every((a) => out.history[0]!.answered.includes(a))).toBe(true);
    expect(kmKind.view(out.release)).toMatch(/^stratum\s+persons\s+median/);
  }, 60_000);

  it("withholds cells below an agent's minimum cell size, naming them by cell; the curves stop where a stratum's counts are withheld", async () => {
    const out = await run(conns, 20);
    expect(out.release.suppressed!.length).toBeGreaterThan(0);
    expect(out.release.suppressed!.every((s) => /^(n|e|c):(male|female|other):?\d*$/.test(String(s.group.cell)))).toBe(true);
    const withheldFrom = (out.release.summary!.curves as { withheldFrom: number | null }[]).map((c) => c.withheldFrom);
    expect(withheldFrom.some((w) => w !== null)).toBe(true);
  }, 60_000);

  it('maps a withheld entry of either block to its own cell (control: another entry, another cell)', () => {
    const job = compileKindJob(kmKind, spec);
    const n = job.plan.blocks.reduce((s, b) => s + b.cells.length, 0);
    const record = (withheld: RoundRecord['withheld']): RoundRecord<null> => ({ round: 0, input: null, answered: ['a', 'b'], released: Array.from({ length: n }, () => 30), noiseStd: [0, 0], withheld });
    const names = (w: RoundRecord['withheld']): unknown[] => kmKind.release(job, [record(w)], { converged: true }).suppressed!.map((s) => s.group.cell);
    // endpoints: e:male:0, c:male:0, e:male:1, c:male:1, …
    expect(names([{ block: 'endpoints', entry: 3, agents: ['b'] }])).toEqual(['c:male:1']);
    expect(names([{ block: 'endpoints', entry: 2, agents: ['b'] }])).toEqual(['e:male:1']);
    expect(names([{ block: 'initialAtRisk', entry: 1, agents: ['a'] }])).toEqual(['n:female']);
    expect(names([])).toEqual([]);
    expect(cellBlocks(job.spec).map((b) => b.name)).toEqual(job.plan.blocks.map((b) => b.name));
  });

  it('routes Cox to survival-cox and keeps HE on the built-in path', () => {
    expect(registryKindCandidates({ ...spec, model: 'cox' })[0]).toBe('survival-cox');
    expect(kmKind.accepts!({ ...spec, secure: 'he' })).toBe(false);
    expect(kmKind.accepts!({ ...spec, secure: 'secagg' })).toBe(true);
    expect(kmKind.accepts!(spec)).toBe(true);
    try {
      kmKind.parse({ ...spec, model: 'cox', covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [0, 110] }] });
      throw new Error('accepted');
    } catch (e) {
      expect(isFedmeshError(e) && e.code === 'INVALID_JOB' && e.field === 'model').toBe(true);
    }
    const job = compileKindJob(kmKind, spec);
    expect(kmKind.layout(job, 0).blocks.map((b) => b.release)).toEqual(['selection', 'selection']);
    expect(kmKind.layout(compileKindJob(kmKind, { ...spec, secure: 'secagg' }), 0).blocks.map((b) => b.release)).toEqual(['additive', 'additive']);
  });
});
