/**
 * TF.js backends on the same local epoch (issue 10): an MLP (30 → 64 → 32 → 1, relu) for one epoch over synthetic
 * rows, batch 64, SGD, with the wasm and the cpu backend in this process; prints seconds, examples/s and the ratio.
 * Run: `npx tsx benchmarks/train-backends.ts [rows]` (default 20 000). tfjs-node is not installable here.
 */
import { glorotInit, denseShapes } from '../algorithms/fl/index.js';
import { syntheticAgentData } from '../jobs/train/synthetic.js';
import { trainLocal } from '../node-agent/train/local-train.js';
import { useBackend } from '../node-agent/train/tf-runtime.js';

const rows = Number(process.argv[2] ?? 20_000);
const D = 30;
const data = syntheticAgentData({ rows, inputs: D, shift: 0, seed: 1, testFraction: 0 }).train;
const model = { inputs: D, layers: [{ units: 64, activation: 'relu', dropout: 0 }, { units: 32, activation: 'relu', dropout: 0 }, { units: 1, activation: 'linear', dropout: 0 }], loss: 'binary-crossentropy' as const, l2: 0 };
const start = glorotInit(denseShapes(D, [64, 32, 1]), 1);
const cfg = { epochs: 1, batchSize: 64, optimizer: 'sgd' as const, learningRate: 0.05, momentum: 0, mu: 0, seed: 1 };
const out: Record<string, number> = {};
for (const b of ['wasm', 'cpu'] as const) {
  const tf = await useBackend(b);
  await trainLocal(tf, model, { ...cfg, epochs: 1 }, start, { x: data.x.subarray(0, 640 * D), y: data.y.subarray(0, 640), n: 640 }); // warm-up
  const t0 = performance.now();
  await trainLocal(tf, model, cfg, start, data);
  out[b] = (performance.now() - t0) / 1000;
  console.log(`${b}: ${out[b]!.toFixed(2)} s for one epoch of ${data.n} rows (${Math.round(data.n / out[b]!)} examples/s)`);
}
console.log(`cpu / wasm time ratio: ${(out.cpu! / out.wasm!).toFixed(2)}`);
