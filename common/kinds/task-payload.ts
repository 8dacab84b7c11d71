import { FedmeshError } from '../errors.js';
import { isSecurePhase, type SecurePhase } from './secure-sum.js';

/**
 * The largest round payload (the compiled job's hash and the public round input, JSON): a model's weights, or under
 * he the summed ciphertexts sent to the key holder (about 13 MB in base64 for a 100 000-parameter model; 4 MiB
 * refused those). Payloads over 1 MiB cross the link in pieces (common/transport/chunks.ts).
 */
export const MAX_ROUND_PAYLOAD_BYTES = 32 << 20;

/** What a round task carries besides the spec: the hash the job travels by and the round's public input. */
export interface RoundPayload {
  hash: string;
  input: unknown;
  /** Secure sums: the protocol phase of the round this task runs (absent: a plain round). */
  phase?: SecurePhase;
  /** Secure sums: the phase's message from the coordinator (a SecAgg envelope, the HE key), base64. */
  msg?: string;
}

export function encodeRoundPayload(p: RoundPayload): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(p));
}

/** @throws FedmeshError INVALID_ARGUMENT naming `payload`, size checked before parsing */
export function decodeRoundPayload(bytes: Uint8Array): RoundPayload {
  if (bytes.length === 0 || bytes.length > MAX_ROUND_PAYLOAD_BYTES) throw new FedmeshError('INVALID_ARGUMENT', `payload: a round task needs a payload of 1 to ${MAX_ROUND_PAYLOAD_BYTES} bytes`, { field: 'payload' });
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new FedmeshError('INVALID_ARGUMENT', 'payload: not UTF-8 JSON', { field: 'payload' });
  }
  const o = v as Partial<RoundPayload> | null;
  if (!o || typeof o !== 'object' || typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash) || !('input' in o)) {
    throw new FedmeshError('INVALID_ARGUMENT', 'payload: expected {"hash": <sha-256 hex>, "input": …}', { field: 'payload' });
  }
  if (o.phase !== undefined && !isSecurePhase(o.phase)) throw new FedmeshError('INVALID_ARGUMENT', 'payload.phase: not a phase of a secure sum', { field: 'payload' });
  if (o.msg !== undefined && (typeof o.msg !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.msg))) throw new FedmeshError('INVALID_ARGUMENT', 'payload.msg: must be base64', { field: 'payload' });
  return { hash: o.hash, input: o.input, ...(o.phase !== undefined ? { phase: o.phase } : {}), ...(o.msg !== undefined ? { msg: o.msg } : {}) };
}
