/**
 * HE (BFV) benchmark: `agents` agents × a `length`-element integer vector through the framework path —
 * each agent encrypts in the piscina pool, the coordinator adds in the pool, the researcher decrypts — plus
 * the raw node-seal cost of encrypting the same vector in the same run (direct SEAL calls: encode, encrypt,
 * mod-switch to the upload level, serialise; no validation, no pool, no copies), so that the framework
 * overhead can be stated as a ratio (target ≤ 1.2).
 *
 * Returns plain JSON-able numbers; writes nothing.
 */
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { selectHeParameters } from '../algorithms/he/index.js';
import type { HePlan } from '../algorithms/he/index.js';
import { addCiphertexts, createHePool, decryptVector, encryptVector, generateHeKeyPair, getSealContext } from '../common/he/index.js';
import type { HePool } from '../common/he/index.js';

export interface HeBenchmarkOptions {
  /** @default 10 */
  agents?: number;
  /** @default 100_000 */
  length?: number;
}

/** Per-agent, per-element bound of the benchmark's values (think: fixed-point sums with 8 fractional bits). */
const BOUND = 1n << 15n;
const REPS = 7;

/** Deterministic benchmark data (xorshift32); never for anything that protects data. */
function benchValues(seed: number, length: number): BigInt64Array {
  let s = seed >>> 0 || 1;
  const span = 2 * Number(BOUND) + 1;
  const out = new BigInt64Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = BigInt((s % span) - Number(BOUND));
  }
  return out;
}

async function timeMs<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Direct node-seal calls for one vector: what the framework wraps. Returns the bytes it would upload. */
export async function rawEncrypt(plan: HePlan, publicKey: Uint8Array, values: BigInt64Array): Promise<() => number> {
  const sc = await getSealContext(plan); // the same cached context the framework uses; not timed
  const { seal, context, encoder, evaluator } = sc;
  const pk = seal.PublicKey();
  pk.loadArray(context, publicKey);
  const encryptor = seal.Encryptor(context, pk); // keeps its own copy of the key
  pk.delete();
  const target = sc.parmsIdForLevel(plan.uploadCoeffModulusCount);
  const none = seal.ComprModeType.none;
  const n = plan.polyModulusDegree;
  return () => {
    let bytes = 0;
    for (let off = 0; off < values.length; off += n) {
      const plain = encoder.encode(values.subarray(off, Math.min(off + n, values.length)))!;
      const cipher = encryptor.encrypt(plain)!;
      evaluator.cipherModSwitchTo(cipher, target, cipher);
      bytes += cipher.saveArray(none).byteLength;
      plain.delete();
      cipher.delete();
    }
    return bytes;
  };
}

