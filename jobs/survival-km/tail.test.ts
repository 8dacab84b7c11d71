/**
 * Mode none: every at-risk count a reader can see or derive from a released Kaplan–Meier table is 0 or at least k
 * (red team 30, F3: the curve stopped at the first withheld bin but printed the persons still at risk there, 3 with
 * k = 10, the withheld tail's size). The cut is computed per stratum at each agent (`survivalTailCut`), and the test
 * runs the kind's own agent step, the task runner's withholding, the round runner and the release on a small OMOP
 * site whose last bin holds 3 persons.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector, withholdSmallCells, type AgentKindContext } from '../../common/kinds/index.js';
import { survivalTailCut } from '../../common/job/index.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { omopTable } from '../../node-agent/data/omop/cdm-spec.js';
import { kmAgentKind } from './agent.js';
import { kmKind, type CompiledKmJob } from './index.js';

const K = 10;

describe('survivalTailCut', () => {
  it('moves the cut back to the last bin whose persons at risk are 0 or at least k', () => {
    // At risk at the start of each bin: 33, 23, 13, 3, 3 (then 0). Bin 4 has a censoring cell of 3 (small): the
    // first withheld bin; 3 still at risk at bins 3 and 4, so the cut is bin 2 (13 at risk).
    expect(survivalTailCut(33, [0, 10, 0, 0, 0], [10, 0, 10, 0, 3], K)).toBe(2);
    // Control: no small cell and nobody left after the grid: nothing withheld (the cut is past the last bin).
    expect(survivalTailCut(30, [0, 10, 0], [10, 0, 10], K)).toBe(3);
    // Persons with no endpoint on the grid (3 of them, fewer than k) count too: the last bin goes.
    expect(survivalTailCut(33, [0, 10, 0], [10, 0, 10], K)).toBe(2);
    // A small first bin with 9 left after it: no released bin at all.
    expect(survivalTailCut(12, [3, 9], [0, 0], K)).toBe(0);
  });
});

async function site(): Promise<DuckDBConnection> {
  const conn = await (await DuckDBInstance.create(':memory:')).connect();
  const T: Record<string, string> = { integer: 'BIGINT', float: 'DOUBLE', date: 'DATE', datetime: 'TIMESTAMP', varchar: 'VARCHAR' };
  for (const name of ['person', 'observation_period', 'condition_occurrence', 'death', 'concept']) {
    const t = omopTable(name, '5.4')!;
    await conn.run(`CREATE TABLE ${name} (${t.columns.map((c) => `${c.name} ${T[c.type]}`).join(', ')})`);
  }
  await conn.run(`INSERT INTO concept (concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code, valid_start_date, valid_end_date) VALUES (201826, 'T2DM', 'Condition', 'SNOMED', 'Clinical Finding', 'S', '44054006', DATE '1970-01-01', DATE '2099-12-31')`);
  // 33 persons indexed on 2010-01-01: 1–10 censored in the bin ending at day 365, 11–20 die in the next, 21–30 are
  // censored in the one after, 31–33 are followed to the end of the grid (censored in its last bin).
  for (let p = 1; p <= 33; p++) {
    const end = p <= 10 ? '2010-06-01' : p <= 30 && p > 20 ? '2012-06-01' : '2030-01-01';
    await conn.run(`INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id) VALUES (${p}, 8507, 1960, 0, 0)`);
    await conn.run(`INSERT INTO observation_period (observation_period_id, person_id, observation_period_start_date, observation_period_end_date, period_type_concept_id) VALUES (${p}, ${p}, DATE '2000-01-01', DATE '${end}', 0)`);
    await conn.run(`INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_end_date, condition_type_concept_id) VALUES (${p}, ${p}, 201826, DATE '2010-01-01', DATE '2010-01-01', 0)`);
    if (p > 10 && p <= 20) await conn.run(`INSERT INTO death (person_id, death_date, death_type_concept_id) VALUES (${p}, DATE '2011-06-01', 0)`);
  }
  return conn;
}

describe('Kaplan–Meier in mode none: no small at-risk count (red team 30, F3)', () => {
  it('the released curve stops where 13 are still at risk, not where 3 are; every at-risk count shown is 0 or ≥ k', async () => {
    const conn = await site();
    const target = { name: 'dx', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826, descendants: false }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
    const spec = { kind: 'survival', target, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 1825 }, strata: 'none', privacy: { mode: 'none' } };
    const transport: RoundTransport = {
      async ask(_agent, task) {
        decodeRoundPayload(task.payload);
        const job = compileKindJob(kmKind, JSON.parse(task.specJson)) as CompiledKmJob;
        const ctx: AgentKindContext = { conn, jobId: task.jobId, round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 's', policy: { minCellSize: K }, jobState: new Map() } as AgentKindContext;
        const v = await kmAgentKind.localStep(ctx, job, null, new AbortController().signal);
        return { ok: true, bytes: encodeVector(withholdSmallCells(kmKind.layout(job, 0), v, K).vector) };
      },
      cancelJob: () => undefined,
    };
    const job = compileKindJob(kmKind, spec);
    const out = await runRounds({ def: kmKind, job, jobId: 'km-tail', researcher: 'r', specJson: JSON.stringify(job.spec), agents: ['a'], transport, store: createMemoryRoundStore(), rng: createSeededRng(1), releaseInfo: { minCellSize: { a: K } } });
    const curve = (out.release.summary!.curves as { atRisk: number[]; events: number[]; censored: number[] }[])[0]!;
    // At risk at the start of each bin: 33, 33, 23, 13, 3, 3; the last bin's 3 censorings are a small cell. The curve
    // used to run to the bin before it and print 3 at risk; now bins from the one with 13 at risk on are withheld,
    // so the last readable at-risk count is 23 − 10 = 13.
    expect(curve.atRisk).toEqual([33, 33, 23]);
    const left = curve.atRisk.at(-1)! - curve.events.at(-1)! - curve.censored.at(-1)!;
    expect(left).toBe(13);
    for (const x of [...curve.atRisk, left]) expect(x === 0 || x >= K).toBe(true);
    conn.closeSync();
  }, 60_000);
});
