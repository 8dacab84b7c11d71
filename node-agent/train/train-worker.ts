/**
 * Piscina worker for local training: one TF.js (wasm backend, or tfjs-node when installed) per worker thread, so
 * training never blocks the agent's event loop (its link to the coordinator and its heartbeats). Piscina cannot
 * load TypeScript: the pool runs the compiled dist/node-agent/train/train-worker.js (see pool.ts).
 */
import { computeTrainRound, type TrainComputeResult, type TrainComputeTask } from './compute.js';

export default async function run(task: TrainComputeTask): Promise<TrainComputeResult | { error: string }> {
  try {
    return await computeTrainRound(task);
  } catch (e) {
    // Only the class and a fixed text cross back: a TF.js message could quote shapes, never rows, but stay terse.
    return { error: e instanceof RangeError ? e.message : 'local training failed in the worker' };
  }
}
