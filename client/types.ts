/** What a researcher's client sees of a job: domain types, no gRPC. */
export type JobStateName = 'queued' | 'running' | 'succeeded' | 'failed' | 'unknown';

export interface JobView {
  jobId: string;
  state: JobStateName;
  kind: string;
  researcher: string;
  createdAtMs: number;
  finishedAtMs: number;
  agents: { asked: string[]; answered: string[]; missing: string[] };
  result: {
    columns: string[];
    rows: Record<string, unknown>[];
    suppressed: { group: Record<string, unknown>; suppressedBy: string[] }[];
    privacy: Record<string, unknown>;
    summary?: Record<string, unknown>;
    notes: string[];
    agentErrors: Record<string, { code: string; message: string }>;
    /** Agents left out at admission (their registered schema cannot serve the job), with the reason. */
    agentsMissing?: { agent: string; reason: string }[];
    /** Names of the concept ids the result shows (id → name), from the agents' public vocabulary; absent without one. */
    conceptNames?: Record<string, string>;
  } | undefined;
  error: { code: string; message: string; field: string } | undefined;
  spec: unknown;
  /** HE jobs: the aggregate ciphertexts for this client to decrypt (absent otherwise). */
  resultCiphertexts?: Uint8Array;
  /** The coordinator left the result out (a ListJobs summary, or too large to inline); `getJob` fetches it. */
  resultOmitted?: boolean;
  /** `spec` is a summary ({ kind, product, privacyMode, secure }), as ListJobs returns it. */
  specSummarised?: boolean;
}

export interface JobEventView {
  jobId: string;
  type: string;
  agent: string;
  message: string;
  atMs: number;
  status: JobView | undefined;
}

export interface AgentInfoView {
  name: string;
  domain: string;
  connected: boolean;
  connectedSinceMs: number;
  lastHeartbeatMs: number;
  version: string;
  products: { name: string; columns: { name: string; type: string }[]; privacyUnit: string; description: string; metadata: Record<string, unknown> }[];
}

export interface BudgetEntryView {
  researcher: string;
  product: string;
  budgetEpsilon: number;
  budgetDelta: number;
  explicit: boolean;
  spentRho: number;
  spentEpsilon: number;
  spentDelta: number;
  remainingEpsilon: number;
  jobs: number;
  reserved: number;
}

export interface BudgetReportView {
  entries: BudgetEntryView[];
  defaultEpsilon: number;
  defaultDelta: number;
}
