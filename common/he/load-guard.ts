/**
 * The only way untrusted ciphertext or public-key bytes enter SEAL. Bytes are screened first (exact size,
 * SEAL header with compression `none`, metadata, parms_id) so that malformed, oversized or compressed input
 * fails with a clear error before SEAL allocates or decompresses anything; SEAL then re-validates the
 * coefficients against the moduli when it loads them.
 */
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { PublicKey } from 'node-seal/implementation/public-key.js';
import { screenCiphertextBytes } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { sealCall } from './seal.js';
import type { SealContext } from './seal.js';

function asBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new FedmeshError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  return value;
}

/**
 * Checks an uploaded or aggregated ciphertext for `plan` without touching SEAL.
 * @throws FedmeshError INVALID_ARGUMENT with the reason, e.g. wrong size or compressed header.
 */
export function guardCiphertextBytes(sc: SealContext, plan: HePlan, bytes: unknown, what = 'ciphertext'): Uint8Array {
  const b = asBytes(bytes, what);
  const result = screenCiphertextBytes(b, {
    polyModulusDegree: plan.polyModulusDegree,
    coeffModulusCount: plan.uploadCoeffModulusCount,
    parmsId: sc.parmsIdValuesForLevel(plan.uploadCoeffModulusCount),
    what,
  });
  if (!result.ok) throw new FedmeshError('INVALID_ARGUMENT', result.reason, { field: what });
  return b;
}

/** Screens, then loads, an untrusted ciphertext. The caller owns (and must `delete()`) the result. */
export function loadCiphertext(sc: SealContext, plan: HePlan, bytes: unknown, what = 'ciphertext'): CipherText {
  const b = guardCiphertextBytes(sc, plan, bytes, what);
  const ct = sc.seal.CipherText();
  try {
    sealCall(what, () => ct.loadArray(sc.context, b));
    return ct;
  } catch (e) {
    ct.delete();
    throw e;
  }
}

/** Screens, then loads, a public key received with a job. The caller owns (and must `delete()`) the result. */
export function loadPublicKey(sc: SealContext, plan: HePlan, bytes: unknown, what = 'public key'): PublicKey {
  const b = asBytes(bytes, what);
  const result = screenCiphertextBytes(b, {
    polyModulusDegree: plan.polyModulusDegree,
    coeffModulusCount: sc.keyCoeffModulusCount,
    parmsId: sc.keyParmsId.values,
    nttForm: true,
    what,
  });
  if (!result.ok) throw new FedmeshError('INVALID_ARGUMENT', result.reason, { field: what });
  const pk = sc.seal.PublicKey();
  try {
    sealCall(what, () => pk.loadArray(sc.context, b));
    return pk;
  } catch (e) {
    pk.delete();
    throw e;
  }
}
