/**
 * A piscina pool for HE work: agents encrypt in it, the coordinator adds in it. Workers are the compiled
 * dist/common/he/he-worker.js (piscina cannot load .ts); under vitest, running from the TypeScript sources,
 * the compiled counterpart is found relative to the repository root and must be current.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { screenCiphertextBytes, assertWithinPlan } from '../../algorithms/he/index.js';
import type { HeIntegerVector, HePlan, HePlanInput } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { splitCiphertexts } from './buffers.js';
import type { HeWorkerError, HeWorkerResult, HeWorkerTask } from './he-worker.js';

export interface HePoolOptions {
  /** Worker threads. @default min(2, os.availableParallelism()) */
  maxThreads?: number;
  /** Threads kept alive (each caches its SEAL contexts, which take 100–450 ms to build). @default maxThreads */
  minThreads?: number;
  /** How long an idle thread above minThreads lives. @default 30_000 */
  idleTimeoutMs?: number;
  /** The compiled worker file. @default resolveHeWorkerPath() */
  workerPath?: string;
}

export interface CompiledHePoolOptions {
  readonly maxThreads: number;
  readonly minThreads: number;
  readonly idleTimeoutMs: number;
  readonly workerPath: string;
}

export interface HeTaskOptions {
  signal?: AbortSignal;
}

export interface HePool {
  readonly threads: number;
  /**
   * Encrypts one agent's vector under `publicKey`, split across the pool's threads.
   * @throws RangeError naming the first out-of-bounds value, before anything is encrypted.
   */
  encrypt(plan: HePlan, publicKey: Uint8Array, values: HeIntegerVector, options?: HeTaskOptions): Promise<Uint8Array[]>;
  /** Adds all agents' ciphertexts (coordinator side; no secret key involved), split across threads. */
  add(plan: HePlan, contributions: readonly (readonly Uint8Array[])[], options?: HeTaskOptions): Promise<Uint8Array[]>;
  /** Builds the plan's SEAL context in every thread, so that the first real task does not pay for it. */
  warmUp(plan: HePlan): Promise<void>;
  destroy(): Promise<void>;
}

const HERE = fileURLToPath(import.meta.url);
const WORKER_JS = ['common', 'he', 'he-worker.js'];
const SOURCE_DIRS = [['common', 'he'], ['algorithms', 'he']];

function newestSourceMtimeMs(repoRoot: string): number {
  let newest = 0;
  for (const parts of SOURCE_DIRS) {
    const dir = join(repoRoot, ...parts);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
      newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Where the compiled worker lives. From dist/ it is this module's sibling; from the TypeScript sources it is
 * `<repoRoot>/dist/common/he/he-worker.js`, which must exist and be newer than the HE sources.
 * @throws FedmeshError FAILED_PRECONDITION telling to run `npm run build` when it is missing or stale.
 */
export function resolveHeWorkerPath(from: { modulePath?: string; repoRoot?: string } = {}): string {
  const modulePath = from.modulePath ?? HERE;
  if (from.repoRoot === undefined && modulePath.endsWith('.js')) return join(dirname(modulePath), 'he-worker.js');
  const repoRoot = from.repoRoot ?? resolve(dirname(modulePath), '..', '..');
  const candidate = join(repoRoot, 'dist', ...WORKER_JS);
  if (!existsSync(candidate)) {
    throw new FedmeshError(
      'FAILED_PRECONDITION',
      `the HE worker is not built: ${candidate} is missing; run \`npm run build\` first (piscina cannot run .ts workers)`,
    );
  }
  if (statSync(candidate).mtimeMs < newestSourceMtimeMs(repoRoot)) {
    throw new FedmeshError('FAILED_PRECONDITION', `the HE worker ${candidate} is older than its TypeScript sources; run \`npm run build\` first`);
  }
  return candidate;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`options.${name} must be a positive integer, got ${value}`);
  return value;
}

/** Validates options once and fills in defaults. @throws TypeError naming the option. */
export function compileHePoolOptions(options: HePoolOptions = {}): CompiledHePoolOptions {
  const maxThreads = positiveInt('maxThreads', options.maxThreads ?? Math.min(2, availableParallelism()));
  const minThreads = options.minThreads ?? maxThreads;
  if (!Number.isSafeInteger(minThreads) || minThreads < 0 || minThreads > maxThreads) {
    throw new TypeError(`options.minThreads must be an integer in [0, maxThreads = ${maxThreads}], got ${minThreads}`);
  }
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  if (!Number.isFinite(idleTimeoutMs) || idleTimeoutMs < 0) throw new TypeError(`options.idleTimeoutMs must be a non-negative number, got ${idleTimeoutMs}`);
  if (options.workerPath !== undefined && typeof options.workerPath !== 'string') throw new TypeError('options.workerPath must be a string');
  const workerPath = options.workerPath ?? resolveHeWorkerPath();
  return Object.freeze({ maxThreads, minThreads, idleTimeoutMs, workerPath });
}

function planInput(plan: HePlan): HePlanInput {
  return {
    polyModulusDegree: plan.polyModulusDegree,
    plainModulus: plan.plainModulus,
    uploadCoeffModulusCount: plan.uploadCoeffModulusCount,
    vectorLength: plan.vectorLength,
    maxAgents: plan.maxAgents,
    valueBounds: { min: plan.valueBounds.min, max: plan.valueBounds.max },
  };
}

function rethrow(error: HeWorkerError): never {
  switch (error.name) {
    case 'RangeError':
      throw new RangeError(error.message);
    case 'TypeError':
      throw new TypeError(error.message);
    default:
      throw new FedmeshError(error.code ?? 'INTERNAL', error.message, error.field === undefined ? {} : { field: error.field });
  }
}

/** Contiguous, near-equal ranges [start, end) covering 0..count, at most `parts` of them. */
function ranges(count: number, parts: number): Array<[number, number]> {
  const k = Math.max(1, Math.min(parts, count));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < k; i++) out.push([Math.floor((i * count) / k), Math.floor(((i + 1) * count) / k)]);
  return out;
}

