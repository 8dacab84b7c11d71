import type { FedmeshErrorCode } from '../../common/errors.js';

/**
 * The CLI's exit codes (README, "Exit codes"). Scripts branch on them, so they are stable:
 * what went wrong decides the code, not which command ran.
 */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The job ran and failed (e.g. too few agents answered), or an unexpected error. */
  FAILED: 1,
  /** Usage: an unknown or malformed flag, an unreadable or invalid job file or config, a job the coordinator rejected as invalid. */
  USAGE: 2,
  /** Cannot reach the coordinator, or the TLS handshake or authentication failed. */
  CONNECTION: 3,
  /** Refused: privacy budget exhausted, policy or permission denied, a limit exceeded. */
  REFUSED: 4,
} as const;

const BY_CODE: Partial<Record<FedmeshErrorCode, number>> = {
  INVALID_JOB: EXIT.USAGE,
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.USAGE,
  COORDINATOR_UNAVAILABLE: EXIT.CONNECTION,
  UNAUTHENTICATED: EXIT.CONNECTION,
  BUDGET_EXHAUSTED: EXIT.REFUSED,
  POLICY_DENIED: EXIT.REFUSED,
  FAILED_PRECONDITION: EXIT.REFUSED,
  RESOURCE_EXHAUSTED: EXIT.REFUSED,
  MESSAGE_TOO_LARGE: EXIT.REFUSED,
};

/** The exit code of an error that ended a command: FedmeshError by code, RangeError/TypeError (bad arguments) 2, else 1. */
export function exitCodeFor(e: unknown): number {
  const code = (e as { name?: unknown; code?: unknown } | null)?.name === 'FedmeshError' ? ((e as { code: FedmeshErrorCode }).code) : undefined;
  if (code !== undefined) return BY_CODE[code] ?? EXIT.FAILED;
  if (e instanceof RangeError || e instanceof TypeError) return EXIT.USAGE;
  return EXIT.FAILED;
}

/** A job that came back: 0 if it succeeded, else by its error code (a refused budget 4), else 1. */
export function exitCodeForJob(job: { state: string; error?: { code: string } | undefined }): number {
  if (job.state === 'succeeded') return EXIT.OK;
  const mapped = job.error ? BY_CODE[job.error.code as FedmeshErrorCode] : undefined;
  return mapped === EXIT.REFUSED ? EXIT.REFUSED : EXIT.FAILED;
}
