/**
 * The survival-cox kind without a database: the agent's local step over a design already in its job state, the
 * coordinator's next-round rule (bin merge from released sums, stop when the fit is done), and the view.
 */
import { describe, expect, it } from 'vitest';
import { fitCoxPooled } from '../../algorithms/survival/index.js';
import type { AgentKindContext, CompiledKindJob, RoundRecord } from '../../common/kinds/index.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { coxAgentLayout, coxDesign } from '../../node-agent/analytics/cox.js';
import { coxAgentKind } from './agent.js';
import { coxKind, type CoxJobSpec, type CoxPlan, type CoxRoundInput } from './kind.js';

const raw = {
  kind: 'survival',
  target: { name: 't', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } },
  outcome: { domain: 'death', conceptIds: [] },
  timeGrid: { binDays: 10, maxDays: 40 },
  model: 'cox',
  covariates: [{ name: 'gender', source: 'gender', type: 'categorical', levels: ['male', 'female'], reference: 'male' }],
  privacy: { mode: 'none' },
};
const job = compileKindJob(coxKind, raw) as CompiledKindJob<CoxJobSpec, CoxPlan>;

/** 60 persons with days 0…40 spread over the bins, events every third person, genders alternating. */
function design(offset: number) {
  const n = 60;
  return coxDesign(
    {
      days: Array.from({ length: n }, (_, i) => ((i * 7 + offset) % 41)),
      event: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      age: Array.from({ length: n }, () => 50),
      gender: Array.from({ length: n }, (_, i) => (i % 2 ? 8532 : 8507)),
    },
    job.spec.covariates,
    false,
  );
}

const ctx = (data: ReturnType<typeof design>, minCellSize = 3): AgentKindContext =>
  ({ conn: undefined as never, jobId: 'j', round: 0, product: { name: 'person', privacyUnit: 'person_id', columns: [], description: '', source: '' }, salt: 'test-salt', policy: { minCellSize }, jobState: new Map([['data', data]]) }) as AgentKindContext;
const signal = new AbortController().signal;

