/**
 * Where an agent's local training runs: a piscina pool of worker threads (one TF.js each) when the compiled worker
 * dist/node-agent/train/train-worker.js is available and current, else in-process (tests over the TypeScript
 * sources without a build; training then blocks the event loop while it runs, so agents on a live link need the
 * build — `npm run build`).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { FedmeshError } from '../../common/errors.js';
import { computeTrainRound, type TrainComputeResult, type TrainComputeTask } from './compute.js';

const HERE = fileURLToPath(import.meta.url);

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const d of [dir, resolve(dir, '..', '..', 'algorithms', 'fl')]) {
    if (!existsSync(d)) continue;
    for (const n of readdirSync(d)) if (n.endsWith('.ts') && !n.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(d, n)).mtimeMs);
  }
  return newest;
}

/** The compiled worker, or undefined when there is none that is current. */
export function resolveTrainWorkerPath(): string | undefined {
  if (HERE.endsWith('.js')) return join(dirname(HERE), 'train-worker.js');
  const root = resolve(dirname(HERE), '..', '..');
  const js = join(root, 'dist', 'node-agent', 'train', 'train-worker.js');
  if (!existsSync(js) || statSync(js).mtimeMs < newestSourceMs(dirname(HERE))) return undefined;
  return js;
}

let pool: Piscina | undefined | null;

/**
 * How long an idle TF.js thread is kept. A fresh thread's first epochs run 2–3× slower while V8 optimises TF.js's
 * JavaScript (2c9b0b7), and an agent often waits longer than a few seconds between two rounds of a job for the
 * slowest agent: 30 s made such an agent pay that warm-up again every round. Idle threads are unref'd by piscina, so
 * they never keep a process alive; what they hold is one TF.js each.
 */
const TRAIN_THREAD_IDLE_MS = 10 * 60_000;

/** One pool per process, created on first use (2 threads at most: one TF.js each). */
function getPool(): Piscina | undefined {
  if (pool === undefined) {
    const file = resolveTrainWorkerPath();
    pool = file ? new Piscina({ filename: file, maxThreads: 2, minThreads: 0, idleTimeout: TRAIN_THREAD_IDLE_MS }) : null;
  }
  return pool ?? undefined;
}

/** Runs a round's TF.js work in the pool (or in-process without one). */
export async function runTrainCompute(task: TrainComputeTask, signal?: AbortSignal): Promise<TrainComputeResult> {
  const p = getPool();
  if (!p) return computeTrainRound(task);
  const r = (await p.run(task, { signal: signal ?? null })) as TrainComputeResult | { error: string };
  if ('error' in r) throw new FedmeshError('INTERNAL', r.error);
  return r;
}

/** Stops the pool's threads (tests and agent shutdown). */
export async function closeTrainPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  if (p) await p.destroy();
}
