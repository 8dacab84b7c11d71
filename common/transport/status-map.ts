import * as grpc from '@grpc/grpc-js';
import { FedmeshError, isFedmeshError, type FedmeshErrorCode } from '../errors.js';

/** The one table mapping fedmesh error codes to gRPC status codes (and back, for clients). */
const TO_GRPC: Record<FedmeshErrorCode, grpc.status> = {
  INVALID_JOB: grpc.status.INVALID_ARGUMENT,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  POLICY_DENIED: grpc.status.PERMISSION_DENIED,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  BUDGET_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  MESSAGE_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  AGENT_UNAVAILABLE: grpc.status.UNAVAILABLE,
  QUORUM_NOT_MET: grpc.status.UNAVAILABLE,
  COORDINATOR_UNAVAILABLE: grpc.status.UNAVAILABLE,
  ROUND_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  CANCELLED: grpc.status.CANCELLED,
  INTERNAL: grpc.status.INTERNAL,
};

/**
 * What a status means when the server did not say (no `fedmesh-code` metadata): it came from the transport — the
 * channel, TLS, or grpc-js's own limits — never from a fedmesh decision. So RESOURCE_EXHAUSTED is never a budget
 * and UNAVAILABLE is the coordinator (as the client sees it), not an agent.
 */
const FROM_TRANSPORT: Partial<Record<grpc.status, FedmeshErrorCode>> = {
  [grpc.status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [grpc.status.NOT_FOUND]: 'NOT_FOUND',
  [grpc.status.PERMISSION_DENIED]: 'POLICY_DENIED',
  [grpc.status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [grpc.status.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [grpc.status.UNAVAILABLE]: 'COORDINATOR_UNAVAILABLE',
  [grpc.status.DEADLINE_EXCEEDED]: 'ROUND_TIMEOUT',
  [grpc.status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [grpc.status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [grpc.status.CANCELLED]: 'CANCELLED',
};

/** grpc-js's wording when a message exceeds `grpc.max_(send|receive)_message_length`. */
const MESSAGE_SIZE = /message larger than max/i;

function isFedmeshErrorCode(v: unknown): v is FedmeshErrorCode {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(TO_GRPC, v);
}

export interface GrpcServiceError {
  code: grpc.status;
  details: string;
  metadata?: grpc.Metadata;
}

/** Longest status message sent; a status is a header, and an overlong one kills the caller's channel. */
export const MAX_STATUS_MESSAGE_CHARS = 2048;

function capMessage(m: string): string {
  const cut = m.length <= MAX_STATUS_MESSAGE_CHARS ? m : `${m.slice(0, MAX_STATUS_MESSAGE_CHARS)}… (message cut at ${MAX_STATUS_MESSAGE_CHARS} characters)`;
  // grpc-js sends the message through encodeURI, which throws on a lone surrogate (an echoed input, or a pair the cut
  // split) — an exception that escapes into the event loop and kills the server.
  return cut.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Longest field name sent as metadata. */
const MAX_FIELD_METADATA_CHARS = 256;

/**
 * A field name as an ASCII metadata value: grpc-js throws on anything else, and a throw while building the status
 * would leave the call unanswered until the caller's deadline (a field can carry a caller's column name).
 */
function metadataValue(v: string): string {
  const ascii = v.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= MAX_FIELD_METADATA_CHARS ? ascii : `${ascii.slice(0, MAX_FIELD_METADATA_CHARS)}...`;
}

/** Converts any thrown value into a gRPC error. Unknown errors become INTERNAL with no details. Never throws. */
export function toGrpcError(e: unknown): GrpcServiceError {
  if (isFedmeshError(e)) {
    const metadata = new grpc.Metadata();
    metadata.set('fedmesh-code', e.code);
    if (e.field) metadata.set('fedmesh-field', metadataValue(e.field));
    return { code: TO_GRPC[e.code], details: capMessage(e.message), metadata };
  }
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

/**
 * Converts a gRPC error seen by a client into a FedmeshError (the one boundary where this happens). The server's
 * `fedmesh-code` is believed only when it is a known code that maps to the status actually received; everything
 * else is classified by its transport cause.
 */
export function fromGrpcError(e: unknown): FedmeshError {
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err.code !== 'number') return new FedmeshError('INTERNAL', (e as Error)?.message ?? String(e), { cause: e });
  const meta = err.metadata?.get('fedmesh-code')[0];
  const field = err.metadata?.get('fedmesh-field')[0];
  const fromServer = isFedmeshErrorCode(meta) && TO_GRPC[meta] === err.code ? meta : undefined;
  let message = err.details ?? err.message ?? 'unknown error';
  let code: FedmeshErrorCode;
  if (fromServer) code = fromServer;
  else if (err.code === grpc.status.RESOURCE_EXHAUSTED && MESSAGE_SIZE.test(message)) {
    code = 'MESSAGE_TOO_LARGE';
    message = `a message exceeded the transport's size limit (not a privacy budget): ${message}`;
  } else if (err.code === grpc.status.UNAVAILABLE) {
    code = 'COORDINATOR_UNAVAILABLE';
    message = `coordinator unreachable or TLS handshake refused: ${message}`;
  } else code = FROM_TRANSPORT[err.code] ?? 'INTERNAL';
  return new FedmeshError(code, message, { cause: e, details: { grpcStatus: grpc.status[err.code] }, ...(typeof field === 'string' && fromServer ? { field } : {}) });
}
