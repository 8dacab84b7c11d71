/**
 * Errors raised by the SecAgg state machines. `algorithms/` does not depend on `common/`, so the protocol has its
 * own small error class with a stable `code`; `common/crypto/secagg-errors.ts` maps it onto `FedmeshError` at the
 * boundary. Messages name clients by id and counts only, never values or key material.
 */
export type SecAggErrorCode =
  /** Fewer than `threshold` clients survived a step; the round cannot complete. */
  | 'SECAGG_QUORUM_NOT_MET'
  /** A peer's public keys are unsigned, signed by the wrong identity, or substituted. */
  | 'SECAGG_BAD_SIGNATURE'
  /** The coordinator (or a peer) sent something the protocol forbids, e.g. asked for both shares of one peer. */
  | 'SECAGG_PROTOCOL_VIOLATION'
  /** An encrypted share failed authentication, or a reconstructed secret is unusable. */
  | 'SECAGG_DECRYPTION_FAILED'
  /** A method was called in the wrong round, or twice. */
  | 'SECAGG_INVALID_STATE'
  /** A message is malformed (wrong round id, unknown sender, wrong length, duplicate). */
  | 'SECAGG_MALFORMED_MESSAGE';

export class SecAggError extends Error {
  readonly code: SecAggErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SecAggErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(`${code}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'SecAggError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

export function isSecAggError(e: unknown, code?: SecAggErrorCode): e is SecAggError {
  return e instanceof SecAggError && (code === undefined || e.code === code);
}
