import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector, type AgentKindContext } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { toyAgent, toyKind, type ToySpec } from '../../test/helpers/toy-kind.js';
import { createMemoryRoundStore, runRounds, type RoundReply, type RoundTask, type RoundTransport } from './round-runner.js';

/** In-memory transport: each agent runs the toy kind's local step on its array; tests can break agents. */
function memoryTransport(data: Map<string, number[]>, opts: { fail?: (agent: string, round: number) => RoundReply | undefined; tamper?: (agent: string, bytes: Uint8Array) => Uint8Array } = {}) {
  const asks: { agent: string; round: number }[] = [];
  let cancelled = 0;
  const transport: RoundTransport = {
    async ask(agent: string, task: RoundTask): Promise<RoundReply> {
      asks.push({ agent, round: task.round });
      const broken = opts.fail?.(agent, task.round);
      if (broken) return broken;
      const { hash, input } = decodeRoundPayload(task.payload);
      const job = compileKindJob(toyKind, JSON.parse(task.specJson));
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      const v = await toyAgent(data, agent).localStep({} as AgentKindContext, job, input as { mu: number }, new AbortController().signal);
      const bytes = encodeVector(v);
      return { ok: true, bytes: opts.tamper ? opts.tamper(agent, bytes) : bytes };
    },
    cancelJob: () => void cancelled++,
  };
  return { transport, asks, cancelled: () => cancelled };
}

const data = new Map([
  ['a', [1, 2, 3, 4]],
  ['b', [10, 20]],
  ['c', [5, 5, 5, 6, 7]],
]);
const pooledMean = [...data.values()].flat().reduce((s, x) => s + x, 0) / [...data.values()].flat().length;
const spec = (over: Partial<ToySpec> = {}): ToySpec => ({ kind: 'toy-mean', product: 'p', privacy: { mode: 'none' }, maxRounds: 10, ...over });

function run(s: ToySpec, transport: RoundTransport, store = createMemoryRoundStore(), beforeRound?: (r: number) => Promise<void>) {
  const job = compileKindJob(toyKind, s);
  return runRounds({ def: toyKind, job, jobId: 'j1', researcher: 'r', specJson: JSON.stringify(s), agents: ['a', 'b', 'c'], transport, store, rng: createSeededRng(7), ...(beforeRound ? { beforeRound } : {}) });
}

