/**
 * A local-steps DP training round at the agent (privacy-local.ts): a training round runs `privacy.localSteps`
 * DP-SGD steps from the round's model in the train worker (algorithms/fl/dp-sgd.ts; batches and noise from the
 * worker's CSPRNG) and sends the delta, clipped to `update.clip` and on the update grid, with weight 1. It runs
 * the steps even without train rows (the update is then pure noise), so that neither the weight nor the presence
 * of an update says whether this site has rows. The final round scores the released model on the test rows
 * (TF.js, as in mode none) and sends the exact counts: the job's mode noises their sums (privacy-local.ts).
 */
import { clampedSquaredErrorSum, clipL2, toGrid } from '../../algorithms/fl/index.js';
import { FedmeshError } from '../../common/errors.js';
import { runTrainCompute } from '../../node-agent/train/pool.js';
import type { TrainAgentData } from './data.js';
import { NO_ROWS, streamedEvaluation, type TrainStream } from './stream.js';
import { createDpSgdStepper, type LocalDpSgdOptions } from '../../algorithms/fl/dp-sgd.js';
import type { Rng } from '../../algorithms/rng.js';
import { createCryptoRng } from '../../common/crypto-rng.js';
import { dpNetOf } from './dp-net.js';
import type { CompiledTrainJob } from './index.js';
import { trainLayout, withinBounds, type TrainRoundInput } from './plan.js';
import { localDpAccount, type TrainDpPrivacy } from './privacy-local.js';


export async function localDpTrainRound(job: CompiledTrainJob, p: TrainDpPrivacy, input: TrainRoundInput, data: TrainAgentData | TrainStream, signal?: AbortSignal): Promise<Float64Array> {
  const spec = job.spec;
  const plan = job.plan;
  const a = localDpAccount(p, spec.training.rounds);
  const { net, model } = dpNetOf(job);
  const parts: Record<string, ArrayLike<number>> = {};
  const round = input.phase === 'train' ? 0 : spec.training.rounds;
  if (input.phase === 'train') {
    const options = { net, shapes: plan.shapes, clip: p.clip, steps: a.stepsPerRound, sampleThreshold32: a.threshold32, noiseMultiplier: a.noiseMultiplier, learningRate: spec.training.learningRate, expectedBatch: spec.training.batchSize, l2: spec.model.l2, optimizer: spec.training.optimizer, momentum: spec.training.momentum };
    const trained = 'side' in data ? await streamedDpSgd(options, input.weights, data, signal) : (await runTrainCompute({ model, weights: Float64Array.from(input.weights), test: NO_ROWS, thresholds: plan.thresholds, dpLocal: { options, data: data.train } }, signal)).dpLocal?.weights;
    if (!trained) throw new FedmeshError('INTERNAL', 'local DP-SGD returned no update');
    const delta = Float64Array.from(trained, (w, i) => w - input.weights[i]!);
    clipL2(delta, spec.update.clip);
    parts.delta = toGrid(delta, spec.update.gridExponent);
    parts.weight = [1];
  } else if ('side' in data) {
    const bounds = spec.loss === 'mse' ? spec.labelBounds : undefined;
    const { evaluation: ev, clampedLoss } = await streamedEvaluation(data, { model, weights: Float64Array.from(input.weights), thresholds: plan.thresholds }, (t) => runTrainCompute(t, signal), { ...(bounds ? { clamped: { net, bounds } } : {}), anyOrder: true, signal });
    if (bounds) Object.assign(parts, { evalN: [ev.n], evalLoss: [clampedLoss] });
    else Object.assign(parts, { evalN: [ev.n], evalCorrect: [ev.correct], rocPos: ev.rocPos, rocNeg: ev.rocNeg });
  } else {
    const ev = (await runTrainCompute({ model, weights: Float64Array.from(input.weights), test: data.test, thresholds: plan.thresholds }, signal)).evaluation;
    // mse: the clamped squared errors of the released model (algorithms/fl/clamped-error.ts); classes: counts and ROC.
    const bounds = spec.loss === 'mse' ? spec.labelBounds : undefined;
    if (bounds) Object.assign(parts, { evalN: [ev.n], evalLoss: [clampedSquaredErrorSum(net, input.weights, data.test.x, data.test.y, data.test.n, bounds)] });
    else Object.assign(parts, { evalN: [ev.n], evalCorrect: [ev.correct], rocPos: ev.rocPos, rocNeg: ev.rocNeg });
  }
  // Beyond update.maxExamples rows the test counts are projected onto their bounds, not refused (privacy-agent.ts).
  return withinBounds(trainLayout(spec, plan, round), parts);
}

/** Rows sampled per query of a streamed DP-SGD step: the sampling words of this many rows, then their fetch. */
export const DP_SAMPLE_BLOCK_ROWS = 16_384;

/**
 * Local DP-SGD over rows on a site's server (stream.ts): each step Poisson-samples the train rows block by block of
 * DP_SAMPLE_BLOCK_ROWS indices (one CSPRNG word per row, in row order, as localDpSgd draws them), fetches the sampled
 * rows of the block from the server by index and adds their clipped gradients, then noises the sum and steps
 * (algorithms/fl/dp-sgd.ts createDpSgdStepper). The agent holds one block of indices and its sampled rows.
 */
export async function streamedDpSgd(options: LocalDpSgdOptions, weights: readonly number[], stream: TrainStream, signal?: AbortSignal, rng: Rng = createCryptoRng()): Promise<Float64Array> {
  const n = stream.train.n;
  const stepper = createDpSgdStepper(options, weights, rng);
  const block = new Uint32Array(Math.min(DP_SAMPLE_BLOCK_ROWS, Math.max(1, n)));
  try {
    for (let step = 0; step < options.steps; step++) {
      stepper.begin();
      let batch = 0;
      for (let from = 0; from < n; from += block.length) {
        signal?.throwIfAborted();
        const m = stepper.sample(Math.min(block.length, n - from), block);
        for (let i = 0; i < m; i++) block[i] = block[i]! + from;
        batch += m;
        for await (const rows of stream.rowsAt(block, m, block.length)) stepper.add(rows.x, rows.y, rows.n);
      }
      stepper.finish(batch);
    }
  } finally {
    await stream.close();
  }
  return stepper.weights;
}
