/**
 * Agent side: encrypt an integer vector under the researcher's public key. Values are range-checked against
 * the plan before anything is encoded; ciphertexts are mod-switched down to the plan's upload level (SEAL's
 * last level unless the noise budget needs more) before they are serialised, uncompressed.
 */
import { createHash } from 'node:crypto';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import { assertWithinBounds, assertWithinPlan } from '../../algorithms/he/index.js';
import type { HeIntegerVector, HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { contextKey, getSealContext } from './seal.js';
import type { SealContext } from './seal.js';
import { loadPublicKey } from './load-guard.js';
import { splitCiphertexts } from './buffers.js';

const MAX_CACHED_ENCRYPTORS = 4;
const encryptors = new Map<string, Encryptor>();

/** SHA-256 of a serialised public key, hex: names the key in caches and key folders. */
export function publicKeyFingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

function getEncryptor(sc: SealContext, plan: HePlan, publicKey: Uint8Array): Encryptor {
  const key = `${contextKey(plan)}|${publicKeyFingerprint(publicKey)}`;
  const cached = encryptors.get(key);
  if (cached !== undefined) {
    encryptors.delete(key); // re-insert: most recently used last
    encryptors.set(key, cached);
    return cached;
  }
  const pk = loadPublicKey(sc, plan, publicKey);
  try {
    const encryptor = sc.seal.Encryptor(sc.context, pk);
    encryptors.set(key, encryptor);
    while (encryptors.size > MAX_CACHED_ENCRYPTORS) {
      const [oldestKey, oldest] = encryptors.entries().next().value as [string, Encryptor];
      encryptors.delete(oldestKey);
      oldest.delete();
    }
    return encryptor;
  } finally {
    pk.delete();
  }
}

/**
 * Encrypts ciphertexts `firstCiphertext ..` of a vector, given the slice of values they cover (starting at
 * value index firstCiphertext · n). Returns them back to back in one buffer of
 * `count · plan.ciphertextByteSize` bytes. Building block for workers; checks the slice's bounds itself.
 */
export async function encryptSlice(plan: HePlan, publicKey: Uint8Array, values: HeIntegerVector, firstCiphertext: number): Promise<Uint8Array> {
  const n = plan.polyModulusDegree;
  if (!Number.isInteger(firstCiphertext) || firstCiphertext < 0 || firstCiphertext >= plan.ciphertextCount) {
    throw new RangeError(`firstCiphertext must be an integer in [0, ${plan.ciphertextCount}), got ${firstCiphertext}`);
  }
  const offset = firstCiphertext * n;
  const count = Math.ceil(values.length / n);
  if (values.length === 0 || offset + values.length > plan.vectorLength) {
    throw new RangeError(`a slice of ${values.length} values at ${offset} does not fit a vector of length ${plan.vectorLength}`);
  }
  assertWithinBounds(values, plan, offset);
  const sc = await getSealContext(plan);
  const encryptor = getEncryptor(sc, plan, publicKey);
  const target = sc.parmsIdForLevel(plan.uploadCoeffModulusCount);
  const size = plan.ciphertextByteSize;
  const out = new Uint8Array(count * size);
  const none = sc.seal.ComprModeType.none;
  for (let c = 0; c < count; c++) {
    const plain = sc.encoder.encode(values.subarray(c * n, Math.min((c + 1) * n, values.length)));
    if (plain === undefined) throw new FedmeshError('INTERNAL', 'SEAL batch encoding returned nothing');
    let cipher;
    try {
      cipher = encryptor.encrypt(plain);
    } finally {
      plain.delete();
    }
    if (cipher === undefined) throw new FedmeshError('INTERNAL', 'SEAL encryption returned nothing');
    try {
      sc.evaluator.cipherModSwitchTo(cipher, target, cipher);
      const bytes = cipher.saveArray(none);
      if (bytes.byteLength !== size) {
        throw new FedmeshError('INTERNAL', `SEAL wrote a ${bytes.byteLength}-byte ciphertext where ${size} bytes were expected`);
      }
      out.set(bytes, c * size);
    } finally {
      cipher.delete();
    }
  }
  return out;
}

/**
 * Encrypts a whole vector in this thread: `plan.ciphertextCount` serialised ciphertexts, each exactly
 * `plan.ciphertextByteSize` bytes. For large vectors prefer `HePool.encrypt`, which runs in workers.
 * @throws RangeError naming the first out-of-bounds value, before anything is encrypted.
 * @throws FedmeshError INVALID_ARGUMENT for a malformed public key.
 */
export async function encryptVector(plan: HePlan, publicKey: Uint8Array, values: HeIntegerVector): Promise<Uint8Array[]> {
  assertWithinPlan(values, plan);
  const buffer = await encryptSlice(plan, publicKey, values, 0);
  return splitCiphertexts(buffer, plan.ciphertextByteSize);
}
