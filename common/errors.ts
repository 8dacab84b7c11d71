/**
 * One error model for fedmesh. Every expected failure is a FedmeshError with a stable `code`; transports map
 * codes to wire statuses in one table each (see `common/transport/status-map.ts`). Unknown errors become
 * INTERNAL with no details, so nothing about the data leaks through an error message.
 */
export type FedmeshErrorCode =
  | 'INVALID_JOB'
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'POLICY_DENIED'
  | 'UNAUTHENTICATED'
  | 'BUDGET_EXHAUSTED'
  | 'AGENT_UNAVAILABLE'
  | 'QUORUM_NOT_MET'
  | 'ROUND_TIMEOUT'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'CANCELLED'
  | 'INTERNAL'
  /** A limit the server states (result size, registration size) — never a privacy budget. */
  | 'RESOURCE_EXHAUSTED'
  /** The transport refused a message over its size limit (seen by the side that sent or received it). */
  | 'MESSAGE_TOO_LARGE'
  /** The client could not reach the coordinator, or the TLS handshake was refused. */
  | 'COORDINATOR_UNAVAILABLE';

/** Every code, for checking one that arrives as text (an agent's reply). */
const CODES: ReadonlySet<string> = new Set(
  Object.keys({
    INVALID_JOB: true, INVALID_ARGUMENT: true, NOT_FOUND: true, POLICY_DENIED: true, UNAUTHENTICATED: true, BUDGET_EXHAUSTED: true,
    AGENT_UNAVAILABLE: true, QUORUM_NOT_MET: true, ROUND_TIMEOUT: true, ALREADY_EXISTS: true, FAILED_PRECONDITION: true, CANCELLED: true,
    INTERNAL: true, RESOURCE_EXHAUSTED: true, MESSAGE_TOO_LARGE: true, COORDINATOR_UNAVAILABLE: true,
  } satisfies Record<FedmeshErrorCode, true>),
);

/** Whether `s` is one of fedmesh's error codes (not free text that looks like one). */
export function isFedmeshErrorCode(s: string): s is FedmeshErrorCode {
  return CODES.has(s);
}

const RETRYABLE: ReadonlySet<FedmeshErrorCode> = new Set(['AGENT_UNAVAILABLE', 'ROUND_TIMEOUT', 'QUORUM_NOT_MET', 'COORDINATOR_UNAVAILABLE']);

export interface FedmeshErrorOptions {
  cause?: unknown;
  /** The field or option at fault, e.g. `measures[1].bounds`. */
  field?: string;
  details?: Readonly<Record<string, unknown>>;
}

export class FedmeshError extends Error {
  readonly code: FedmeshErrorCode;
  readonly retryable: boolean;
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: FedmeshErrorCode, message: string, options: FedmeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FedmeshError';
    this.code = code;
    this.retryable = RETRYABLE.has(code);
    this.field = options.field;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

export function isFedmeshError(e: unknown): e is FedmeshError {
  return e instanceof FedmeshError;
}

/** Shorthand for an invalid job spec naming the field at fault. */
export function invalidJob(field: string, message: string): FedmeshError {
  return new FedmeshError('INVALID_JOB', `${field}: ${message}`, { field });
}

/** Longest echo of a caller's value in an error message; more would let one request make a status too big to send. */
export const MAX_ECHO_CHARS = 80;

/**
 * A caller's value quoted for an error message, cut to `max` characters with the full length stated, so an echoed
 * input can neither blow up a status nor carry much data back.
 */
export function quote(v: unknown, max = MAX_ECHO_CHARS): string {
  let s: string;
  try {
    s = typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}
