/**
 * Red-team F1 follow-up, agent side: in mode none an agent with 1 … k − 1 test (or training) rows sends zeros for
 * those figures with a flag, so its exact small figures never reach the coordinator (the release withheld them from
 * the researcher already; plan.ts exactTestWithheld); a small training side does not train (red team R2), and small
 * means fewer than k persons, not rows (R1). Negative control: with k below its counts the same agent sends its
 * exact figures and update. Real TF.js compute on synthetic rows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compileKindJob } from '../../common/kinds/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { splitBlocks, trainLayout } from './plan.js';
import { syntheticAgentData } from './synthetic.js';

const D = 3;
const job = compileKindJob(trainKind, {
  kind: 'train',
  product: 'p',
  label: 'y',
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.5, seed: 1 },
}) as CompiledTrainJob;
const data = syntheticAgentData({ rows: 40, inputs: D, shift: 0, seed: 7 });
const weights = Array.from({ length: job.plan.parameters }, () => 0);

async function blocks(k: number) {
  const v = await trainRound(job, { phase: 'train', weights }, data, new Map(), 0, undefined, k);
  return splitBlocks(trainLayout(job.spec, job.plan), v);
}

afterAll(async () => closeTrainPool());

describe('train agent, mode none: small test or training sides leave as flagged zeros', () => {
  it('test and training sides below k: zeros and both flags; the small training side does not train (no update, no weight)', async () => {
    expect(data.test.n).toBeGreaterThan(0);
    expect(data.train.n).toBeGreaterThan(0);
    const b = await blocks(Math.max(data.test.n, data.train.n) + 1);
    expect(b.evalSmall![0]).toBe(1);
    expect(b.trainSmall![0]).toBe(1);
    // Red team R2: an update over one person would be that person's gradient, and the weight its exact row count.
    for (const name of ['evalN', 'evalLoss', 'evalCorrect', 'rocPos', 'rocNeg', 'trainN', 'trainLoss', 'delta', 'weight']) expect(Array.from(b[name]!).every((x) => x === 0), name).toBe(true);
  });

  it('red team R1: k counts persons, not rows — one person with many rows on each side is small', async () => {
    const k = Math.min(data.test.n, data.train.n); // at or below both row counts: not small by rows
    const v = await trainRound(job, { phase: 'train', weights }, { ...data, trainPersons: 1, testPersons: 1 }, new Map(), 0, undefined, k);
    const b = splitBlocks(trainLayout(job.spec, job.plan), v);
    expect(b.evalSmall![0]).toBe(1);
    expect(b.trainSmall![0]).toBe(1);
    expect(b.evalN![0]).toBe(0);
    expect(Array.from(b.delta!).every((x) => x === 0)).toBe(true);
  });

  it('negative control: k at or below both counts (rows and persons) — exact figures and the update, no flags', async () => {
    const b = await blocks(Math.min(data.test.n, data.train.n));
    expect(b.evalSmall![0]).toBe(0);
    expect(b.trainSmall![0]).toBe(0);
    expect(b.evalN![0]).toBe(data.test.n);
    expect(b.trainN![0]).toBe(data.train.n);
    expect(b.evalLoss![0]).toBeGreaterThan(0);
    expect(b.trainLoss![0]).toBeGreaterThan(0);
    expect(b.weight![0]).toBe(data.train.n);
    expect(Array.from(b.delta!).some((x) => x !== 0)).toBe(true);
  });
});
