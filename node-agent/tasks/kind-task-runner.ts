import type { DuckDBConnection } from '@duckdb/node-api';
import type { Rng } from '../../algorithms/rng.js';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import { declareUnitHint, enforceDomainPolicy, enforceJobManifest, catalogKind, type ProductRules } from '../../common/job/index.js';
import { checkSecureMaxRows } from '../../common/secure/index.js';
import type { JobSpec } from '../../common/job/index.js';
import { checkAgentVector, compileKindJob, decodeRoundPayload, encodeVector, phaseAnswerSlot, projectOntoBounds, kindPrivacyModeOf, snapVectorToGrid, type AgentKindContext, type AnyAgentKindDef, type AnyKindDef, type BlockNoise, type CompiledKindJob, type KindRegistry, type StagedRead, type StatVector, checkSelectionSecure, layoutWithWithheld, selectionApplies, withholdSmallCells } from '../../common/kinds/index.js';
import { createHePool, type HePool } from '../../common/he/index.js';
import { KindSecurePhases, type KindSecureDeps } from './kind-secure-phase.js';
import { checkExactBlocksEmpty } from './exact-blocks.js';
import type { ProductInfo } from '../data/products.js';
import { quoteIdent } from '../data/database.js';
import { guardDuckDb, toBigInt } from '../analytics/schema.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { TaskScope } from '../task-cancellation.js';
import { refuseUnlessNamed } from './job-agents.js';
import type { DurableJobStateStore } from './durable-job-state.js';

export interface KindTaskDeps {
  kinds: KindRegistry<AnyKindDef>;
  agentKinds: KindRegistry<AnyAgentKindDef>;
  policy: { readonly minCellSize: number; readonly allowKinds: readonly string[]; readonly allowModes: readonly string[]; readonly secureMaxRows?: number; readonly maxGroups?: number };
  products: () => readonly ProductInfo[];
  /** The published rules (manifest over defaults) of a product. */
  rules: (product: string) => ProductRules | undefined;
  /** The domain's own ledger: idempotent per job id, refuses over the cap. */
  charge: (jobId: string, researcher: string, cost: PrivacyCost) => Promise<void>;
  /** Binds a job id to one compiled job (its hash), durably. */
  bind: (jobId: string, hash: string) => Promise<void>;
  /** The answer released per (job id, round), computed once, durably. */
  once: (jobId: string, round: number, compute: () => Promise<ReleasedAnswer>) => Promise<ReleasedAnswer>;
  withConnection: <T>(fn: (conn: DuckDBConnection) => Promise<T>) => Promise<T>;
  /**
   * Data elsewhere (a site's PostgreSQL): makes `product` readable on the task's connection for the length of `fn`
   * (node-agent/jobs/aggregate-source.ts). @default undefined (the product is a table of the agent's DuckDB)
   */
  withProduct?: <T>(conn: DuckDBConnection, product: ProductInfo, fn: (staged: { cohortMembers?: string }) => Promise<T>, signal: AbortSignal, read?: StagedRead) => Promise<T>;
  /**
   * Data elsewhere, for kinds with their own server-side step (`AgentKindDef.onSource`): runs `fn` on a session of
   * the data source (SqlSession) when there is one (`active`). @default undefined (only staging is offered)
   */
  withSource?: { active(): boolean; run<T>(fn: (session: unknown) => Promise<T>, signal: AbortSignal): Promise<T> };
  /**
   * Data in the agent's DuckDB, read every round by the kinds that can (`AgentKindDef.streamsLocally`) through their
   * onSource step on the task's connection, instead of kept in the job's state between rounds: always (`true`), or
   * for a product of more than `aboveRows` rows (counted in the job's first task here; the choice holds for all of
   * its rounds), which bounds what a job keeps in memory. @default false (rows kept)
   */
  streamRows?: boolean | { aboveRows: number };
  /** The agent's secret salt for keyed-hash contribution bounding. */
  salt: () => string;
  rng: Rng;
  /** Secure sums (secagg, he): this agent's name, mTLS material and identity key. Absent: secure jobs are refused. */
  secure?: Omit<KindSecureDeps, 'rng' | 'hePool'>;
  /** The domain's access policy (Cedar), before the ledger is charged. @throws FedmeshError POLICY_DENIED naming the policy */
  authorize?: (job: CompiledKindJob, task: AgentTask, identity: IdentityAssertionClaims | undefined) => void;
  /**
   * Mode none: the differencing guard over the person sets a kind is about to release (`AgentKindContext`), checked
   * and recorded for the task's researcher. @default none (the kind's sets are not remembered)
   */
  guardReleasedSets?: (conn: DuckDBConnection, g: { researcher: string; jobId: string; candidates: string; withheld?: readonly string[] }) => Promise<void>;
  /**
   * Where the entries a kind declares durable (`AgentKindDef.durableState`) are kept between processes: the agent's
   * `<stateDir>/job-state` (durable-job-state.ts). @default none (they live in memory only, and a restart loses them)
   */
  durableState?: DurableJobStateStore;
}

