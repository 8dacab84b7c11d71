import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FEDMESH_VERSION, type AgentRegistration, type AgentTask, type AgentTaskReply, type IngestStatus } from '../common/agent-protocol.js';
import { ReadWriteLock } from './data-lock.js';
import { CoalescedRun } from './coalesced-run.js';
import { publicIngestStatus } from './data/ingest-status.js';
import type { TlsMaterial } from '../common/tls.js';
import { openAgentDatabase, type AgentDatabase } from './data/database.js';
import { ingestDataFolder, type FolderIngestReport } from './data/ingest-folder.js';
import { listProducts, type ProductInfo } from './data/products.js';
import { AgentMetrics } from './metrics.js';
import { publishCatalog } from './data/catalog/publish.js';
import { withStagedProduct } from './jobs/aggregate-source.js';
import { withStagedRead } from './jobs/staged-read.js';
import { AgentLedger } from './ledger.js';
import { TaskCancellation } from './task-cancellation.js';
import { createServerRng } from '../common/crypto-rng.js';
import type { Rng } from '../algorithms/rng.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { compileAgentPolicy, type AgentPolicyOptions, type CompiledAgentPolicy } from './policy.js';
import { AgentLink } from './transport/link.js';
import type { IdentityKeyPair } from '../common/crypto/index.js';
import { createAttestation, type IdentityAttestation } from '../common/secure/index.js';
import { loadOrCreateIdentityKey } from './secure/identity-store.js';
import { SecureTaskRunner } from './secure/secure-tasks.js';
import { ReleasedCells } from './disclosure/released-cells.js';
import { FedmeshError } from '../common/errors.js';
import type { ProductRules } from '../common/job/index.js';
import { populationOf } from '../common/job/index.js';
import { ReleasedAnswers } from './disclosure/released-answers.js';
import { DurableJobStates, JOB_STATE_DIR } from './tasks/durable-job-state.js';
import { ReleasedConcepts } from './disclosure/released-concepts.js';
import { KindTaskRunner } from './tasks/kind-task-runner.js';
import { runAgentTask, type AgentTaskDeps } from './tasks/serve-task.js';
import { KINDS } from '../jobs/kinds.js';
import { AGENT_KINDS } from '../jobs/agent-kinds.js';
import type { AgentHealth } from './agent-health.js';
import { AgentAudit } from './audit/index.js';
import { CoordinatorKeyPin, guardLinkTasks, inProcessTaskIdentity } from './identity/index.js';
import type { IdentityAssertionClaims } from '../common/identity/index.js';
import { taskLinkage } from './linkage/linkage-scope.js';
import { ConsentScopes, createAgentGate, kindGateJob, taskPurpose, type AgentGate, type PolicyDecisionEvent } from './policy/index.js';
import { loadAccessPolicy, type AccessPolicy } from '../common/policy/index.js';
import { TaskSlots } from './tasks/task-slots.js';
import { openPostgresSource, sourceProducts, type PostgresSource, type PostgresSourceOptions } from './data/source/index.js';

/**
 * Products of more rows than this stream glm, Cox and train rows every round by default (`AgentOptions.streamRows`):
 * kept, such a job's rows cost roughly rows × columns × 8 bytes for the whole job (2 M rows of 20 columns: 320 MB
 * per job, and up to 16 jobs are kept at once), where streamed rounds hold one chunk. Below it, keeping them is
 * 5× faster per train round (`npm run bench -- postgres`: trainRoundDuckdbStreamedOverKept).
 */
export const DEFAULT_STREAM_ROWS_ABOVE = 2_000_000;