describe('survival-cox rounds without a database', () => {
  it('the round loop over two agents equals the pooled fit; it stops by itself once converged', async () => {
    const agents = [design(0), design(5)];
    const history: RoundRecord<CoxRoundInput>[] = [];
    for (let r = 0; r < job.maxRounds; r++) {
      const input = coxKind.nextRound(job, history);
      if (input === undefined) break;
      const vectors = await Promise.all(agents.map((d) => coxAgentKind.localStep(ctx(d), job, input, signal)));
      const released = Array.from(vectors[0]!.values, (v, i) => v + vectors[1]!.values[i]!);
      expect(released.length).toBe(coxKind.layout(job, r).blocks.reduce((a, b) => a + b.length, 0));
      history.push({ round: r, input, answered: ['a', 'b'], released, noiseStd: [] });
    }
    expect(coxKind.nextRound(job, history)).toBeUndefined();
    const last = history.at(-1)!.input;
    if (last.phase !== 'newton') throw new Error('expected Newton rounds');
    const pooled = design(0);
    const other = design(5);
    const persons = {
      time: Int32Array.from([...pooled.persons.time, ...other.persons.time]),
      event: Uint8Array.from([...pooled.persons.event, ...other.persons.event]),
      x: Float64Array.from([...pooled.persons.x, ...other.persons.x]),
    };
    const ref = fitCoxPooled(persons, coxAgentLayout(pooled, last.times), pooled.terms).summary;
    const rel = coxKind.release(job, history, { converged: true });
    expect(Math.abs((rel.rows[0]!.coef as number) - ref.coefficients[0]!.coef)).toBeLessThan(1e-9);
    expect((rel.summary as { n: number }).n).toBe(120);
    const text = coxKind.view({ ...rel });
    expect(text).toMatch(/gender=female/);
    expect(text).toMatch(/Likelihood ratio test= .* on 1 df/);
    expect(text).toMatch(/Score \(logrank\) test/);
  });

  it('round 0 releases flags only: small (0 < count < k) and big (≥ k) per row and bin, never a count', async () => {
    const d = design(0);
    const small = (await coxAgentKind.localStep(ctx(d, 1000), job, { phase: 'counts' }, signal)).values;
    const half = small.length / 2;
    expect(Array.from(small).every((x) => x === 0 || x === 1)).toBe(true);
    expect(Array.from(small.subarray(0, half)).some((x) => x === 1)).toBe(true);
    expect(Array.from(small.subarray(half)).every((x) => x === 0)).toBe(true);
    const big = (await coxAgentKind.localStep(ctx(d, 1), job, { phase: 'counts' }, signal)).values;
    expect(Array.from(big.subarray(0, half)).every((x) => x === 0)).toBe(true);
    expect(Array.from(big.subarray(half)).some((x) => x === 1)).toBe(true);
  });

  it('next round merges bins from the summed flags: a run closes where every agent has a big cell in every row', () => {
    const m = job.plan.times.length;
    const rows = job.plan.countRows.length;
    const small = new Array<number>(rows * m).fill(0);
    const big = new Array<number>(rows * m).fill(0);
    // Every row: bins 0 and 1 small at one agent, bins 2… big at both agents.
    for (let r = 0; r < rows; r++) {
      small[r * m] = 1;
      small[r * m + 1] = 1;
      for (let k = 2; k < m; k++) big[r * m + k] = 2;
    }
    const input = coxKind.nextRound(job, [{ round: 0, input: { phase: 'counts' }, answered: ['a', 'b'], released: [...small, ...big], noiseStd: [] }]);
    expect(input).toMatchObject({ phase: 'newton', beta: [0] });
    expect(input && input.phase === 'newton' ? input.times : []).toEqual(job.plan.times.slice(2));
    // Negative control: if only one of the two agents had a big cell in bin 2, that bin cannot close the run.
    big[2] = 1;
    const other = coxKind.nextRound(job, [{ round: 0, input: { phase: 'counts' }, answered: ['a', 'b'], released: [...small, ...big], noiseStd: [] }]);
    expect(other && other.phase === 'newton' ? other.times : []).toEqual(job.plan.times.slice(3));
  });

  it('the agent refuses merged times that are not bin ends of the job grid, and a β of the wrong length', async () => {
    const d = design(0);
    await expect(coxAgentKind.localStep(ctx(d), job, { phase: 'newton', times: [15, 40], beta: [0] }, signal)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'times' });
    await expect(coxAgentKind.localStep(ctx(d), job, { phase: 'newton', times: [10, 30], beta: [0] }, signal)).rejects.toThrow(/end at the job grid's last bin end/);
    await expect(coxAgentKind.localStep(ctx(d), job, { phase: 'newton', times: [40], beta: [0, 1] }, signal)).rejects.toMatchObject({ field: 'beta' });
  });
});

describe('survival-cox on the round runner: a coordinator stopped mid-fit resumes from its stored rounds', () => {
  it('stopping before round 3 and resuming gives exactly the uninterrupted fit, without asking rounds 0–2 again', async () => {
    const { createMemoryRoundStore, runRounds } = await import('../../coordinator/rounds/round-runner.js');
    const { createSeededRng } = await import('../../algorithms/testing/seeded-rng.js');
    const { decodeRoundPayload, encodeVector } = await import('../../common/kinds/index.js');
    const agents = new Map([['a', design(0)], ['b', design(5)]]);
    const asked: number[] = [];
    const transport = {
      async ask(agent: string, task: { round: number; payload: Uint8Array }) {
        asked.push(task.round);
        const { input } = decodeRoundPayload(task.payload);
        const v = await coxAgentKind.localStep(ctx(agents.get(agent)!), job, input as CoxRoundInput, signal);
        return { ok: true as const, bytes: encodeVector(v) };
      },
      cancelJob: () => undefined,
    };
    const go = (store: ReturnType<typeof createMemoryRoundStore>, beforeRound?: (r: number) => Promise<void>) =>
      runRounds({ def: coxKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: ['a', 'b'], transport, store, rng: createSeededRng(1), ...(beforeRound ? { beforeRound } : {}) });
    const whole = await go(createMemoryRoundStore());
    asked.length = 0;
    const store = createMemoryRoundStore();
    await expect(go(store, async (r) => {
      if (r === 3) throw new Error('coordinator stopped');
    })).rejects.toThrow(/coordinator stopped/);
    const beforeResume = asked.length;
    const resumed = await go(store);
    expect(resumed.release.rows).toEqual(whole.release.rows);
    expect(resumed.history.length).toBe(whole.history.length);
    expect(asked.slice(beforeResume).every((r) => r >= 3)).toBe(true);
  });
});
