/**
 * Coordinator side: add the agents' ciphertexts homomorphically. This path receives public parameters and
 * ciphertexts only. It never imports key generation or decryption, and it refuses a plan object carrying
 * anything beyond the public plan fields, so no secret key can be handed to it by mistake
 * (see aggregate-isolation.test.ts, which scans this module's imports).
 */
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { getSealContext, sealCall } from './seal.js';
import { loadCiphertext } from './load-guard.js';
import { splitCiphertexts } from './buffers.js';

/** The fields of a compiled HePlan; anything else on a plan given to the aggregation path is refused. */
const PUBLIC_PLAN_FIELDS: ReadonlySet<string> = new Set([
  'scheme',
  'securityLevel',
  'polyModulusDegree',
  'plainModulus',
  'coeffModulusBits',
  'uploadCoeffModulusCount',
  'vectorLength',
  'maxAgents',
  'valueBounds',
  'ciphertextCount',
  'ciphertextByteSize',
  'publicKeyByteSize',
  'secretKeyByteSize',
  'noiseMarginBits',
]);

/** @throws FedmeshError INVALID_ARGUMENT if `plan` carries a field that is not public plan data. */
export function assertPublicPlan(plan: HePlan): void {
  if (typeof plan !== 'object' || plan === null) throw new FedmeshError('INVALID_ARGUMENT', 'plan must be an HePlan object');
  for (const field of Object.keys(plan)) {
    if (!PUBLIC_PLAN_FIELDS.has(field)) {
      throw new FedmeshError('INVALID_ARGUMENT', `the aggregation path takes public parameters only; unexpected plan field '${field}'`, { field });
    }
  }
}

/**
 * Adds ciphertexts `firstCiphertext .. firstCiphertext + count − 1` over all contributions, where
 * `contributions[a][j]` is agent a's ciphertext number firstCiphertext + j. Returns the sums back to back.
 * Every input is screened (exact size, uncompressed header, level) before SEAL sees it.
 */
export async function addCiphertextRange(
  plan: HePlan,
  contributions: readonly (readonly Uint8Array[])[],
  firstCiphertext = 0,
): Promise<Uint8Array> {
  assertPublicPlan(plan);
  if (!Array.isArray(contributions) || contributions.length === 0) {
    throw new FedmeshError('INVALID_ARGUMENT', 'contributions must be a non-empty array of per-agent ciphertext arrays');
  }
  if (contributions.length > plan.maxAgents) {
    throw new FedmeshError(
      'INVALID_ARGUMENT',
      `${contributions.length} contributions exceed the plan's maxAgents (${plan.maxAgents}); the sum could wrap or exhaust the noise budget`,
    );
  }
  const count = contributions[0]!.length;
  if (count === 0 || firstCiphertext + count > plan.ciphertextCount) {
    throw new FedmeshError('INVALID_ARGUMENT', `ciphertexts ${firstCiphertext}..${firstCiphertext + count - 1} are outside the plan's ${plan.ciphertextCount}`);
  }
  contributions.forEach((cts, a) => {
    if (!Array.isArray(cts) || cts.length !== count) {
      throw new FedmeshError('INVALID_ARGUMENT', `contribution ${a} has ${Array.isArray(cts) ? cts.length : 'no'} ciphertexts, expected ${count}`);
    }
  });
  const sc = await getSealContext(plan);
  const size = plan.ciphertextByteSize;
  const out = new Uint8Array(count * size);
  const none = sc.seal.ComprModeType.none;
  for (let j = 0; j < count; j++) {
    const index = firstCiphertext + j;
    let acc: CipherText | undefined;
    try {
      for (let a = 0; a < contributions.length; a++) {
        const what = `contribution ${a} ciphertext ${index}`;
        const ct = loadCiphertext(sc, plan, contributions[a]![j], what);
        if (acc === undefined) {
          acc = ct;
          continue;
        }
        try {
          const sum = acc;
          sealCall(what, () => sc.evaluator.add(sum, ct, sum));
        } finally {
          ct.delete();
        }
      }
      const bytes = acc!.saveArray(none);
      if (bytes.byteLength !== size) throw new FedmeshError('INTERNAL', `SEAL wrote a ${bytes.byteLength}-byte sum where ${size} bytes were expected`);
      out.set(bytes, j * size);
    } finally {
      acc?.delete();
    }
  }
  return out;
}

/**
 * The homomorphic sum of all agents' uploads: one ciphertext per plan ciphertext, each exactly
 * `plan.ciphertextByteSize` bytes. Order of contributions does not matter.
 * @throws FedmeshError INVALID_ARGUMENT for a malformed, compressed or mis-sized ciphertext, a wrong count,
 *   or more contributions than the plan allows.
 */
export async function addCiphertexts(plan: HePlan, contributions: readonly (readonly Uint8Array[])[]): Promise<Uint8Array[]> {
  assertPublicPlan(plan);
  contributions.forEach((cts, a) => {
    if (!Array.isArray(cts) || cts.length !== plan.ciphertextCount) {
      throw new FedmeshError('INVALID_ARGUMENT', `contribution ${a} has ${Array.isArray(cts) ? cts.length : 'no'} ciphertexts, expected ${plan.ciphertextCount}`);
    }
  });
  return splitCiphertexts(await addCiphertextRange(plan, contributions, 0), plan.ciphertextByteSize);
}
