import type { DuckDBConnection } from '@duckdb/node-api';
import type { Rng } from '../../algorithms/rng.js';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { StatLayout, StatVector } from './stat-layout.js';
import type { Filter } from '../job/index.js';

/** Privacy modes the kind seam implements, each a module over the vector (privacy-modes.ts, agent-noise-modes.ts). */
export const KIND_PRIVACY_MODES = ['none', 'central-dp', 'local-dp', 'distributed-dp'] as const;
export type KindPrivacyMode = (typeof KIND_PRIVACY_MODES)[number];

/** Secure sums the kind seam implements (secure-vector.ts, secure-sum.ts). */
export const KIND_SECURE_SUMS = ['plain', 'secagg', 'he'] as const;
export type KindSecureSum = (typeof KIND_SECURE_SUMS)[number];

/** The privacy a compiled job runs under; for central-dp the whole job's cost over `maxRounds`, charged once. */
export interface KindPrivacy {
  readonly mode: KindPrivacyMode;
  /** central-dp: the job's total (ε, δ), converted to zCDP ρ for calibration and charged up front. */
  readonly epsilon?: number;
  readonly delta?: number;
  /** central-dp stated in zCDP directly (instead of ε, δ). */
  readonly rho?: number;
  /**
   * distributed-dp: agents that may drop out or collude with the coordinator while the sum still carries the
   * job's ρ. @default ⌊(n − 1)/3⌋ for n agents (as the built-in kinds)
   */
  readonly tolerated?: number;
  /**
   * Sites one person may appear at: every block's sensitivity is multiplied by it (L1 × m, L2² × m²), as the
   * built-in kinds do. The coordinator raises it to the mesh's value before compiling. @default 1
   */
  readonly maxSitesPerPerson?: number;
}

/** What to do when an agent asked in a round does not answer in time. */
export type DropoutPolicy = 'fail' | 'continue';

/**
 * The part of a compiled job every kind has; the seam's runners read only this (and the kind's own functions).
 * Everything here is public and fixed before any agent computes.
 */
export interface KindJobCommon {
  readonly kind: string;
  /** The data product the job reads (admission maps it to the agents and budget populations). */
  readonly product: string;
  readonly privacy: KindPrivacy;
  readonly secure: KindSecureSum;
  /** A public upper bound on rounds; DP noise is calibrated so the job's cost covers all of them. */
  readonly maxRounds: number;
  /** Each round's deadline, from its dispatch. */
  readonly roundTimeoutMs: number;
  /** @default 'fail' (every agent asked must answer every round) */
  readonly dropout: DropoutPolicy;
  /** With dropout 'continue': the fewest agents a round may sum over. */
  readonly minAgents: number;
  /** The spec field the researcher sets minAgents with, named in refusals (e.g. `participation.minUpdates`). @default 'quorum' */
  readonly minAgentsField?: string;
  /** secagg: Shamir threshold t of the mask seeds. @default ⌊n/2⌋ + 1 */
  readonly secureThreshold?: number;
  /** Run on these agents only (each must serve the product and be live at admission). @default every serving agent */
  readonly agents?: readonly string[];
}

/**
 * A job compiled once from its spec (pure): the common part, the kind's public plan, the spec as parsed, and the
 * SHA-256 of the canonical JSON of all of it. The job travels by that hash: the agent compiles the spec itself and
 * refuses a task whose hash differs, so nobody in between can change the plan (bounds, sensitivity, rounds).
 */
export interface CompiledKindJob<S = unknown, P = unknown> extends KindJobCommon {
  readonly spec: S;
  readonly plan: P;
  readonly hash: string;
}