/**
 * A round of one job that failed this many times at this agent is not computed again (RESOURCE_EXHAUSTED). A failed
 * round stores no answer, so without a cap a coordinator could repeat it with other inputs for ever: each attempt
 * re-reads the site's data (on a PostgreSQL agent, cohorts rebuilt and every row streamed on the hospital's server),
 * and each refusal is one more answer to a question it chose (red team 20). Honest retries (a lost connection, a
 * deadline) stay far below it.
 */
export const MAX_FAILED_ROUND_ATTEMPTS = 8;
/**
 * (job, round) failure counts remembered at most: kept apart from the evictable job states (red team 21: sixteen
 * junk tasks or 30 idle minutes evicted a job's state, and its count with it); the oldest count goes beyond it.
 */
const MAX_FAILURE_COUNTS = 65_536;

/** Per-job state kept between rounds (the design read in round 0), dropped after this long unused. */
const JOB_STATE_IDLE_MS = 30 * 60_000;
/** Jobs whose state is kept at once; the least recently used is dropped beyond it (it is re-read if needed). */
const MAX_JOB_STATES = 16;

/**
 * Whether a job over `product` streams its rows under `rule`: always, or when the product holds more than
 * `aboveRows` rows. The count is of the product's own table in the agent's database (`<db>.main.<product>`), not of
 * the TEMP views that consent and linkage scopes put in front of it on the task's connection: the choice (visible in
 * round timing, and in train's row order) must not depend on anything the researcher picks, such as the purpose.
 */
async function streamsByRows(conn: DuckDBConnection, product: string, rule: true | { aboveRows: number }): Promise<boolean> {
  if (rule === true) return true;
  const n = await guardDuckDb('stream-rows: counting the product', async () => {
    const db = String((await conn.runAndReadAll('SELECT current_database() AS d')).getRowObjectsJS()[0]!['d']);
    return (await conn.runAndReadAll(`SELECT count(*) AS n FROM ${quoteIdent(db)}.main.${quoteIdent(product)}`)).getRowObjectsJS()[0]?.['n'];
  });
  return toBigInt(n) > BigInt(rule.aboveRows);
}

/** Stream-or-keep choices remembered per job id (beyond the job states' LRU and idle expiry), oldest dropped first. */
const MAX_STREAM_DECISIONS = 4096;

interface JobEntry {
  job: CompiledKindJob;
  state: Map<string, unknown>;
  usedAtMs: number;
  /** The kind's durable entries read into `state`, once per entry (all first tasks of the job wait on it). */
  restored?: Promise<void>;
}

/**
 * Runs a task of a registry kind through one middleware chain that knows no kind:
 *   compile the spec here → domain policy and the product's published rules → compare the hash the task carries
 *   (nobody in between changes the plan) → round within the public maximum the cost covers →
 *   bind the job id to the hash → ledger charge, once per job id, for the whole job →
 *   per (job id, round), once: data scope (the task's cancellable connection) → `localStep` → check against the
 *   public layout (bounds; in a noisy mode, blocks the round leaves without noise must be empty) → privacy mode at
 *   the agent → typed reply.
 * A replayed round gets the stored answer, so a replaying coordinator learns nothing new.
 */
