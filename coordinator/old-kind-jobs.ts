import { randomUUID } from 'node:crypto';
import type { Rng } from '../algorithms/rng.js';
import { FedmeshError, isFedmeshError } from '../common/errors.js';
// The coordinator's only door into HE: adding and screening ciphertexts, never keys or decryption.
import { createHePool, type HePool } from '../common/he/coordinator.js';
import type { JobSpec } from '../common/job/index.js';
import { parseJobSpec } from '../common/job/index.js';
import { checkMeshPolicy } from './admission/mesh-policy.js';
import { checkProjectMembership } from './admission/project-membership.js';
import { applyPublicRules } from './admission/public-rules.js';
import { checkQuorum } from './admission/quorum.js';
import { checkResultSize } from './admission/result-size.js';
import type { AgentRegistry, AgentView } from './agent-registry.js';
import { catalogPopulations, jobPopulations } from './budget-populations.js';
import type { Dispatcher } from './dispatcher.js';
import type { JobIdentities } from './identity/index.js';
import { chargedEpsilon, jobLogFields } from './job-log.js';
import type { JobEventRecord, JobRecord, JobResult, MissingAgent } from './job-record.js';
import type { JobStore } from './job-store.js';
import { withCompleteness } from './jobs/completeness.js';
import { nameReleasedConcepts } from './jobs/concept-lookup.js';
import { oldKindPath } from './jobs/old-kinds.js';
import type { Ledger } from './ledger.js';
import { admitLinkage } from './linkage/admit-linkage.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { CompiledCoordinatorOptions } from './options.js';
import type { Principal } from './principal.js';
import { admitSecure, type SecureAdmission } from './secure/admit-secure.js';
import { runHeJob } from './secure/he-job.js';
import type { SecureRunContext } from './secure/secure-run.js';

export interface OldKindJobsDeps {
  options: CompiledCoordinatorOptions;
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  store: JobStore;
  ledger: Ledger;
  identities: JobIdentities;
  metrics: CoordinatorMetrics;
  rng: Rng;
  log: (event: string, fields?: Record<string, unknown>) => void;
  emit: (e: JobEventRecord, job: JobRecord) => void;
  /** The coordinator keeps the job as live while it runs and forgets it (and tells watchers) when it ends. */
  started: (job: JobRecord, p: Promise<void>) => void;
  finished: (job: JobRecord) => void;
}

/**
 * Jobs of the kinds that predate the kind seam (aggregate and the cell kinds, plain or secure): parse → admit
 * (project, quorum, schema, public rules, linkage, mesh policy, result size, one ledger reservation) → one round
 * of tasks (or the HE protocol; SecAgg runs on the kind seam) → combine → commit. Each kind's own steps sit behind `oldKindPath`
 * (coordinator/jobs/old-kinds.ts); registry kinds go through coordinator/rounds/kind-jobs.ts instead.
 */
export class OldKindJobs {
  /** HE jobs add ciphertexts in worker threads; made on first use. */
  private hePool: HePool | undefined;

  constructor(private readonly deps: OldKindJobsDeps) {}