export async function runHeBenchmarks(opts: HeBenchmarkOptions = {}): Promise<Record<string, unknown>> {
  const agents = opts.agents ?? 10;
  const length = opts.length ?? 100_000;
  const plan = selectHeParameters({ vectorLength: length, valueBounds: { min: -BOUND, max: BOUND }, agents });
  const vectors = Array.from({ length: agents }, (_, a) => benchValues(0x5eed + a, length));
  const want = new BigInt64Array(length);
  for (const v of vectors) for (let i = 0; i < length; i++) want[i]! += v[i]!;

  const [contextMs] = await timeMs(() => getSealContext(plan));
  const [keygenMs, keys] = await timeMs(() => generateHeKeyPair(plan));

  // Raw node-seal vs the framework on the same single thread, interleaved run by run so that load from
  // other processes hits both alike. CPU-bound work under contention: the minimum is the least noisy
  // estimate, the median is reported beside it.
  const raw = await rawEncrypt(plan, keys.publicKey, vectors[0]!);
  let pool1: HePool | undefined;
  let pool: HePool | undefined;
  try {
    pool1 = createHePool({ maxThreads: 1 });
    await pool1.warmUp(plan);
    raw(); // warm-up
    await encryptVector(plan, keys.publicKey, vectors[0]!);
    await pool1.encrypt(plan, keys.publicKey, vectors[0]!);
    const rawRuns: number[] = [];
    const inThreadRuns: number[] = [];
    const pool1Runs: number[] = [];
    let rawBytes = 0;
    for (let r = 0; r < REPS; r++) {
      const [ms, bytes] = await timeMs(raw);
      rawRuns.push(ms);
      rawBytes = bytes;
      // Framework in this thread: range check + encode/encrypt/switch/serialise + copies.
      inThreadRuns.push((await timeMs(() => encryptVector(plan, keys.publicKey, vectors[0]!)))[0]);
      // Framework through a one-thread pool: adds dispatch and transfer; the like-for-like comparison.
      pool1Runs.push((await timeMs(() => pool1!.encrypt(plan, keys.publicKey, vectors[0]!)))[0]);
    }
    await pool1.destroy();
    pool1 = undefined;

    // The full path with the default pool: what an agent (alone on its machine) and the coordinator see.
    pool = createHePool();
    const [warmUpMs] = await timeMs(() => pool!.warmUp(plan));
    await pool.encrypt(plan, keys.publicKey, vectors[0]!);
    const perAgentRuns: number[] = [];
    const uploads: Uint8Array[][] = [];
    for (const v of vectors) {
      const [ms, cts] = await timeMs(() => pool!.encrypt(plan, keys.publicKey, v));
      perAgentRuns.push(ms);
      uploads.push(cts);
    }
    const bytesPerAgent = uploads[0]!.reduce((s, c) => s + c.byteLength, 0);
    const [coordinatorPoolMs, aggregate] = await timeMs(() => pool!.add(plan, uploads));
    const [coordinatorInThreadMs] = await timeMs(() => addCiphertexts(plan, uploads));
    const [decryptMs, sum] = await timeMs(() => decryptVector(plan, keys.secretKey, aggregate));
    const exact = sum.every((x, i) => x === want[i]);

    // End to end on this one machine: all agents encrypt at once (sharing this pool), then add, then decrypt.
    const [endToEndMs, e2eExact] = await timeMs(async () => {
      const ups = await Promise.all(vectors.map((v) => pool!.encrypt(plan, keys.publicKey, v)));
      const agg = await pool!.add(plan, ups);
      const out = await decryptVector(plan, keys.secretKey, agg);
      return out.every((x, i) => x === want[i]);
    });

    const rawEncryptMs = Math.min(...rawRuns);
    const frameworkOneThreadMs = Math.min(...pool1Runs);
    const inThreadMs = Math.min(...inThreadRuns);
    return {
      name: 'he-bfv',
      agents,
      length,
      machine: { cpus: cpus().length, availableParallelism: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      params: {
        polyModulusDegree: plan.polyModulusDegree,
        plainModulus: plan.plainModulus.toString(),
        plainModulusBits: plan.plainModulus.toString(2).length,
        coeffModulusBits: plan.coeffModulusBits,
        uploadCoeffModulusCount: plan.uploadCoeffModulusCount,
        valueBound: BOUND.toString(),
        noiseMarginBits: round(plan.noiseMarginBits),
        ciphertextCount: plan.ciphertextCount,
        ciphertextBytes: plan.ciphertextByteSize,
      },
      exact: exact && e2eExact,
      poolThreads: pool.threads,
      reps: REPS,
      setup: { contextMs: round(contextMs), keygenMs: round(keygenMs), poolWarmUpMs: round(warmUpMs), publicKeyBytes: keys.publicKey.byteLength },
      raw: { encryptMs: round(rawEncryptMs), medianMs: round(median(rawRuns)), bytes: rawBytes, runsMs: rawRuns.map((x) => round(x)) },
      framework: {
        encryptInThreadMs: round(inThreadMs),
        encryptInThreadMedianMs: round(median(inThreadRuns)),
        encryptOneThreadPoolMs: round(frameworkOneThreadMs),
        encryptOneThreadPoolMedianMs: round(median(pool1Runs)),
        perAgentEncryptMs: round(median(perAgentRuns)),
        perAgentEncryptRunsMs: perAgentRuns.map((x) => round(x)),
        bytesSentPerAgent: bytesPerAgent,
        plaintextBytesPerAgent: length * 8,
        coordinatorAddPoolMs: round(coordinatorPoolMs),
        coordinatorAddInThreadMs: round(coordinatorInThreadMs),
        researcherDecryptMs: round(decryptMs),
        endToEndMs: round(endToEndMs),
      },
      ratios: {
        /** Framework (one-thread pool) / raw node-seal, same work and thread count, best of REPS. Target ≤ 1.2. */
        frameworkOverRaw: round(frameworkOneThreadMs / rawEncryptMs, 3),
        frameworkOverRawMedian: round(median(pool1Runs) / median(rawRuns), 3),
        inThreadOverRaw: round(inThreadMs / rawEncryptMs, 3),
        /** Default pool (all threads) per agent / raw single thread: below 1 when threads help. */
        pooledPerAgentOverRaw: round(median(perAgentRuns) / rawEncryptMs, 3),
        bytesOverPlaintext: round(bytesPerAgent / (length * 8), 3),
      },
    };
  } finally {
    await pool1?.destroy();
    await pool?.destroy();
  }
}