export class KindTaskRunner {
  private readonly jobs = new Map<string, JobEntry>();
  /**
   * Each job's stream-or-keep choice, made in its first task here and kept apart from its state: a state dropped
   * (LRU, idle) and rebuilt must not switch a job between kept and streamed rows mid-way (train would continue in
   * another row order).
   */
  private readonly streamDecisions = new Map<string, boolean>();
  /** Failed attempts per (job, round), oldest first (MAX_FAILED_ROUND_ATTEMPTS). */
  private readonly failures = new Map<string, number>();
  private securePhases: KindSecurePhases | undefined;
  private hePool: HePool | undefined;

  constructor(private readonly deps: KindTaskDeps) {}

  /** Whether a task runs here: a registry kind that accepts the spec (a kind ported in steps leaves the rest to the built-in path). */
  handles(kind: string, specJson?: string): boolean {
    const def = this.deps.kinds.get(kind);
    if (!def || !this.deps.agentKinds.has(kind)) return false;
    if (!def.accepts || specJson === undefined) return true;
    try {
      return def.accepts(JSON.parse(specJson));
    } catch {
      return true; // unreadable: the runner refuses it naming the spec
    }
  }

  /**
   * @param onCompiled told of the job once its spec compiled, before any check (the agent's task-started line)
   * @throws FedmeshError naming the field; the agent turns it into a typed failure reply
   */
  async run(task: AgentTask, scope: TaskScope, identity?: IdentityAssertionClaims, onCompiled?: (job: CompiledKindJob) => void): Promise<ReleasedAnswer> {
    const { deps } = this;
    const def = deps.kinds.get(task.kind)!;
    const agentDef = deps.agentKinds.get(task.kind)!;
    // Compiled here, kept in the job states only once the task passed the checks below (red team 21: tasks with a
    // wrong hash evicted other jobs' states, and with them their rows' fingerprints).
    let entry = this.entry(task, def);
    const job = entry.job;
    onCompiled?.(job);
    // The domain's public rules first: a kind or mode this agent does not serve is refused as such, whatever the task carries.
    enforceDomainPolicy(deps.policy, job.kind, job.privacy.mode);
    // A ported built-in kind's secure sum: its per-agent bound is this domain's published one in mode none (a bound
    // chosen by the researcher or coordinator would reveal per-agent counts by clipping), at most it otherwise.
    const self = [{ name: 'this agent', secureMaxRows: deps.policy.secureMaxRows, minCellSize: deps.policy.minCellSize }];
    if (def.builtInSpec && job.secure !== 'plain') checkSecureMaxRows(job.spec as JobSpec, self);
    // A kind's row bound under a secure sum: what this agent publishes (in mode none exactly that), whatever the coordinator sends.
    const rowBound = def.secureRowBound;
    if (rowBound && job.secure !== 'plain') {
      const rows = rowBound.of(job.spec);
      checkSecureMaxRows({ ...(rows !== undefined ? { secureMaxRows: rows } : {}), privacy: job.privacy }, self, rowBound.field);
    }
    const product = deps.products().find((p) => p.name === job.product);
    if (!product) throw new FedmeshError('INVALID_JOB', `product: this agent has no product ${job.product}`, { field: 'product' });
    const rules = deps.rules(product.name);
    if (!rules) throw new FedmeshError('FAILED_PRECONDITION', `product ${product.name} has no published description at this agent yet`, { field: 'product' });
    checkRules(product.name, rules, job, agentDef.publicRowsInModeNone === true);
    // A ported built-in kind's spec is checked against the manifest as on the built-in path: kinds, modes, the unit,
    // and each measure's bounds within the column's declared bounds (red team 42: the seam let a mean over [0, 1e6]
    // of a column declared [0, 30] through).
    if (def.builtInSpec) enforceJobManifest(rules, job.spec as JobSpec);
    const { hash, input, phase, msg } = decodeRoundPayload(task.payload);
    if (job.hash !== hash) throw new FedmeshError('FAILED_PRECONDITION', `payload: the task's job hash does not match the job this agent compiles from its spec (kind ${job.kind})`, { field: 'payload' });
    // A job run on named agents is not computed (nor charged) anywhere else.
    if (deps.secure) refuseUnlessNamed(job.agents, deps.secure.name);
    if (!Number.isSafeInteger(task.round) || task.round < 0 || task.round >= job.maxRounds) {
      throw new FedmeshError('FAILED_PRECONDITION', `round: ${task.round} is outside the job's public rounds 0..${job.maxRounds - 1}, which its cost covers`, { field: 'round' });
    }
    // The task's shape must match the job's secure sum before anything is charged or read.
    if (job.secure !== 'plain' && !phase) throw new FedmeshError('INVALID_ARGUMENT', `payload.phase: a ${job.secure} job's round runs in the phases of its secure sum`, { field: 'payload' });
    if (job.secure === 'plain' && phase) throw new FedmeshError('INVALID_ARGUMENT', 'payload.phase: a plain round has no secure phases', { field: 'payload' });
    deps.authorize?.(job, task, identity);
    await deps.bind(task.jobId, job.hash);
    entry = this.admit(task.jobId, entry);
    await this.restore(task.jobId, entry, agentDef.durableState);
    const mode = kindPrivacyModeOf(def, job);
    const cost = mode.cost(job);
    // Charged before any data is touched: durable, once per job id, for all of the job's rounds, never refunded.
    if (cost) await deps.charge(task.jobId, task.researcher, cost);
    const layout = def.layout(job, task.round);
    checkSelectionSecure(job, layout);
    // This agent's vector under a round's noise plan: local step → public-layout check → noise → fixed-point grid.
    const failureKey = `${task.jobId}\u0000${task.round}`;
    let computed = false;
    // The step's account of how it computed (StatVector.report), sent as a plain round's meta.
    let report: StatVector['report'];
    const computeVector = async (noise: readonly BlockNoise[]): Promise<StatVector> => {
      if ((this.failures.get(failureKey) ?? 0) >= MAX_FAILED_ROUND_ATTEMPTS) {
        throw new FedmeshError('RESOURCE_EXHAUSTED', `round: round ${task.round + 1} of this job failed ${MAX_FAILED_ROUND_ATTEMPTS} times at this agent and is not computed again`, { field: 'round' });
      }
      // A round that fails at this agent puts back the entries its kind says the step advances (SCAFFOLD's control
      // variate): they belong to an answer that never left.
      const rollback = (agentDef.rollbackOnFailure ?? []).map((k) => [k, entry.state.has(k), entry.state.get(k)] as const);
      try {
        const out = await computeRoundVector(noise);
        // Saved before the answer is stored: a crash in between recomputes the round from the state it advanced, which
        // a kind must handle as a replayed round anyway; the other order could release an answer whose state is lost.
        await this.persist(task.jobId, entry, agentDef.durableState);
        computed = true;
        return out;
      } catch (e) {
        for (const [k, had, v] of rollback) {
          if (had) entry.state.set(k, v);
          else entry.state.delete(k);
        }
        const n = (this.failures.get(failureKey) ?? 0) + 1;
        this.failures.delete(failureKey);
        if (this.failures.size >= MAX_FAILURE_COUNTS) this.failures.delete(this.failures.keys().next().value!);
        this.failures.set(failureKey, n);
        throw e;
      }
    };
    const computeRoundVector = async (noise: readonly BlockNoise[]): Promise<StatVector> => {
      const ctxOf = (conn: DuckDBConnection): AgentKindContext => ({ conn, jobId: task.jobId, round: task.round, product: { ...product, privacyUnit: rules.privacyUnit }, policy: { minCellSize: deps.policy.minCellSize, ...(deps.policy.maxGroups !== undefined ? { maxGroups: deps.policy.maxGroups } : {}) }, salt: deps.salt(), ...(deps.secure ? { agent: deps.secure.name } : {}), jobState: entry.state, ...(deps.guardReleasedSets ? { guardReleasedSets: (c: DuckDBConnection, candidates: string, withheld?: readonly string[]) => deps.guardReleasedSets!(c, { researcher: task.researcher, jobId: task.jobId, candidates, ...(withheld && withheld.length > 0 ? { withheld } : {}) }) } : {}) });
      const step = (conn: DuckDBConnection) => (): Promise<StatVector> => agentDef.localStep(ctxOf(conn), job, input, scope.signal);
      // A kind with its own server-side step runs it there; otherwise the product is staged (withProduct) or local.
      // Rows in this agent's DuckDB, streamed every round (`streamRows`): the kind's onSource step on the task's connection.
      const streamRule = agentDef.streamsLocally === true && agentDef.onSource !== undefined && deps.withSource?.active() !== true ? deps.streamRows || undefined : undefined;
      // Staged: only what the round reads (the kind's columns and the privacy unit, its filters pushed down); nothing
      // when its rows are already in the job's state.
      const stagedStep = (conn: DuckDBConnection): Promise<StatVector> => {
        const read = agentDef.stagedRead?.(job, entry.state);
        if (read === null) return step(conn)();
        const run = (staged: { cohortMembers?: string }): Promise<StatVector> => agentDef.localStep({ ...ctxOf(conn), ...(staged.cohortMembers ? { cohortMembers: staged.cohortMembers } : {}) }, job, input, scope.signal);
        const withUnit = read && { ...read, columns: [...new Set([...read.columns, ...(rules.privacyUnit ? [rules.privacyUnit] : [])])] };
        return deps.withProduct!(conn, { ...product, privacyUnit: rules.privacyUnit }, run, scope.signal, withUnit);
      };
      const stepped = await deps.withConnection((conn) =>
        scope.using(conn, async () => {
          const localStream = streamRule !== undefined && (await this.streamDecision(task.jobId, () => streamsByRows(conn, product.name, streamRule)));
          const serverStep = agentDef.onSource && (deps.withSource?.active() || localStream);
          const onSource = serverStep && (agentDef.needsSource?.(job, entry.state) ?? true) ? agentDef.onSource!.bind(agentDef) : undefined;
          return onSource && localStream ? onSource(ctxOf(conn), job, input, conn, scope.signal)
          : onSource ? deps.withSource!.run((session) => onSource(ctxOf(conn), job, input, session, scope.signal), scope.signal)
          // A server kind whose rows are already in the job's state: the step reads nothing, so no session.
          : serverStep ? step(conn)()
          : deps.withProduct ? stagedStep(conn)
          : step(conn)();
        }),
      );
      // What leaves must fit the public layout, or the coordinator would refuse it anyway; say so here first. In mode
      // none a step may itself withhold a selection entry (a characterisation's concept close to another cell:
      // node-agent/disclosure/within-job.ts), so there the layout admits the marker, as the coordinator's check does.
      // Values beyond the public bounds are projected onto them, never refused: a refusal would answer "more than the
      // bound?" about this agent's data for a bound the spec chose (red team 26: glm's and Cox's secureMaxRows). The
      // projection is 1-Lipschitz, so a DP block keeps its sensitivity; what still fails the check is not a number.
      const bounds = selectionApplies(job) ? layoutWithWithheld(layout) : layout;
      report = stepped.report && publicReport(stepped.report);
      const vector = { values: projectOntoBounds(bounds, Float64Array.from(stepped.values)) };
      checkAgentVector(bounds, vector, 'this agent');
      // A block the round leaves without noise must be empty in a noisy mode, whatever the kind (exact-blocks.ts).
      checkExactBlocksEmpty(job, layout, vector, task.round);
      const sent = snapVectorToGrid(layout, noise, mode.atAgent(vector, noise, layout, deps.rng));
      // Mode none: cells below this agent's minimum cell size are withheld before anything leaves (selection.ts).
      return selectionApplies(job) ? withholdSmallCells(layout, sent, deps.policy.minCellSize).vector : sent;
    };
    if (phase) {
      // (checked above: a phase comes with a secure job, and a secure job's task always has one)
      const phases = this.secure();
      // One answer per (job, round, phase), stored durably: a replayed phase gets the same keys, masks and noise.
      const answer = await deps.once(task.jobId, phaseAnswerSlot(task.round, phase), async () => ({
        arrow: await phases.handle({ jobId: task.jobId, round: task.round, phase, msg: new Uint8Array(Buffer.from(msg ?? '', 'base64')), job, layout, mode, computeVector }),
        meta: { round: task.round, phase },
      }));
      await this.forgetAfterLastRound(task.jobId, task.round, job, computed, agentDef.durableState);
      return answer;
    }
    const answer = await deps.once(task.jobId, task.round, async () => {
      const out = await computeVector(mode.roundNoise(job, layout));
      return { arrow: encodeVector(out), meta: { ...report, round: task.round } };
    });
    await this.forgetAfterLastRound(task.jobId, task.round, job, computed, agentDef.durableState);
    return answer;
  }