/** One completed round as the coordinator stores it (all public: the input, who answered, the released sum). */
export interface RoundRecord<I = unknown> {
  readonly round: number;
  readonly input: I;
  readonly answered: readonly string[];
  /** The released (post privacy mode) sum of the round's vector. */
  readonly released: readonly number[];
  /** Standard deviation of the noise in each block of `released` (0 in mode none). */
  readonly noiseStd: readonly number[];
  /**
   * Mode none with `release: 'selection'` blocks: entries agents withheld as below their minimum cell size (their
   * entries in `released` are 0 and must be shown as withheld, not as 0). Absent: nothing withheld.
   */
  readonly withheld?: readonly { readonly block: string; readonly entry: number; readonly agents: readonly string[] }[];
  /**
   * Mode none with plain sums only (the coordinator sees each agent's vector anyway): each answering agent's entries
   * of the kind's `perAgentBlocks`, in layout order. Absent under SecAgg/HE and in the DP modes. Persisted with the
   * round (coordinator/rounds/round-store.ts), so a resumed job keeps them for the rounds before the restart.
   */
  readonly perAgent?: Readonly<Record<string, readonly number[]>>;
  /**
   * How many agents the job asked at its start (its federation), whoever took part in this round: SCAFFOLD's server
   * control variate is the mean over all of them (red team 29, F3). Absent in rounds stored before it was recorded.
   */
  readonly federation?: number;
  /**
   * Agents this round asked, or could not ask because they were not connected, that did not answer: the job's result
   * names them as missing even when they came back, also after a coordinator restart (stored with the round).
   * Absent: none (or a round stored before it was recorded).
   */
  readonly missed?: readonly string[];
  /**
   * Mode none: each answering agent's published minimum cell size as the coordinator knew it when the round was
   * stored, so a job resumed after a restart applies the thresholds it was computed under even when an agent is not
   * connected again (red team 48). Absent: none known, or a round stored before it was recorded.
   */
  readonly minCellSize?: Readonly<Record<string, number>>;
}

/** What a kind releases: the coordinator turns it into the job's result. */
export interface KindRelease {
  columns: string[];
  rows: Record<string, unknown>[];
  /** Absent: a ported built-in kind whose built-in result had none (aggregate); a registry kind always gives one. */
  summary?: Record<string, unknown>;
  notes: string[];
  privacy: Record<string, unknown>;
  /**
   * Cells withheld at the source (mode none, selection blocks), named as the kind names its cells, with the agents
   * that withheld each. Absent: the runner reports the last round's withheld entries by block and index.
   */
  suppressed?: { group: Record<string, unknown>; suppressedBy: string[] }[];
}

/** The exact integer noise one block's entries get, each entry one independent draw. */
export interface BlockSampler {
  /** One draw, in the block's grid units (its `gridExponent`, 0 for counts). */
  sample(rng: Rng): bigint;
  /** Standard deviation of one draw, in value units. */
  readonly std: number;
}

/**
 * A block released by a selection mechanism instead of additive noise (central-dp only): the coordinator hands the
 * block's exact sum to `select`, in the layout's draw order and from the same random stream as the other blocks, and
 * releases only what it returns — e.g. the candidates a permute-and-flip chose for a quantile. The exact sum is
 * never stored nor released; the round's released block is the selection (at most the block's length entries, the
 * rest 0), with noise std 0. Its cost is in the plan's.
 */
export interface BlockSelector {
  select(exact: readonly bigint[], rng: Rng): readonly number[];
}

/** What a kind's noise plan states for a job: the whole job's cost and each block's sampler, in layout order. */
export interface KindNoisePlan {
  /** Charged once, up front (coordinator ledger and each agent's); what the samplers below spend over all rounds. */
  readonly cost: PrivacyCost;
  /** Per block of the layout: its sampler or selector, or undefined for a block released without noise. */
  readonly blocks: readonly (BlockSampler | BlockSelector | undefined)[];
}

/** Public facts the coordinator gives a kind's release besides the rounds. */
export interface KindReleaseInfo {
  readonly converged: boolean;
  /** Each answering agent's published minimum cell size (a mode-none release states the thresholds applied). */
  readonly minCellSize?: Readonly<Record<string, number>>;
}

