/**
 * One agent round's TF.js work — score the global model on the test rows, then (in a training round) train from
 * it — as one serialisable task, so it runs the same in a piscina worker thread (train-worker.ts) or in-process.
 */
import { clippedGradientSum, type ClippedGradientSum, type DenseNet } from '../../algorithms/fl/dp-grad.js';
import { localDpSgd, type LocalDpSgdOptions, type LocalDpSgdResult } from '../../algorithms/fl/dp-sgd.js';
import { createCryptoRng } from '../../common/crypto-rng.js';
import { loadTf } from './tf-runtime.js';
import { evaluateLocal, trainLocal, type LocalData, type LocalEvalResult, type LocalModelConfig, type LocalTrainCarry, type LocalTrainConfig, type LocalTrainResult } from './local-train.js';

export interface TrainComputeTask {
  readonly model: LocalModelConfig;
  readonly weights: Float64Array;
  readonly test: LocalData;
  readonly thresholds: readonly number[];
  /** Absent: evaluation only. */
  readonly train?: { readonly config: LocalTrainConfig; readonly data: LocalData; readonly scaffold?: { c: Float32Array; ci: Float32Array }; readonly carry?: LocalTrainCarry };
  /** DP training instead of `train`: the sum of per-example gradients at `weights`, each clipped to L2 ≤ clip. */
  readonly dp?: { readonly net: DenseNet; readonly clip: number; readonly data: LocalData };
  /** DP training with local steps: DP-SGD from `weights` (noise and batches from this thread's CSPRNG). */
  readonly dpLocal?: { readonly options: LocalDpSgdOptions; readonly data: LocalData };
}

export interface TrainComputeResult {
  readonly evaluation: LocalEvalResult;
  readonly training?: LocalTrainResult;
  readonly dp?: ClippedGradientSum;
  readonly dpLocal?: LocalDpSgdResult;
  readonly backend: string;
}

export async function computeTrainRound(task: TrainComputeTask): Promise<TrainComputeResult> {
  const { tf, backend } = await loadTf();
  const evaluation = evaluateLocal(tf, task.model, task.weights, task.test, task.thresholds);
  // DP: no local optimiser step; the clipped gradient sum is the whole statistic (algorithms/fl/dp-grad.ts).
  if (task.dp) return { evaluation, dp: clippedGradientSum(task.dp.net, task.weights, task.dp.data.x, task.dp.data.y, task.dp.data.n, task.dp.clip), backend };
  if (task.dpLocal) return { evaluation, dpLocal: localDpSgd(task.dpLocal.options, task.weights, task.dpLocal.data.x, task.dpLocal.data.y, task.dpLocal.data.n, createCryptoRng()), backend };
  if (!task.train) return { evaluation, backend };
  const training = await trainLocal(tf, task.model, task.train.config, task.weights, task.train.data, task.train.scaffold, task.train.carry);
  return { evaluation, training, backend };
}
