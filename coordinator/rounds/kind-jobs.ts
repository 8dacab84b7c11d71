import { asksLinkage, fillKindLinkage } from '../linkage/admit-linkage.js';
import { checkProjectMembership } from '../admission/project-membership.js';
import { randomUUID } from 'node:crypto';
import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import { checkSecureCombination, compileKindJob, KIND_PRIVACY_MODES, heVectorPlan, kindPrivacyModeOf, registryKindCandidates, secAggVectorPlan, secureQuorum, suppressedOfRounds, type AnyKindDef, type CompiledKindJob, type KindRegistry, type KindReleaseInfo } from '../../common/kinds/index.js';
import type { AgentRegistry, AgentView } from '../agent-registry.js';
import type { Dispatcher } from '../dispatcher.js';
import type { JobEventRecord, JobRecord, RegistryJobSpec } from '../job-record.js';
import type { JobStore } from '../job-store.js';
import type { Ledger } from '../ledger.js';
import type { Principal } from '../principal.js';
import type { CoordinatorMetrics } from '../metrics.js';
import { admitKindJob, rowBoundNotes, settleBuiltInRowBound, settleRowBound } from './kind-admission.js';
import { admitBuiltInSpec } from './built-in-admission.js';
import { checkAttested } from '../admission/attested.js';
import { builtInResult } from './built-in-result.js';
import { catalogPopulations } from '../budget-populations.js';
import { MAX_SPEC_JSON_CHARS, type JobSpec } from '../../common/job/index.js';
import type { MissingAgent } from '../job-record.js';
import { kindGuarantee, statedSpend } from './kind-guarantee.js';
import { kindJobLogFields } from '../job-log.js';
import { runRounds, type RoundStateStore, type RoundTransport } from './round-runner.js';
import { openRoundStore } from './round-store.js';

/**
 * The largest spec text routed on its content: the built-in parser's own limit, so a spec padded with whitespace goes
 * where its compact form goes (a smaller limit here sent a padded secagg spec to the built-in path, which refused it
 * for a wrong reason, and a padded plain one where the agents, given the compact spec, did not: red team 50). Larger
 * specs are refused by that parser, naming the size. The kinds' parsers bound every field.
 */
const MAX_SPEC_CHARS = MAX_SPEC_JSON_CHARS;

