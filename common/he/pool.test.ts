/**
 * Runs the real piscina pool on the compiled worker. Needs `npm run build` first: without
 * dist/common/he/he-worker.js these tests FAIL with a message saying so (they never skip).
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectHeParameters } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { decryptVector } from './decrypt.js';
import { encryptVector } from './encrypt.js';
import { generateHeKeyPair } from './keys.js';
import type { HeKeyPair } from './keys.js';
import { compileHePoolOptions, createHePool, resolveHeWorkerPath } from './pool.js';
import type { HePool } from './pool.js';

describe('resolveHeWorkerPath', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fedmesh-he-pool-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('tells to run npm run build when the compiled worker is missing', () => {
    expect(() => resolveHeWorkerPath({ repoRoot: root })).toThrow(
      expect.objectContaining({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/dist\/common\/he\/he-worker\.js is missing; run `npm run build` first/) }),
    );
  });

  it('refuses a compiled worker older than its sources', async () => {
    await mkdir(join(root, 'dist', 'common', 'he'), { recursive: true });
    await mkdir(join(root, 'common', 'he'), { recursive: true });
    const worker = join(root, 'dist', 'common', 'he', 'he-worker.js');
    await writeFile(worker, '');
    await writeFile(join(root, 'common', 'he', 'encrypt.ts'), '');
    await utimes(worker, new Date(1_000_000), new Date(1_000_000));
    expect(() => resolveHeWorkerPath({ repoRoot: root })).toThrow(/older than its TypeScript sources; run `npm run build`/);
    await utimes(worker, new Date(), new Date(Date.now() + 60_000));
    expect(resolveHeWorkerPath({ repoRoot: root })).toBe(worker);
  });

  it('uses the sibling file when running compiled', () => {
    expect(resolveHeWorkerPath({ modulePath: '/x/dist/common/he/pool.js' })).toBe('/x/dist/common/he/he-worker.js');
  });
});

describe('compileHePoolOptions', () => {
  it('names the bad option', () => {
    expect(() => compileHePoolOptions({ maxThreads: 0, workerPath: '/w.js' })).toThrow('options.maxThreads must be a positive integer, got 0');
    expect(() => compileHePoolOptions({ maxThreads: 2, minThreads: 3, workerPath: '/w.js' })).toThrow(/options.minThreads must be an integer in \[0, maxThreads = 2\]/);
    expect(() => compileHePoolOptions({ idleTimeoutMs: -1, workerPath: '/w.js' })).toThrow(/options.idleTimeoutMs/);
    expect(compileHePoolOptions({ maxThreads: 3, workerPath: '/w.js' })).toEqual({ maxThreads: 3, minThreads: 3, idleTimeoutMs: 30_000, workerPath: '/w.js' });
  });
});

describe('HE worker pool (compiled dist worker)', () => {
  let pool: HePool;
  let plan: HePlan;
  let keys: HeKeyPair;

  beforeAll(async () => {
    pool = createHePool({ maxThreads: 2 }); // throws the build message if dist is missing or stale
    plan = selectHeParameters({ vectorLength: 3 * 4096 + 5, valueBounds: { min: -1000n, max: 1000n }, agents: 4, polyModulusDegree: 4096 });
    keys = await generateHeKeyPair(plan);
    await pool.warmUp(plan);
  });

  afterAll(async () => {
    await pool?.destroy();
  });

  it('the compiled worker has no decryption in it', () => {
    const source = readFileSync(resolveHeWorkerPath(), 'utf8');
    expect(source).not.toMatch(/decrypt\.js|keys\.js|Decryptor|SecretKey/);
  });

  it('encrypts in workers and adds in workers; the researcher decrypts the exact sum', async () => {
    const vectors = [0, 1, 2, 3].map((a) => {
      const v = new BigInt64Array(plan.vectorLength);
      for (let i = 0; i < v.length; i++) v[i] = BigInt(((i * 31 + a * 997) % 2001) - 1000);
      return v;
    });
    const uploads = await Promise.all(vectors.map((v) => pool.encrypt(plan, keys.publicKey, v)));
    expect(uploads[0]!.map((c) => c.byteLength)).toEqual([65_649, 65_649, 65_649, 65_649]);
    const aggregate = await pool.add(plan, uploads);
    const sum = await decryptVector(plan, keys.secretKey, aggregate);
    const want = new BigInt64Array(plan.vectorLength);
    for (const v of vectors) for (let i = 0; i < v.length; i++) want[i]! += v[i]!;
    expect(sum).toEqual(want);
  });

  it('matches in-thread encryption byte sizes and mixes with in-thread uploads', async () => {
    const v = Int32Array.from({ length: plan.vectorLength }, (_, i) => (i % 7) - 3);
    const fromPool = await pool.encrypt(plan, keys.publicKey, v);
    const inThread = await encryptVector(plan, keys.publicKey, v);
    const sum = await decryptVector(plan, keys.secretKey, await pool.add(plan, [fromPool, inThread]));
    expect(sum[6]).toBe(6n);
    expect(sum[plan.vectorLength - 1]).toBe(BigInt(2 * (((plan.vectorLength - 1) % 7) - 3)));
  });

  it('rethrows worker-side and pre-dispatch errors with their class and code', async () => {
    const v = new BigInt64Array(plan.vectorLength);
    v[4100] = 1001n;
    await expect(pool.encrypt(plan, keys.publicKey, v)).rejects.toThrow(RangeError);
    await expect(pool.encrypt(plan, keys.publicKey, v)).rejects.toThrow(/index 4100 \(1001\)/);
    v[4100] = 0n;
    // A malformed public key is found inside the worker.
    await expect(pool.encrypt(plan, keys.publicKey.subarray(0, 500), v)).rejects.toSatisfy(
      (e: unknown) => e instanceof FedmeshError && e.code === 'INVALID_ARGUMENT' && /public key is 500 bytes/.test(e.message),
    );
    const good = await pool.encrypt(plan, keys.publicKey, v);
    const truncated = [...good];
    truncated[2] = good[2]!.subarray(0, 100);
    await expect(pool.add(plan, [good, truncated])).rejects.toThrow(/contribution 1 ciphertext 2 is 100 bytes, expected exactly 65649/);
    // Right size and header, wrong parameters: only the worker (which knows the parms_id) can tell.
    const otherPlan = selectHeParameters({ vectorLength: plan.vectorLength, valueBounds: { min: -1_000_000n, max: 1_000_000n }, agents: 4, polyModulusDegree: 4096 });
    const otherKeys = await generateHeKeyPair(otherPlan);
    const foreign = await encryptVector(otherPlan, otherKeys.publicKey, v);
    await expect(pool.add(plan, [good, foreign])).rejects.toSatisfy(
      (e: unknown) => e instanceof FedmeshError && e.code === 'INVALID_ARGUMENT' && /parms_id mismatch/.test(e.message),
    );
  });
});
