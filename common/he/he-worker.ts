/**
 * Piscina worker for HE work (agents encrypt, the coordinator adds). Never decrypts: it imports neither
 * keys.ts nor decrypt.ts. Each worker thread keeps its own node-seal instance and SEAL contexts (seal.ts
 * caches them per thread). Piscina cannot load TypeScript: pools run the compiled
 * dist/common/he/he-worker.js (see pool.ts).
 *
 * Failures travel as a plain `{ ok: false, error }` so the pool can rethrow the same error class and code the
 * worker saw (structured cloning keeps only an Error's name and message).
 */
import { move } from 'piscina';
import { compileHePlan } from '../../algorithms/he/index.js';
import type { HePlanInput } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import type { FedmeshErrorCode } from '../errors.js';
import { encryptSlice } from './encrypt.js';
import { addCiphertextRange } from './aggregate.js';
import { splitCiphertexts } from './buffers.js';
import { getSealContext } from './seal.js';

export type HeWorkerTask =
  | { kind: 'warm'; plan: HePlanInput }
  | { kind: 'encrypt'; plan: HePlanInput; publicKey: Uint8Array; values: BigInt64Array | Int32Array; firstCiphertext: number }
  /** `contributions[a]`: agent a's ciphertexts firstCiphertext.. back to back. */
  | { kind: 'add'; plan: HePlanInput; contributions: Uint8Array[]; firstCiphertext: number };

export interface HeWorkerError {
  readonly name: 'FedmeshError' | 'RangeError' | 'TypeError' | 'Error';
  readonly code: FedmeshErrorCode | undefined;
  readonly message: string;
  readonly field: string | undefined;
}

/** Success is the bare result buffer (moved, not copied) or null for `warm`; failure is a plain object. */
export type HeWorkerResult = Uint8Array | null | { ok: false; error: HeWorkerError };

function planFrom(input: HePlanInput) {
  // Recompile from the defining fields: a worker trusts nothing it did not derive itself.
  return compileHePlan({
    polyModulusDegree: input.polyModulusDegree,
    plainModulus: input.plainModulus,
    uploadCoeffModulusCount: input.uploadCoeffModulusCount,
    vectorLength: input.vectorLength,
    maxAgents: input.maxAgents,
    valueBounds: { min: input.valueBounds.min, max: input.valueBounds.max },
  });
}

function toWorkerError(e: unknown): HeWorkerError {
  if (e instanceof FedmeshError) return { name: 'FedmeshError', code: e.code, message: e.message, field: e.field };
  if (e instanceof RangeError) return { name: 'RangeError', code: undefined, message: e.message, field: undefined };
  if (e instanceof TypeError) return { name: 'TypeError', code: undefined, message: e.message, field: undefined };
  // Any other error's text stays here: it could quote a value of the vector being encrypted.
  return { name: 'Error', code: 'INTERNAL', message: 'homomorphic encryption failed in a worker', field: undefined };
}

async function run(task: HeWorkerTask): Promise<Uint8Array | null> {
  const plan = planFrom(task.plan);
  switch (task.kind) {
    case 'warm':
      await getSealContext(plan);
      return null;
    case 'encrypt':
      return encryptSlice(plan, task.publicKey, task.values, task.firstCiphertext);
    case 'add': {
      const perAgent = task.contributions.map((buffer) => splitCiphertexts(buffer, plan.ciphertextByteSize));
      return addCiphertextRange(plan, perAgent, task.firstCiphertext);
    }
    default:
      throw new FedmeshError('INVALID_ARGUMENT', `unknown HE worker task kind ${String((task as { kind: unknown }).kind)}`);
  }
}

export default async function heWorker(task: HeWorkerTask): Promise<HeWorkerResult> {
  try {
    const value = await run(task);
    // Transfer the result buffer instead of copying it back; piscina unwraps it into a Uint8Array.
    return value === null ? null : (move(value) as unknown as Uint8Array);
  } catch (e) {
    return { ok: false, error: toWorkerError(e) };
  }
}