  /**
   * Reads the kind's durable entries into a job state built in this process (after a restart, or an eviction), once.
   * A file that cannot be read fails the task and drops the entry, so the next task tries again (once the operator
   * repaired the file) instead of running on state that lacks them.
   */
  private async restore(jobId: string, entry: JobEntry, keys: readonly string[] | undefined): Promise<void> {
    const store = this.deps.durableState;
    if (!store || !keys || keys.length === 0) return;
    entry.restored ??= store.load(jobId, entry.job.hash, keys).then((saved) => {
      // An entry already set in memory is newer than any file (a task that ran while this one waited).
      for (const [k, v] of saved) if (!entry.state.has(k)) entry.state.set(k, v);
    });
    try {
      await entry.restored;
    } catch (e) {
      if (this.jobs.get(jobId) === entry) this.jobs.delete(jobId);
      throw e;
    }
  }

  /** Saves the kind's durable entries as a round left them (none left: the job's file is removed). */
  private async persist(jobId: string, entry: JobEntry, keys: readonly string[] | undefined): Promise<void> {
    const store = this.deps.durableState;
    if (!store || !keys || keys.length === 0) return;
    const entries = new Map(keys.filter((k) => entry.state.has(k)).map((k) => [k, entry.state.get(k)] as const));
    await (entries.size > 0 ? store.save(jobId, entry.job.hash, entries) : store.delete(jobId));
  }

