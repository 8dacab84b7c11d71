import type { DuckDBConnection } from '@duckdb/node-api';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import { planAggregatePrivacy } from '../../common/job/index.js';
import type { AggregateJob, CellJob, JobKind, JobSpec } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';
import type { ReleasedConcepts } from '../disclosure/released-concepts.js';
import type { CompiledAgentPolicy } from '../policy.js';
import { runAggregate } from './aggregate.js';
import type { SqlSession } from '../data/source/index.js';

/** What the agent gives an old kind's plain (not secure) task: its data, its ledgers and its disclosure records. */
export interface OldKindTaskDeps {
  readonly products: readonly ProductInfo[];
  readonly policy: CompiledAgentPolicy;
  readonly rng: Rng;
  /** The agent's secret salt for keyed-hash contribution bounding. Never sent. */
  readonly salt: string;
  readonly cells: ReleasedCells;
  readonly concepts: ReleasedConcepts;
  /** Charges the domain's own ledger before any data is touched: durable, once per job, never refunded. */
  charge(jobId: string, researcher: string, cost: PrivacyCost): Promise<void>;
  /** One charge, one answer: a replay of a charged job gets the answer already released. */
  once(jobId: string, round: number, compute: () => Promise<ReleasedAnswer>): Promise<ReleasedAnswer>;
  /** A connection scoped to the task (its deadline and CancelTask interrupt the query). */
  withTaskConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  /** The task's session on the site's PostgreSQL when the data lives there (`fedmesh agent --database`). @default undefined */
  withDataSession?: <T>(fn: (data: SqlSession) => Promise<T>) => Promise<T>;
}

type OldKindTask<S extends JobSpec> = (task: AgentTask, job: S, deps: OldKindTaskDeps) => Promise<ReleasedAnswer>;

const aggregateTask: OldKindTask<AggregateJob> = async (task, job, deps) => {
  // local-dp with plain sums is ported (jobs/aggregate, KindDef.accepts): a task of it here comes from a coordinator
  // that predates the port, refused before anything is charged or read.
  if (job.privacy.mode === 'local-dp') throw new FedmeshError('FAILED_PRECONDITION', 'kind: local-dp aggregate jobs run on the kind seam at this agent; the coordinator sent a task of the built-in path (upgrade the coordinator)', { field: 'kind' });
  const product = deps.products.find((p) => p.name === job.product);
  if (!product) throw new FedmeshError('INVALID_JOB', `product: this agent has no product ${job.product}`, { field: 'product' });
  const typeOf = (c: string): string => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR';
  const privacy = planAggregatePrivacy(job, typeOf);
  if (privacy.dp) await deps.charge(task.jobId, task.researcher, privacy.dp.cost);
  const release = { researcher: task.researcher, jobId: task.jobId, cells: deps.cells };
  const compute = async (): Promise<ReleasedAnswer> => {
    const run = (conn: DuckDBConnection, data?: SqlSession): ReturnType<typeof runAggregate> => runAggregate({ conn, ...(data ? { data } : {}), job, product, policy: deps.policy, privacy, salt: deps.salt, rng: deps.rng, release });
    const onData = deps.withDataSession;
    // Data on PostgreSQL: the whole query runs there (pushdown); the task's DuckDB keeps the differencing memory.
    const { releasedKeys, ...answer } = await deps.withTaskConnection((conn) => (onData ? onData((data) => run(conn, data)) : run(conn)));
    deps.concepts.record(task.jobId, job.groupBy, releasedKeys);
    return answer;
  };
  return privacy.dp ? deps.once(task.jobId, task.round, compute) : compute();
};

/**
 * The cell kinds are ported to the kind seam (jobs/contingency, jobs/survival-km, jobs/cohort, jobs/characterize,
 * run by node-agent/tasks/kind-task-runner.ts); only their secure he tasks take the built-in secure path. A plain task of the built-in shape comes from a coordinator that
 * predates the port: refused before anything is charged or read.
 */
const portedTask: OldKindTask<CellJob> = async (_task, job) => {
  throw new FedmeshError('FAILED_PRECONDITION', `kind: ${job.kind} jobs run on the kind seam at this agent; the coordinator sent a task of the built-in path (upgrade the coordinator)`, { field: 'kind' });
};

/**
 * The agent's plain-task path of the five kinds that predate the kind seam, one entry per kind (the agent's twin of
 * coordinator/jobs/old-kinds.ts; see jobs/README.md, "Porting the old kinds"). Secure tasks of these kinds go to
 * node-agent/secure; registry kinds to node-agent/tasks/kind-task-runner.ts.
 */
const OLD_KIND_TASKS: Readonly<Record<JobKind, OldKindTask<never>>> = {
  aggregate: aggregateTask,
  cohort: portedTask,
  characterize: portedTask,
  contingency: portedTask,
  survival: portedTask,
};

/**
 * Runs one plain task of an old kind: plans its privacy from the public spec, charges the domain's ledger (once per
 * job), computes on the task's connection and returns the answer to send.
 * @throws FedmeshError naming the field
 */
export function runOldKindTask(task: AgentTask, job: JobSpec, deps: OldKindTaskDeps): Promise<ReleasedAnswer> {
  // The spec's kind selects an entry that takes exactly that spec shape: the table's invariant.
  return (OLD_KIND_TASKS[job.kind] as OldKindTask<JobSpec>)(task, job, deps);
}
