import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Cancellation of an agent's running tasks: at the task's deadline (the agent's own timer) or when the coordinator
 * sends CancelTask. Cancelling aborts the task's AbortSignal and interrupts every DuckDB connection the task is
 * using (`DuckDBConnection.interrupt()`), so a runaway query stops within DuckDB's interrupt latency instead of
 * keeping a core busy long after the job failed.
 */
export interface TaskScope {
  readonly signal: AbortSignal;
  /** Runs `fn` on `conn`, interrupting `conn` if the task is cancelled meanwhile. */
  using<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T>;
  /** Forgets the task (clears its deadline timer). */
  end(): void;
}

interface Running {
  controller: AbortController;
  conns: Set<DuckDBConnection>;
  timer: NodeJS.Timeout | undefined;
}

export class TaskCancellation {
  private readonly running = new Map<string, Running>();

  /** Starts tracking a task; it cancels itself at `deadlineMs` (epoch ms; 0 = none). */
  begin(taskId: string, deadlineMs: number): TaskScope {
    const r: Running = { controller: new AbortController(), conns: new Set(), timer: undefined };
    if (deadlineMs > 0) {
      r.timer = setTimeout(() => this.cancel(taskId), Math.max(0, deadlineMs - Date.now()));
      r.timer.unref();
    }
    this.running.set(taskId, r);
    return {
      signal: r.controller.signal,
      using: async (conn, fn) => {
        if (r.controller.signal.aborted) throw r.controller.signal.reason;
        r.conns.add(conn);
        try {
          return await fn();
        } finally {
          r.conns.delete(conn);
        }
      },
      end: () => {
        clearTimeout(r.timer);
        if (this.running.get(taskId) === r) this.running.delete(taskId);
      },
    };
  }

  /** Cancels a running task; false when it is unknown (already finished). */
  cancel(taskId: string): boolean {
    const r = this.running.get(taskId);
    if (!r) return false;
    clearTimeout(r.timer);
    this.running.delete(taskId);
    r.controller.abort(new Error(`task ${taskId} cancelled`));
    // interrupt() stops only the statement running now; a task that issues several statements would start the next
    // one. Keep interrupting until every connection the task holds is given back (bounded by the task's own code
    // reaching its finally, which each interrupted statement brings closer).
    const interruptAll = (): void => {
      for (const c of r.conns) {
        try {
          c.interrupt();
        } catch {
          // The connection closed meanwhile: nothing left to stop.
        }
      }
    };
    interruptAll();
    if (r.conns.size > 0) {
      const again = setInterval(() => {
        if (r.conns.size === 0) clearInterval(again);
        else interruptAll();
      }, 20);
      again.unref();
    }
    return true;
  }

  /** Cancels every running task (the agent is stopping). */
  cancelAll(): void {
    for (const id of [...this.running.keys()]) this.cancel(id);
  }

  /** Number of tasks running (for tests and status). */
  get size(): number {
    return this.running.size;
  }
}
