/**
 * One agent round's TF.js work — score the global model on the test rows, then (in a training round) train from
 * it — as one serialisable task, so it runs the same in a piscina worker thread (train-worker.ts) or in-process.
 */
import { loadTf } from './tf-runtime.js';
import { evaluateLocal, trainLocal, type LocalData, type LocalEvalResult, type LocalModelConfig, type LocalTrainConfig, type LocalTrainResult } from './local-train.js';

export interface TrainComputeTask {
  readonly model: LocalModelConfig;
  readonly weights: Float64Array;
  readonly test: LocalData;
  readonly thresholds: readonly number[];
  /** Absent: evaluation only. */
  readonly train?: { readonly config: LocalTrainConfig; readonly data: LocalData; readonly scaffold?: { c: Float32Array; ci: Float32Array } };
}

export interface TrainComputeResult {
  readonly evaluation: LocalEvalResult;
  readonly training?: LocalTrainResult;
  readonly backend: string;
}

export async function computeTrainRound(task: TrainComputeTask): Promise<TrainComputeResult> {
  const { tf, backend } = await loadTf();
  const evaluation = evaluateLocal(tf, task.model, task.weights, task.test, task.thresholds);
  if (!task.train) return { evaluation, backend };
  const training = await trainLocal(tf, task.model, task.train.config, task.weights, task.train.data, task.train.scaffold);
  return { evaluation, training, backend };
}
