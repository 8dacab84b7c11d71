/** FedmeshError codes → HTTP status: the dashboard's one status-mapping table. Unknown errors are 500 with no details. */
import { isFedmeshError, type FedmeshErrorCode } from '../common/errors.js';

const STATUS: Partial<Record<FedmeshErrorCode, number>> = {
  INVALID_JOB: 400,
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  POLICY_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  BUDGET_EXHAUSTED: 409,
  FAILED_PRECONDITION: 409,
  MESSAGE_TOO_LARGE: 413,
  RESOURCE_EXHAUSTED: 429,
  AGENT_UNAVAILABLE: 503,
  QUORUM_NOT_MET: 503,
  ROUND_TIMEOUT: 504,
};

export interface HttpError {
  status: number;
  /** Safe to show: the FedmeshError's code and message, or a bare "internal error". */
  text: string;
  code: string;
}

export function httpError(e: unknown): HttpError {
  if (isFedmeshError(e) && e.code !== 'INTERNAL') return { status: STATUS[e.code] ?? 500, text: `${e.code}: ${e.message}`, code: e.code };
  return { status: 500, text: 'internal error (see the coordinator log)', code: 'INTERNAL' };
}
