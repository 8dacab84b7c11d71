import type { AgentRegistration, AgentTaskReply } from '../common/agent-protocol.js';
import { FedmeshError, isFedmeshError, quote } from '../common/errors.js';
import type { JobSpec, EpsilonDeltaBudget } from '../common/job/index.js';
import type { AgentTask } from '../common/agent-protocol.js';
import { AgentRegistry, type AgentListing } from './agent-registry.js';
import { AgentMembers } from './agent-members.js';
import { checkKindMeshPolicy } from './admission/mesh-policy.js';
import { JobIdentities, loadOrCreateSigningKey } from './identity/index.js';
import { Dispatcher } from './dispatcher.js';
import { JOB_STORE_FILE, JobStore } from './job-store.js';
import { JobWatchers, type JobListener } from './job-watchers.js';
import { type JobEventRecord, type JobRecord } from './job-record.js';
import { Ledger, type BudgetEntry, type ProjectBudgetEntry } from './ledger.js';
import { createServerRng } from '../common/crypto-rng.js';
import type { Rng } from '../algorithms/rng.js';
import { canSeeJobOf, type Principal } from './principal.js';
import type { JobSummary } from './job-summary.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, restrictFiles } from '../common/private-state.js';
import { headPath, readHead } from './state/state-head.js';
import { stateRefused } from './state/state-error.js';
import { CoordinatorMetrics } from './metrics.js';
import { catalogPopulations, populationOfProduct, withCatalog, type BudgetTarget } from './budget-populations.js';
import { KindJobs } from './rounds/kind-jobs.js';
import { OldKindJobs } from './old-kind-jobs.js';
import { KINDS } from '../jobs/kinds.js';

export type { BudgetTarget } from './budget-populations.js';

import { compileCoordinatorOptions, type CoordinatorOptions, type CompiledCoordinatorOptions } from './options.js';
import { CoordinatorAudit } from './audit/index.js';

export { compileCoordinatorOptions, type CoordinatorOptions, type CompiledCoordinatorOptions } from './options.js';


/** Job ids are UUIDs; anything much longer is not one of ours and is not looked up. */
const MAX_JOB_ID_CHARS = 128;

/**
 * The coordinator's domain core, free of gRPC: admits jobs, dispatches tasks, combines, releases and records.
 * Transport code calls into it; it never sees a gRPC status.
 */
export class Coordinator {
  readonly registry: AgentRegistry;
  private readonly dispatcher: Dispatcher;
  private readonly live = new Map<string, JobRecord>();
  /** Submissions being admitted now, by researcher (see submitJob's running-jobs limit). */
  private readonly admitting = new Map<string, number>();
  private readonly watchers: JobWatchers = new JobWatchers((e, job) => this.audit.jobEvent(e, job), (event, fields) => this.log(event, fields));
  private readonly running = new Set<Promise<void>>();
  /** The coordinator's log (the `log` option); transports log refused calls and internal errors here too. */
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** Prometheus metrics (jobs, latency, rounds, ε spent, agents live); served by `startMetricsServer`. */
  readonly metrics: CoordinatorMetrics;
  /** Jobs of the kinds that predate the kind seam (aggregate, cell kinds; plain, SecAgg or HE). */
  private readonly oldKinds: OldKindJobs;
  /** Jobs of registry kinds (jobs/<kind>), run by the generic round runner. */
  private kindJobs!: KindJobs;
  /** Each running job's principal and purpose, signed onto its tasks; its public key is published at registration. */
  readonly identities: JobIdentities;

  private constructor(
    readonly options: CompiledCoordinatorOptions,
    private readonly store: JobStore,
    readonly ledger: Ledger,
    private readonly members: AgentMembers,
    /** The tamper-evident audit trail; `audit.append(type, fields)` is the hook for other subsystems. */
    readonly audit: CoordinatorAudit,
    log: CoordinatorOptions['log'],
    processMetrics: boolean,
    private readonly rng: Rng,
  ) {
    this.log = audit.tapLog(log);
    this.registry = new AgentRegistry({ heartbeatIntervalMs: options.heartbeatIntervalMs, livenessTimeoutMs: options.livenessTimeoutMs });
    this.metrics = new CoordinatorMetrics(() => this.registry.connected().length, { processMetrics });
    this.identities = new JobIdentities(loadOrCreateSigningKey(options.stateDir));
    this.dispatcher = new Dispatcher(this.registry, (task) => this.metrics.taskDispatched(task.jobId, task.round, task.kind), (agent, task) => this.identities.stamp(agent, task));
    this.oldKinds = new OldKindJobs({ options, registry: this.registry, dispatcher: this.dispatcher, store, ledger, identities: this.identities, metrics: this.metrics, rng, log: this.log,
      emit: (e, j) => this.emit(e, j), started: (job, p) => this.track(job, p), finished: (job) => this.forget(job) });
    this.registry.onConnect((name) => {
      this.log('agent-connected', { agent: name });
      this.saveMember(name);
    });
    this.registry.onDisconnect((name) => {
      this.log('agent-disconnected', { agent: name, reason: this.registry.member(name)?.notLiveReason });
      this.saveMember(name);
    });
  }

