import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PrivacyCost } from '../algorithms/dp/index.js';

/**
 * The coordinator's Prometheus metrics, in a registry of its own (never prom-client's global one, so two
 * coordinators in one process — as in tests — do not mix).
 *
 * Labels are only public, bounded job metadata: kind, privacy mode, outcome. There is deliberately no
 * researcher label: the endpoint has no authentication, and per-researcher spend and activity are for
 * administrators through `fedmesh budget` over mTLS. ε spent is the mesh-wide sum of the ε reserved by
 * admitted jobs (a job that touched data is charged whether it succeeded or failed).
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<'kind' | 'privacy_mode' | 'outcome'>;
  private readonly running: Gauge<'kind'>;
  private readonly latency: Histogram<'kind' | 'outcome'>;
  private readonly rounds: Counter<'kind'>;
  private readonly epsilon: Counter<'kind' | 'privacy_mode'>;
  private readonly replyBytes: Counter<'kind' | 'secure'>;
  private readonly replies: Counter<'kind' | 'secure'>;
  private readonly seenRounds = new Map<string, Set<number>>();

  constructor(agentsLive: () => number, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.jobs = new Counter({ name: 'fedmesh_jobs_total', help: 'Jobs by kind, privacy mode and outcome (admitted, rejected at admission, succeeded, failed)', labelNames: ['kind', 'privacy_mode', 'outcome'], registers });
    this.running = new Gauge({ name: 'fedmesh_jobs_running', help: 'Jobs admitted and not yet finished', labelNames: ['kind'], registers });
    this.latency = new Histogram({
      name: 'fedmesh_job_duration_seconds',
      help: 'Time from admission to the end of a job',
      labelNames: ['kind', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.rounds = new Counter({ name: 'fedmesh_rounds_total', help: 'Dispatch rounds (a plain job has one; secure jobs have several)', labelNames: ['kind'], registers });
    this.epsilon = new Counter({ name: 'fedmesh_epsilon_spent_total', help: 'Sum of ε reserved by admitted jobs, over all researchers (no per-researcher breakdown by design)', labelNames: ['kind', 'privacy_mode'], registers });
    // Bytes of the round replies as they arrived from the agents' streams (the decoded gRPC payload fields): what
    // the train benchmark reports as bytes per agent per round, plain and secagg (issue 10).
    this.replyBytes = new Counter({ name: 'fedmesh_round_reply_bytes_total', help: 'Bytes of registry-kind round replies received from agents, by kind and secure sum', labelNames: ['kind', 'secure'], registers });
    this.replies = new Counter({ name: 'fedmesh_round_replies_total', help: 'Registry-kind round replies received from agents (a secagg round has one per protocol phase)', labelNames: ['kind', 'secure'], registers });
    new Gauge({
      name: 'fedmesh_agents_live',
      help: 'Agents connected and heartbeating now',
      registers,
      collect() {
        this.set(agentsLive());
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'fedmesh_coordinator_' });
  }

  /** An agent's answer to one round task (or one secure-protocol phase) arrived with `bytes` of payload. */
  roundReplyReceived(kind: string, secure: string, bytes: number): void {
    this.replyBytes.inc({ kind, secure }, bytes);
    this.replies.inc({ kind, secure });
  }

  /** Round reply bytes and replies received so far for a kind and secure sum (benchmarks read them). */
  async roundReplyTotals(kind: string, secure: string): Promise<{ bytes: number; replies: number }> {
    const pick = async (c: Counter<'kind' | 'secure'>): Promise<number> => (await c.get()).values.find((v) => v.labels.kind === kind && v.labels.secure === secure)?.value ?? 0;
    return { bytes: await pick(this.replyBytes), replies: await pick(this.replies) };
  }

  jobRejected(kind: string, privacyMode: string): void {
    this.jobs.inc({ kind, privacy_mode: privacyMode, outcome: 'rejected' });
  }

  jobAdmitted(jobId: string, kind: string, privacyMode: string, cost: PrivacyCost | undefined): void {
    this.jobs.inc({ kind, privacy_mode: privacyMode, outcome: 'admitted' });
    this.running.inc({ kind });
    this.seenRounds.set(jobId, new Set());
    if (cost && Number.isFinite(cost.epsilon) && cost.epsilon > 0) this.epsilon.inc({ kind, privacy_mode: privacyMode }, cost.epsilon);
  }

  /** A task was sent; the first task of each (job, round) counts one round. */
  taskDispatched(jobId: string, round: number, kind: string): void {
    const seen = this.seenRounds.get(jobId);
    if (!seen || seen.has(round)) return;
    seen.add(round);
    this.rounds.inc({ kind });
  }

  jobFinished(jobId: string, kind: string, privacyMode: string, outcome: 'succeeded' | 'failed', seconds: number): void {
    this.seenRounds.delete(jobId);
    this.jobs.inc({ kind, privacy_mode: privacyMode, outcome });
    this.running.dec({ kind });
    this.latency.observe({ kind, outcome }, Math.max(0, seconds));
  }
}
