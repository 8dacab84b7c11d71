import type { JobErrorInfo, JobState } from './job-record.js';

/**
 * A job as `ListJobs` shows it: status and a few public facts of its spec, never its result (rows, Arrow,
 * ciphertexts) nor its full spec (an HE public key or a cohort definition can be megabytes). Listing fifty of
 * these is a few kilobytes whatever the jobs computed.
 */
export interface JobSummary {
  id: string;
  kind: string;
  researcher: string;
  state: JobState;
  createdAtMs: number;
  finishedAtMs: number | undefined;
  agentsAsked: string[];
  agentsAnswered: string[];
  agentsMissing: string[];
  error: JobErrorInfo | undefined;
  spec: SpecSummary;
}

/** The public headline of a spec: what was asked of which product under which privacy. */
export interface SpecSummary {
  kind: string;
  product?: string;
  privacyMode?: string;
  secure?: string;
  /** The ε (or zCDP ρ) the job asked for: public, the researcher chose it. */
  epsilon?: number;
  rho?: number;
}
