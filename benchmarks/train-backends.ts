/**
 * TF.js backends on the same local epoch (issue 10: "the wasm backend versus the cpu backend on the same local
 * epoch (ratio)"): an MLP (30 → 64 → 32 → 1, relu) for one epoch over synthetic rows, batch 64, SGD, with the wasm
 * and the cpu backend in this process, and with `@tensorflow/tfjs-node` ("where present") when the product's own
 * pick (tf-runtime.ts's `loadTf()`, which tries tfjs-node first) finds it installed; otherwise `tfjsNode` says
 * "not installed" in the results and on stderr, and the run goes on. Part of the `train` suite's JSON
 * (benchmarks/run.ts); also runs alone: `npx tsx benchmarks/train-backends.ts [rows]` (default 20 000).
 * tfjs-node cannot install on our machines (its install downloads libtensorflow from a non-npm host), so that
 * branch has not run here.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { glorotInit, denseShapes } from '../algorithms/fl/index.js';
import { syntheticAgentData } from '../jobs/train/synthetic.js';
import { trainLocal } from '../node-agent/train/local-train.js';
import { loadTf, useBackend, type Tf } from '../node-agent/train/tf-runtime.js';
import { ratio, type SuiteReport } from './harness.js';

/** What the tfjs-node branch reports: its timing, or why it did not run. */
export type TfjsNodeResult = { s: number; examplesPerS: number } | { status: 'not installed'; install: string } | { status: 'installed, not picked'; backend: string };

/** Whether the package resolves from here, without loading it (loadTf's catch cannot tell absent from broken). */
function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/**
 * Seconds per backend for one epoch over `rows` rows, and the cpu-over-wasm time ratio (plus the wasm- and
 * cpu-over-tfjs-node ratios when tfjs-node is installed).
 */
export async function runTrainBackendsBenchmark(rows = 20_000): Promise<SuiteReport> {
  const D = 30;
  const data = syntheticAgentData({ rows, inputs: D, shift: 0, seed: 1, testFraction: 0 }).train;
  const model = { inputs: D, layers: [{ units: 64, activation: 'relu', dropout: 0 }, { units: 32, activation: 'relu', dropout: 0 }, { units: 1, activation: 'linear', dropout: 0 }], loss: 'binary-crossentropy' as const, l2: 0 };
  const start = glorotInit(denseShapes(D, [64, 32, 1]), 1);
  const cfg = { epochs: 1, batchSize: 64, optimizer: 'sgd' as const, learningRate: 0.05, momentum: 0, mu: 0, seed: 1 };
  const timeEpoch = async (tf: Tf): Promise<number> => {
    const warm = Math.min(640, data.n);
    await trainLocal(tf, model, cfg, start, { x: data.x.subarray(0, warm * D), y: data.y.subarray(0, warm), n: warm });
    const t0 = performance.now();
    await trainLocal(tf, model, cfg, start, data);
    return (performance.now() - t0) / 1000;
  };
  // The product's pick, unchanged: loadTf() without a preference imports tfjs-node when it is installed. It runs
  // first, before useBackend switches this thread's TF.js to wasm and cpu.
  const picked = await loadTf();
  let tfjsNodeS: number | undefined;
  let tfjsNode: TfjsNodeResult;
  if (picked.backend === 'tensorflow') {
    tfjsNodeS = await timeEpoch(picked.tf);
    tfjsNode = { s: Math.round(tfjsNodeS * 1000) / 1000, examplesPerS: Math.round(data.n / tfjsNodeS) };
  } else if (tfjsNodeInstalled()) {
    // Present but loadTf fell back (it failed to load, or TF.js was loaded earlier in this thread): say so.
    tfjsNode = { status: 'installed, not picked', backend: picked.backend };
    console.warn(`[skip] train backends: @tensorflow/tfjs-node is installed but this thread's TF.js runs ${picked.backend} (tfjs-node failed to load, or TF.js was loaded before); timing wasm and cpu only`);
  } else {
    tfjsNode = { status: 'not installed', install: 'npm i @tensorflow/tfjs-node' };
    console.warn('[skip] train backends: @tensorflow/tfjs-node not installed (npm i @tensorflow/tfjs-node to compare it); timing wasm and cpu only');
  }
  const seconds: Record<'wasm' | 'cpu', number> = { wasm: 0, cpu: 0 };
  for (const b of ['wasm', 'cpu'] as const) seconds[b] = await timeEpoch(await useBackend(b));
  const r = (s: number): number => Math.round(s * 1000) / 1000;
  return {
    results: { rows: data.n, inputs: D, hidden: [64, 32], batchSize: cfg.batchSize, wasm: { s: r(seconds.wasm), examplesPerS: Math.round(data.n / seconds.wasm) }, cpu: { s: r(seconds.cpu), examplesPerS: Math.round(data.n / seconds.cpu) }, tfjsNode },
    ratios: {
      cpuOverWasm: ratio(seconds.cpu, seconds.wasm, { numerator: 'cpu backend s, one local epoch', denominator: 'wasm backend s, the same epoch' }),
      ...(tfjsNodeS === undefined
        ? {}
        : {
            wasmOverTfjsNode: ratio(seconds.wasm, tfjsNodeS, { numerator: 'wasm backend s, one local epoch', denominator: 'tfjs-node (native TensorFlow) s, the same epoch' }),
            cpuOverTfjsNode: ratio(seconds.cpu, tfjsNodeS, { numerator: 'cpu backend s, one local epoch', denominator: 'tfjs-node (native TensorFlow) s, the same epoch' }),
          }),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await runTrainBackendsBenchmark(Number(process.argv[2] ?? 20_000));
  console.log(JSON.stringify(out, null, 2));
}
