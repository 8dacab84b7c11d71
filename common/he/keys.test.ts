import { mkdtemp, readFile, rm, stat, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectHeParameters } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { addCiphertexts } from './aggregate.js';
import { decryptVector } from './decrypt.js';
import { encryptVector } from './encrypt.js';
import { generateHeKeyPair, loadHeKeyFolder, saveHeKeyFolder, SECRET_KEY_FILE, PUBLIC_KEY_FILE } from './keys.js';
import type { HeKeyPair } from './keys.js';

describe('researcher key folder', () => {
  let plan: HePlan;
  let keys: HeKeyPair;
  let root: string;

  beforeAll(async () => {
    plan = selectHeParameters({ vectorLength: 10, valueBounds: { min: -5n, max: 5n }, agents: 3, polyModulusDegree: 4096 });
    keys = await generateHeKeyPair(plan);
    root = await mkdtemp(join(tmpdir(), 'fedmesh-he-keys-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('saves with a 0600 secret key, loads back, and the loaded keys still work', async () => {
    const dir = join(root, 'job-1');
    await saveHeKeyFolder(dir, keys);
    expect((await stat(join(dir, SECRET_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o077).toBe(0);
    const loaded = await loadHeKeyFolder(dir);
    expect(loaded.keyId).toBe(keys.keyId);
    expect(loaded.plan).toEqual(plan);
    expect(loaded.publicKey).toEqual(keys.publicKey);
    expect(loaded.secretKey.exportBytes()).toEqual(keys.secretKey.exportBytes());
    const v = new BigInt64Array(10).fill(-4n);
    const agg = await addCiphertexts(loaded.plan, [await encryptVector(loaded.plan, loaded.publicKey, v), await encryptVector(plan, keys.publicKey, v)]);
    expect((await decryptVector(loaded.plan, loaded.secretKey, agg))[9]).toBe(-8n);
  });

  it('refuses to overwrite an existing key unless asked', async () => {
    const dir = join(root, 'job-2');
    await saveHeKeyFolder(dir, keys);
    await expect(saveHeKeyFolder(dir, keys)).rejects.toSatisfy((e: unknown) => e instanceof FedmeshError && e.code === 'ALREADY_EXISTS');
    await chmod(join(dir, SECRET_KEY_FILE), 0o644);
    await saveHeKeyFolder(dir, keys, { overwrite: true });
    expect((await stat(join(dir, SECRET_KEY_FILE))).mode & 0o777).toBe(0o600);
  });

  it('refuses a secret key readable by others, a swapped public key and a missing folder', async () => {
    const dir = join(root, 'job-3');
    await saveHeKeyFolder(dir, keys);
    await chmod(join(dir, SECRET_KEY_FILE), 0o640);
    await expect(loadHeKeyFolder(dir)).rejects.toThrow(/secret\.key has mode 0640, readable by others/);
    await chmod(join(dir, SECRET_KEY_FILE), 0o600);
    const other = await generateHeKeyPair(plan);
    await writeFile(join(dir, PUBLIC_KEY_FILE), other.publicKey);
    await expect(loadHeKeyFolder(dir)).rejects.toThrow(/does not match the keyId/);
    await writeFile(join(dir, PUBLIC_KEY_FILE), (await readFile(join(dir, PUBLIC_KEY_FILE))).subarray(0, 100));
    await expect(loadHeKeyFolder(dir)).rejects.toThrow(/public\.key is 100 bytes, expected 196721/);
    await expect(loadHeKeyFolder(join(root, 'nope'))).rejects.toSatisfy((e: unknown) => e instanceof FedmeshError && e.code === 'NOT_FOUND');
  });

  it('never prints or serialises the secret key', () => {
    expect(() => JSON.stringify({ key: keys.secretKey })).toThrow(/never be serialised/);
    expect(inspect(keys)).toContain('HeSecretKey [redacted]');
    expect(String(keys.secretKey)).toBe('HeSecretKey [redacted]');
  });
});