/** `AgentOptions.streamRows`, checked: a boolean or `{ aboveRows }` with a non-negative safe integer. */
export function checkStreamRows(v: AgentOptions['streamRows']): boolean | { aboveRows: number } {
  if (v === undefined) return { aboveRows: DEFAULT_STREAM_ROWS_ABOVE };
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.aboveRows) || v.aboveRows < 0) {
    throw new RangeError(`streamRows: must be true, false or { aboveRows: a non-negative integer }, got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return { aboveRows: v.aboveRows };
}

export interface AgentOptions {
  /** The agent's name; under mTLS it must match its certificate. */
  name: string;
  /** The domain (hospital, department) it serves. @default name */
  domain?: string;
  dataDir: string;
  stateDir: string;
  /** HOST:PORT of the coordinator. */
  coordinator: string;
  /** Omit only with `insecure`: loopback development without TLS. */
  tls?: TlsMaterial;
  insecure?: boolean;
  policy?: AgentPolicyOptions;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** Also export Node process metrics (CPU, heap, event loop) with the task metrics. @default true */
  processMetrics?: boolean;
  /**
   * Re-read the data folder this often (changed files only) and re-register a changed catalogue; `reload()` does
   * the same on demand (the CLI calls it on SIGHUP). @default undefined (no periodic reload)
   */
  reloadIntervalMs?: number;
  /** The largest data file read. @default MAX_DATA_FILE_BYTES (64 GiB) */
  maxDataFileBytes?: number;
  /**
   * The operator declares that the public `concept` table does not depend on this site's data (a full standard
   * vocabulary, not one trimmed to the concepts used here). Published in the catalogue (`metadata.vocabulary:
   * "complete"` of product concept); only then are names sent for ids the researcher supplied, otherwise only for
   * data-derived keys this agent released in the job. @default false
   */
  vocabularyComplete?: boolean;
  /**
   * Data in the agent's DuckDB: glm, survival-cox and train read their rows every round (as on a PostgreSQL source)
   * instead of keeping them in memory for the job's next rounds — memory of one chunk of rows, at the price of one
   * design build (and for train one sorted pass per local epoch) per round. `true`: every job; `{ aboveRows }`: jobs
   * over a product of more rows than that; `false`: none. @default { aboveRows: DEFAULT_STREAM_ROWS_ABOVE }
   */
  streamRows?: boolean | { aboveRows: number };
  /**
   * Tasks computed at once; more wait in order, up to DEFAULT_MAX_QUEUED_TASKS, and beyond that are refused at once
   * with RESOURCE_EXHAUSTED ("agent busy"). @default max(4, 2 × cores), at most 32 (node-agent/tasks/task-slots.ts)
   */
  maxConcurrentTasks?: number;
  /** TESTS ONLY: a seeded Rng for the DP noise (see `createServerRng`); the CLI never sets it. @default the CSPRNG */
  testOnlyRng?: Rng;
  /** The coordinator's identity-assertion key (32 raw bytes, @default pinned at first registration); a Cedar access
   * policy (and schema) checked before every job on top of `policy` (@default none: today's rules only). */
  coordinatorKey?: Uint8Array;
  accessPolicy?: { file: string; schemaFile?: string; onDecision?: (e: PolicyDecisionEvent) => void };
  /** Serve the OMOP CDM of a site's PostgreSQL (read-only, queried in place) instead of the data folder's tables. @default undefined */
  database?: Omit<PostgresSourceOptions, 'log'>;
}

export type { AgentHealth } from './agent-health.js';

/** How long stop() waits for cancelled tasks to end before it closes the databases anyway. */
const STOP_TASKS_WAIT_MS = 10_000;

export class Agent {
  private products: ProductInfo[] = [];
  private link: AgentLink | undefined;
  readonly policy: CompiledAgentPolicy;
  lastIngest: FolderIngestReport | undefined;
  private ledger: AgentLedger | undefined;
  /** Person sets of the cells released in mode none, per researcher: the differencing guard. */
  private releasedCells: ReleasedCells | undefined;
  /** The answer released per DP or secure job id and round: a replayed task gets the same answer, not fresh noise. */
  private releasedAnswers: ReleasedAnswers | undefined;
  /** Concept ids this agent released as data-derived keys, per job id: what a non-complete vocabulary may name. */
  private readonly releasedConcepts = new ReleasedConcepts();
  private ledgerConn: DuckDBConnection | undefined;
  /** The site's PostgreSQL when the data lives there (consent-scoped per task); undefined: the agent's DuckDB. */
  private data: PostgresSource | undefined;
  private readonly rng: Rng;
  private readonly identity: IdentityKeyPair;
  private identityAttestation: IdentityAttestation | undefined;
  private readonly secure: SecureTaskRunner;
  /** Tasks of registry kinds (jobs/<kind>), run by one kind-agnostic middleware chain. */
  private readonly kindTasks: KindTaskRunner;
  /** What a task needs of this agent (node-agent/tasks/serve-task.ts runs every task). */
  private readonly tasks: AgentTaskDeps;
  /** The coordinator key link tasks' identity assertions are verified with; the access-policy gate run before the ledger. */
  private readonly coordinatorKey: CoordinatorKeyPin;
  private readonly gate: AgentGate;
  /** Running tasks, interrupted at their deadline or on CancelTask. */
  readonly cancellation = new TaskCancellation();
  /** Tasks being served: stop() cancels them and waits for them before it closes the databases under them. */
  private readonly inFlight = new Set<Promise<AgentTaskReply>>();
  private stopping = false;
  /** How many tasks compute at once and may wait (task-slots.ts). */
  private readonly taskSlots: TaskSlots;
  private readonly descriptions = new Map<string, { description: string; privacyUnit: string | undefined; metadata: Record<string, unknown> }>();
  /** The published rules of each product (manifest over defaults), enforced on every task. */
  private readonly rules = new Map<string, ProductRules>();
  /** Prometheus metrics (tasks, latency, ingest and link state); served by `startMetricsServer`. */
  readonly metrics: AgentMetrics;
  private readonly healthListeners: ((h: AgentHealth) => void)[] = [];
  /** Tasks read under it, a reload writes under it: a task sees the data before or after a reload, never a mix. */
  private readonly dataLock = new ReadWriteLock();
  /** The published state of the last ingest (bounded, coarsened). */
  private ingestStatus: IngestStatus | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly reloads = new CoalescedRun(() => this.reloadOnce(), false);
  /** Quality metrics per product with the privacy unit they were counted by, reused while its data is unchanged. */
  private readonly qualityCache = new Map<string, { unit: string | undefined; quality: unknown }>();

  private constructor(
    private readonly options: AgentOptions,
    private readonly db: AgentDatabase,
    private readonly log: (event: string, fields?: Record<string, unknown>) => void,
    /** This domain's tamper-evident audit trail; `audit.append(type, fields)` is the hook for other subsystems. */
    readonly audit: AgentAudit,
    accessPolicy: AccessPolicy | undefined,
    /** Patient consent for the task's purpose, applied to every connection a task opens (`db` is wrapped by it). */
    private readonly consent: ConsentScopes,
  ) {
    this.policy = compileAgentPolicy(options.policy);
    this.taskSlots = new TaskSlots(options.maxConcurrentTasks);
    this.rng = createServerRng(options.testOnlyRng);
    this.metrics = new AgentMetrics(() => ({ ingestOk: this.failedIngests() === 0, connected: this.link?.isRegistered() === true, products: this.products.length }), { processMetrics: options.processMetrics !== false });
    this.identity = loadOrCreateIdentityKey(options.stateDir);
    this.coordinatorKey = new CoordinatorKeyPin(options.stateDir, options.coordinatorKey, log);
    this.gate = createAgentGate({ policy: accessPolicy, agent: options.name, domain: options.domain ?? options.name, minCellSize: this.policy.minCellSize, log, onDecision: options.accessPolicy?.onDecision, product: (n) => (this.rules.has(n) ? { tags: (this.descriptions.get(n)?.metadata.tags as string[] | undefined) ?? [], sensitivity: this.rules.get(n)!.sensitivity } : undefined) });
    this.secure = new SecureTaskRunner({
      name: options.name,
      tls: options.tls,
      identity: this.identity,
      products: () => this.products,
      withConnection: (fn) => this.db.withConnection(fn),
      charge: (jobId, researcher, cost) => this.privacyLedger.charge(jobId, researcher, cost),
      salt: () => this.privacyLedger.salt,
      rng: this.rng,
      log,
      policy: { secureMaxRows: this.policy.secureMaxRows, minCellSize: this.policy.minCellSize },
      guard: { cells: () => this.releasedCells!, maxRememberedPersons: this.policy.maxRememberedPersons },
    });
    this.kindTasks = new KindTaskRunner({ kinds: KINDS, agentKinds: AGENT_KINDS, policy: this.policy, products: () => this.products, rules: (p) => this.rules.get(p), rng: this.rng, withConnection: (fn) => this.db.withConnection(fn), salt: () => this.privacyLedger.salt,
      charge: (j, r, c) => this.privacyLedger.charge(j, r, c), bind: (j, h) => this.releasedAnswers!.bind(j, h), once: (j, r, f) => this.releasedAnswers!.once(j, r, f),
      secure: { name: options.name, tls: options.tls, identity: this.identity }, withProduct: (conn, p, fn, signal, read) => (this.data ? this.data.withSession((s) => (read ? withStagedRead(s, conn, p, read, fn) : withStagedProduct(s, conn, p, () => fn({}))), { signal }) : fn({})),
      withSource: { active: () => this.data !== undefined, run: (fn, signal) => this.data!.withSession((s) => fn(s), { signal }) },
      streamRows: checkStreamRows(options.streamRows),
      durableState: new DurableJobStates({ dir: join(options.stateDir, JOB_STATE_DIR) }),
      authorize: (j, t, identity) => this.gate.enforce({ identity, researcher: t.researcher, ...kindGateJob(j, identity) }),
      guardReleasedSets: async (conn, g) => void (await this.releasedCells!.checkAndRecord(conn, { ...g, minCellSize: this.policy.minCellSize, maxRememberedPersons: this.policy.maxRememberedPersons })) });
    this.tasks = { name: options.name, policy: this.policy, vocabularyComplete: options.vocabularyComplete === true, rng: this.rng, log, metrics: this.metrics, cancellation: this.cancellation, gate: this.gate, kindTasks: this.kindTasks,
      secure: this.secure, releasedConcepts: this.releasedConcepts, withConnection: (fn) => this.db.withConnection(fn), products: () => this.products, rules: this.rules, descriptions: this.descriptions,
      data: () => this.data, ledger: () => this.privacyLedger, releasedAnswers: () => this.releasedAnswers!, releasedCells: () => this.releasedCells! };
  }

  /** The identity key signed with this agent's mTLS key, for peers to verify and pin (none without TLS). */
  private attestation(): IdentityAttestation | undefined {
    const tls = this.options.tls;
    if (!tls) return undefined;
    this.identityAttestation ??= createAttestation(this.options.name, this.identity.publicKey, tls);
    return this.identityAttestation;
  }

  /** This domain's own privacy ledger (cap per researcher). */
  get privacyLedger(): AgentLedger {
    if (!this.ledger) throw new Error('agent not initialised');
    return this.ledger;
  }

  /** Opens the agent's DuckDB, ingests its data folder and returns a ready (not yet connected) agent. */
  static async create(options: AgentOptions): Promise<Agent> {
    if (!options.tls && !options.insecure) throw new RangeError('options.tls is required unless options.insecure is set');
    if (options.reloadIntervalMs !== undefined && (!Number.isInteger(options.reloadIntervalMs) || options.reloadIntervalMs < 100)) {
      throw new RangeError(`options.reloadIntervalMs must be an integer of at least 100 (ms), got ${String(options.reloadIntervalMs)}`);
    }
    if (!existsSync(options.dataDir) || !statSync(options.dataDir).isDirectory()) {
      throw new RangeError(`options.dataDir: ${options.dataDir} is not a folder`);
    }
    const audit = AgentAudit.open(options.stateDir, options.name, options.log);
    // A bad policy stops the agent before it opens its data (AccessPolicyError names the file and line).
    const accessPolicy = options.accessPolicy ? await loadAccessPolicy(options.accessPolicy.file, options.accessPolicy.schemaFile).catch((e: unknown) => (audit.close(), Promise.reject(e))) : undefined;
    const consent = new ConsentScopes(options.dataDir, audit.tapLog(options.log));
    const db = consent.wrap(await openAgentDatabase(options.stateDir).catch((e: unknown) => (audit.close(), Promise.reject(e))));
    const agent = new Agent(options, db, audit.tapLog(options.log), audit, accessPolicy, consent);
    try {
      agent.ledgerConn = await db.instance.connect();
      agent.ledger = await AgentLedger.open(agent.ledgerConn, agent.policy.budgetCap, audit.charged);
      agent.releasedCells = await ReleasedCells.open(agent.ledgerConn);
      agent.releasedAnswers = await ReleasedAnswers.open(agent.ledgerConn);
      if (options.database) agent.data = consent.wrapSource(await openPostgresSource({ ...options.database, log: agent.log }));
      await agent.refresh();
    } catch (e) {
      await agent.data?.close();
      agent.ledgerConn?.closeSync();
      db.close();
      audit.close();
      throw e;
    }
    return agent;
  }

  /**
   * Re-ingests the data folder (files that changed only) and refreshes the product list, under the write lock: the
   * tables, the product list and the published descriptions change together, between tasks.
   */
  async refresh(): Promise<FolderIngestReport> {
    const { report, manifestIssues } = await this.dataLock.write(() =>
      this.db.withConnection(async (conn) => {
        const r = await ingestDataFolder(conn, this.options.dataDir, this.options.maxDataFileBytes !== undefined ? { maxFileBytes: this.options.maxDataFileBytes } : {});
        this.products = this.data ? sourceProducts(this.data.catalogue, (s, t) => `OMOP table ${s}.${t} on the site's PostgreSQL`) : await listProducts(conn);
        const issues = await this.describe(conn, r);
        await this.consent.reload(conn, () => this.products.map((p) => ({ name: p.name, privacyUnit: this.rules.get(p.name)?.privacyUnit, population: populationOf({ metadata: this.descriptions.get(p.name)?.metadata ?? {} }), linkage: p.linkage })));
        for (const [name, counts] of await this.consent.personsByPurpose(conn, this.policy.minCellSize)) if (this.descriptions.has(name)) this.descriptions.get(name)!.metadata.personsByPurpose = counts;
        return { report: r, manifestIssues: issues };
      }),
    );
    for (const f of report.formats) {
      if (f.action === 'failed') this.log('ingest-failed', { format: f.kind, error: f.error });
      else if (f.action === 'loaded') this.log('ingested', { format: f.kind, products: f.products, warnings: f.warnings });
    }
    for (const f of report.files) {
      if (f.action === 'failed') this.log('ingest-failed', { file: f.file, error: f.error });
      else if (f.action === 'loaded') this.log('ingested', { product: f.product, file: f.file });
    }
    // The domain's own log has the exact wording; the registration carries the coarsened form.
    for (const w of report.warnings) this.log('ingest-warning', { file: w.file, ...(w.product ? { product: w.product } : {}), message: w.message });
    this.ingestStatus = publicIngestStatus({ report, dataDir: this.options.dataDir, manifestIssues, minCellSize: this.policy.minCellSize, atMs: Date.now() });
    this.lastIngest = report;
    this.healthChanged();
    return report;
  }

  /**
   * Re-reads the data folder (changed files only; deleted files stop being served) and, when the catalogue or the
   * ingest status changed, registers it again on the live link. A call during a reload runs one more reload after
   * it (a file changed meanwhile is not missed); calls queued meanwhile share that one.
   * @returns whether the published catalogue changed
   */
  reload(): Promise<boolean> {
    return this.reloads.run();
  }

  private async reloadOnce(): Promise<boolean> {
    const before = this.catalogueKey();
    await this.refresh();
    const changed = this.catalogueKey() !== before;
    this.log('reloaded', { changed, products: this.products.length, ingest: this.ingestStatus?.state });
    // Sent before the reload reports (a registration update may wait up to 100 ms for its turn on the link).
    if (changed) await this.link?.updateRegistration();
    return changed;
  }

  /** What the coordinator knows of this agent's data, without the time of the ingest. */
  private catalogueKey(): string {
    const { products, ingest } = this.registration();
    return JSON.stringify({ products, ingest: ingest ? { ...ingest, atMs: 0 } : undefined });
  }

  /** The catalogue entries this agent publishes (node-agent/data/catalog/publish.ts). */
  private describe(conn: DuckDBConnection, ingest: FolderIngestReport): Promise<{ message: string }[]> {
    const state = { products: this.products, descriptions: this.descriptions, rules: this.rules, qualityCache: this.qualityCache };
    return publishCatalog(conn, ingest, state, {
      dataDir: this.options.dataDir, defaultOwner: this.options.domain ?? this.options.name, site: this.options.name,
      minCellSize: this.policy.minCellSize, vocabularyComplete: this.options.vocabularyComplete === true, log: this.log,
      ...(this.data ? { qualityUnavailable: 'data on PostgreSQL' } : {}),
    });
  }

  listProducts(): readonly ProductInfo[] {
    return this.products;
  }

  registration(): AgentRegistration {
    return {
      name: this.options.name,
      domain: this.options.domain ?? this.options.name,
      version: FEDMESH_VERSION,
      policy: { minCellSize: this.policy.minCellSize, allowModes: [...this.policy.allowModes], allowKinds: [...this.policy.allowKinds], secureMaxRows: this.policy.secureMaxRows },
      ...(this.attestation() ? { identity: this.attestation()! } : {}),
      ...(this.ingestStatus ? { ingest: this.ingestStatus } : {}),
      products: this.products.map((p) => {
        const d = this.descriptions.get(p.name);
        return { name: p.name, columns: p.columns, privacyUnit: d?.privacyUnit ?? p.privacyUnit ?? '', description: d?.description ?? p.description, metadata: d?.metadata ?? {} };
      }),
    };
  }

  /** Files or formats that failed in the last ingest. */
  private failedIngests(): number {
    const r = this.lastIngest;
    if (!r) return 1;
    return r.files.filter((f) => f.action === 'failed').length + r.formats.filter((f) => f.action === 'failed').length;
  }

  /** SERVING needs a clean last ingest (a half-loaded domain would answer with part of its data) and a live link. */
  health(): AgentHealth {
    const reasons: string[] = [];
    const failed = this.failedIngests();
    if (failed > 0) reasons.push(this.lastIngest ? `ingest failed for ${failed} file(s) or format(s)` : 'not ingested yet');
    if (this.link?.isRegistered() !== true) reasons.push('not registered with the coordinator');
    return { serving: reasons.length === 0, reasons };
  }

  /** Told whenever the health may have changed (after an ingest, on registration, when the link breaks). */
  onHealthChange(fn: (h: AgentHealth) => void): void {
    this.healthListeners.push(fn);
    fn(this.health());
  }

  private healthChanged(): void {
    const h = this.health();
    for (const l of this.healthListeners) l(h);
  }

  /**
   * Runs one task under this domain's policy, on one version of the data (a reload waits for it, or it for the
   * reload). Never throws: failures become typed replies.
   */
  handleTask(task: AgentTask): Promise<AgentTaskReply> {
    const id = inProcessTaskIdentity(task, this.coordinatorKey, this.options.name, this.gate.decides, this.log);
    return id.ok ? this.serveTask(task, id.identity) : Promise.resolve(id.reply);
  }

  /**
   * The one entry for a task whose identity was checked (link guard or {@link handleTask}), with consent scoped to its
   * purpose. Every task from the coordinator passes here, so tests that stand in for a slow or hostile agent replace it.
   */
  serveTask(task: AgentTask, identity?: IdentityAssertionClaims): Promise<AgentTaskReply> {
    // A stopping agent takes no new task: its databases are about to close (red team 28).
    if (this.stopping) return Promise.resolve({ ok: false, taskId: task.taskId, error: { code: 'AGENT_UNAVAILABLE', message: 'agent is stopping', field: '' } });
    // Bounded: at most maxConcurrentTasks compute at once, a bounded queue waits, the rest are refused as busy.
    const stopped = (): AgentTaskReply => ({ ok: false, taskId: task.taskId, error: { code: 'AGENT_UNAVAILABLE', message: 'agent is stopping', field: '' } });
    const p = this.taskSlots.run(task, () => (this.stopping ? Promise.resolve(stopped()) : this.dataLock.read(() => this.consent.run(taskPurpose(task.specJson), () => runAgentTask(task, identity, this.tasks), taskLinkage(task.specJson)))));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Dials the coordinator and keeps the link up until `stop()`. */
  start(): AgentLink {
    if (this.link) return this.link;
    this.link = new AgentLink({
      coordinator: this.options.coordinator,
      tls: this.options.tls,
      registration: () => this.registration(),
      // Tasks from the network: the coordinator's signed identity assertion is verified before anything else.
      onTask: guardLinkTasks(this.coordinatorKey, this.options.name, this.log, (t, identity) => this.serveTask(t, identity)),
      onCoordinatorKey: (key) => this.coordinatorKey.published(key),
      // A waiting task is dropped from the queue; a running one is interrupted.
      onCancel: (taskId) => this.taskSlots.cancel(taskId) || this.cancellation.cancel(taskId),
      log: this.log,
    });
    this.link.onRegistered(() => this.healthChanged());
    this.link.onBroken(() => this.healthChanged());
    this.link.start();
    if (this.options.reloadIntervalMs !== undefined) {
      this.reloadTimer = setInterval(() => {
        if (this.reloads.busy) return;
        this.reload().catch((e: unknown) => this.log('reload-failed', { error: e instanceof Error ? e.name : typeof e }));
      }, this.options.reloadIntervalMs);
      this.reloadTimer.unref();
    }
    return this.link;
  }

  /**
   * Drops this agent's differencing memory of one researcher (`ReleasedCells.forget`): a deliberate act of the domain,
   * e.g. after a data refresh, never done on the agent's own initiative (forgetting reopens differencing).
   */
  async forgetReleasedCells(researcher: string): Promise<void> {
    if (!this.releasedCells || !this.ledgerConn) throw new FedmeshError('FAILED_PRECONDITION', 'the agent is not started');
    const dropped = await this.releasedCells.forget(this.ledgerConn, researcher);
    this.audit.append('guard.forgotten', { researcher, cells: dropped.cells, persons: dropped.persons, jobs: dropped.jobs });
  }

  async stop(): Promise<void> {
    // New tasks are refused from here on (serveTask): the databases are about to close.
    this.stopping = true;
    clearInterval(this.reloadTimer);
    this.reloadTimer = undefined;
    await this.reloads.settled();
    this.link?.stop();
    this.link = undefined;
    this.healthChanged();
    // Running tasks are cancelled (their queries interrupted, their TF.js work aborted) and awaited before the
    // databases close: DuckDB closed under a running query crashed the process natively (found by the train
    // dropout test), and a SIGTERM during a task must still end with the audit trail closed. Bounded: a task that
    // does not end within STOP_TASKS_WAIT_MS is left to the process exit.
    // A task still waiting for the data lock registers its cancellation only later, so cancelling repeats until every
    // task has ended (red team 28).
    const until = Date.now() + STOP_TASKS_WAIT_MS;
    while (this.inFlight.size > 0 && Date.now() < until) {
      this.cancellation.cancelAll();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise<void>((r) => (timer = setTimeout(r, Math.min(100, Math.max(1, until - Date.now())))))]);
      clearTimeout(timer);
    }
    await this.secure.stop();
    await this.kindTasks.stop();
    this.ledgerConn?.closeSync();
    this.ledgerConn = undefined;
    this.db.close();
    await this.data?.close();
    this.audit.close();
  }
}