  /**
   * The agent hears of no job's end, but no round comes after the job's last public one (refused above): once this
   * task computed it and its answer is stored, the job's durable entries are not needed again. Best effort; files of
   * jobs that end earlier (converged, cancelled) are bounded by the store.
   */
  private async forgetAfterLastRound(jobId: string, round: number, job: CompiledKindJob, computed: boolean, keys: readonly string[] | undefined): Promise<void> {
    if (!computed || round !== job.maxRounds - 1 || !keys || keys.length === 0) return;
    await this.deps.durableState?.delete(jobId).catch(() => undefined);
  }

  private secure(): KindSecurePhases {
    const s = this.deps.secure;
    if (!s) throw new FedmeshError('FAILED_PRECONDITION', 'secure: this agent runs no secure sums for registry kinds', { field: 'secure' });
    this.securePhases ??= new KindSecurePhases({ ...s, rng: this.deps.rng, hePool: () => (this.hePool ??= createHePool()) });
    return this.securePhases;
  }

  /** Drops secure protocol state and the HE pool (agent shutdown). */
  async stop(): Promise<void> {
    this.securePhases?.stop();
    const pool = this.hePool;
    this.hePool = undefined;
    await pool?.destroy();
  }

  /** The job's stream-or-keep choice: the one made in its first task here, or `decide()`'s, remembered. */
  private async streamDecision(jobId: string, decide: () => Promise<boolean>): Promise<boolean> {
    const known = this.streamDecisions.get(jobId);
    if (known !== undefined) return known;
    const d = await decide();
    // Two first tasks of one job at once: the choice stored first holds.
    const raced = this.streamDecisions.get(jobId);
    if (raced !== undefined) return raced;
    if (this.streamDecisions.size >= MAX_STREAM_DECISIONS) this.streamDecisions.delete(this.streamDecisions.keys().next().value!);
    this.streamDecisions.set(jobId, d);
    return d;
  }

