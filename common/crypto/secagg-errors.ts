/**
 * Maps the pure SecAgg errors onto the one error model (`FedmeshError`) at the boundary, so transports need only
 * their one status-mapping table.
 */
import { isSecAggError, type SecAggErrorCode } from '../../algorithms/secagg/index.js';
import { FedmeshError, type FedmeshErrorCode } from '../errors.js';

const CODE_MAP: Readonly<Record<SecAggErrorCode, FedmeshErrorCode>> = {
  SECAGG_QUORUM_NOT_MET: 'QUORUM_NOT_MET',
  SECAGG_BAD_SIGNATURE: 'UNAUTHENTICATED',
  SECAGG_PROTOCOL_VIOLATION: 'FAILED_PRECONDITION',
  SECAGG_DECRYPTION_FAILED: 'FAILED_PRECONDITION',
  SECAGG_INVALID_STATE: 'FAILED_PRECONDITION',
  SECAGG_MALFORMED_MESSAGE: 'INVALID_ARGUMENT',
};

/** A SecAggError becomes a FedmeshError with the mapped code (the SecAgg code in `details.secaggCode`); others pass through. */
export function secAggErrorToFedmesh(e: unknown): unknown {
  if (!isSecAggError(e)) return e;
  return new FedmeshError(CODE_MAP[e.code], e.message, { cause: e, details: { ...e.details, secaggCode: e.code } });
}
