/**
 * Who is calling the coordinator's researcher API, as the transport established it: an mTLS certificate (CN = name,
 * OU = role) or a verified OpenID Connect bearer token (claims mapped to attributes). The service layer decides
 * what the caller may see from this alone, so every transport (gRPC today, HTTP later) gets the same rules.
 */
export interface Principal {
  readonly name: string;
  /** Administrators see every researcher's jobs and budgets; researchers only their own. */
  readonly isAdmin: boolean;
  /** How the caller proved who they are. @default 'certificate' */
  readonly authenticatedBy?: 'certificate' | 'oidc' | 'insecure';
  /** What policies may look at (organisation, roles, approved purposes, projects). @default none */
  readonly attributes?: PrincipalAttributes;
}

/** A researcher's attributes, as policies at the coordinator and at every domain see them. */
export interface PrincipalAttributes {
  readonly organisation?: string;
  readonly roles: readonly string[];
  /** HL7 PurposeOfUse codes the researcher is approved for (from the identity provider). */
  readonly purposes: readonly string[];
  /** Projects or approval ids the researcher works under. */
  readonly projects: readonly string[];
}

/** Whether `caller` may see a job submitted by `researcher`. */
export function canSeeJobOf(caller: Principal, researcher: string): boolean {
  return caller.isAdmin || caller.name === researcher;
}