  /** The job's entry: the one kept for its id, or a new one (compiled from the task's spec) not kept yet. */
  private entry(task: AgentTask, def: AnyKindDef): JobEntry {
    const now = Date.now();
    for (const [id, e] of this.jobs) if (now - e.usedAtMs > JOB_STATE_IDLE_MS) this.jobs.delete(id);
    const kept = this.jobs.get(task.jobId);
    if (kept) {
      kept.usedAtMs = now;
      return kept;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(task.specJson);
    } catch {
      throw new FedmeshError('INVALID_JOB', 'spec: not valid JSON', { field: 'spec' });
    }
    return { job: compileKindJob(def, raw), state: new Map(), usedAtMs: now };
  }

  /**
   * Keeps a new entry (after the task's checks), the least recently used one making room, and returns the entry to
   * use: with two first tasks of one job at once, the one kept first (the job id is bound to one hash, so both
   * compiled the same job), so that they share one state.
   */
  private admit(jobId: string, e: JobEntry): JobEntry {
    const kept = this.jobs.get(jobId);
    if (kept) return kept;
    if (this.jobs.size >= MAX_JOB_STATES) {
      const oldest = [...this.jobs.entries()].sort((a, b) => a[1].usedAtMs - b[1].usedAtMs)[0]!;
      this.jobs.delete(oldest[0]);
    }
    this.jobs.set(jobId, e);
    return e;
  }
}