/**
 * A job kind, coordinator and SDK side (pure): parse → compile → per round (layout, next input) → release → view.
 * The agent side is an {@link AgentKindDef} in the kind's `agent.ts`.
 */
export interface KindDef<S = unknown, P = unknown, I = unknown> {
  readonly kind: string;
  /**
   * A port of a built-in kind whose parsed spec is the built-in `JobSpec` (common/job/spec.ts): the coordinator
   * admits it as the built-in kinds are admitted (catalog columns, quorum, published rules, result size; agents that
   * cannot serve it left out and reported), names its released concept ids, and returns the built-in result shape
   * (summary before privacy, no round count, completeness as the built-in kinds state it), so a port keeps the
   * results test/golden pins. Absent: a registry kind of its own.
   */
  readonly builtInSpec?: true;
  /**
   * The spec field that bounds each agent's rows in a secure sum (glm and Cox: `secureMaxRows`; train:
   * `update.maxExamples`): a bound the agents agree to, not a researcher's probe (common/secure/secure-max-rows.ts).
   * Under secagg or HE, admission checks it against the admitted agents' published `--secure-max-rows` and, in mode
   * none, makes it the one value they all publish (filled in when absent, refused when different), and each agent
   * checks it again; every agent's vector is then projected onto the layout's bounds instead of refused. Absent: the
   * kind's blocks do not scale with rows.
   */
  readonly secureRowBound?: {
    readonly field: string;
    /** The bound the spec gives (undefined: not given). */
    of(spec: S): number | undefined;
    /** The spec with the bound set (a parsed spec, compiled again). */
    withBound(spec: S, rows: number): S;
    /**
     * In mode none the kind's agent refuses a side beyond the bound (FAILED_PRECONDITION naming the field) instead of
     * being projected onto it (train: an exact model over clipped counts would be no model); the result's note says
     * which. @default projected
     */
    readonly refusesInModeNone?: true;
  };
  /**
   * A kind that takes over a built-in kind step by step declines the specs it does not run yet (they keep the
   * built-in path), read from the raw spec alone so the coordinator and every agent choose alike. Absent: all.
   */
  accepts?(raw: unknown): boolean;
  /**
   * The kind's own noise plan for central-dp and local-dp (kind-noise-plan.ts): its split of the budget over its
   * blocks and each block's exact sampler, the job's cost with it. Absent: the seam's even ρ split and discrete
   * Gaussian. @throws FedmeshError INVALID_JOB naming the field
   */
  noisePlan?(job: CompiledKindJob<S, P>): KindNoisePlan;
  /** @throws FedmeshError INVALID_JOB naming the field */
  parse(raw: unknown): S;
  /** Pure; `compileKindJob` adds the hash. @throws FedmeshError INVALID_JOB naming the field */
  compile(spec: S): Omit<CompiledKindJob<S, P>, 'hash'>;
  /** The public layout of round `round`'s vector. */
  layout(job: CompiledKindJob<S, P>, round: number): StatLayout;
  /**
   * The public input of the next round from the rounds so far (none: the first), or undefined to stop (converged).
   * Reads only released values, so stopping is post-processing.
   */
  nextRound(job: CompiledKindJob<S, P>, history: readonly RoundRecord<I>[]): I | undefined;
  /**
   * Partial participation: which agents of the round's pool (those still in the job) to ask, drawn with the CSPRNG
   * passed in; a subset of `pool`. Absent: all of them.
   */
  participants?(job: CompiledKindJob<S, P>, round: number, pool: readonly string[], rng: Rng): readonly string[];
  /**
   * A short line on a completed round for the job's progress events (e.g. train's loss and accuracy), from its
   * released values only (post-processing) and the same public facts its release gets (each answering agent's
   * minimum cell size: a summary must withhold what the release withholds). Absent: the events say who answered.
   */
  roundSummary?(job: CompiledKindJob<S, P>, record: RoundRecord<I>, info: Pick<KindReleaseInfo, 'minCellSize'>): string | undefined;
  /** Blocks of round `round` kept per agent in `RoundRecord.perAgent` (mode none, plain sums only). */
  perAgentBlocks?(job: CompiledKindJob<S, P>, round: number): readonly string[];
  /**
   * Checks an agent's account of a plain round (its step's `StatVector.report`, the reply's meta) against what the
   * job's plan assumed: a reason fails the job naming the agent (FAILED_PRECONDITION), so nothing is released from an
   * agent that, say, did not bound each person's contribution. Absent: no account is asked for.
   */
  replyMismatch?(job: CompiledKindJob<S, P>, report: Readonly<Record<string, unknown>>, agent: ReplyingAgent | undefined): string | undefined;
  /** The result from every completed round. */
  release(job: CompiledKindJob<S, P>, history: readonly RoundRecord<I>[], info: KindReleaseInfo): KindRelease;
  /** Plain-text rendering of a released result (the CLI's table). */
  view(result: KindResultView): string;
  /** The `--json` object of a released result (absent: the generic job JSON). */
  viewJson?(result: KindResultView): Record<string, unknown>;
}