export interface KindJobsDeps {
  kinds: KindRegistry<AnyKindDef>;
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  store: JobStore;
  ledger: Ledger;
  rng: Rng;
  metrics: CoordinatorMetrics;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** The mesh's sites-per-person assumption: a DP job's privacy.maxSitesPerPerson is raised to it before compiling. */
  maxSitesPerPerson: number;
  defaultDelta: number;
  emit: (e: JobEventRecord, job: JobRecord) => void;
  /** The coordinator keeps the job as live while it runs and forgets it (and tells watchers) when it ends. */
  started: (job: JobRecord, p: Promise<void>) => void;
  finished: (job: JobRecord) => void;
  /** Registers the job's caller, whose signed identity every task of the job carries (resumed jobs: as stored at admission). */
  identify?: (jobId: string, caller: Principal, spec: RegistryJobSpec) => void;
  /** The mesh-wide access policy, pre-checked before the charge. @throws FedmeshError POLICY_DENIED naming the policy */
  checkPolicy?: (caller: Principal, job: CompiledKindJob, agents: readonly AgentView[]) => void;
  /** Test hook: runs before each round is dispatched, with a signal aborted when the coordinator stops. */
  beforeRound?: (jobId: string, round: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Jobs of registry kinds (jobs/<kind>): compile → admit (quorum, public policy, one ledger reservation for the
 * whole job) → the round runner → release → commit. A coordinator that stops mid-job leaves the job running with
 * its completed rounds stored; `resumeAll` on the next start picks it up after the last stored round, without
 * reserving budget again. Built-in kinds keep their own path in coordinator.ts until they are ported.
 */
export class KindJobs {
  private readonly stopping = new AbortController();
  private readonly connectWaiters = new Set<() => void>();
  /** Adds ciphertexts of `he` rounds (no key generation or decryption is reachable from common/he/coordinator). */

  private constructor(
    private readonly deps: KindJobsDeps,
    private readonly rounds: RoundStateStore,
  ) {
    deps.registry.onConnect(() => {
      for (const w of [...this.connectWaiters]) w();
    });
  }

  static async open(deps: KindJobsDeps): Promise<KindJobs> {
    return new KindJobs(deps, await openRoundStore(deps.store));
  }

  /**
   * The registry kind a spec names (undefined for the built-in kinds, and for anything unreadable: their parser
   * reports it), with the spec as parsed for it (undefined when it is too large, not JSON or not an object), which
   * the submission compiles from: a large spec is parsed once, not again (red team 52: up to 4 MiB of JSON blocks the
   * event loop for each parse).
   */
  route(specJson: string): { def?: AnyKindDef; raw?: unknown } {
    if (typeof specJson !== 'string' || specJson.length > MAX_SPEC_CHARS) return {};
    let raw: unknown;
    try {
      raw = JSON.parse(specJson);
    } catch {
      return {};
    }
    // Only an object is passed on: a JSON string (a spec encoded twice) would be parsed again by the built-in parser
    // and run unrouted (red team 53); it is refused there as not an object, as before.
    if (typeof raw !== 'object' || raw === null) return {};
    for (const k of registryKindCandidates(raw)) {
      const def = this.deps.kinds.get(k);
      // A kind ported in steps leaves the specs it does not run yet to the built-in path.
      if (def) return !def.accepts || def.accepts(raw) ? { def, raw } : { raw };
    }
    return { raw };
  }

  /**
   * Compiles and admits a job of a registry kind, reserves its whole cost once, stores it and runs it in the
   * background.
   * @throws FedmeshError INVALID_JOB, QUORUM_NOT_MET, POLICY_DENIED, BUDGET_EXHAUSTED before anything is stored
   */
  async submit(caller: Principal, specJson: string, def: AnyKindDef, parsed?: unknown): Promise<JobRecord> {
    const { deps } = this;
    const researcher = caller.name;
    let job: CompiledKindJob | undefined;
    try {
      // `parsed`: the spec as `route` parsed it (compiled from once; read before compiling, which may keep it).
      const raw: unknown = parsed ?? JSON.parse(specJson);
      const linkage = asksLinkage(raw);
      job = compileKindJob(def, withMeshSites(raw, deps.maxSitesPerPerson));
      checkProjectMembership(caller, (job.spec as { project?: unknown }).project);
      const mode = kindPrivacyModeOf(def, job);
      checkSecureCombination(job);
      // Fails now (nothing charged) when a block cannot be released under the mode.
      mode.roundNoise(job, def.layout(job, 0), { agents: Math.max(1, deps.registry.connected().length) });
      const cost = mode.cost(job);
      const builtIn = def.builtInSpec ? admitBuiltInSpec(job.spec as JobSpec, deps.registry.memberList(), deps.registry.connected()) : undefined;
      const admitted = builtIn ?? admitKindJob(job, deps.registry.memberList(), deps.registry.connected());
      // privacy.linkage: the asked sites' partition and salt go into the spec, which is compiled (and hashed) again.
      if (linkage) job = compileKindJob(def, fillKindLinkage(JSON.parse(specJson), job.product, admitted.agents));
      // Secure sums: the per-agent row bound is the agents' (published; in mode none agreed), never a researcher's probe.
      job = settleBuiltInRowBound(def, settleRowBound(def, job, admitted.agents), admitted.agents);
      if (job.secure !== 'plain') {
        checkAttested(job.secure, admitted.agents);
        checkSecureFromPublicFacts(def, job, admitted.agents.length);
      }
      deps.checkPolicy?.(caller, job, admitted.agents);
      const record: JobRecord = {
        id: randomUUID(),
        kind: job.kind,
        researcher,
        spec: job.spec as RegistryJobSpec,
        state: 'running',
        createdAtMs: Date.now(),
        finishedAtMs: undefined,
        agentsAsked: admitted.agents.map((a) => a.name).sort(),
        agentsAnswered: [],
        agentsMissing: (builtIn?.excluded ?? []).map((x) => x.agent).sort(),
        result: undefined,
        error: undefined,
        // Kept with the job: a resumed job asserts to agents the identity it was admitted under.
        caller: storedCaller(caller),
      };
      // A built-in spec's refusal names every product of the population, as the built-in kinds' refusals do.
      await deps.ledger.admit(record, admitted.touched, cost, builtIn ? (population) => catalogPopulations(deps.registry.connected()).get(population) ?? [] : undefined);
      const epsilon = statedSpend(job, cost, deps.defaultDelta).epsilon;
      deps.log('job-admitted', { ...kindJobLogFields(record.id, researcher, job, epsilon), agents: record.agentsAsked.length, maxRounds: job.maxRounds });
      deps.metrics.jobAdmitted(record.id, job.kind, job.privacy.mode, cost ? { ...cost, epsilon } : undefined);
      deps.emit({ jobId: record.id, type: 'admitted', atMs: Date.now(), message: `${record.agentsAsked.length} agents, at most ${job.maxRounds} rounds` }, record);
      this.start(record, def, job, epsilon, caller, builtIn?.excluded);
      return { ...record };
    } catch (e) {
      const err = isFedmeshError(e) ? e : undefined;
      deps.log('job-rejected', { researcher, kind: def.kind, privacyMode: job?.privacy.mode ?? 'unparsed', code: err?.code ?? 'INTERNAL', ...(err?.field ? { field: err.field } : {}), ...(err?.details.policyIds ? { policyIds: err.details.policyIds } : {}) });
      deps.metrics.jobRejected(def.kind, job?.privacy.mode ?? 'unparsed');
      if (e instanceof SyntaxError) throw new FedmeshError('INVALID_JOB', 'spec: not valid JSON', { field: 'spec' });
      throw e;
    }
  }

  /** Resumes every running registry-kind job after the last round it stored (no new reservation). */
  async resumeAll(): Promise<number> {
    const running = await this.deps.store.runningRegistryJobs();
    for (const record of running) {
      const def = this.deps.kinds.get(record.kind)!;
      let job: CompiledKindJob;
      try {
        // A job of a kind ported in steps that ran on the built-in path cannot resume (those have one round and no store).
        if (def.accepts && !def.accepts(record.spec)) throw new RangeError('the built-in path of this kind does not resume');
        // Agents' policies read the identity the job was admitted under; one not stored (a job admitted by an older
        // version) is not made up: the job fails instead of resuming.
        if (!record.caller || record.caller.name !== record.researcher) throw new RangeError('no stored identity');
        job = compileKindJob(def, withMeshSites(record.spec, this.deps.maxSitesPerPerson));
      } catch (e) {
        // The kind changed under a stored job (an upgrade), or its identity was not kept: it cannot resume as admitted;
        // fail it, charge kept.
        record.state = 'failed';
        record.finishedAtMs = Date.now();
        const why = record.caller?.name !== record.researcher ? 'was stored without the identity it was admitted under (by an older version), so it cannot resume as admitted' : 'no longer compiles under the current version of its kind';
        record.error = { code: 'INTERNAL', message: `the coordinator restarted and this job ${why}; its reserved budget stays charged` };
        this.deps.log('job-resume-failed', { jobId: record.id, kind: record.kind, error: errorClass(e) });
        // The failure is audited as any failed job is (job.failed), with what its admission logged (red team 44).
        this.deps.log('job-failed', { jobId: record.id, researcher: record.researcher, kind: record.kind, privacyMode: privacyModeOfSpec(record.spec), answered: 0, missing: record.agentsAsked.length, code: 'INTERNAL' });
        await this.deps.ledger.commit(record.id);
        await this.deps.store.update(record);
        continue;
      }
      this.deps.log('job-resumed', { jobId: record.id, kind: record.kind });
      this.start(record, def, job, statedSpend(job, kindPrivacyModeOf(def, job).cost(job), this.deps.defaultDelta).epsilon, record.caller);
    }
    return running.length;
  }

  /** Stops running jobs without failing them: they stay `running` in the store and resume on the next start. */
  stop(): void {
    this.stopping.abort(new FedmeshError('CANCELLED', 'coordinator stopping'));
  }

  private start(record: JobRecord, def: AnyKindDef, job: CompiledKindJob, epsilon: number, caller: Principal | undefined, excluded: readonly MissingAgent[] = []): void {
    this.deps.identify?.(record.id, caller ?? { name: record.researcher, isAdmin: false }, record.spec as RegistryJobSpec);
    const p = this.execute(record, def, job, epsilon, excluded).catch((e: unknown) => this.deps.log('job-internal-error', { jobId: record.id, error: errorClass(e) }));
    this.deps.started(record, p);
  }

  private async execute(record: JobRecord, def: AnyKindDef, job: CompiledKindJob, epsilon: number, excluded: readonly MissingAgent[]): Promise<void> {
    const { deps } = this;
    const signal = this.stopping.signal;
    const emit = (type: JobEventRecord['type'], agent?: string, message?: string): void => deps.emit({ jobId: record.id, type, atMs: Date.now(), ...(agent ? { agent } : {}), ...(message ? { message } : {}) }, record);
    // Each asked agent's published minimum cell size, for the release's rules over pooled figures: taken from the
    // agents connected at the start and from every agent when it answers (one that connected late, e.g. after a
    // coordinator restart, was missing from it and counted as 0), the largest seen if an agent re-registers.
    const minCellSize: Record<string, number> = {};
    // The asked agents' registrations as last seen, for the reply check of an agent that disconnected just after
    // answering (red team 45, L1: it failed the job as "registration not known").
    const views = new Map<string, AgentView>();
    const learnMinCellSize = (a: AgentView): void => {
      if (!record.agentsAsked.includes(a.name)) return;
      minCellSize[a.name] = Math.max(minCellSize[a.name] ?? 0, a.policy.minCellSize);
      views.set(a.name, a);
    };
    /** Agents whose account of a round differed from the plan (KindDef.replyMismatch), with the reason. */
    const mismatches = new Map<string, string>();
    const mismatchError = (details: Readonly<Record<string, unknown>>): FedmeshError | undefined => {
      const [agent, why] = mismatches.entries().next().value ?? [];
      return agent === undefined ? undefined : new FedmeshError('FAILED_PRECONDITION', `result not released: agent ${agent} did not compute what the plan assumed (${why})`, { details });
    };
    const transport: RoundTransport = {
      ask: async (agent, t) => {
        const o = await deps.dispatcher.dispatch(agent, { jobId: t.jobId, kind: t.kind, specJson: t.specJson, deadlineMs: t.deadlineMs, round: t.round, researcher: t.researcher, payload: t.payload });
        if (o.ok) {
          deps.metrics.roundReplyReceived(job.kind, job.secure, o.arrow.length + (o.payload?.length ?? 0));
          // An agent whose account of a plain round differs from the plan: its answer is not summed, and the job fails
          // once the round is in (below), naming it — nothing is released, as on the built-in path.
          const view = deps.registry.connected().find((v) => v.name === agent);
          const mismatch = job.secure === 'plain' ? def.replyMismatch?.(job, o.meta, view ?? views.get(agent)) : undefined;
          if (mismatch !== undefined) {
            if (!mismatches.has(agent)) mismatches.set(agent, mismatch);
            emit('agent-failed', agent, `round ${t.round + 1}: FAILED_PRECONDITION: its account differs from the plan`);
            return { ok: false, error: { code: 'FAILED_PRECONDITION', message: `its account differs from the plan (${mismatch})` } };
          }
          if (view) learnMinCellSize(view);
        }
        emit(o.ok ? 'agent-answered' : 'agent-failed', agent, o.ok ? `round ${t.round + 1}` : `round ${t.round + 1}: ${o.error.code}: ${o.error.message}`);
        return o.ok ? { ok: true, bytes: o.arrow } : { ok: false, error: o.error };
      },
      cancelJob: (id) => deps.dispatcher.cancelJob(id),
    };
    emit('dispatched');
    try {
      await this.waitForAgents(record.agentsAsked, job.roundTimeoutMs, signal);
      deps.registry.connected().forEach(learnMinCellSize);
      const releaseInfo = { minCellSize };
      const out = await runRounds({
        def,
        job,
        jobId: record.id,
        researcher: record.researcher,
        specJson: JSON.stringify(job.spec),
        agents: record.agentsAsked,
        transport,
        store: this.rounds,
        rng: deps.rng,
        releaseInfo,
        secure: { attestationOf: (a) => deps.registry.connected().find((v) => v.name === a)?.identity },
        isLive: (a) => deps.registry.connected().some((v) => v.name === a),
        onRound: (rec, missing) => emit('round', undefined, `round ${rec.round + 1} of at most ${job.maxRounds}: ${rec.answered.length} agents answered${missing.length ? `, ${missing.length} missing` : ''}${roundSummaryOf(def, job, rec, releaseInfo)}`),
        beforeRound: async (round) => {
          signal.throwIfAborted();
          await deps.beforeRound?.(record.id, round, signal);
        },
      });
      // (dropout "continue" summed the others: still nothing is released from a job an agent computed otherwise)
      const refused = mismatchError({ answered: out.answered.filter((a) => !mismatches.has(a)), missing: [...new Set([...out.missing, ...mismatches.keys()])].sort() });
      if (refused) throw refused;
      record.agentsAnswered = out.answered;
      record.agentsMissing = [...out.missing, ...excluded.map((x) => x.agent)].sort();
      const r = out.release;
      // A kind that states its own guarantee (a ported built-in kind, with its own mechanisms) is quoted as it is.
      const guarantee = 'guarantee' in (r.privacy ?? {}) ? undefined : kindGuarantee(job, (r.privacy ?? {}) as Record<string, unknown>, record.agentsAsked.length, this.deps.defaultDelta);
      if (def.builtInSpec) {
        const answered = deps.registry.connected().filter((a) => out.answered.includes(a.name));
        record.result = await builtInResult({ dispatcher: deps.dispatcher, jobId: record.id, researcher: record.researcher, spec: job.spec as JobSpec, answered, jobDeadlineMs: record.createdAtMs + job.roundTimeoutMs, log: deps.log }, out, guarantee, excluded);
      } else {
        record.result = {
          columns: r.columns,
          rows: r.rows,
          suppressed: r.suppressed ?? suppressedOfRounds(out.history),
          privacy: guarantee ? { ...r.privacy, guarantee } : r.privacy,
          summary: { ...r.summary, rounds: out.history.length, converged: out.converged },
          notes: [...r.notes, ...rowBoundNotes(def, job)],
          agentErrors: out.agentErrors,
          complete: out.missing.length === 0,
          ...(out.missing.length ? { agentsMissing: out.missing.map((a) => ({ agent: a, reason: out.answered.includes(a) ? 'missed a round and came back (it answered the last one)' : 'dropped out during the rounds' })) } : {}),
        };
      }
      record.state = 'succeeded';
      emit('combined');
    } catch (e) {
      if (signal.aborted) {
        // Stopping, not failing: the job stays running with its stored rounds and resumes on the next start.
        deps.log('job-suspended', { jobId: record.id });
        return;
      }
      // A quorum failed by a mismatching agent is refused as the mismatch it is, with the round's answered/missing.
      const err = mismatchError(isFedmeshError(e) ? e.details : {}) ?? (isFedmeshError(e) ? e : new FedmeshError('INTERNAL', 'internal error while running the job'));
      if (!isFedmeshError(e)) deps.log('job-internal-error', { jobId: record.id, error: errorClass(e) });
      const details = err.details as { answered?: string[]; missing?: string[] };
      record.agentsAnswered = details.answered ?? [];
      record.agentsMissing = details.missing ?? record.agentsAsked;
      record.state = 'failed';
      const charged = epsilon > 0 ? `; the reserved budget (ε = ${Number(epsilon.toPrecision(4))}) stays charged: agents may already have computed on their data` : '';
      record.error = { code: err.code, message: `${err.message}${charged}`, ...(err.field ? { field: err.field } : {}) };
      deps.dispatcher.cancelJob(record.id);
    }
    record.finishedAtMs = Date.now();
    try {
      await deps.ledger.commit(record.id);
      await deps.store.update(record);
    } catch (e) {
      deps.log('job-store-error', { jobId: record.id, error: String(e) });
    }
    const ms = record.finishedAtMs - record.createdAtMs;
    deps.log(record.state === 'succeeded' ? 'job-succeeded' : 'job-failed', { ...kindJobLogFields(record.id, record.researcher, job, epsilon), ms, answered: record.agentsAnswered.length, missing: record.agentsMissing.length, ...(record.error ? { code: record.error.code } : {}) });
    deps.metrics.jobFinished(record.id, record.kind, job.privacy.mode, record.state === 'succeeded' ? 'succeeded' : 'failed', ms / 1000);
    deps.finished(record);
  }

  /** After a restart agents reconnect on their own: wait (bounded) until the job's agents are back. */
  private async waitForAgents(names: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<void> {
    const missing = (): string[] => {
      const live = new Set(this.deps.registry.connected().map((a) => a.name));
      return names.filter((n) => !live.has(n));
    };
    if (missing().length === 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connectWaiters.delete(check);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const check = (): void => {
        if (missing().length === 0) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.connectWaiters.add(check);
      signal.addEventListener('abort', done);
    });
    signal.throwIfAborted();
  }
}

/** The kind's line on a round for the progress event ('' without one; a kind's bug never fails the job here). */
function roundSummaryOf(def: AnyKindDef, job: CompiledKindJob, rec: Parameters<NonNullable<AnyKindDef['roundSummary']>>[1], info: Pick<KindReleaseInfo, 'minCellSize'>): string {
  try {
    const s = def.roundSummary?.(job, rec, info);
    return s ? `; ${s}` : '';
  } catch {
    return '';
  }
}

/**
 * A DP spec's privacy.maxSitesPerPerson raised to the mesh's (as for the built-in kinds): the modes multiply every
 * block's sensitivity by it. The raised spec is the one compiled, hashed and sent, so agents noise for it too.
 */
function withMeshSites(raw: unknown, meshSites: number): unknown {
  // A linkage-bounded job bounds each person at one site: the assumption is replaced, not raised (admit-linkage.ts).
  if (meshSites <= 1 || typeof raw !== 'object' || raw === null || asksLinkage(raw)) return raw;
  const privacy = (raw as { privacy?: unknown }).privacy;
  if (typeof privacy !== 'object' || privacy === null || (privacy as { mode?: unknown }).mode === 'none') return raw;
  const p = privacy as { maxSitesPerPerson?: unknown };
  const sites = typeof p.maxSitesPerPerson === 'number' ? Math.max(p.maxSitesPerPerson, meshSites) : meshSites;
  return { ...(raw as object), privacy: { ...p, maxSitesPerPerson: sites } };
}

/** Every round's vector must be summable under the job's secure sum for n agents: refused now, from public facts only. */
function checkSecureFromPublicFacts(def: AnyKindDef, job: CompiledKindJob, agents: number): void {
  secureQuorum(job, agents);
  const mode = kindPrivacyModeOf(def, job);
  // Round 0 and a later round: kinds whose layout changes after the first round (Cox) change it once.
  for (const round of job.maxRounds > 1 ? [0, 1] : [0]) {
    const layout = def.layout(job, round);
    const noise = mode.roundNoise(job, layout, { agents });
    if (job.secure === 'secagg') secAggVectorPlan(job, layout, noise, agents);
    else heVectorPlan(job, layout, noise, agents);
  }
}

/** The caller as stored with a job: who, how authenticated, and the attributes policies read (nothing else). */
function storedCaller(p: Principal): Principal {
  const a = p.attributes;
  return {
    name: p.name,
    // Never stored as an administrator: nothing of a running job needs it, and a stored flag would invite its use.
    isAdmin: false,
    ...(p.authenticatedBy ? { authenticatedBy: p.authenticatedBy } : {}),
    ...(a ? { attributes: { ...(a.organisation ? { organisation: a.organisation } : {}), roles: [...a.roles], purposes: [...a.purposes], projects: [...a.projects] } } : {}),
  };
}

/** An unexpected error's class for the log, never its message (which may quote a value: red team 43). */
function errorClass(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}

/** A stored spec's privacy mode, when it states a known one (for a log line about a job that no longer compiles). */
function privacyModeOfSpec(spec: unknown): string {
  const mode = (spec as { privacy?: { mode?: unknown } } | null)?.privacy?.mode;
  return (KIND_PRIVACY_MODES as readonly unknown[]).includes(mode) ? (mode as string) : 'unparsed';
}
