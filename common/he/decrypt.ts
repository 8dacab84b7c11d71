/**
 * Researcher side only: decrypt the aggregated ciphertexts and decode them back to signed integers (and
 * reals). The aggregate comes from the coordinator, so it is screened like any untrusted ciphertext.
 */
import { decodeFixedPoint } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { getSealContext, sealCall } from './seal.js';
import { loadCiphertext } from './load-guard.js';
import type { HeSecretKey } from './keys.js';

export interface DecryptOptions {
  /**
   * Refuse a ciphertext whose invariant noise budget is exhausted (its plaintext would be garbage), e.g. one
   * that sums more contributions than the plan allows. Costs about one more decryption per ciphertext.
   * @default true
   */
  checkNoiseBudget?: boolean;
}

/**
 * Decrypts `plan.ciphertextCount` aggregated ciphertexts into the signed integer sum vector (length
 * `plan.vectorLength`). Values decode in the centred range [−(t−1)/2, (t−1)/2].
 * @throws FedmeshError INVALID_ARGUMENT for a malformed ciphertext; FAILED_PRECONDITION for an exhausted
 *   noise budget or a secret key that does not fit the plan.
 */
export async function decryptVector(
  plan: HePlan,
  secretKey: HeSecretKey,
  ciphertexts: readonly Uint8Array[],
  options: DecryptOptions = {},
): Promise<BigInt64Array> {
  if (ciphertexts.length !== plan.ciphertextCount) {
    throw new FedmeshError('INVALID_ARGUMENT', `expected ${plan.ciphertextCount} aggregated ciphertexts, got ${ciphertexts.length}`);
  }
  if (secretKey.byteLength !== plan.secretKeyByteSize) {
    throw new FedmeshError('FAILED_PRECONDITION', `the secret key is ${secretKey.byteLength} bytes; this plan's keys are ${plan.secretKeyByteSize}`);
  }
  const checkNoise = options.checkNoiseBudget ?? true;
  const sc = await getSealContext(plan);
  const sk = sc.seal.SecretKey();
  const skBytes = secretKey.exportBytes();
  try {
    sealCall('secret key', () => sk.loadArray(sc.context, skBytes));
  } catch (e) {
    sk.delete();
    throw new FedmeshError('FAILED_PRECONDITION', 'the secret key does not fit this plan', { cause: e });
  } finally {
    skBytes.fill(0);
  }
  const decryptor = sc.seal.Decryptor(sc.context, sk);
  const n = plan.polyModulusDegree;
  const out = new BigInt64Array(plan.vectorLength);
  try {
    for (let i = 0; i < ciphertexts.length; i++) {
      const what = `aggregate ciphertext ${i}`;
      const ct = loadCiphertext(sc, plan, ciphertexts[i], what);
      try {
        if (checkNoise && decryptor.invariantNoiseBudget(ct) <= 0) {
          throw new FedmeshError('FAILED_PRECONDITION', `${what} has no noise budget left; it cannot be decrypted correctly`);
        }
        const plain = sealCall(what, () => decryptor.decrypt(ct));
        if (plain === undefined) throw new FedmeshError('INTERNAL', 'SEAL decryption returned nothing');
        try {
          const slots = sc.encoder.decodeBigInt(plain, true);
          const take = Math.min(n, plan.vectorLength - i * n);
          out.set((slots as BigInt64Array).subarray(0, take), i * n);
        } finally {
          plain.delete();
        }
      } finally {
        ct.delete();
      }
    }
  } finally {
    decryptor.delete();
    sk.delete();
  }
  return out;
}

/** Decrypts and decodes fixed-point sums back to reals (see `encodeFixedPoint`). */
export async function decryptReals(
  plan: HePlan,
  secretKey: HeSecretKey,
  ciphertexts: readonly Uint8Array[],
  fractionalBits: number,
  options: DecryptOptions = {},
): Promise<Float64Array> {
  return decodeFixedPoint(await decryptVector(plan, secretKey, ciphertexts, options), fractionalBits);
}