/** What the coordinator knows of an answering agent from its registration (undefined: it is not connected). */
export interface ReplyingAgent {
  readonly products: readonly { readonly name: string; readonly privacyUnit?: string | undefined }[];
  readonly policy: { readonly minCellSize: number };
}

/** The released parts of a result a kind's view reads. */
export interface KindResultView {
  columns: string[];
  rows: Record<string, unknown>[];
  summary?: Record<string, unknown>;
  notes: string[];
}

/** What the agent's task runner gives a kind's local step: its data, scoped to the job, and per-job state. */
export interface AgentKindContext {
  /** The DuckDB connection, already scoped to the task (cancelled at its deadline). */
  readonly conn: DuckDBConnection;
  readonly jobId: string;
  readonly round: number;
  /** The product the job reads at this agent, with its privacy unit (the runner has checked it exists). */
  readonly product: {
    readonly name: string;
    readonly privacyUnit: string | undefined;
    readonly columns: { name: string; type: string }[];
    readonly description: string;
    readonly source: string;
    /** The linkage-key column the agent's catalogue publishes and its site name (jobs bounded across sites). */
    readonly linkage?: { column: string; site: string } | undefined;
  };
  /** The agent's secret salt for keyed-hash contribution bounding (which rows of a person count). Never sent. */
  readonly salt: string;
  /** The domain policy's disclosure limits: minimum cell size (persons) and most groups one release may hold. */
  readonly policy: { readonly minCellSize: number; readonly maxGroups?: number };
  /** This agent's name, as the coordinator writes it in `RoundRecord.answered`. Absent: not known (tests). */
  readonly agent?: string;
  /**
   * State kept for the job's later rounds at this agent (e.g. the design matrix read in round 0); dropped when
   * the job has not been seen for a while. Never sent anywhere.
   */
  readonly jobState: Map<string, unknown>;
  /**
   * Mode none: the agent's differencing guard over released person sets. `candidates` is a TEMP table (cell VARCHAR,
   * h UBIGINT) of the keyed hashes of the persons behind each cell about to leave; the guard refuses (PERMISSION_DENIED)
   * when one differs from a set released to the same researcher before by 1 … k − 1 persons, and records them.
   * Absent: this agent keeps no such memory (tests).
   */
  readonly guardReleasedSets?: (conn: DuckDBConnection, candidates: string, withheld?: readonly string[]) => Promise<void>;
  /**
   * Staged from a server with a cohort (StagedRead.cohort): a TEMP table `(subject_id)` on `conn` holding the members
   * of the job's cohort, built on the server where the OMOP tables are. The step restricts to it instead of building
   * the cohort on `conn`, which has no OMOP tables. Absent: the step builds its cohort itself.
   */
  readonly cohortMembers?: string;
}