describe('round runner (in-memory transport)', () => {
  it('runs rounds until the kind stops and releases the pooled answer; each agent asked once per round', async () => {
    const m = memoryTransport(data);
    const out = await run(spec(), m.transport);
    expect(out.converged).toBe(true);
    expect(out.release.rows[0]!.mean).toBeCloseTo(pooledMean, 12);
    expect(out.history.length).toBe(2);
    expect(m.asks.filter((a) => a.round === 0).map((a) => a.agent).sort()).toEqual(['a', 'b', 'c']);
    expect(m.asks.length).toBe(3 * out.history.length);
    expect(out.answered).toEqual(['a', 'b', 'c']);
    // Every round records the federation's size: the agents asked at the start.
    expect(out.history.map((r) => r.federation)).toEqual(out.history.map(() => 3));
  });

  it('negative control: a tampered reply (one agent doubles its sum) changes the answer', async () => {
    const tamper = (agent: string, bytes: Uint8Array): Uint8Array => {
      if (agent !== 'b') return bytes;
      const v = new DataView(bytes.buffer.slice(0));
      v.setFloat64(0, v.getFloat64(0, true) * 2 + 1, true);
      return new Uint8Array(v.buffer);
    };
    const out = await run(spec(), memoryTransport(data, { tamper }).transport);
    expect(Math.abs((out.release.rows[0]!.mean as number) - pooledMean)).toBeGreaterThan(1e-3);
  });

  it('stops at maxRounds when the kind has not converged', async () => {
    const out = await run(spec({ maxRounds: 1 }), memoryTransport(data).transport);
    expect(out.history.length).toBe(1);
    expect(out.converged).toBe(false);
  });

  it('dropout "fail" (default): a missing agent fails the job with QUORUM_NOT_MET naming the round, and cancels the job', async () => {
    const m = memoryTransport(data, { fail: (agent, round) => (agent === 'c' && round === 1 ? { ok: false, error: { code: 'ROUND_TIMEOUT', message: 'late' } } : undefined) });
    const e = await run(spec(), m.transport).catch((x: unknown) => x);
    expect(isFedmeshError(e) && e.code === 'QUORUM_NOT_MET' && /^round 2: /.test(e.message)).toBe(true);
    expect((e as { details: { missing: string[] } }).details.missing).toEqual(['c']);
    expect(m.cancelled()).toBe(1);
  });

  it('dropout "continue": survivors carry on (and are not asked again once gone); below minAgents it fails', async () => {
    const fail = (agent: string, round: number): RoundReply | undefined => (agent === 'c' && round === 0 ? { ok: false, error: { code: 'AGENT_UNAVAILABLE', message: 'gone' } } : undefined);
    const m = memoryTransport(data, { fail });
    const out = await run(spec({ dropout: 'continue', minAgents: 2 }), m.transport);
    const ab = [...data.get('a')!, ...data.get('b')!];
    expect(out.release.rows[0]!.mean).toBeCloseTo(ab.reduce((s, x) => s + x, 0) / ab.length, 12);
    expect(out.missing).toEqual(['c']);
    expect(m.asks.filter((a) => a.agent === 'c').length).toBe(1);
    const e = await run(spec({ dropout: 'continue', minAgents: 3 }), memoryTransport(data, { fail }).transport).catch((x: unknown) => x);
    expect(isFedmeshError(e) && e.code === 'QUORUM_NOT_MET').toBe(true);
    // The refusal names the field the researcher set (a kind's minAgentsField; `quorum` by default), not minAgents.
    expect((e as Error).message).toMatch(/fewer than quorum = 3 answered$/);
    const e2 = await run(spec({ dropout: 'continue', minAgents: 3, minAgentsField: 'participation.minUpdates' }), memoryTransport(data, { fail }).transport).catch((x: unknown) => x);
    expect((e2 as Error).message).toMatch(/fewer than participation\.minUpdates = 3 answered$/);
  });

  it('refuses a reply that breaks the public layout (wrong length or bounds) as that agent failing', async () => {
    const e = await run(spec(), memoryTransport(data, { tamper: (agent, b) => (agent === 'a' ? b.subarray(0, 8) : b) }).transport).catch((x: unknown) => x);
    expect(isFedmeshError(e) && /agent a sent 8 bytes/.test(e.message)).toBe(true);
    const big = (agent: string, b: Uint8Array): Uint8Array => (agent === 'a' ? encodeVector({ values: Float64Array.from([2e6, 1]) }) : b);
    const e2 = await run(spec(), memoryTransport(data, { tamper: big }).transport).catch((x: unknown) => x);
    expect(isFedmeshError(e2) && /residual\[0\] outside its public bounds/.test(e2.message)).toBe(true);
  });

  it('resumes after the last stored round: a coordinator stopped before round 1 does not run round 0 again', async () => {
    const store = createMemoryRoundStore();
    const m = memoryTransport(data);
    const crash = async (round: number): Promise<void> => {
      if (round === 1) throw new Error('coordinator stopped');
    };
    await expect(run(spec(), m.transport, store, crash)).rejects.toThrow(/coordinator stopped/);
    expect(store.rounds.get('j1')!.length).toBe(1);
    const resumed = await run(spec(), m.transport, store);
    expect(resumed.release.rows[0]!.mean).toBeCloseTo(pooledMean, 12);
    // Round 0 was asked once per agent in all, round 1 once per agent after the resume.
    expect(m.asks.filter((a) => a.round === 0).length).toBe(3);
    expect(m.asks.filter((a) => a.round === 1).length).toBe(3);
    // Negative control: with a fresh store the same run asks round 0 again.
    const fresh = memoryTransport(data);
    await run(spec(), fresh.transport);
    expect(fresh.asks.filter((a) => a.round === 0).length).toBe(3);
  });

  it('mode none: stores the answering agents\' minimum cell sizes with each round, and a resumed release gets them when an agent is not known any more (red team 48)', async () => {
    const store = createMemoryRoundStore();
    const m = memoryTransport(data);
    const job = compileKindJob(toyKind, spec());
    const seen: (Record<string, number> | undefined)[] = [];
    const def = { ...toyKind, release: (j: typeof job, h: Parameters<typeof toyKind.release>[1], info: Parameters<typeof toyKind.release>[2]) => (seen.push(info.minCellSize ? { ...info.minCellSize } : undefined), toyKind.release(j, h, info)) };
    const go = (releaseInfo: { minCellSize: Record<string, number> }, beforeRound?: (r: number) => Promise<void>) =>
      runRounds({ def, job, jobId: 'j1', researcher: 'r', specJson: JSON.stringify(spec()), agents: ['a', 'b', 'c'], transport: m.transport, store, rng: createSeededRng(7), releaseInfo, ...(beforeRound ? { beforeRound } : {}) });
    await expect(go({ minCellSize: { a: 5, b: 11, c: 3 } }, async (r) => { if (r === 1) throw new Error('coordinator stopped'); })).rejects.toThrow(/coordinator stopped/);
    expect(store.rounds.get('j1')![0]!.minCellSize).toEqual({ a: 5, b: 11, c: 3 });
    // Resumed with b not connected again (its size unknown now): the release still gets the size b computed under.
    await go({ minCellSize: { a: 5, c: 3 } });
    expect(seen.at(-1)).toEqual({ a: 5, b: 11, c: 3 });
    // Control: a fresh run with b unknown gives the release no size for it.
    const fresh = createMemoryRoundStore();
    await runRounds({ def, job, jobId: 'j2', researcher: 'r', specJson: JSON.stringify(spec()), agents: ['a', 'b', 'c'], transport: m.transport, store: fresh, rng: createSeededRng(7), releaseInfo: { minCellSize: { a: 5, c: 3 } } });
    expect(seen.at(-1)).toEqual({ a: 5, c: 3 });
  });

  it('central-dp: released sums carry noise of the stated std; no round exceeds maxRounds', async () => {
    const s = spec({ privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, maxRounds: 3 });
    const out = await run(s, memoryTransport(data).transport);
    expect(out.history.length).toBeLessThanOrEqual(3);
    expect(out.history[0]!.noiseStd[0]!).toBeGreaterThan(0);
    // Exact round-0 residual sum is Σx; the released one differs (noise std ≫ 1 at ε = 1 with Δ = 20).
    const exact = [...data.values()].flat().reduce((a, b) => a + b, 0);
    expect(out.history[0]!.released[0]).not.toBe(exact);
  });
});
