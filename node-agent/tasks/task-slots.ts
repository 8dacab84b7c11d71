/**
 * How many tasks an agent computes at once, and how many may wait (red team 41, B F4: 300 mode-none jobs started 300
 * queries at once at every agent, 1.6 GB each, and every job missed its deadline). Beyond the running limit a task
 * waits in arrival order; beyond the queue it is refused at once with RESOURCE_EXHAUSTED ("agent busy"), which the
 * coordinator reports for that agent. A task that waited past its deadline is refused by the task itself when it
 * starts (ROUND_TIMEOUT), never computed late.
 */
import { availableParallelism } from 'node:os';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';

/** @default max(4, 2 × the machine's cores), at most 32 */
export function defaultMaxConcurrentTasks(): number {
  return Math.min(32, Math.max(4, 2 * availableParallelism()));
}

/** Tasks that may wait for a slot. */
export const DEFAULT_MAX_QUEUED_TASKS = 512;

export class TaskSlots {
  private running = 0;
  /** Waiting tasks in arrival order; `go(true)` hands one a slot, `go(false)` drops it (cancelled while waiting). */
  private readonly queue: { taskId: string; go: (run: boolean) => void }[] = [];

  /** @throws RangeError naming the option when a bound is not an integer in range */
  constructor(
    readonly maxRunning = defaultMaxConcurrentTasks(),
    readonly maxQueued = DEFAULT_MAX_QUEUED_TASKS,
  ) {
    if (!Number.isInteger(maxRunning) || maxRunning < 1 || maxRunning > 1024) throw new RangeError(`maxConcurrentTasks must be an integer between 1 and 1024, got ${String(maxRunning)}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0 || maxQueued > 100_000) throw new RangeError(`maxQueuedTasks must be an integer between 0 and 100000, got ${String(maxQueued)}`);
  }

  /** Tasks computing now, and waiting. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /**
   * Runs `serve` when a slot is free (at once, after waiting, or never: the busy reply, or CANCELLED when
   * {@link cancel} dropped it while it waited); rejects only as `serve` does.
   */
  async run(task: AgentTask, serve: () => Promise<AgentTaskReply>): Promise<AgentTaskReply> {
    if (this.running >= this.maxRunning) {
      if (this.queue.length >= this.maxQueued) {
        return { ok: false, taskId: task.taskId, error: { code: 'RESOURCE_EXHAUSTED', message: `agent busy: ${this.running} tasks computing and ${this.queue.length} waiting, its limits; try again later`, field: '' } };
      }
      const go = await new Promise<boolean>((resolve) => this.queue.push({ taskId: task.taskId, go: resolve }));
      if (!go) return { ok: false, taskId: task.taskId, error: { code: 'CANCELLED', message: 'task cancelled while it waited for a slot', field: '' } };
    } else this.running++;
    try {
      return await serve();
    } finally {
      // The slot passes to the next waiting task (the count stays), or is freed.
      const next = this.queue.shift();
      if (next) next.go(true);
      else this.running--;
    }
  }

  /**
   * Drops a waiting task (CancelTask for a task that has not started: red team 42, it computed in full later).
   * @returns whether it was waiting here
   */
  cancel(taskId: string): boolean {
    const i = this.queue.findIndex((q) => q.taskId === taskId);
    if (i < 0) return false;
    const [q] = this.queue.splice(i, 1);
    q!.go(false);
    return true;
  }
}