/** What a staged round reads of its product (AgentKindDef.stagedRead). */
export interface StagedRead {
  /** Columns of the product; the runner adds the privacy unit. */
  readonly columns: readonly string[];
  /** The job's filters, pushed down to the server (the step applies them again). */
  readonly where: readonly Filter[];
  /** A cohort definition (Circe or native): built on the server, only its members' rows staged, with the members. */
  readonly cohort?: unknown;
}

/** A job kind, agent side. */
export interface AgentKindDef<S = unknown, P = unknown, I = unknown> {
  readonly kind: string;
  /** This agent's vector for the round (the runner checks it against the layout before it leaves). */
  localStep(ctx: AgentKindContext, job: CompiledKindJob<S, P>, input: I, signal: AbortSignal): Promise<StatVector>;
  /**
   * The same step when the agent's data lives on a database server (issue 13): `session` is a session there (a
   * node-agent/data/source SqlSession, opaque at this layer), consent-scoped, where the kind runs its own compiled
   * SQL and reads back only what it needs; `ctx.conn` is the agent's DuckDB for its own scratch tables. Absent: the
   * runner stages the product into the task's DuckDB and calls localStep.
   */
  onSource?(ctx: AgentKindContext, job: CompiledKindJob<S, P>, input: I, session: unknown, signal: AbortSignal): Promise<StatVector>;
  /**
   * Whether this round's `onSource` step reads the server at all: false once the kind holds its rows in the job's
   * state (none of today's server kinds: glm, Cox and train read the server every round, keeping no rows), and the
   * runner then calls localStep without opening a
   * session — no connection, consent scope or linkage table on the hospital's server for a round that reads
   * nothing there. @default true
   */
  needsSource?(job: CompiledKindJob<S, P>, jobState: ReadonlyMap<string, unknown>): boolean;
  /**
   * The kind reads per-person rows in several rounds and its onSource step takes the agent's own DuckDB connection as
   * well as a server session (glm, survival-cox, train): an agent run with `streamRows` (`fedmesh agent
   * --stream-rows`) runs that step on its DuckDB too, so that no round keeps rows in memory for the next.
   * @default false
   */
  readonly streamsLocally?: boolean;
  /**
   * Job-state entries a round's step advances and that must go back to what they were when the round then fails at
   * this agent (layout or exact-block check, noise): SCAFFOLD's control variate in train. Only entries the step
   * replaces, never mutates in place, may be listed (glm standardises its kept design in place: rolling back its
   * flag alone would standardise it twice). @default none
   */
  readonly rollbackOnFailure?: readonly string[];
  /**
   * Job-state entries that must survive an agent restart (and the eviction of an idle job's state): the runner saves
   * them in the agent's state folder after every round this agent computed and loads them when it first builds the
   * job's state in a process (node-agent/tasks/durable-job-state.ts). Without it a restarted agent would go on from
   * empty state with no error (SCAFFOLD's c_i back at zero). Values: Float32Array, Float64Array or plain JSON, stored
   * exactly; entries the step replaces, as for rollbackOnFailure. @default none
   */
  readonly durableState?: readonly string[];
  /**
   * In mode none, a product without a privacy unit that the catalogue marks `public` (reference data) is served, its
   * rows the cells, as the built-in path served it (aggregate). @default false: every product needs a unit
   */
  readonly publicRowsInModeNone?: true;
  /**
   * Staging (data on a server, no onSource): what this round's localStep reads of the product — these columns (the
   * runner adds the privacy unit) of the rows passing `where` (pushed down to the server, applied again locally by
   * the step) — or null when it reads nothing (its rows are already in `jobState`), so nothing is staged. Absent:
   * every column of every row, each round.
   */
  stagedRead?(job: CompiledKindJob<S, P>, jobState: ReadonlyMap<string, unknown>): StagedRead | null;
}