  /** Membership writes, in order; `close` waits for them. */
  private memberWrites: Promise<void> = Promise.resolve();
  /** Agents whose membership write is queued: at most one each, which writes the member as it is when its turn comes. */
  private readonly membersQueued = new Set<string>();
  private saveMember(name: string): void {
    // Coalesced: an agent that registers again and again (red team 38, F4: 20 000 re-registers queued 20 000 writes,
    // 25 MB of heap and 75 s to close) costs one queued write, not one per message.
    if (this.membersQueued.has(name) || !this.registry.member(name)) return;
    this.membersQueued.add(name);
    this.memberWrites = this.memberWrites
      .then(() => {
        this.membersQueued.delete(name);
        const m = this.registry.member(name);
        return m ? this.members.save(m) : undefined;
      })
      .catch((e: unknown) => this.log('agent-member-write-failed', { agent: name, error: String(e) }));
  }

  /**
   * Opens (or creates) the state folder, verifies it in full and starts the domain core.
   * @throws FedmeshError FAILED_PRECONDITION when the state cannot be opened or fails its integrity check
   */
  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const compiled = compileCoordinatorOptions(options);
    const log = options.log ?? (() => undefined);
    const dir = compiled.stateDir;
    const dbFile = join(dir, JOB_STORE_FILE);
    const headFile = headPath(dir);
    if (ensurePrivateDir(dir)) log('state-mode-tightened', { path: dir, mode: '0700' });
    const head = readHead(headFile);
    // A missing database next to a head file is lost state, not a fresh start.
    if (!existsSync(dbFile) && head.ok) throw stateRefused(dir, [`${dbFile} is missing but the head file is at ledger entry ${head.head.seq}`]);
    let store: JobStore;
    try {
      store = await JobStore.open(dir, { registryKinds: KINDS.kinds() });
    } catch (e) {
      throw stateRefused(dir, [`${dbFile} cannot be opened: ${((e as Error).message.split('\n')[0] ?? '').slice(0, 300)}`]);
    }
    let ledger: Ledger;
    let audit: CoordinatorAudit | undefined;
    try {
      audit = CoordinatorAudit.open(dir, log);
      ledger = await Ledger.open(store, compiled.defaultBudget, { stateDir: dir, headFile, log, onAppended: audit.ledgerAppended, beforeAdmit: audit.admissionGuard });
      await audit.crossCheck(store, options.acceptLedgerLoss === true);
    } catch (e) {
      store.close();
      audit?.close();
      if (isFedmeshError(e) || e instanceof RangeError) throw e;
      throw stateRefused(dir, [`the state database cannot be used: ${((e as Error).message.split('\n')[0] ?? '').slice(0, 300)}`]);
    }
    for (const f of restrictFiles([dbFile, `${dbFile}.wal`, headFile])) log('state-mode-tightened', { path: f, mode: '0600' });
    const interrupted = await store.failInterrupted(Date.now());
    const members = await AgentMembers.open(store);
    const remembered = await members.load();
    const c = new Coordinator(compiled, store, ledger, members, audit, options.log, options.processMetrics !== false, createServerRng(options.testOnlyRng));
    // Agents registered before the restart still count in default quorums until they reconnect or are removed.
    c.registry.restore(remembered, Date.now());
    if (interrupted > 0) c.log('jobs-interrupted', { count: interrupted });
    c.kindJobs = await KindJobs.open({
      kinds: KINDS, registry: c.registry, dispatcher: c.dispatcher, store, ledger, rng: c.rng, metrics: c.metrics, log: c.log, emit: (e, j) => c.emit(e, j),
      maxSitesPerPerson: compiled.maxSitesPerPerson, defaultDelta: compiled.defaultBudget.delta, started: (job, p) => c.track(job, p), finished: (job) => c.forget(job), identify: (id, caller, spec) => c.identities.register(id, caller, spec as unknown as JobSpec),
      ...(options.testOnlyBeforeRound ? { beforeRound: options.testOnlyBeforeRound } : {}),
      checkPolicy: (caller, job, agents) => checkKindMeshPolicy(compiled.accessPolicy, caller, job, agents),
    });
    await c.kindJobs.resumeAll();
    return c;
  }

  // ---- agent link (called by transport) ----

  agentAttached(identity: string, reg: AgentRegistration, send: (t: AgentTask) => boolean | void, close: () => void, cancel?: (taskId: string) => void): number {
    return this.registry.attach(identity, reg, send, close, cancel);
  }
  /** A registration sent again on a live stream (the agent reloaded its data): its catalogue is replaced. */
  agentUpdated(identity: string, session: number, reg: AgentRegistration): boolean {
    const ok = this.registry.update(identity, session, reg);
    if (ok) {
      this.log('agent-updated', { agent: identity, products: reg.products.length, ingest: reg.ingest?.state ?? 'unknown' });
      this.saveMember(identity);
    }
    return ok;
  }
  agentHeartbeat(identity: string, session: number): void {
    this.registry.heartbeat(identity, session);
  }
  agentDetached(identity: string, session: number): void {
    this.registry.detach(identity, session);
  }
  agentReply(identity: string, session: number, reply: AgentTaskReply): void {
    if (!this.registry.isCurrent(identity, session)) return;
    if (!this.dispatcher.deliver(identity, reply)) this.log('stray-reply', { agent: identity, taskId: reply.taskId });
  }

  // ---- researcher API ----

  listAgents(): AgentListing[] {
    return this.registry.list();
  }

  /**
   * Administrators only: removes an agent that left the mesh for good, so default quorums stop waiting for it. A
   * live agent cannot be removed (it would count again at once); revoke its certificate and stop it first.
   * @throws FedmeshError POLICY_DENIED, NOT_FOUND, FAILED_PRECONDITION (live)
   */
  async removeAgent(caller: Principal, name: string): Promise<void> {
    if (!caller.isAdmin) throw new FedmeshError('POLICY_DENIED', 'only an administrator certificate may remove agents');
    const outcome = typeof name === 'string' && name.length > 0 && name.length <= 256 ? this.registry.remove(name) : 'unknown';
    if (outcome === 'unknown') throw new FedmeshError('NOT_FOUND', `agent ${quote(name)} is not a member of this mesh`, { field: 'name' });
    if (outcome === 'live') throw new FedmeshError('FAILED_PRECONDITION', `agent ${name} is live: stop it (and revoke its certificate) before removing it, or it registers again`, { field: 'name' });
    const removed = this.memberWrites.then(() => this.members.remove(name));
    // The chain goes on after a failed removal (the caller hears of it): later membership writes are not skipped.
    this.memberWrites = removed.catch((e: unknown) => this.log('agent-member-write-failed', { agent: name, error: String(e) }));
    await removed;
    this.log('agent-removed', { agent: name, by: caller.name });
  }

  /**
   * Validates and admits a job, stores it, and runs it in the background: registry kinds by coordinator/rounds,
   * the older kinds by coordinator/old-kind-jobs.ts.
   * @throws FedmeshError INVALID_JOB / POLICY_DENIED / RESOURCE_EXHAUSTED (result size) before anything is stored
   */
  async submitJob(caller: Principal | string, specJson: string): Promise<JobRecord> {
    const principal: Principal = typeof caller === 'string' ? { name: caller, isAdmin: false } : caller;
    // Jobs of this researcher running or being admitted now (admission awaits the store: counted before it starts).
    const limit = this.options.maxRunningJobsPerResearcher;
    const admitting = this.admitting.get(principal.name) ?? 0;
    let running = admitting;
    for (const j of this.live.values()) if (j.researcher === principal.name) running++;
    if (running >= limit) {
      // Logged and counted as every refusal is (the kind and mode are not read: the spec is not parsed for it).
      this.log('job-rejected', { researcher: principal.name, kind: 'unparsed', privacyMode: 'unparsed', code: 'RESOURCE_EXHAUSTED', reason: 'running-jobs-limit', running, limit });
      this.metrics.jobRejected('unparsed', 'unparsed');
      throw new FedmeshError('RESOURCE_EXHAUSTED', `${principal.name} has ${running} jobs running, the most one researcher may have at once (coordinator --max-running-jobs ${limit}): wait for one to end`, { field: 'spec' });
    }
    this.admitting.set(principal.name, admitting + 1);
    try {
      const { def, raw } = this.kindJobs.route(specJson);
      return await (def ? this.kindJobs.submit(principal, specJson, def, raw) : this.oldKinds.submit(principal, specJson, raw));
    } finally {
      const left = (this.admitting.get(principal.name) ?? 1) - 1;
      if (left > 0) this.admitting.set(principal.name, left);
      else this.admitting.delete(principal.name);
    }
  }

  /** A job running in the background: live (getJob reads it from memory) until it ends; `close` waits for it. */
  private track(job: JobRecord, p: Promise<void>): void {
    this.live.set(job.id, job);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** A job that ended: watchers get the final event, and it is read from the store from now on. */
  private forget(job: JobRecord): void {
    this.live.delete(job.id);
    this.identities.forget(job.id);
    this.emit({ jobId: job.id, type: 'finished', atMs: job.finishedAtMs ?? Date.now(), message: job.state }, job);
    this.watchers.ended(job.id);
  }

  /** The populations of the connected agents' catalogue, each with its products. */
  private catalogPopulations(): Map<string, string[]> {
    return catalogPopulations(this.registry.connected());
  }

  /** Budgets and spend per population; researchers see their own, administrators everyone's. */
  async budgetReport(caller: string, isAdmin: boolean, researcher?: string): Promise<BudgetEntry[]> {
    if (!isAdmin && researcher && researcher !== caller) throw new FedmeshError('POLICY_DENIED', 'researchers can only see their own budget');
    const catalog = this.catalogPopulations();
    return (await this.ledger.report(isAdmin ? researcher || undefined : caller)).map((e) => withCatalog(e, catalog));
  }

  /**
   * Sets a researcher's budget on a population; `{ product }` names it by one of its products, which the connected
   * agents' catalogue maps to its population (the answer says which: `mappedFrom`).
   * @throws FedmeshError POLICY_DENIED (not an administrator), INVALID_ARGUMENT, FAILED_PRECONDITION when the
   * product is served by no connected agent or sits in several populations
   */
  async setBudget(caller: string, isAdmin: boolean, researcher: string, target: BudgetTarget, budget: EpsilonDeltaBudget): Promise<BudgetEntry & { mappedFrom?: string }> {
    if (!isAdmin) throw new FedmeshError('POLICY_DENIED', 'only an administrator certificate may set budgets');
    const population = 'population' in target ? target.population : populationOfProduct(this.registry.connected(), target.product);
    this.log('budget-set', { by: caller, researcher, population, ...('product' in target ? { product: target.product } : {}), epsilon: budget.epsilon, delta: budget.delta });
    const entry = withCatalog(await this.ledger.setBudget(researcher, population, budget, caller), this.catalogPopulations());
    return 'product' in target ? { ...entry, mappedFrom: target.product } : entry;
  }

  /** Administrators: sets a project's budget on a population (named, or by a product), shared by all its researchers. */
  async setProjectBudget(caller: string, isAdmin: boolean, project: string, target: BudgetTarget, budget: EpsilonDeltaBudget): Promise<ProjectBudgetEntry & { mappedFrom?: string }> {
    if (!isAdmin) throw new FedmeshError('POLICY_DENIED', 'only an administrator certificate may set budgets');
    const population = 'population' in target ? target.population : populationOfProduct(this.registry.connected(), target.product);
    this.log('budget-set', { by: caller, project, population, ...('product' in target ? { product: target.product } : {}), epsilon: budget.epsilon, delta: budget.delta });
    const entry = await this.ledger.setProjectBudget(project, population, budget, caller);
    return 'product' in target ? { ...entry, mappedFrom: target.product } : entry;
  }

  /**
   * One job, if `caller` may see it: researchers see their own, administrators all. Another researcher's job is
   * NOT_FOUND with the very message of an id that does not exist, so ids cannot be probed.
   * @throws FedmeshError NOT_FOUND
   */
  async getJob(caller: Principal, id: string): Promise<JobRecord> {
    const notFound = new FedmeshError('NOT_FOUND', `job ${quote(id)} not found`, { field: 'job_id' });
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_JOB_ID_CHARS) throw notFound;
    const live = this.live.get(id);
    const job = live ? { ...live } : await this.store.get(id);
    if (!job || !canSeeJobOf(caller, job.researcher)) throw notFound;
    return job;
  }

  /** The newest jobs `caller` may see, as summaries (no results, spec summarised). */
  async listJobs(caller: Principal, limit = 50): Promise<JobSummary[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new FedmeshError('INVALID_ARGUMENT', 'limit must be an integer between 1 and 1000', { field: 'limit' });
    return this.store.listSummaries(limit, caller.isAdmin ? undefined : caller.name);
  }

  /**
   * Subscribes to a job's events, if `caller` may see the job (else NOT_FOUND, as getJob). If the job already
   * finished, the final event is delivered at once.
   * @returns an unsubscribe function
   */
  async watchJob(caller: Principal, id: string, listener: JobListener): Promise<() => void> {
    const job = await this.getJob(caller, id);
    return this.watchers.watch(job, listener, () => this.live.has(id), () => this.getJob(caller, id));
  }

  private emit(e: JobEventRecord, job: JobRecord): void {
    this.watchers.emit(e, job);
  }

  /** Waits for running jobs to settle (bounded), then closes the registry and the store. */
  async close(): Promise<void> {
    this.kindJobs.stop();
    this.dispatcher.close();
    await Promise.allSettled([...this.running]);
    await this.oldKinds.close();
    this.registry.close();
    await this.memberWrites;
    await this.ledger.flush().catch((e: unknown) => this.log('ledger-head-write-failed', { error: String(e) }));
    this.store.close();
    this.audit.close();
  }
}
