import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * An agent's Prometheus metrics, in a registry of its own. Labels are public, bounded job metadata (kind,
 * outcome code) only: no researcher, product or value ever becomes a label.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly tasks: Counter<'kind' | 'outcome'>;
  private readonly latency: Histogram<'kind' | 'outcome'>;

  constructor(state: () => { ingestOk: boolean; connected: boolean; products: number }, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.tasks = new Counter({ name: 'fedmesh_agent_tasks_total', help: 'Tasks handled, by job kind and outcome (ok, cancelled, or the error code)', labelNames: ['kind', 'outcome'], registers });
    this.latency = new Histogram({
      name: 'fedmesh_agent_task_duration_seconds',
      help: 'Time an agent spent on one task',
      labelNames: ['kind', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    new Gauge({ name: 'fedmesh_agent_ingest_ok', help: '1 when the last ingest of the data folder had no failed file, else 0', registers, collect() { this.set(state().ingestOk ? 1 : 0); } });
    new Gauge({ name: 'fedmesh_agent_connected', help: '1 while the coordinator has accepted this agent on a live link', registers, collect() { this.set(state().connected ? 1 : 0); } });
    new Gauge({ name: 'fedmesh_agent_products', help: 'Data products this agent serves', registers, collect() { this.set(state().products); } });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'fedmesh_agent_' });
  }

  taskDone(kind: string, outcome: string, seconds: number): void {
    this.tasks.inc({ kind, outcome });
    this.latency.observe({ kind, outcome }, Math.max(0, seconds));
  }
}
