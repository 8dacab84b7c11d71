/**
 * TF.js backends on the same local epoch (issue 10: "the wasm backend versus the cpu backend on the same local
 * epoch (ratio)"): an MLP (30 → 64 → 32 → 1, relu) for one epoch over synthetic rows, batch 64, SGD, with the wasm
 * and the cpu backend in this process. Part of the `train` suite's JSON (benchmarks/run.ts); also runs alone:
 * `npx tsx benchmarks/train-backends.ts [rows]` (default 20 000). tfjs-node is not installable here.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { glorotInit, denseShapes } from '../algorithms/fl/index.js';
import { syntheticAgentData } from '../jobs/train/synthetic.js';
import { trainLocal } from '../node-agent/train/local-train.js';
import { useBackend } from '../node-agent/train/tf-runtime.js';
import { ratio, type SuiteReport } from './harness.js';

/** Seconds per backend for one epoch over `rows` rows, and the cpu-over-wasm time ratio. */
export async function runTrainBackendsBenchmark(rows = 20_000): Promise<SuiteReport> {
  const D = 30;
  const data = syntheticAgentData({ rows, inputs: D, shift: 0, seed: 1, testFraction: 0 }).train;
  const model = { inputs: D, layers: [{ units: 64, activation: 'relu', dropout: 0 }, { units: 32, activation: 'relu', dropout: 0 }, { units: 1, activation: 'linear', dropout: 0 }], loss: 'binary-crossentropy' as const, l2: 0 };
  const start = glorotInit(denseShapes(D, [64, 32, 1]), 1);
  const cfg = { epochs: 1, batchSize: 64, optimizer: 'sgd' as const, learningRate: 0.05, momentum: 0, mu: 0, seed: 1 };
  const seconds: Record<'wasm' | 'cpu', number> = { wasm: 0, cpu: 0 };
  for (const b of ['wasm', 'cpu'] as const) {
    const tf = await useBackend(b);
    const warm = Math.min(640, data.n);
    await trainLocal(tf, model, cfg, start, { x: data.x.subarray(0, warm * D), y: data.y.subarray(0, warm), n: warm });
    const t0 = performance.now();
    await trainLocal(tf, model, cfg, start, data);
    seconds[b] = (performance.now() - t0) / 1000;
  }
  const r = (s: number): number => Math.round(s * 1000) / 1000;
  return {
    results: { rows: data.n, inputs: D, hidden: [64, 32], batchSize: cfg.batchSize, wasm: { s: r(seconds.wasm), examplesPerS: Math.round(data.n / seconds.wasm) }, cpu: { s: r(seconds.cpu), examplesPerS: Math.round(data.n / seconds.cpu) } },
    ratios: { cpuOverWasm: ratio(seconds.cpu, seconds.wasm, { numerator: 'cpu backend s, one local epoch', denominator: 'wasm backend s, the same epoch' }) },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await runTrainBackendsBenchmark(Number(process.argv[2] ?? 20_000));
  console.log(JSON.stringify(out, null, 2));
}
