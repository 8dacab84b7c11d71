/**
 * The cohort and characterize kinds on the seam. Through the generic round runner (in-memory transport, one DuckDB
 * per agent on synthetic OMOP sites) three agents' counts release the pooled cohort; at every agent the released
 * breakdowns never give a withheld cell back by subtraction (red team 9, F1: persons minus the released bands or
 * genders is 0 or at least k; entries go with a withheld cohort), with the unsuppressed vectors as the control; the
 * spec switch keeps HE on the built-in path. The releases equal the built-in kinds' in every plain and DP mode, draw
 * for draw: test/golden/cell-jobs.golden.test.ts pins that through the real mesh.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { synthesize } from '../../client/tools/synth/synthesize.js';
import { summariseCells, type ReleasedCell } from '../../common/job/index.js';
import { compileKindJob, decodeRoundPayload, encodeVector, type AgentKindContext, type StatVector, WITHHELD, withholdSmallCells } from '../../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundsOutcome, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { computeCells } from '../../node-agent/jobs/cell-jobs.js';
import { characterizeKind } from '../characterize/index.js';
import { cohortAgentKind } from './agent.js';
import { cohortKind } from './index.js';
import type { CompiledCohortCellJob } from './cells-kind.js';

const AGENTS = ['a', 'b', 'c'];
const definition = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 }, inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }] };
const spec = { kind: 'cohort', definition, ageBands: [0, 40, 50, 60, 70, 200], privacy: { mode: 'none' } };
const VOCABULARY = /^(concept|vocabulary|domain|relationship|drug_strength)/;

async function load(conn: DuckDBConnection, dirs: readonly string[]): Promise<void> {
  for (const f of readdirSync(dirs[0]!).filter((x) => x.endsWith('.parquet'))) {
    const table = f.replace(/\.parquet$/, '');
    const files = (VOCABULARY.test(table) ? dirs.slice(0, 1) : dirs).map((d) => `'${join(d, f)}'`);
    await conn.run(`CREATE TABLE "${table}" AS SELECT * FROM read_parquet([${files.join(', ')}])`);
  }
}

function ctxOf(conn: DuckDBConnection, jobId: string, minCellSize: number): AgentKindContext {
  return { conn, jobId, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize }, jobState: new Map() };
}

/** The agents' task runner in miniature: local step, then (mode none) withholding below the agent's minimum cell size. */
function transport(conns: Map<string, DuckDBConnection>, minCellSize: number): RoundTransport {
  return {
    async ask(agent, task) {
      const { hash } = decodeRoundPayload(task.payload);
      const job = compileKindJob(cohortKind, JSON.parse(task.specJson)) as CompiledCohortCellJob;
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      const v = await cohortAgentKind.localStep(ctxOf(conns.get(agent)!, task.jobId, minCellSize), job, null, new AbortController().signal);
      return { ok: true, bytes: encodeVector(withholdSmallCells(cohortKind.layout(job, 0), v, minCellSize).vector) };
    },
    cancelJob: () => undefined,
  };
}

function run(conns: Map<string, DuckDBConnection>, minCellSize: number): Promise<RoundsOutcome> {
  const job = compileKindJob(cohortKind, spec);
  return runRounds({ def: cohortKind, job, jobId: 'coh-1', researcher: 'r', specJson: JSON.stringify(job.spec), agents: AGENTS, transport: transport(conns, minCellSize), store: createMemoryRoundStore(), rng: createSeededRng(1), releaseInfo: { minCellSize: { a: minCellSize, b: minCellSize, c: minCellSize } } });
}

describe('cohort and characterize kinds (round runner, in-memory transport)', () => {
  const conns = new Map<string, DuckDBConnection>();
  let pooled: DuckDBConnection;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-coh-'));
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

  it('releases the pooled cohort with its attrition and breakdowns, and each agent\'s persons (minimum cell size 1)', async () => {
    const out = await run(conns, 1);
    const job = compileKindJob(cohortKind, spec);
    const cells = await computeCells(pooled, job.spec, 'pooled');
    const released = new Map<string, ReleasedCell>([...cells].map(([k, v]) => [k, { value: Number(v), std: 0 }]));
    const ref = summariseCells(job.spec, released, job.plan.ruleNames, undefined);
    expect(out.release.suppressed).toEqual([]);
    const { byAgent, ...summary } = out.release.summary as { byAgent: { agent: string; persons: number }[] };
    expect(summary).toEqual(ref.summary);
    expect(byAgent.map((b) => b.agent)).toEqual(AGENTS);
    expect(byAgent.reduce((s, b) => s + b.persons, 0)).toBe(ref.summary.count);
    expect(Number(ref.summary.count)).toBeGreaterThan(50);
  }, 60_000);

  it('at every agent, persons minus the released bands or genders is 0 or ≥ k, and entries go with a withheld cohort (control: without the rule a band is given back)', async () => {
    const job = compileKindJob(cohortKind, spec);
    const layout = cohortKind.layout(job, 0);
    const cells = job.plan.blocks[0]!.cells;
    const at = (c: string): number => cells.indexOf(c);
    const bands = cells.filter((c) => c.startsWith('age:'));
    const genders = cells.filter((c) => c.startsWith('gender:'));
    const hiddenOf = (v: Float64Array, parts: string[]): number => (v[at('persons')] === WITHHELD ? 0 : v[at('persons')]! - parts.reduce((s, c) => s + (v[at(c)] === WITHHELD ? 0 : v[at(c)]!), 0));
    let exposedWithoutRule = 0;
    let checked = 0;
    for (const k of [5, 10, 20, 40]) {
      for (const [a, conn] of conns) {
        const raw: StatVector = await cohortAgentKind.localStep(ctxOf(conn, `p-${a}-${k}`, k), job, null, new AbortController().signal);
        const v = withholdSmallCells(layout, raw, k).vector.values;
        for (const parts of [bands, genders]) {
          const hidden = hiddenOf(v, parts);
          expect(hidden === 0 || hidden >= k, `agent ${a}, k ${k}: ${hidden} hidden persons`).toBe(true);
          checked++;
          // Control: the same vector with only the small cells withheld leaves 1 … k − 1 hidden persons somewhere.
          const plain = Float64Array.from(raw.values, (x) => (x > 0 && x < k ? WITHHELD : x));
          const h = hiddenOf(plain, parts);
          if (h > 0 && h < k) exposedWithoutRule++;
        }
        if (v[at('persons')] === WITHHELD) expect(v[at('entries')]).toBe(WITHHELD);
      }
    }
    expect(checked).toBe(24);
    expect(exposedWithoutRule).toBeGreaterThan(0);
  }, 60_000);

  it('keeps HE on the built-in path; a characterize spec is its own kind', () => {
    expect(cohortKind.accepts!({ ...spec, secure: 'he' })).toBe(false);
    expect(cohortKind.accepts!(spec)).toBe(true);
    const ch = compileKindJob(characterizeKind, { kind: 'characterize', definition, conditionConcepts: [320128], drugConcepts: [], privacy: { mode: 'central-dp', epsilon: 1 } });
    expect(ch.plan.blocks.map((b) => b.name)).toEqual(['persons', 'byAgeBand', 'byGender', 'conditions']);
    expect(() => cohortKind.parse({ ...spec, kind: 'characterize', conditionConcepts: [1], drugConcepts: [] })).toThrow(/kind: must be cohort/);
  });
});
