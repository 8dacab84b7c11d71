import { randomUUID } from 'node:crypto';
import type { AgentTask, AgentTaskReply } from '../common/agent-protocol.js';
import type { ConceptNameEntry } from '../common/job/index.js';
import type { AgentRegistry } from './agent-registry.js';

export type TaskOutcome =
  | { ok: true; agent: string; arrow: Uint8Array; meta: Record<string, unknown>; payload?: Uint8Array; conceptNames?: ConceptNameEntry[] }
  | { ok: false; agent: string; error: { code: string; message: string; field?: string } };

interface Pending {
  agent: string;
  jobId: string;
  resolve: (o: TaskOutcome) => void;
  timer: NodeJS.Timeout;
}

/**
 * Sends tasks down agents' streams and matches replies to them. A reply is accepted only from the agent the task
 * was sent to; a task whose agent disconnects or misses the deadline resolves as a failure at once.
 */
export class Dispatcher {
  private readonly pending = new Map<string, Pending>();

  /**
   * @param onDispatch told of every task sent (for metrics); it must not throw
   * @param stamp the signed identity assertion each task carries to its agent (see coordinator/identity)
   */
  constructor(
    private readonly registry: AgentRegistry,
    private readonly onDispatch: (task: Omit<AgentTask, 'taskId'>) => void = () => undefined,
    private readonly stamp: (agent: string, task: Omit<AgentTask, 'taskId'>) => string | undefined = () => undefined,
  ) {
    registry.onDisconnect((name) => {
      for (const [id, p] of this.pending) {
        if (p.agent === name) this.finish(id, { ok: false, agent: name, error: { code: 'AGENT_UNAVAILABLE', message: `agent ${name} disconnected before answering` } });
      }
    });
  }

  dispatch(agent: string, task: Omit<AgentTask, 'taskId'>): Promise<TaskOutcome> {
    const taskId = randomUUID();
    return new Promise<TaskOutcome>((resolve) => {
      const wait = Math.max(0, task.deadlineMs - Date.now());
      const timer = setTimeout(() => {
        this.finish(taskId, { ok: false, agent, error: { code: 'ROUND_TIMEOUT', message: `agent ${agent} did not answer within the job deadline` } });
        // Past the deadline the answer is useless: the agent interrupts its query and frees the connection.
        this.registry.cancel(agent, taskId);
      }, wait);
      this.pending.set(taskId, { agent, jobId: task.jobId, resolve, timer });
      this.onDispatch(task);
      const identityAssertion = this.stamp(agent, task);
      const sent = this.registry.send(agent, { ...task, taskId, ...(identityAssertion ? { identityAssertion } : {}) });
      if (sent === 'absent') this.finish(taskId, { ok: false, agent, error: { code: 'AGENT_UNAVAILABLE', message: `agent ${agent} is not connected` } });
      // A slow link under a burst of jobs: this task is not sent (memory stays bounded), the link and its other tasks stay.
      if (sent === 'busy') this.finish(taskId, { ok: false, agent, error: { code: 'AGENT_UNAVAILABLE', message: `agent ${agent}'s link is busy: too many task bytes already wait for it to read them; the task was not sent` } });
    });
  }

  /** Called by the transport with a reply from `agent`. Replies to unknown tasks or from the wrong agent are dropped. */
  deliver(agent: string, reply: AgentTaskReply): boolean {
    const p = this.pending.get(reply.taskId);
    if (!p || p.agent !== agent) return false;
    this.finish(
      reply.taskId,
      reply.ok
        ? { ok: true, agent, arrow: reply.arrow, meta: reply.meta, ...(reply.payload ? { payload: reply.payload } : {}), ...(reply.conceptNames ? { conceptNames: reply.conceptNames } : {}) }
        : { ok: false, agent, error: reply.error },
    );
    return true;
  }

  /**
   * Resolves every task of a job still pending as CANCELLED and sends CancelTask to its agent; later replies to
   * them are dropped (unknown task ids).
   */
  cancelJob(jobId: string): void {
    for (const [id, p] of [...this.pending]) {
      if (p.jobId !== jobId) continue;
      this.finish(id, { ok: false, agent: p.agent, error: { code: 'CANCELLED', message: `task of job ${jobId} cancelled` } });
      this.registry.cancel(p.agent, id);
    }
  }

  private finish(taskId: string, outcome: TaskOutcome): void {
    const p = this.pending.get(taskId);
    if (!p) return;
    this.pending.delete(taskId);
    clearTimeout(p.timer);
    p.resolve(outcome);
  }

  close(): void {
    for (const [id, p] of this.pending) this.finish(id, { ok: false, agent: p.agent, error: { code: 'CANCELLED', message: 'coordinator shutting down' } });
  }
}
