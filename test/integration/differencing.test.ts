import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { compileKindJob, decodeVector, encodeRoundPayload, layoutWithWithheld, WITHHELD, type CompiledKindJob } from '../../common/kinds/index.js';
import { KINDS } from '../../jobs/kinds.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Issue 8 item 3: two exact counts whose person sets differ by one person reveal that person. The agent remembers
 * the person sets of the cells it released in mode none, per researcher, and refuses a cell that differs from one
 * of them by 1 … k − 1 persons (k = 10 here). Over gRPC/mTLS with a real agent.
 */
describe('differencing in mode none (issue 8 item 3)', () => {
  let mesh: TestMesh;

  /**
   * One round task of a cell kind on the kind seam (cohort, characterize, survival) at agent c1, as `researcher`:
   * the task carries the compiled job's hash; the reply is the agent's vector (cells it withheld read as 0).
   */
  const seamTask = async (id: string, researcher: string, raw: Record<string, unknown>): Promise<{ ok: true; values: Map<string, bigint> } | { ok: false; code: string; message: string }> => {
    const def = KINDS.get(String(raw.kind))!;
    const job = compileKindJob(def, raw) as CompiledKindJob<unknown, { blocks: { cells: string[] }[] }>;
    const reply = await mesh.agents.get('c1')!.handleTask({ taskId: id, jobId: id, kind: String(raw.kind), specJson: JSON.stringify(raw), deadlineMs: Date.now() + 30_000, round: 0, researcher, payload: encodeRoundPayload({ hash: job.hash, input: null }) });
    if (!reply.ok) return { ok: false, code: reply.error.code, message: reply.error.message };
    const v = decodeVector(layoutWithWithheld(def.layout(job, 0)), reply.arrow, 'c1').values;
    const cells = job.plan.blocks.flatMap((b) => b.cells);
    return { ok: true, values: new Map(cells.map((c, i) => [c, v[i]! === WITHHELD ? 0n : BigInt(v[i]!)])) };
  };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'c1'] });
    // 100 persons: 1–49 born 1940–1959, person 50 alone in 1970, 51–100 born 1980–1999.
    const dir = join(mesh.dir, 'data', 'persons');
    const persons = `
      SELECT i AS person_id, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id,
             CASE WHEN i < 50 THEN 1940 + i % 20 WHEN i = 50 THEN 1970 ELSE 1980 + i % 20 END AS year_of_birth
        FROM range(1, 101) t(i)`;
    await writeCsvFromSql(dir, 'person', persons);
    // The same persons as a flat product open to train jobs (the train variant below), unit person_id.
    await writeCsvFromSql(dir, 'people', persons);
    // Visits: one row per person, except person 50 with 12 (≥ k rows, one person): red team R1.
    await writeCsvFromSql(dir, 'visits', `SELECT person_id, person_id % 2 AS y, year_of_birth FROM (${persons}) p, range(CASE WHEN person_id = 50 THEN 20 ELSE 1 END) r(j)`);
    // Labels: every fifth person's label (0) is not among a job's declared levels (red team 23).
    await writeCsvFromSql(dir, 'labelled', `SELECT person_id, year_of_birth, CASE WHEN person_id % 5 = 0 THEN 0 ELSE gender_concept_id END AS label FROM (${persons}) p`);
    await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { people: { privacyUnit: 'person_id', allowedJobKinds: ['fl', 'glm'] }, visits: { privacyUnit: 'person_id', allowedJobKinds: ['fl'] }, labelled: { privacyUnit: 'person_id', allowedJobKinds: ['fl'] } } }));
    await mesh.startAgent('a1', dir, { allowModes: ['none', 'central-dp', 'local-dp', 'distributed-dp'], allowKinds: ['aggregate', 'cohort', 'characterize', 'survival', 'survival-cox', 'contingency', 'train', 'glm'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 800, seed: 11, format: 'parquet' });
    await mesh.startAgent('c1', synth.sites[0]!.dir, { allowModes: ['none', 'central-dp', 'local-dp', 'distributed-dp'], allowKinds: ['aggregate', 'cohort', 'characterize', 'survival', 'survival-cox', 'contingency'] });
    await mesh.waitForAgents(2, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  const count = (where: unknown[]): Record<string, unknown> => ({ kind: 'aggregate', product: 'person', where, measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: ['a1'] });
  /** A count's task straight to agent a1 (on the kind seam: it carries the compiled job's hash). */
  const countTask = (id: string, researcher: string, spec: Record<string, unknown>): AgentTask => ({
    taskId: id, jobId: id, kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher, payload: encodeRoundPayload({ hash: compileKindJob(KINDS.get('aggregate')!, spec).hash, input: null }),
  });

  it('age >= X then age > X: the second count, one person fewer, is refused with PERMISSION_DENIED naming the rule', async () => {
    const first = await mesh.client.run(count([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
    expect(first.error).toBeUndefined();
    expect(first.result!.rows).toEqual([{ count: 51 }]);
    const second = await mesh.client.run(count([{ column: 'year_of_birth', op: '>', value: 1970 }]));
    expect(second.state).toBe('failed');
    expect(second.result).toBeUndefined();
    // (on the kind seam the agent's code is named: "a1: POLICY_DENIED: differencing guard …")
    expect(second.error!.message).toMatch(/a1: (POLICY_DENIED: )?differencing guard \(mode none\)/);
    expect(second.error!.message).not.toMatch(/\b50\b/);
    // The agent's own code: POLICY_DENIED (gRPC PERMISSION_DENIED).
    const direct = await mesh.agents.get('a1')!.handleTask(countTask('d1', 'researcher', count([{ column: 'year_of_birth', op: '>', value: 1970 }])));
    expect(!direct.ok && direct.error.code).toBe('POLICY_DENIED');
  });

  it('the same count again is allowed (identical person set), and another researcher has a memory of their own', async () => {
    const again = await mesh.client.run(count([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
    expect(again.error).toBeUndefined();
    const other = await mesh.agents.get('a1')!.handleTask(countTask('o1', 'someone-else', count([{ column: 'year_of_birth', op: '>', value: 1970 }])));
    expect(other.ok).toBe(true);
  });

  it('negative control: counts whose person sets differ by at least k both pass', async () => {
    const a = await mesh.client.run(count([{ column: 'year_of_birth', op: '<', value: 1950 }]));
    const b = await mesh.client.run(count([{ column: 'year_of_birth', op: '<', value: 1960 }]));
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    expect(a.result!.rows).toEqual([{ count: 29 }]);
    expect(b.result!.rows).toEqual([{ count: 49 }]);
  });

  it('contingency variant: the same table over a filter moved by one person is refused', async () => {
    const table = (op: string): unknown => ({ kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'gender_concept_id', rowLevels: [8507, 8532], colLevels: [8507, 8532], where: [{ column: 'year_of_birth', op, value: 1970 }], privacy: { mode: 'none' }, agents: ['a1'] });
    const first = await mesh.client.run(table('>='));
    expect(first.error).toBeUndefined();
    expect(first.result!.summary!.table).toEqual([[26, 0], [0, 25]]);
    const second = await mesh.client.run(table('>'));
    expect(second.state).toBe('failed');
    expect(second.error!.message).toMatch(/a1: (POLICY_DENIED: )?differencing guard \(mode none\)/);
  });

  it('train variant (red-team F1 follow-up): a model fit and scored on persons moved by one is refused; the same job again and far-apart sets pass', async () => {
    // Exact test loss/accuracy/AUC and training loss over 51 persons, then over the same 50: subtracting gave person 50's
    // figures. The agent now takes each split side's persons (hash split, about half each) as a released set.
    const train = (where: unknown[]): unknown => ({
      kind: 'train', product: 'people', label: 'gender_concept_id', labelLevels: [8507, 8532], features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }],
      split: { hash: { fraction: 0.5, salt: 'diff' } }, where, model: { type: 'logistic' }, training: { rounds: 1 }, participation: { minUpdates: 1 }, privacy: { mode: 'none' }, agents: ['a1'],
    });
    // Researcher bob: a memory of his own, so the aggregate and contingency jobs above do not decide this case.
    const bob = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'bob') });
    try {
      const first = await bob.run(train([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(first.error, JSON.stringify(first.error)).toBeUndefined();
      expect((first.result!.summary!.final as { testN: number }).testN).toBeGreaterThanOrEqual(10);
      const again = await bob.run(train([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(again.error).toBeUndefined(); // control: identical person sets
      const second = await bob.run(train([{ column: 'year_of_birth', op: '>', value: 1970 }]));
      expect(second.state).toBe('failed');
      expect(second.result).toBeUndefined();
      expect(second.error!.message).toMatch(/a1: (POLICY_DENIED: )?(round 1: )?differencing guard \(mode none\)/);
      // Negative control: persons born before 1960 (49 persons, disjoint from both sides above) pass.
      const far = await bob.run(train([{ column: 'year_of_birth', op: '<', value: 1960 }]));
      expect(far.error).toBeUndefined();
    } finally {
      bob.close();
    }
  }, 120_000);

  it('train, red team 23: the left-out count of declared label levels over persons moved by one is refused (the sides are the same)', async () => {
    // Born ≥ 1970: persons 50–100, of whom 50, 55, …, 100 (11) have the unlisted label 0; born > 1970: 55, …, 100 (10).
    // Person 50 is left out of both sides, so the sides' persons are the same and only the left-out count (11, then
    // 10: person 50's label) told them apart. The left-out persons are now a guarded set of their own.
    const train = (where: unknown[]): unknown => ({
      kind: 'train', product: 'labelled', label: 'label', labelLevels: [8507, 8532], features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }],
      split: { hash: { fraction: 0.5, salt: 'diff' } }, where, model: { type: 'logistic' }, training: { rounds: 1 }, participation: { minUpdates: 1 }, privacy: { mode: 'none' }, agents: ['a1'],
    });
    const carol = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'carol') });
    try {
      const first = await carol.run(train([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(first.error, JSON.stringify(first.error)).toBeUndefined();
      expect(JSON.stringify(first.result)).toMatch(/"labelExcluded":11\b/);
      const again = await carol.run(train([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(again.error).toBeUndefined(); // control: identical person sets
      const second = await carol.run(train([{ column: 'year_of_birth', op: '>', value: 1970 }]));
      expect(second.state, JSON.stringify(second.result)).toBe('failed');
      expect(second.error!.message).toMatch(/a1: (POLICY_DENIED: )?(round 1: )?differencing guard \(mode none\)/);
    } finally {
      carol.close();
    }
  }, 120_000);

  it('train, red team R1: one person with 20 rows (≥ k rows, 1 person) as a side is refused by the per-person side rule', async () => {
    // The reader counts persons per split side (glm.levelCells over the side covariate), so a side of 1 … k − 1
    // persons never trains or evaluates, however many rows they have; the agent's small flags count persons too
    // (jobs/train/small-agent.test.ts). Control: the same job over everybody (≥ k persons per side) runs.
    const bob = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'bob') });
    const spec = (where: unknown[]): unknown => ({
      kind: 'train', product: 'visits', label: 'y', loss: 'mse', features: [{ column: 'year_of_birth', type: 'numeric', bounds: [1900, 2020] }],
      split: { hash: { fraction: 0.5, salt: 'r1' } }, where, model: { type: 'linear' }, training: { rounds: 1 }, participation: { minUpdates: 1 }, privacy: { mode: 'none' }, agents: ['a1'],
    });
    try {
      const one = await bob.run(spec([{ column: 'year_of_birth', op: '=', value: 1970 }]));
      expect(one.state).toBe('failed');
      expect(one.result).toBeUndefined();
      expect(one.error!.message).toMatch(/disclosure rule glm\.levelCells: level (train|test) of covariate fedmesh_split_side has fewer persons at this agent than the minimum cell size/);
      const all = await bob.run(spec([]));
      expect(all.error, JSON.stringify(all.error)).toBeUndefined();
    } finally {
      bob.close();
    }
  }, 120_000);

  it('glm variant: a regression over persons moved by one is refused; the same fit again and a far-apart one pass', async () => {
    // Exact coefficients and n over 51 persons, then over the same 50, subtract to person 50's row.
    const glm = (where: unknown[]): unknown => ({
      kind: 'glm', product: 'people', family: 'gaussian', outcome: 'year_of_birth', outcomeBounds: [1900, 2020],
      covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }], where, quorum: 1, privacy: { mode: 'none' }, agents: ['a1'],
    });
    const carol = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'carol') });
    try {
      const first = await carol.run(glm([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(first.error, JSON.stringify(first.error)).toBeUndefined();
      const again = await carol.run(glm([{ column: 'year_of_birth', op: '>=', value: 1970 }]));
      expect(again.error).toBeUndefined(); // control: the identical person set
      const second = await carol.run(glm([{ column: 'year_of_birth', op: '>', value: 1970 }]));
      expect(second.state).toBe('failed');
      expect(second.result).toBeUndefined();
      expect(second.error!.message).toMatch(/a1: (POLICY_DENIED: )?(round \d+: )?differencing guard \(mode none\)/);
      const far = await carol.run(glm([{ column: 'year_of_birth', op: '<', value: 1960 }]));
      expect(far.error, JSON.stringify(far.error)).toBeUndefined(); // control: 49 other persons
    } finally {
      carol.close();
    }
  }, 120_000);

  describe('a public boundary moved with the cohort unchanged (red team 8, F1): every released cell is guarded', () => {
    const diabetes = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, observation: { priorDays: 0, postDays: 0 } };
    type Reply = { ok: true; values: Map<string, bigint> } | { ok: false; code: string; message: string };
    let task = 0;
    /** One task at agent c1 as `researcher` (each researcher has a memory of their own). */
    const ask = async (researcher: string, raw: Record<string, unknown>): Promise<Reply> => {
      const id = `rt8-${task++}`;
      return seamTask(id, researcher, raw);
    };
    const values = async (raw: Record<string, unknown>): Promise<Map<string, bigint>> => {
      const r = await ask(`rt8-probe-${task}`, raw);
      if (!r.ok) throw new Error(r.message);
      return r.values;
    };
    const refusedAfter = async (researcher: string, first: Record<string, unknown>, second: Record<string, unknown>): Promise<string> => {
      const a = await ask(researcher, first);
      if (!a.ok) return `first refused: ${a.message}`;
      const b = await ask(researcher, second);
      return b.ok ? 'released' : `${b.code} ${/differencing guard/.test(b.message)}`;
    };

    it('characterisation window moved by one day: a condition cell of ≥ k persons that grew by 1 … k − 1 is refused', async () => {
      const job = (lo: number) => ({ kind: 'characterize', definition: diabetes, conditionConcepts: [320128], drugConcepts: [], windowDays: [lo, 0], privacy: { mode: 'none' } });
      const cell = async (lo: number): Promise<bigint> => (await values(job(lo))).get('condition:320128') ?? 0n;
      // Coarse steps back to a window holding ≥ 10 persons, then day by day.
      let start = 0;
      while (start > -3650 && (await cell(start)) < 10n) start -= 60;
      let w: number | undefined;
      let prev = await cell(start);
      for (let lo = start - 1; lo >= start - 400 && w === undefined; lo--) {
        const n = await cell(lo);
        if (prev >= 10n && n - prev >= 1n && n - prev <= 9n) w = lo;
        prev = n;
      }
      expect(w, 'a window edge whose move adds 1 … 9 persons to a cell of ≥ 10').toBeDefined();
      // The cohort (and every other cell) is the same in both jobs: only the condition cell differs.
      expect(await refusedAfter('rt8-window', job(w! + 1), job(w!))).toBe('POLICY_DENIED true');
      expect(await refusedAfter('rt8-window-control', job(w! + 1), job(w! + 1))).toBe('released'); // control: the same job again
    }, 120_000);

    it('an age band edge moved by one year: refused; moved so that every cell changes by 0 or ≥ k persons: released', async () => {
      const job = (edge: number) => ({ kind: 'cohort', definition: diabetes, ageBands: [0, edge, 200], privacy: { mode: 'none' } });
      const low = async (edge: number): Promise<bigint> => (await values(job(edge))).get(`age:0-${edge - 1}`) ?? 0n;
      let e: number | undefined;
      for (let edge = 30; edge < 90 && e === undefined; edge++) {
        const [a, b] = [await low(edge), await low(edge + 1)];
        if (a >= 10n && b - a >= 1n && b - a <= 9n) e = edge;
      }
      expect(e, 'an edge whose move adds 1 … 9 persons to a band of ≥ 10').toBeDefined();
      expect(await refusedAfter('rt8-band', job(e!), job(e! + 1))).toBe('POLICY_DENIED true');
      let far: number | undefined;
      const base = await low(e!);
      for (let edge = e! + 2; edge < 120 && far === undefined; edge++) {
        const n = await low(edge);
        const total = (await values(job(edge))).get('persons') ?? 0n;
        if (n - base >= 10n && total - n >= 10n) far = edge;
      }
      expect(far).toBeDefined();
      expect(await refusedAfter('rt8-band-far', job(e!), job(far!))).toBe('released'); // control: the bands moved by ≥ k persons
    }, 120_000);

    it('survival: a time grid shifted by a day is refused; the same grid again is released (control)', async () => {
      const job = (binDays: number) => ({ kind: 'survival', target: diabetes, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays, maxDays: 3650 }, strata: 'none', privacy: { mode: 'none' } });
      let refused: number | undefined;
      for (let b = 200; b < 400 && refused === undefined; b += 7) if ((await refusedAfter(`rt8-grid-${b}`, job(b), job(b + 1))) === 'POLICY_DENIED true') refused = b;
      expect(refused, 'a grid whose shift moves 1 … 9 persons between bins').toBeDefined();
      expect(await refusedAfter('rt8-grid-control', job(refused!), job(refused!))).toBe('released');
      // Control: the refusal is this researcher's memory, not the job: a fresh researcher gets the shifted grid.
      expect((await ask('rt8-grid-fresh', job(refused! + 1))).ok).toBe(true);
    }, 120_000);
  });

  describe('cohort variant: an inclusion rule moved by one year', () => {
    const definition = (minAge: number): unknown => ({
      name: 'type 2 diabetes',
      entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
      observation: { priorDays: 0, postDays: 0 },
      inclusionRules: [{ name: `age ${minAge}+`, type: 'age', min: minAge }],
    });
    // One age band: every cell the cohort job releases is then the cohort, one of its gender groups, or the
    // qualified persons (the same in every job here), so the differencing guard compares the cohorts and their
    // gender groups (it guards every released cell, red team 8).
    const cohortJob = (minAge: number): Record<string, unknown> => ({ kind: 'cohort', definition: definition(minAge), ageBands: [0, 200], privacy: { mode: 'none' } });
    const cellsAt = new Map<number, Map<string, bigint>>();
    /** The cohort size at the agent, asked directly as a throwaway researcher (each probe has its own memory). */
    const probe = async (minAge: number): Promise<bigint> => {
      const reply = await seamTask(`p${minAge}`, `probe-${minAge}`, cohortJob(minAge));
      if (!reply.ok) throw new Error(reply.message);
      const values = reply.values;
      cellsAt.set(minAge, values);
      return values.get('persons') ?? 0n;
    };

    it('min age X then X + 1, one to nine persons fewer: refused; a rule moved by ≥ k persons passes', async () => {
      const sizes = new Map<number, bigint>();
      const size = async (age: number): Promise<bigint> => {
        if (!sizes.has(age)) sizes.set(age, await probe(age));
        return sizes.get(age)!;
      };
      let x: number | undefined;
      for (let age = 40; age < 90 && x === undefined; age++) {
        const d = (await size(age)) - (await size(age + 1));
        if (sizes.get(age + 1)! >= 10n && d >= 1n && d <= 9n) x = age;
      }
      expect(x, `cohort sizes by minimum age: ${[...sizes].join(' ')}`).toBeDefined();
      const first = await mesh.client.run({ ...cohortJob(x!), agents: ['c1'] });
      expect(first.error).toBeUndefined();
      expect(BigInt(first.result!.summary!.count as number)).toBe(sizes.get(x!));
      const second = await mesh.client.run({ ...cohortJob(x! + 1), agents: ['c1'] });
      expect(second.state).toBe('failed');
      expect(second.error!.message).toMatch(/c1: (POLICY_DENIED: )?differencing guard \(mode none\)/);
      // Negative control: the youngest minimum age whose cohort is at least k persons smaller, and each of whose
      // gender groups is the same or at least k persons smaller, still passes.
      const apart = (a: bigint, b: bigint): boolean => a - b === 0n || a - b >= 10n;
      let y: number | undefined;
      for (let age = x! + 2; age < 100 && y === undefined; age++) {
        const n = await size(age);
        if (n < 10n) break;
        const [cx, cy] = [cellsAt.get(x!)!, cellsAt.get(age)!];
        if (sizes.get(x!)! - n >= 10n && ['gender:8507', 'gender:8532', 'gender:0'].every((g) => apart(cx.get(g) ?? 0n, cy.get(g) ?? 0n))) y = age;
      }
      expect(y).toBeDefined();
      const third = await mesh.client.run({ ...cohortJob(y!), agents: ['c1'] });
      // For Cox (its guard compares the followed persons and those with an event): the youngest minimum age whose
      // cohort is at least k persons smaller.
      let yCox: number | undefined;
      for (let age = x! + 2; age < 100 && yCox === undefined; age++) if (sizes.get(x!)! - (await size(age)) >= 10n) yCox = age;
      expect(third.error).toBeUndefined();
      // Cox variant (mode none): exact coefficients over the cohort at min age X, then X + 1, subtract to the persons
      // between; the agent's guard over the followed persons refuses the second fit. Researcher carol: a memory of her own.
      const cox = (minAge: number): unknown => ({ kind: 'survival', model: 'cox', target: definition(minAge), outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 365, maxDays: 3650 }, covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [18, 100] }], maxIterations: 3, privacy: { mode: 'none' }, agents: ['c1'] });
      const carol = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'carol') });
      try {
        const fit = await carol.run(cox(x!));
        expect(fit.error, JSON.stringify(fit.error)).toBeUndefined();
        const again = await carol.run(cox(x!));
        expect(again.error, JSON.stringify(again.error)).toBeUndefined(); // control: the same persons again
        const moved = await carol.run(cox(x! + 1));
        expect(moved.state).toBe('failed');
        expect(moved.error!.message).toMatch(/c1: (POLICY_DENIED: )?(round \d+: )?differencing guard \(mode none\)/);
        expect((await carol.run(cox(yCox!))).error).toBeUndefined(); // control: at least k persons fewer
      } finally {
        carol.close();
      }
      // Within one job: rules "age X+" then "age X+1+" make attrition steps that differ by 1 … k − 1 persons; the
      // second step (and the cohort, the same persons) are withheld, the first is shown. Another researcher, so that
      // the memory of the jobs above does not refuse it first.
      const alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
      const two = { ...(definition(x!) as Record<string, unknown>), inclusionRules: [{ name: 'age X+', type: 'age', min: x! }, { name: 'age X+1+', type: 'age', min: x! + 1 }] };
      const nested = await alice.run({ kind: 'cohort', definition: two, privacy: { mode: 'none' }, agents: ['c1'] });
      alice.close();
      expect(nested.error).toBeUndefined();
      const attrition = nested.result!.summary!.attrition as { rule: string; persons: number | null }[];
      expect(attrition[1]!.persons).toBe(Number(sizes.get(x!)));
      expect(attrition[2]!.persons).toBeNull();
      expect(nested.result!.summary!.count).toBeNull();
    }, 120_000);
  });
});
