/**
 * Domain types of a job spec. These, not generated protobuf types, are what the coordinator, the agents and
 * the client pass around; transport code converts at the edge.
 */
import type { HePlanJson } from '../../algorithms/he/index.js';
import type { CellJobBody } from './cohort-jobs.js';
import type { Filter, Scalar } from './filter.js';
import type { LinkageSpec } from './linkage.js';

// The row filter and its scalars live in a leaf file that both this file and cohort-jobs.ts import (no cycle).
export { FILTER_OPS, type Filter, type FilterOp, type Scalar } from './filter.js';

export interface CountMeasure {
  fn: 'count';
}
export interface BoundedMeasure {
  fn: 'sum' | 'mean' | 'variance';
  column: string;
  /** Declared value bounds: values are clamped to them, and DP sensitivity is derived from them. */
  bounds: [number, number];
}
export interface HistogramMeasure {
  fn: 'histogram';
  column: string;
  /** Public, strictly increasing bin edges e0 < e1 < … < ek: k bins [e_i, e_{i+1}), the last one closed. */
  bins: number[];
}
export interface QuantileMeasure {
  fn: 'quantile';
  column: string;
  /** Declared bounds: values are clamped to them; the public candidate grid spans them. */
  bounds: [number, number];
  /** Quantiles in [0, 1], e.g. [0.25, 0.5, 0.75]. */
  quantiles: number[];
  /** Number of evenly spaced public candidates over the bounds (the answer's resolution). @default 101 */
  candidates?: number;
}
export type Measure = CountMeasure | BoundedMeasure | HistogramMeasure | QuantileMeasure;

export const PRIVACY_MODES = ['none', 'central-dp', 'local-dp', 'distributed-dp'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];

export const SECURE_MODES = ['secagg', 'he'] as const;
export type SecureMode = (typeof SECURE_MODES)[number];

/**
 * The privacy of one job. In the DP modes the budget is given as ε alone (pure ε-DP, discrete Laplace), ε with δ
 * (discrete Gaussian calibrated to the ρ that converts to (ε, δ)), or ρ (zCDP, discrete Gaussian).
 */
export interface PrivacySpec {
  mode: PrivacyMode;
  epsilon?: number;
  delta?: number;
  rho?: number;
  /** Contribution bound: rows one privacy unit (person) may contribute to the query, chosen at the agent by a keyed hash. @default 1 */
  maxRowsPerPerson?: number;
  /**
   * Public assumption: a person is at no more than this many sites (contribution bounding is per agent, so the
   * sensitivity is multiplied by it). The coordinator raises it to the mesh-wide value. @default 1
   */
  maxSitesPerPerson?: number;
  /**
   * Bound each person across sites to k rows with the products' linkage key (aggregate jobs in the DP modes; see
   * common/job/linkage.ts). A researcher sends `{}`; the coordinator fills in the job's sites and salt.
   */
  linkage?: Partial<LinkageSpec>;
  /**
   * distributed-dp: agents that may drop out or collude with the coordinator while the noise guarantee holds; the
   * ledger charges the guarantee of the remaining n − tolerated shares. @default ⌊(n − 1)/3⌋
   */
  tolerated?: number;
}

/** Budget used when a DP job names none. */
export const DEFAULT_JOB_EPSILON = 1;
export const DEFAULT_JOB_DELTA = 1e-6;
/**
 * The privacy of a job that has no privacy block, as the README documents it (central-dp, ε = 1, δ = 1e-6).
 * test/unit/default-privacy-readme.test.ts checks the README states these numbers.
 */
export const DEFAULT_PRIVACY: Readonly<PrivacySpec> = Object.freeze({ mode: 'central-dp', epsilon: DEFAULT_JOB_EPSILON, delta: DEFAULT_JOB_DELTA });
export const MAX_ROWS_PER_PERSON = 100;
export const MAX_SITES_PER_PERSON = 1000;

export interface JobCommon {
  /**
   * Agents that must answer for the job to succeed. Below the default, a result that misses agents is released
   * marked `complete: false` with the missing agents and why.
   * @default every member agent serving the product, live or not (one that is not live refuses the job before charging)
   */
  quorum?: number;
  /** Per-job deadline. @default 30000 */
  timeoutMs?: number;
  /** Restrict the job to these agents. @default every connected agent serving the product */
  agents?: string[];
  privacy: PrivacySpec;
  secure?: SecureMode;
  /** Secure jobs: Shamir threshold t of SecAgg (n/2 < t ≤ n) and the fewest contributors a secure job accepts. @default ⌊n/2⌋ + 1 */
  secureThreshold?: number;
  /** Secure jobs: public cap on the rows (cohort-level jobs: persons) one agent contributes; it bounds the secure sum against overflow. @default 2^24 */
  secureMaxRows?: number;
  /** HE jobs: the BFV plan and the researcher's public key (base64), made by the researcher's client. */
  he?: HeJobKey;
  /** HL7 PurposeOfUse code the job runs under (see common/job/purpose.ts). @default 'HRESCH' (not written into the spec) */
  purpose?: string;
  /** Project or ethics approval id the job runs under. @default none */
  project?: string;
}

export interface AggregateJob extends JobCommon {
  kind: 'aggregate';
  product: string;
  where: Filter[];
  groupBy: string[];
  /** Public group keys: one list of values per groupBy column. Every combination is released (noisy zeros too). */
  groupKeys?: Record<string, Scalar[]>;
  measures: Measure[];
}

/** The public half of an HE job, as it travels in the spec. */
export interface HeJobKey {
  plan: HePlanJson;
  /** The serialised BFV public key, base64. */
  publicKey: string;
}

/** Cohort, characterisation, survival and contingency jobs: counts of persons in public cells. */
export type CellJob = CellJobBody & JobCommon;

export type JobSpec = AggregateJob | CellJob;
export type JobKind = JobSpec['kind'];

export const DEFAULT_JOB_TIMEOUT_MS = 30_000;
export const MAX_JOB_TIMEOUT_MS = 15 * 60_000;

/** The field name a measure's result carries in a released row: `count`, `sum_<col>`, `mean_<col>`, ... */
export function measureField(m: Measure): string {
  return m.fn === 'count' ? 'count' : `${m.fn}_${m.column}`;
}

/**
 * The data product a job names (aggregate, contingency), or undefined for the cohort-level kinds, which read the
 * OMOP CDM tables. Read from the spec's shape, not its kind, so the callers (quorum, budget populations, manifest)
 * hold no list of kinds.
 */
export function namedProductOf(spec: JobSpec): string | undefined {
  return 'product' in spec ? spec.product : undefined;
}

/** Columns of an exact (mode none) aggregate result: means, variances and quantiles show their missing count beside them. */
export function exactResultColumns(job: AggregateJob): string[] {
  return [...job.groupBy, ...job.measures.flatMap((m) => (m.fn === 'mean' || m.fn === 'variance' || m.fn === 'quantile' ? [measureField(m), `${measureField(m)}_missing`] : [measureField(m)]))];
}
