/**
 * SCAFFOLD's client control variate c_i moves only with the server's c: an agent takes the c_i it computed in a round
 * once a later round's input says that round counted its Δc_i (TrainRoundInput.counted), and drops it otherwise — a
 * secure sum that dropped the agent after its step, or a deadline it missed, left c without its Δc_i (found in stop
 * 34, not fixed then). Observed through what c_i changes: the next round's local steps use the correction c − c_i,
 * so the update the agent sends depends on its c_i. Real TF.js compute on generated rows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compileKindJob, type AgentKindContext } from '../../common/kinds/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainAgentKind, trainRound } from './agent.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { joinBlocks, replayServer, splitBlocks, trainLayout, type TrainRoundInput } from './plan.js';
import { syntheticAgentData, syntheticTrainSpec } from './synthetic.js';

const D = 3;
const job = compileKindJob(trainKind, syntheticTrainSpec(D, { training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.5, seed: 1 }, strategy: { name: 'scaffold' } })) as CompiledTrainJob;
const data = syntheticAgentData({ rows: 200, inputs: D, shift: 0, seed: 5 });
const P = job.plan.parameters;
const layout = trainLayout(job.spec, job.plan);
const zeros = (): number[] => Array.from({ length: P }, () => 0);
// Round 1's input: the same model and server c for every case; only `counted` differs.
const round1 = (counted?: Record<string, number>): TrainRoundInput => ({ phase: 'train', weights: Array.from({ length: P }, (_, i) => 0.1 * (i + 1)), control: Array.from({ length: P }, (_, i) => 0.01 * (i - 1)), ...(counted ? { counted } : {}) });

async function deltaOfRound1(afterRound0: boolean, counted?: Record<string, number>): Promise<number[]> {
  const state = new Map<string, unknown>();
  if (afterRound0) await trainRound(job, { phase: 'train', weights: zeros(), control: zeros() }, data, state, 0, undefined, 0, 'a');
  const v = await trainRound(job, round1(counted), data, state, 1, undefined, 0, 'a');
  return Array.from(splitBlocks(layout, v).delta!);
}

afterAll(async () => closeTrainPool());

describe('SCAFFOLD: c_i moves only when the server counted its Δc_i', () => {
  it('round 0 not counted (counted names another agent): round 1 runs with the old c_i, as an agent that never trained', async () => {
    const fresh = await deltaOfRound1(false, { b: 0 });
    const dropped = await deltaOfRound1(true, { b: 0 });
    expect(dropped).toEqual(fresh);
  });

  it('control: round 0 counted ({a: 0}): round 1 runs with the new c_i and sends another update', async () => {
    const fresh = await deltaOfRound1(false, { b: 0 });
    const counted = await deltaOfRound1(true, { a: 0, b: 0 });
    expect(counted).not.toEqual(fresh);
    // Without `counted` (an older coordinator) the computed c_i is taken, as before this change.
    expect(await deltaOfRound1(true)).toEqual(counted);
  });

  it("the coordinator's next input names each agent's last counted training round from the history", () => {
    const input0 = trainKind.nextRound(job, [])!;
    expect(input0.counted).toBeUndefined();
    const rec = (round: number, answered: string[]) => ({ round, input: { ...input0 }, answered, released: Array.from({ length: layout.blocks.reduce((a, b) => a + b.length, 0) }, () => 0), noiseStd: layout.blocks.map(() => 0) });
    const next = trainKind.nextRound(job, [rec(0, ['a', 'b']), rec(1, ['b'])])!;
    expect(next.counted).toEqual({ a: 0, b: 1 });
  });

  it('a malformed `counted` is refused as INVALID_ARGUMENT naming the payload', async () => {
    // Checked before the step reads anything: the context is never touched.
    const step = (counted: unknown) => trainAgentKind.localStep({} as AgentKindContext, job, { ...round1(), counted } as TrainRoundInput, new AbortController().signal);
    await expect(step({ a: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'payload' });
    await expect(step(['a'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'payload' });
    await expect(step(Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`a${i}`, 0])))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'payload' });
    // Control: a well-formed one passes the check (and then fails on the empty context, not on the input).
    await expect(step({ a: 0 })).rejects.not.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it("the server's c divides by the federation's size, not by a round's survivors (red team 28, M2); control: a round with all agents divides by all", () => {
    const n = layout.blocks.reduce((a, b) => a + b.length, 0);
    const released = (dc: number): number[] => Array.from(joinBlocks(layout, { weight: [100], delta: new Float64Array(P), deltaC: new Float64Array(P).fill(dc) }));
    const rec = (round: number, answered: string[], dc: number) => ({ round, input: { phase: 'train' as const, weights: zeros(), control: zeros() }, answered, released: released(dc), noiseStd: layout.blocks.map(() => 0) });
    expect(released(0).length).toBe(n);
    // Round 0: 3 agents, Σ Δc = 3 → c = 1. Round 1: agent c dropped out, Σ Δc = 2 → c = 1 + 2/3, not 1 + 2/2.
    const c = replayServer(job.spec, job.plan, [rec(0, ['a', 'b', 'c'], 3), rec(1, ['a', 'b'], 2)]).c!;
    expect(c[0]).toBeCloseTo(1 + 2 / 3, 12);
    const all = replayServer(job.spec, job.plan, [rec(0, ['a', 'b', 'c'], 3), rec(1, ['a', 'b', 'c'], 2)]).c!;
    expect(all[0]).toBeCloseTo(1 + 2 / 3, 12);
    const alone = replayServer(job.spec, job.plan, [rec(0, ['a', 'b'], 3)]).c!;
    expect(alone[0]).toBeCloseTo(3 / 2, 12);
  });

  it("the server's c divides by the agents the job asked (RoundRecord.federation), from round 0 and under partial participation (red team 29, F3)", () => {
    const released = (dc: number): number[] => Array.from(joinBlocks(layout, { weight: [100], delta: new Float64Array(P), deltaC: new Float64Array(P).fill(dc) }));
    const rec = (round: number, answered: string[], dc: number, federation?: number) => ({ round, input: { phase: 'train' as const, weights: zeros(), control: zeros() }, answered, released: released(dc), noiseStd: layout.blocks.map(() => 0), ...(federation ? { federation } : {}) });
    // 3 agents asked, one not connected in round 0 (Δc_i = 1 for the two that trained), all three in round 1 with
    // Δc_i = 0: c is the mean of the c_i, 2/3, from round 0 on.
    const away = replayServer(job.spec, job.plan, [rec(0, ['a', 'b'], 2, 3), rec(1, ['a', 'b', 'c'], 0, 3)]).c!;
    expect(away[0]).toBeCloseTo(2 / 3, 12);
    // Negative control: without the recorded federation (rounds stored before it), N is estimated from the answers
    // and c stays at 1, off the mean.
    const estimated = replayServer(job.spec, job.plan, [rec(0, ['a', 'b'], 2), rec(1, ['a', 'b', 'c'], 0)]).c!;
    expect(estimated[0]).toBeCloseTo(1, 12);
    // Partial participation: 3 agents, fraction 0.5 samples 2 (rounded up); 2/0.5 = 4 is not the federation, 3 is.
    const partial = compileKindJob(trainKind, syntheticTrainSpec(D, { training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.5, seed: 1 }, strategy: { name: 'scaffold' }, participation: { fraction: 0.5, minUpdates: 1 } })) as CompiledTrainJob;
    expect(replayServer(partial.spec, partial.plan, [rec(0, ['a', 'b'], 2, 3)]).c![0]).toBeCloseTo(2 / 3, 12);
  });
});