/** Creates the HE worker pool. @throws FedmeshError FAILED_PRECONDITION if the worker is not built. */
export function createHePool(options: HePoolOptions = {}): HePool {
  const compiled = compileHePoolOptions(options);
  const piscina = new Piscina<HeWorkerTask, HeWorkerResult>({
    filename: compiled.workerPath,
    maxThreads: compiled.maxThreads,
    minThreads: compiled.minThreads,
    idleTimeout: compiled.idleTimeoutMs,
  });

  async function runTask(task: HeWorkerTask, transferList: ArrayBuffer[], signal?: AbortSignal): Promise<Uint8Array | null> {
    const result = await piscina.run(task, { transferList, signal: signal ?? null });
    if (result === null || result instanceof Uint8Array) return result;
    return rethrow(result.error);
  }

  return {
    threads: compiled.maxThreads,

    async encrypt(plan, publicKey, values, taskOptions = {}) {
      assertWithinPlan(values, plan);
      if (!(publicKey instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', 'public key must be a Uint8Array');
      const n = plan.polyModulusDegree;
      const input = planInput(plan);
      const parts = await Promise.all(
        ranges(plan.ciphertextCount, compiled.maxThreads).map(async ([c0, c1]) => {
          const slice = values.slice(c0 * n, Math.min(c1 * n, values.length)); // own buffer: transferred, not cloned
          const out = await runTask(
            { kind: 'encrypt', plan: input, publicKey, values: slice, firstCiphertext: c0 },
            [slice.buffer as ArrayBuffer],
            taskOptions.signal,
          );
          return splitCiphertexts(out!, plan.ciphertextByteSize);
        }),
      );
      return parts.flat();
    },

    async add(plan, contributions, taskOptions = {}) {
      if (!Array.isArray(contributions) || contributions.length === 0) {
        throw new FedmeshError('INVALID_ARGUMENT', 'contributions must be a non-empty array of per-agent ciphertext arrays');
      }
      if (contributions.length > plan.maxAgents) {
        throw new FedmeshError('INVALID_ARGUMENT', `${contributions.length} contributions exceed the plan's maxAgents (${plan.maxAgents})`);
      }
      const size = plan.ciphertextByteSize;
      // Screen sizes and headers here so that packing below cannot misalign; the worker screens again,
      // parms_id included, before SEAL loads anything.
      contributions.forEach((cts, a) => {
        if (!Array.isArray(cts) || cts.length !== plan.ciphertextCount) {
          throw new FedmeshError('INVALID_ARGUMENT', `contribution ${a} has ${Array.isArray(cts) ? cts.length : 'no'} ciphertexts, expected ${plan.ciphertextCount}`);
        }
        cts.forEach((ct, i) => {
          const what = `contribution ${a} ciphertext ${i}`;
          if (!(ct instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
          const r = screenCiphertextBytes(ct, { polyModulusDegree: plan.polyModulusDegree, coeffModulusCount: plan.uploadCoeffModulusCount, what });
          if (!r.ok) throw new FedmeshError('INVALID_ARGUMENT', r.reason, { field: what });
        });
      });
      const input = planInput(plan);
      const parts = await Promise.all(
        ranges(plan.ciphertextCount, compiled.maxThreads).map(async ([c0, c1]) => {
          const packed = contributions.map((cts) => {
            const buf = new Uint8Array((c1 - c0) * size);
            for (let i = c0; i < c1; i++) buf.set(cts[i]!, (i - c0) * size);
            return buf;
          });
          const out = await runTask(
            { kind: 'add', plan: input, contributions: packed, firstCiphertext: c0 },
            packed.map((b) => b.buffer as ArrayBuffer),
            taskOptions.signal,
          );
          return splitCiphertexts(out!, size);
        }),
      );
      return parts.flat();
    },

    async warmUp(plan) {
      const input = planInput(plan);
      await Promise.all(Array.from({ length: compiled.maxThreads }, () => runTask({ kind: 'warm', plan: input }, [])));
    },

    destroy: () => piscina.destroy(),
  };
}
