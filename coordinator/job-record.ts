import type { Principal } from './principal.js';
import type { JobSpec } from '../common/job/index.js';

/** A registry kind's parsed spec (its own type lives in jobs/<kind>/spec.ts); it has a kind and is JSON. */
export type RegistryJobSpec = { readonly kind: string; readonly [field: string]: unknown };

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobErrorInfo {
  code: string;
  message: string;
  field?: string;
}

/** An agent that was not asked, or did not count, and why (never data: schema or policy reasons only). */
export interface MissingAgent {
  agent: string;
  reason: string;
}

export interface JobResult {
  /** Names of the group columns, then the measure fields, in order. */
  columns: string[];
  rows: Record<string, unknown>[];
  /** Groups withheld because an agent found them below its minimum cell size (never reported as zero). */
  suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[];
  privacy: Record<string, unknown>;
  /** Kind-specific released structure (cohort breakdowns, survival curves, contingency tables). */
  summary?: Record<string, unknown>;
  notes: string[];
  agentErrors: Record<string, JobErrorInfo>;
  /**
   * Every agent this result does not include, with the reason: not live at submission (only with an explicit
   * quorum), left out at admission (registered schema cannot serve the job), or no usable answer during the job.
   */
  agentsMissing?: MissingAgent[];
  /** False when an agent that serves the job is missing from the result (see agentsMissing). Absent in results stored before it existed. */
  complete?: boolean;
  /** Names of the concept ids the released result shows, from the agents' public vocabulary (id → name). */
  conceptNames?: Record<string, string>;
}

export interface JobRecord {
  id: string;
  kind: string;
  researcher: string;
  /** The parsed spec: one of the built-in kinds', or a registry kind's (jobs/<kind>, see common/kinds). */
  spec: JobSpec | RegistryJobSpec;
  state: JobState;
  createdAtMs: number;
  finishedAtMs: number | undefined;
  agentsAsked: string[];
  agentsAnswered: string[];
  agentsMissing: string[];
  result: JobResult | undefined;
  error: JobErrorInfo | undefined;
  /** HE jobs: the aggregate ciphertexts (back to back) for the researcher's client to decrypt. */
  resultCiphertexts?: Uint8Array;
  /**
   * Who submitted the job, as authenticated at admission (how, and the attributes policies read): stored so that a
   * job resumed after a restart asserts to agents the identity it was admitted under, not a made-up one.
   */
  caller?: Principal;
}

export interface JobEventRecord {
  jobId: string;
  type: 'admitted' | 'dispatched' | 'agent-answered' | 'agent-failed' | 'round' | 'combined' | 'finished';
  agent?: string;
  message?: string;
  atMs: number;
}

export function isTerminal(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed';
}
