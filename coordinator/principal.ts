/**
 * Who is calling the coordinator's researcher API, as the transport established it (mTLS certificate: CN = name,
 * OU = role). The service layer decides what the caller may see from this alone, so every transport (gRPC today,
 * HTTP later) gets the same rules.
 */
export interface Principal {
  readonly name: string;
  /** Administrators see every researcher's jobs and budgets; researchers only their own. */
  readonly isAdmin: boolean;
}

/** Whether `caller` may see a job submitted by `researcher`. */
export function canSeeJobOf(caller: Principal, researcher: string): boolean {
  return caller.isAdmin || caller.name === researcher;
}
