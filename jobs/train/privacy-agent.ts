/**
 * A DP training round at the agent: score the round's model on the test rows (TF.js, as in mode none) and sum the
 * train rows' per-example gradients at that model, each clipped to L2 ≤ privacy.clip (node-agent/train's compute
 * task, algorithms/fl/dp-grad.ts). Nothing else: no local optimiser steps, no losses. The privacy mode adds the
 * noise after this (distributed-dp: a share here, before the secure sum; central-dp: at the coordinator).
 * The rows were read with at most maxRowsPerPerson per person (data.ts passes the mode to the design reader).
 */
import { clampedSquaredErrorSum } from '../../algorithms/fl/clamped-error.js';
import { runTrainCompute } from '../../node-agent/train/pool.js';
import type { TrainAgentData } from './data.js';
import { NO_ROWS, streamedEvaluation, TRAIN_STREAM_CHUNK_ROWS, type TrainStream } from './stream.js';
import { dpNetOf } from './dp-net.js';
import type { CompiledTrainJob } from './index.js';
import { trainLayout, withinBounds, type TrainRoundInput } from './plan.js';
import type { TrainDpPrivacy } from './privacy-spec.js';
import { isLocalDp } from './privacy-local.js';
import { localDpTrainRound } from './privacy-local-agent.js';

export async function dpTrainRound(job: CompiledTrainJob, p: TrainDpPrivacy, input: TrainRoundInput, data: TrainAgentData | TrainStream, signal?: AbortSignal): Promise<Float64Array> {
  if (isLocalDp(p)) return localDpTrainRound(job, p, input, data, signal);
  if ('side' in data) return streamedDpRound(job, p, input, data, signal);
  const spec = job.spec;
  // Binary or categorical, a declared mlp or a validated topology: the same dense net (dp-net.ts).
  const { net, model } = dpNetOf(job);
  const training = input.phase === 'train' && data.train.n > 0;
  // The test rows are scored in the final round only (privacy.ts): a training round sends its gradient sum alone.
  const test = input.phase === 'eval' ? data.test : { x: new Float32Array(0), y: new Float32Array(0), n: 0 };
  const out = await runTrainCompute({ model, weights: Float64Array.from(input.weights), test, thresholds: job.plan.thresholds, ...(training ? { dp: { net, clip: p.clip, data: data.train } } : {}) }, signal);
  const ev = out.evaluation;
  const parts: Record<string, ArrayLike<number>> = {};
  if (input.phase === 'eval') {
    // mse: the test rows' squared errors, prediction and label clamped to the public label bounds (privacy.ts);
    // classes: accuracy and the ROC histograms.
    const bounds = spec.loss === 'mse' ? spec.labelBounds : undefined;
    if (bounds) Object.assign(parts, { evalN: [ev.n], evalLoss: [clampedSquaredErrorSum(net, input.weights, test.x, test.y, test.n, bounds)] });
    else Object.assign(parts, { evalN: [ev.n], evalCorrect: [ev.correct], rocPos: ev.rocPos, rocNeg: ev.rocNeg });
  }
  if (training && out.dp) {
    parts.delta = out.dp.sum;
    parts.weight = [data.train.n];
  }
  return withinBounds(trainLayout(spec, job.plan), parts);
}

/**
 * The same round over rows streamed from a site's server (stream.ts): the gradient sum, the test figures and the
 * clamped test loss are sums over rows, taken chunk by chunk in the engine's order (the noise comes after them).
 */
async function streamedDpRound(job: CompiledTrainJob, p: TrainDpPrivacy, input: TrainRoundInput, stream: TrainStream, signal?: AbortSignal): Promise<Float64Array> {
  const spec = job.spec;
  const { net, model } = dpNetOf(job);
  const weights = Float64Array.from(input.weights);
  const parts: Record<string, ArrayLike<number>> = {};
  if (input.phase === 'eval') {
    const bounds = spec.loss === 'mse' ? spec.labelBounds : undefined;
    const { evaluation: ev, clampedLoss } = await streamedEvaluation(stream, { model, weights, thresholds: job.plan.thresholds }, (t) => runTrainCompute(t, signal), { ...(bounds ? { clamped: { net, bounds } } : {}), anyOrder: true, signal });
    if (bounds) Object.assign(parts, { evalN: [ev.n], evalLoss: [clampedLoss] });
    else Object.assign(parts, { evalN: [ev.n], evalCorrect: [ev.correct], rocPos: ev.rocPos, rocNeg: ev.rocNeg });
  }
  if (input.phase === 'train' && stream.train.n > 0) {
    const sum = new Float64Array(job.plan.parameters);
    for await (const chunk of stream.side('train', TRAIN_STREAM_CHUNK_ROWS, 'any')) {
      signal?.throwIfAborted();
      const out = await runTrainCompute({ model, weights, test: NO_ROWS, thresholds: job.plan.thresholds, dp: { net, clip: p.clip, data: chunk } }, signal);
      out.dp!.sum.forEach((v, i) => (sum[i]! += v));
    }
    parts.delta = sum;
    parts.weight = [stream.train.n];
  }
  return withinBounds(trainLayout(spec, job.plan), parts);
}


