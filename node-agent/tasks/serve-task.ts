import type { DuckDBConnection } from '@duckdb/node-api';
import type { Rng } from '../../algorithms/rng.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { FedmeshError, isFedmeshError } from '../../common/errors.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import { CONCEPT_NAMES_TASK_KIND, vocabularyQueryRefusal, enforceJobManifest, manifestProductOf, type ProductRules, purposeOf, parseJobSpec } from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
import { kindJobPublicFields } from '../../common/kinds/index.js';
import type { ProductInfo } from '../data/products.js';
import { refuseOffSource, type PostgresSource } from '../data/source/index.js';
import { refuseUnlessNamed } from './job-agents.js';
import type { ReleasedAnswers } from '../disclosure/released-answers.js';
import { specSha256 } from '../disclosure/released-answers.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';
import type { ReleasedConcepts } from '../disclosure/released-concepts.js';
import { withStagedConcepts } from '../jobs/aggregate-source.js';
import { runOldKindTask } from '../jobs/old-kind-task.js';
import type { AgentLedger } from '../ledger.js';
import type { AgentMetrics } from '../metrics.js';
import type { AgentGate } from '../policy/index.js';
import { enforcePolicy, type CompiledAgentPolicy } from '../policy.js';
import type { SecureTaskRunner } from '../secure/secure-tasks.js';
import type { TaskCancellation } from '../task-cancellation.js';
import { conceptNamesTask } from './concept-names-task.js';
import type { KindTaskRunner } from './kind-task-runner.js';

/** What one task needs of its agent; getters where the agent fills the value in after construction or on reload. */
export interface AgentTaskDeps {
  /** This agent's name: a job that names its agents runs on those only. */
  name: string;
  policy: CompiledAgentPolicy;
  /** The operator's declaration that the public vocabulary is complete (AgentOptions.vocabularyComplete). */
  vocabularyComplete: boolean;
  rng: Rng;
  log: (event: string, fields?: Record<string, unknown>) => void;
  metrics: AgentMetrics;
  cancellation: TaskCancellation;
  gate: AgentGate;
  kindTasks: KindTaskRunner;
  secure: SecureTaskRunner;
  releasedConcepts: ReleasedConcepts;
  withConnection: <T>(fn: (conn: DuckDBConnection) => Promise<T>) => Promise<T>;
  products: () => ProductInfo[];
  /** The published rules and descriptions per product, replaced in place on every reload. */
  rules: ReadonlyMap<string, ProductRules>;
  descriptions: ReadonlyMap<string, { metadata: Record<string, unknown> }>;
  /** The site's PostgreSQL when the data lives there; undefined: the agent's DuckDB. */
  data: () => PostgresSource | undefined;
  ledger: () => AgentLedger;
  releasedAnswers: () => ReleasedAnswers;
  releasedCells: () => ReleasedCells;
}

/**
 * Runs one task whose identity was checked, to a typed reply (never throws): the concept-names lookup, a registry
 * kind (node-agent/tasks/kind-task-runner.ts) or an older kind (policy gate → manifest → spec binding → the
 * secure protocol or node-agent/jobs/old-kind-task.ts). The task is cancelled at its deadline or on CancelTask.
 */
