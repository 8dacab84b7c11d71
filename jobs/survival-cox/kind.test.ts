/**
 * The Cox kind through the generic round runner (in-memory transport, no sockets): GiBleed split across 3 agents
 * (persons by person_id mod 3), time from celecoxib to GI bleed by age group and gender — the example —
 * must equal the pooled Breslow fit on the same grid to 1e-6. Skips visibly without ../shared/data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { fitCoxPooled } from '../../algorithms/survival/index.js';
import type { AgentKindContext, CompiledKindJob } from '../../common/kinds/index.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { coxAgentLayout, readCoxData } from '../../node-agent/analytics/cox.js';
import type { TestDb } from '../../node-agent/cohort/test-omop.js';
import { createMemoryRoundStore, runRounds, type RoundsOutcome, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { gibleedAvailable, gibleedCohort, gibleedCoxSpec, gibleedMemoryDb, gibleedOmopDir } from '../../test/helpers/gibleed-memory.js';
import { coxAgentKind } from './agent.js';
import { coxKind, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';

if (!gibleedAvailable) console.warn(`[survival-cox] SKIPPING: ${gibleedOmopDir} not found`);

const AGENTS = ['a', 'b', 'c'];
const MIN_CELL = 10;

const spec = () => gibleedCoxSpec(30, 3650);

function transport(dbs: Map<string, TestDb>): RoundTransport {
  const state = new Map<string, Map<string, unknown>>();
  return {
    async ask(agent, task) {
      const { hash, input } = decodeRoundPayload(task.payload);
      const job = compileKindJob(coxKind, JSON.parse(task.specJson));
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      if (!state.has(agent)) state.set(agent, new Map());
      const ctx: AgentKindContext = {
        conn: dbs.get(agent)!.conn,
        jobId: task.jobId,
        round: task.round,
        product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' },
        salt: 'test-salt',
        policy: { minCellSize: MIN_CELL },
        jobState: state.get(agent)!,
      };
      try {
        const v = await coxAgentKind.localStep(ctx, job as CompiledKindJob<CoxJobSpec, CoxPlan>, input as CoxRoundInput, new AbortController().signal);
        return { ok: true, bytes: encodeVector(v) };
      } catch (e) {
        return { ok: false, error: { code: (e as { code?: string }).code ?? 'INTERNAL', message: (e as Error).message } };
      }
    },
    cancelJob: () => undefined,
  };
}

async function run(dbs: Map<string, TestDb>, agents: readonly string[]): Promise<RoundsOutcome> {
  const raw = spec();
  const job = compileKindJob(coxKind, raw);
  return runRounds({ def: coxKind, job, jobId: 'cox-1', researcher: 'r', specJson: JSON.stringify(job.spec), agents, transport: transport(dbs), store: createMemoryRoundStore(), rng: createSeededRng(3) });
}

describe.skipIf(!gibleedAvailable)('survival-cox kind on GiBleed split across 3 agents (round runner, in-memory transport)', () => {
  const dbs = new Map<string, TestDb>();
  let pooled: TestDb;
  let out: RoundsOutcome;
  beforeAll(async () => {
    for (const [i, a] of AGENTS.entries()) dbs.set(a, await gibleedMemoryDb({ site: i, sites: AGENTS.length }));
    pooled = await gibleedMemoryDb({ cohorts: { celecoxib: 'celecoxib.json' } });
    out = await run(dbs, AGENTS);
  }, 300_000);
  afterAll(() => {
    dbs.forEach((d) => d.close());
    pooled?.close();
  });

  it('converges and equals the pooled Breslow fit on the same merged grid to 1e-6 (coef, se, LR, Wald, score)', async () => {
    expect(out.converged).toBe(true);
    const last = out.history.at(-1)!.input as CoxRoundInput;
    expect(last.phase).toBe('newton');
    const times = last.phase === 'newton' ? last.times : [];
    const job = compileKindJob(coxKind, spec());
    const data = await readCoxData(pooled.conn, { targetTable: 'celecoxib', outcome: { domain: 'condition', conceptIds: [192671] }, timeGrid: job.spec.timeGrid, strata: 'none', covariates: job.spec.covariates });
    const ref = fitCoxPooled(data.persons, coxAgentLayout(data, times), data.terms).summary;
    const rows = out.release.rows;
    console.log(coxKind.view({ ...out.release }));
    expect(rows.map((r) => r.term)).toEqual(ref.coefficients.map((c) => c.term));
    rows.forEach((r, j) => {
      expect(Math.abs((r.coef as number) - ref.coefficients[j]!.coef)).toBeLessThan(1e-6);
      expect(Math.abs((r['se(coef)'] as number) - ref.coefficients[j]!.se!)).toBeLessThan(1e-6);
    });
    const s = out.release.summary as Record<string, { statistic: number }> & { n: number; events: number };
    expect(s.n).toBe(ref.n);
    expect(s.events).toBe(ref.events);
    for (const t of ['likelihoodRatio', 'wald', 'score'] as const) expect(Math.abs(s[t]!.statistic - ref[t].statistic!)).toBeLessThan(1e-6);
  });

  it('rounds: counts, then β = 0, then Newton steps; the job hash travels with every task', () => {
    const phases = out.history.map((h) => (h.input as CoxRoundInput).phase);
    expect(phases[0]).toBe('counts');
    expect(phases.slice(1).every((p) => p === 'newton')).toBe(true);
    expect(out.history.length).toBeLessThanOrEqual(compileKindJob(coxKind, spec()).maxRounds);
  });

  it('red team: two exact fits whose follow-up ends one day apart flip 1 … k − 1 persons\' events, not the followed set: the guard refuses the second', async () => {
    const target = gibleedCohort('celecoxib.json');
    const outcome = { domain: 'condition', conceptIds: [192671] };
    const covariates = [{ name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }];
    // A day M on which 1 … k − 1 of the followed persons have their event, with at least k events before it.
    await pooled.conn.run('DROP TABLE IF EXISTS guard_target');
    const { runCohort } = await import('../../node-agent/cohort/index.js');
    const { parseCohortDefinition } = await import('../../common/cohort/index.js');
    await runCohort(pooled.conn, parseCohortDefinition(target, 'target'), { targetTable: 'guard_target' });
    const d = await readCoxData(pooled.conn, { targetTable: 'guard_target', outcome, timeGrid: { binDays: 30, maxDays: 3650 }, covariates: covariates as never });
    const at = new Map<number, number>();
    d.persons.time.forEach((t, i) => d.persons.event[i] === 1 && at.set(t, (at.get(t) ?? 0) + 1));
    const before = (m: number): number => [...at].filter(([t]) => t < m).reduce((a, [, c]) => a + c, 0);
    const m = [...at.keys()].sort((a, b) => a - b).find((t) => t > 60 && at.get(t)! < MIN_CELL && before(t) >= MIN_CELL);
    expect(m, 'a day with 1 … k − 1 events').toBeDefined();
    const { ReleasedCells } = await import('../../node-agent/disclosure/released-cells.js');
    const cells = await ReleasedCells.open(pooled.conn);
    const fit = async (maxDays: number, jobId: string): Promise<string> => {
      const job = compileKindJob(coxKind, { kind: 'survival', target, outcome, timeGrid: { binDays: 30, maxDays }, model: 'cox', covariates, privacy: { mode: 'none' } });
      const ctx: AgentKindContext = {
        conn: pooled.conn, jobId, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 'test-salt', policy: { minCellSize: MIN_CELL }, jobState: new Map(),
        guardReleasedSets: async (c, candidates) => void (await cells.checkAndRecord(c, { researcher: 'mallory', jobId, candidates, minCellSize: MIN_CELL, maxRememberedPersons: 1_000_000 })),
      };
      return coxAgentKind.localStep(ctx, job as CompiledKindJob<CoxJobSpec, CoxPlan>, { phase: 'counts' } as CoxRoundInput, new AbortController().signal).then(() => 'ok', (e: Error) => e.message);
    };
    expect(await fit(m!, 'g1')).toBe('ok');
    expect(await fit(m!, 'g2')).toBe('ok'); // control: the same persons and events again
    expect(await fit(m! - 1, 'g3')).toMatch(/differencing guard/);
  }, 120_000);

  it('negative control: the same job over 2 of the 3 agents gives another fit', async () => {
    const two = await run(dbs, AGENTS.slice(0, 2));
    const diff = two.release.rows.map((r, j) => Math.abs((r.coef as number) - (out.release.rows[j]!.coef as number)));
    expect(Math.max(...diff)).toBeGreaterThan(1e-6);
  }, 120_000);
});

describe('survival-cox spec', () => {
  it('compiles DP modes with per-person sensitivity from the covariate bounds, and keeps the hash round trip', () => {
    const base = { kind: 'survival', target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } }, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 360 }, model: 'cox', covariates: [{ name: 'g', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }] };
    const dp = compileKindJob(coxKind, { ...base, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    const newton = coxKind.layout(dp, 1).blocks;
    // One person is in one bin: s0 moves by at most e^η, atRisk and events by 1; round 0 is public (zeros).
    const s0 = newton.find((b) => b.name === 's0')!.sensitivity as { l1: number; l2Sq: number };
    expect(s0.l1).toBeCloseTo(Math.exp(5), 9);
    expect(s0.l2Sq / Math.exp(10)).toBeCloseTo(1, 12);
    expect(newton.find((b) => b.name === 'atRisk')!.sensitivity).toEqual({ l1: 1, l2Sq: 1 });
    expect(coxKind.layout(dp, 0).blocks.every((b) => b.sensitivity !== 'exact-only' && b.sensitivity.l2Sq === 0)).toBe(true);
    expect(compileKindJob(coxKind, JSON.parse(JSON.stringify(dp.spec))).hash).toBe(dp.hash);
    // Negative control: mode none has no sensitivity (DP modes would refuse its blocks).
    expect(coxKind.layout(compileKindJob(coxKind, { ...base, privacy: { mode: 'none' } }), 1).blocks[0]!.sensitivity).toBe('exact-only');
    expect(() => coxKind.parse({ ...base, model: 'km', covariates: undefined, privacy: { mode: 'none' } })).toThrow(/^model: expected a survival job with "model": "cox"/);
    const job = compileKindJob(coxKind, { ...base, privacy: { mode: 'none' } });
    expect(job.kind).toBe('survival-cox');
    // The spec travels parsed; the agent parses and compiles it again and must reach the same hash.
    expect(compileKindJob(coxKind, JSON.parse(JSON.stringify(job.spec))).hash).toBe(job.hash);
    expect(compileKindJob(coxKind, { ...base, privacy: { mode: 'none' }, maxIterations: 5 }).hash).not.toBe(job.hash);
    expect(job.maxRounds).toBe(22);
    expect(coxKind.layout(job, 1).blocks.map((b) => b.name)).toEqual(['atRisk', 'events', 's0', 's1', 's2', 'eventX']);
  });
});

describe('routing of {"kind": "survival", "model": "cox"}', () => {
  it('goes to the registry kind survival-cox; a Kaplan–Meier survival spec goes to the kind survival (jobs/survival-km)', async () => {
    const { registryKindCandidates } = await import('../../common/kinds/index.js');
    const { KINDS } = await import('../kinds.js');
    const pick = (spec: unknown) => registryKindCandidates(spec).map((k) => KINDS.get(k)).find((d) => d !== undefined)?.kind;
    expect(pick({ kind: 'survival', model: 'cox' })).toBe('survival-cox');
    expect(pick({ kind: 'survival' })).toBe('survival');
    expect(pick({ kind: 'survival', model: 'km' })).toBe('survival');
    expect(registryKindCandidates({ kind: 'survival', model: 'Bad Model!' })).toEqual(['survival']);
    expect(registryKindCandidates(null)).toEqual([]);
  });
});
