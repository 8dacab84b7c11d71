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
    /**
     * Every agent the result does not include, with the reason: not live at submission (only with an explicit
     * quorum), left out at admission (its registered schema cannot serve the job), or no usable answer.
     */
    agentsMissing?: { agent: string; reason: string }[];
    /** False for a partial result (an agent serving the job is missing; see agentsMissing); absent for results stored by older coordinators. */
    complete?: boolean;
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
  /** Members that are not live: the product names they served (they still count in default quorums). */
  registeredProducts?: string[];
  /** Members that are not live: since when (ms since the epoch) and why. */
  notLiveSinceMs?: number;
  notLiveReason?: string;
  /** The agent's last ingest as it registered it; absent for agents that do not report it. */
  ingest?: IngestStatusView;
}

/** An agent's last ingest: `failed` when a format set (`omop`, `fhir`) or a file was refused. */
export interface IngestStatusView {
  state: 'ok' | 'warnings' | 'failed';
  failed: string[];
  /** Errors first, then warnings; counts coarsened by the agent (`<10` below its minimum cell size). */
  notices: { severity: 'error' | 'warning'; source: string; message: string }[];
  /** Notices the agent left out to stay within the bound. */
  omitted: number;
  atMs: number;
}

export interface BudgetEntryView {
  researcher: string;
  /**
   * The population (privacy unit's domain) the budget is kept for: every product keyed by the same persons shares
   * one budget, so ε spent on `person` and on `measurement` adds up.
   */
  population: string;
  /** Products in the population: charged so far, or mapped to it by the connected agents' catalogue. */
  products: string[];
  /** Set by `setBudget` when it was given a product: the product that was mapped to `population`. Empty otherwise. */
  mappedFromProduct: string;
  /** @deprecated the population's name (budgets are no longer kept per product); read `population`. */
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
  /**
   * Set on a project's entry (then `researcher` is empty): the budget of a project (ethics approval) on the
   * population, shared by every researcher who runs jobs under it; `explicit` false when none is set.
   */
  project: string;
  /** On a project's entry: researchers whose jobs it counts (a researcher's own report counts only them). */
  researchers: number;
}

export interface BudgetReportView {
  entries: BudgetEntryView[];
  defaultEpsilon: number;
  defaultDelta: number;
}

/** Whose budget `setBudget` changes: a population, or (mapped by the coordinator's catalogue) a product's. */
export type BudgetTarget = { population: string } | { product: string };