export async function runAgentTask(task: AgentTask, identity: IdentityAssertionClaims | undefined, deps: AgentTaskDeps): Promise<AgentTaskReply> {
  const started = Date.now();
  const scope = deps.cancellation.begin(task.taskId, task.deadlineMs);
  const data = deps.data();
  // What a task line may say: ids, the researcher, the public job kind and privacy parameters; never spec values.
  let about: Record<string, unknown> = { jobId: task.jobId, taskId: task.taskId, researcher: task.researcher, kind: task.kind, round: task.round };
  const done = (outcome: string, fields: Record<string, unknown> = {}): void => {
    const ms = Date.now() - started;
    deps.metrics.taskDone(about.kind as string, outcome, ms / 1000);
    deps.log(outcome === 'ok' ? 'task-done' : outcome === 'cancelled' ? 'task-cancelled' : 'task-failed', { ...about, ms, ...fields });
  };
  try {
    if (task.deadlineMs && Date.now() > task.deadlineMs) throw new FedmeshError('ROUND_TIMEOUT', 'task arrived after its deadline');
    if (task.kind === CONCEPT_NAMES_TASK_KIND) {
      // Not a job: public vocabulary rows only, for ids the coordinator has already released; nothing is charged.
      const conceptNames = await deps.withConnection((conn) => scope.using(conn, () => { const run = () => conceptNamesTask(conn, task, { products: deps.products(), rules: deps.rules, vocabularyComplete: deps.vocabularyComplete, releasedConcepts: deps.releasedConcepts, log: deps.log }); return data ? data.withSession((s) => withStagedConcepts(s, conn, deps.products(), task.conceptIds, run), { signal: scope.signal }) : run(); }));
      done('ok', { names: conceptNames.length });
      return { ok: true, taskId: task.taskId, arrow: new Uint8Array(), meta: {}, conceptNames };
    }
    const onSeam = deps.kindTasks.handles(task.kind, task.specJson);
    if (data) refuseOffSource(task.kind);
    if (onSeam) {
      // Its lines carry the job's public privacy parameters as a built-in task's do (the ε the job asked for).
      const out = await deps.kindTasks.run(task, scope, identity, (job) => {
        about = { ...about, ...kindJobPublicFields(job), epsilon: job.privacy.epsilon ?? 0 };
        deps.log('task-started', about);
        // A site's vocabulary not declared complete is not queried, by any kind (what it holds says which concepts
        // its data use): reachable on the seam once aggregate served public products without a unit (red team 45, H1).
        const vocabulary = vocabularyQueryRefusal(job.product, deps.descriptions.get(job.product)?.metadata.profile, deps.vocabularyComplete);
        if (vocabulary) throw vocabulary;
      });
      done('ok');
      return { ok: true, taskId: task.taskId, arrow: out.arrow, meta: out.meta };
    }
    const job = parseJobSpec(task.specJson);
    about = { ...about, kind: job.kind, privacyMode: job.privacy.mode, epsilon: job.privacy.epsilon ?? 0, ...(job.secure ? { secure: job.secure } : {}), purpose: purposeOf(job), ...(job.project ? { project: job.project } : {}) };
    deps.log('task-started', about);
    deps.gate.enforce({ identity, researcher: task.researcher, job });
    enforcePolicy(deps.policy, job.kind, job.privacy.mode);
    enforceManifest(job, deps);
    // A job run on named agents is not computed (nor charged) anywhere else, whatever the coordinator sends.
    refuseUnlessNamed(job.agents, deps.name);
    if (job.privacy.mode === 'distributed-dp' && !job.secure) {
      throw new FedmeshError('FAILED_PRECONDITION', 'privacy.mode: distributed-dp needs secure aggregation (secure: secagg or he)', { field: 'privacy.mode' });
    }
    const releasedAnswers = deps.releasedAnswers();
    // A charged job id names one query: bound to its spec before anything is charged or computed. A secure job id
    // too, in every mode: it names one run of the secure protocol (see below).
    if (job.privacy.mode !== 'none' || job.secure) await releasedAnswers.bind(task.jobId, specSha256(job));
    let out: { arrow: Uint8Array; meta: Record<string, unknown>; payload?: Uint8Array };
    if (job.secure) {
      // One run of the secure protocol per job id, each round answered once (durably, across restarts): a replayed
      // round gets the reply already sent, never fresh noise, fresh SecAgg keys (a new run whose survivor set the
      // coordinator could vary to isolate this agent's vector) or a second unmask response.
      out = await releasedAnswers.once(task.jobId, task.round, () => deps.secure.handle(task, job, data ? (fn) => data.withSession(fn, { signal: scope.signal }) : undefined));
    } else {
      // Old kinds' plain tasks (aggregate, cell kinds): one table, node-agent/jobs/old-kind-task.ts.
      const ledger = deps.ledger();
      out = await runOldKindTask(task, job, {
        products: deps.products(), policy: deps.policy, rng: deps.rng, salt: ledger.salt, cells: deps.releasedCells(), concepts: deps.releasedConcepts,
        charge: (j, r, c) => ledger.charge(j, r, c), once: (j, r, f) => releasedAnswers.once(j, r, f),
        withTaskConnection: (fn) => deps.withConnection((conn) => scope.using(conn, () => fn(conn))),
        ...(data ? { withDataSession: (fn) => data.withSession(fn, { signal: scope.signal }) } : {}),
      });
    }
    done('ok');
    return { ok: true, taskId: task.taskId, arrow: out.arrow, meta: out.meta, ...(out.payload ? { payload: out.payload } : {}) };
  } catch (e) {
    if (scope.signal.aborted) {
      // Cancelled (deadline or CancelTask): the coordinator has stopped waiting and drops this reply.
      done('cancelled');
      return { ok: false, taskId: task.taskId, error: { code: 'CANCELLED', message: 'task cancelled', field: '' } };
    }
    const err = isFedmeshError(e) ? e : new FedmeshError('INTERNAL', 'internal error at the agent');
    // An unexpected error's message may quote a data value (DuckDB conversion errors do): log its class only.
    done(err.code, { code: err.code, message: err.message, ...(isFedmeshError(e) ? {} : { cause: e instanceof Error ? e.name : typeof e }) });
    return { ok: false, taskId: task.taskId, error: { code: err.code, message: err.message, field: err.field ?? '' } };
  } finally {
    scope.end();
  }
}

/**
 * The product's manifest, enforced before computing. Cohort-level kinds (cohort, characterize, survival) count
 * distinct OMOP `person_id`s, so they are gated on the `person` product, whose unit must be `person_id`.
 * @throws FedmeshError POLICY_DENIED, FAILED_PRECONDITION, INVALID_JOB naming the product and the field
 */
function enforceManifest(job: JobSpec, deps: AgentTaskDeps): void {
  const name = manifestProductOf(job);
  if (!deps.products().some((p) => p.name === name)) return; // the kind's own check names the missing product
  const rules = deps.rules.get(name);
  if (!rules) throw new FedmeshError('FAILED_PRECONDITION', `product ${name} has no published description at this agent yet`, { field: 'product' });
  const vocabulary = vocabularyQueryRefusal(name, deps.descriptions.get(name)?.metadata.profile, deps.vocabularyComplete);
  if (vocabulary) throw vocabulary;
  enforceJobManifest(rules, job);
}