  /**
   * Validates and admits a job, stores it, and runs it in the background.
   * @throws FedmeshError INVALID_JOB / POLICY_DENIED / RESOURCE_EXHAUSTED (result size) before anything is stored
   */
  async submit(principal: Principal, specJson: string, parsed?: unknown): Promise<JobRecord> {
    let spec: JobSpec | undefined;
    try {
      // `parsed`: the spec as routing parsed it (within the same size limit), so it is not parsed again.
      spec = parseJobSpec(parsed ?? specJson);
      // The mesh-wide sites-per-person assumption is a floor: it travels in the stored spec, which agents plan from.
      if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, this.deps.options.maxSitesPerPerson);
      return await this.admit(principal, spec);
    } catch (e) {
      // The code and field only: a refusal's message may quote what the researcher typed.
      const err = isFedmeshError(e) ? e : undefined;
      this.deps.log('job-rejected', { researcher: principal.name, kind: spec?.kind ?? 'unparsed', privacyMode: spec?.privacy.mode ?? 'unparsed', code: err?.code ?? 'INTERNAL', ...(err?.field ? { field: err.field } : {}), ...(err?.details.policyIds ? { policyIds: err.details.policyIds } : {}) });
      this.deps.metrics.jobRejected(spec?.kind ?? 'unparsed', spec?.privacy.mode ?? 'unparsed');
      throw e;
    }
  }

  /** Frees the HE worker pool; call after the running jobs settled. */
  async close(): Promise<void> {
    await this.hePool?.destroy();
    this.hePool = undefined;
  }

  private async admit(principal: Principal, spec: JobSpec): Promise<JobRecord> {
    const { registry, options, ledger, identities } = this.deps;
    const researcher = principal.name;
    checkProjectMembership(principal, spec.project);
    if (spec.privacy.mode === 'distributed-dp' && !spec.secure) {
      throw new FedmeshError('FAILED_PRECONDITION', 'privacy.mode: distributed-dp needs secure aggregation: add "secure": "secagg" (or "he"), or use central-dp or local-dp', { field: 'privacy.mode' });
    }
    const connected = registry.connected();
    // Members serving the job that are not live: refused under the default quorum (nothing charged), else reported.
    const notLive = checkQuorum(spec, registry.memberList(), connected);
    // Agents whose registered schema cannot serve the job are left out (reported with the reason), not fatal.
    const admitted = oldKindPath(spec).admit(spec, connected);
    // Agents whose published policy or product manifest refuses the job: refused now under the default quorum,
    // else left out and reported — never asked after the charge only to refuse.
    const allowed = applyPublicRules(spec, admitted.agents);
    const agents = allowed.agents;
    // privacy.linkage: every asked site publishes a linkage key; the job's site partition and salt are fixed here.
    admitLinkage(spec, agents);
    checkMeshPolicy(options.accessPolicy, principal, spec, agents);
    const excluded = [...notLive, ...admitted.excluded, ...allowed.excluded];
    // A result too big to store, send or fetch is refused now, before anything is charged or stored.
    checkResultSize(spec, agents.length);
    // Secure jobs (aggregate and cohort-level): public layout, threshold and (distributed-dp) the charge for n − tolerated honest noise shares.
    const secure = spec.secure ? admitSecure(spec, agents) : undefined;
    // Every SecAgg spec the old path would admit runs on the kind seam (KindJobs.route chose it): only HE is left here.
    // (Unreachable by design: admitSecure refuses the secagg specs the seam does not take, naming why; KindJobs.route routes
    // every spec up to the parser's size limit on its content.)
    if (spec.secure === 'secagg') throw new FedmeshError('INTERNAL', 'secure: a secagg spec reached the built-in path, which no longer runs SecAgg (a routing bug: please report it)', { field: 'secure' });
    // Plan the privacy from public information now, so a bad budget or grouping fails before anything is stored.
    const cost = secure ? secure.cost : oldKindPath(spec).cost(spec, agents);
    // Charged to every population the job reads, as each asked agent's catalogue says (deduplicated): a cohort
    // job over person and condition_occurrence touches one population, person.
    const touched = jobPopulations(spec, agents);
    const job: JobRecord = {
      id: randomUUID(),
      kind: spec.kind,
      researcher,
      spec,
      state: 'running',
      createdAtMs: Date.now(),
      finishedAtMs: undefined,
      agentsAsked: agents.map((a) => a.name).sort(),
      agentsAnswered: [],
      agentsMissing: excluded.map((x) => x.agent).sort(),
      result: undefined,
      error: undefined,
    };
    await ledger.admit(job, touched, cost, (population) => catalogPopulations(registry.connected()).get(population) ?? []);
    identities.register(job.id, principal, spec);
    const epsilon = chargedEpsilon(cost, options.defaultBudget.delta);
    this.deps.log('job-admitted', { ...jobLogFields(job.id, researcher, spec, epsilon), agents: agents.length });
    this.deps.metrics.jobAdmitted(job.id, spec.kind, spec.privacy.mode, cost ? { ...cost, epsilon } : undefined);
    this.deps.emit({ jobId: job.id, type: 'admitted', atMs: Date.now(), message: `${agents.length} agents` }, job);
    this.deps.started(job, this.execute(job, spec, agents, secure, excluded, epsilon));
    return { ...job };
  }

  private async execute(job: JobRecord, spec: JobSpec, agents: AgentView[], secure: SecureAdmission | undefined, excluded: readonly MissingAgent[], epsilon: number): Promise<void> {
    const { dispatcher } = this.deps;
    const emit = (e: JobEventRecord): void => this.deps.emit(e, job);
    const deadlineMs = job.createdAtMs + (spec.timeoutMs ?? 30_000);
    const specJson = JSON.stringify(spec);
    emit({ jobId: job.id, type: 'dispatched', atMs: Date.now() });
    try {
      if (secure) {
        const ctx: SecureRunContext = {
          job,
          spec,
          admission: secure,
          dispatcher,
          jobDeadlineMs: deadlineMs,
          emit: (type, agent, message) => emit({ jobId: job.id, type, agent, atMs: Date.now(), ...(message ? { message } : {}) }),
        };
        const out = await runHeJob(ctx, () => (this.hePool ??= createHePool()));
        job.agentsAnswered = out.answered;
        job.agentsMissing = [...out.missing, ...excluded.map((x) => x.agent)].sort();
        job.result = await this.nameConcepts(job, spec, agents, deadlineMs, withCompleteness(out.result, out.answered, out.missing, excluded));
        if (out.resultCiphertexts) job.resultCiphertexts = out.resultCiphertexts;
        job.state = 'succeeded';
        emit({ jobId: job.id, type: 'combined', atMs: Date.now() });
      } else {
        const outcomes = await Promise.all(
          agents.map(async (a) => {
            const o = await dispatcher.dispatch(a.name, { jobId: job.id, kind: spec.kind, specJson, deadlineMs, round: 0, researcher: job.researcher, payload: new Uint8Array() });
            emit({ jobId: job.id, type: o.ok ? 'agent-answered' : 'agent-failed', agent: a.name, atMs: Date.now(), ...(o.ok ? {} : { message: `${o.error.code}: ${o.error.message}` }) });
            return o;
          }),
        );
        const combined = oldKindPath(spec).combine(spec, agents, outcomes, this.deps.rng);
        job.agentsAnswered = combined.answered;
        job.agentsMissing = [...combined.missing, ...excluded.map((x) => x.agent)].sort();
        job.result = await this.nameConcepts(job, spec, agents, deadlineMs, withCompleteness(combined.result, combined.answered, combined.missing, excluded));
        job.state = 'succeeded';
        emit({ jobId: job.id, type: 'combined', atMs: Date.now() });
      }
    } catch (e) {
      const err = isFedmeshError(e) ? e : new FedmeshError('INTERNAL', 'internal error while running the job');
      if (!isFedmeshError(e)) this.deps.log('job-internal-error', { jobId: job.id, error: e instanceof Error ? e.name : typeof e });
      const details = err.details as { answered?: string[]; missing?: string[] };
      job.agentsAnswered = details.answered ?? [];
      job.agentsMissing = [...(details.missing ?? job.agentsAsked), ...excluded.map((x) => x.agent)].sort();
      job.state = 'failed';
      // Agents may already have computed on their data: the reservation stays charged, and the researcher is told.
      const charged = epsilon > 0 ? `; the reserved budget (ε = ${Number(epsilon.toPrecision(4))}) stays charged: agents may already have computed on their data` : '';
      job.error = { code: err.code, message: `${err.message}${charged}`, ...(err.field ? { field: err.field } : {}) };
      // Agents still working on a failed job are told to stop, so no core stays busy for nothing.
      dispatcher.cancelJob(job.id);
    }
    job.finishedAtMs = Date.now();
    try {
      // Work that touched data is never refunded: the reservation is spent whether the job succeeded or not.
      await this.deps.ledger.commit(job.id);
      await this.deps.store.update(job);
    } catch (e) {
      this.deps.log('job-store-error', { jobId: job.id, error: String(e) });
    }
    const outcome = job.state === 'succeeded' ? 'succeeded' : 'failed';
    const ms = job.finishedAtMs - job.createdAtMs;
    this.deps.log(outcome === 'succeeded' ? 'job-succeeded' : 'job-failed', {
      ...jobLogFields(job.id, job.researcher, spec, epsilon),
      ms,
      answered: job.agentsAnswered.length,
      missing: job.agentsMissing.length,
      ...(job.error ? { code: job.error.code } : {}),
    });
    this.deps.metrics.jobFinished(job.id, spec.kind, spec.privacy.mode, outcome, ms / 1000);
    this.deps.finished(job);
  }

  /** Concept names for the released ids of a final result (coordinator/jobs/concept-lookup.ts); never fails the job. */
  private nameConcepts(job: JobRecord, spec: JobSpec, agents: readonly AgentView[], jobDeadlineMs: number, result: JobResult): Promise<JobResult> {
    const answered = agents.filter((a) => job.agentsAnswered.includes(a.name));
    return nameReleasedConcepts({ dispatcher: this.deps.dispatcher, jobId: job.id, researcher: job.researcher, spec, answered, jobDeadlineMs, log: this.deps.log }, result);
  }
}