/** The product's published rules for a registry kind: kind and mode allowed, and a known privacy unit. */
function checkRules(product: string, rules: ProductRules, job: CompiledKindJob, publicRows: boolean): void {
  const kind = catalogKind(job.kind);
  if (rules.allowedJobKinds && !rules.allowedJobKinds.includes(kind)) {
    throw new FedmeshError('POLICY_DENIED', `kind: product ${product} is not open to ${job.kind} jobs at this agent (its manifest allows: ${rules.allowedJobKinds.join(', ') || 'none'})`, { field: 'kind' });
  }
  if (rules.allowedPrivacyModes && !(rules.allowedPrivacyModes as readonly string[]).includes(job.privacy.mode)) {
    throw new FedmeshError('POLICY_DENIED', `privacy.mode: product ${product} does not allow mode ${job.privacy.mode} at this agent`, { field: 'privacy.mode' });
  }
  // Public reference data (the catalog's sensitivity `public`) in mode none, for a kind whose cells may be rows.
  if (!rules.privacyUnit && publicRows && job.privacy.mode === 'none' && rules.sensitivity === 'public') return;
  if (!rules.privacyUnit) throw new FedmeshError('FAILED_PRECONDITION', `product ${product} has no known privacy unit, so no per-person contribution bound or cell size can be enforced; ${declareUnitHint(product)}`, { field: 'product' });
}

/**
 * A step's report as it may leave (StatVector.report): at most 16 entries, each a boolean, null, a safe integer or a
 * short identifier — the shapes of the public facts a kind states (a bound it applied, a mode). What a kind puts
 * there is its contract (jobs/README.md); this keeps the channel narrow whatever a kind does.
 * @throws FedmeshError INTERNAL for anything else (a kind's bug; nothing is sent)
 */
export function publicReport(report: NonNullable<StatVector['report']>): NonNullable<StatVector['report']> {
  const entries = Object.entries(report);
  const ok = entries.length <= 16 && entries.every(([k, v]) => /^[A-Za-z][A-Za-z0-9]{0,39}$/.test(k) && (v === null || typeof v === 'boolean' || Number.isSafeInteger(v) || (typeof v === 'string' && /^[A-Za-z0-9_.-]{0,40}$/.test(v))));
  if (!ok) throw new FedmeshError('INTERNAL', 'this agent\'s step reported other than public facts; nothing was sent');
  return report;
}
