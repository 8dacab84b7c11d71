/**
 * Many readers or one writer, in arrival order: tasks read the agent's data under a read lock, a reload replaces it
 * under the write lock, so a task sees the data either entirely before or entirely after a reload, never a mix.
 * A waiting writer goes before readers that arrive after it, so a steady stream of tasks cannot starve a reload.
 * Holders must not wait on one another (a task never waits for another task of the same agent).
 */
export class ReadWriteLock {
  private readers = 0;
  private writer = false;
  private readonly queue: { write: boolean; wake: () => void }[] = [];

  /** Runs `fn` while no writer holds the lock. */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.release(false);
    }
  }

  /** Runs `fn` alone: after the readers before it are done, before the readers after it start. */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.release(true);
    }
  }

  /** Readers holding the lock now (for tests and metrics). */
  get activeReaders(): number {
    return this.readers;
  }

  /** Callers waiting for the lock (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  private free(write: boolean): boolean {
    return write ? !this.writer && this.readers === 0 : !this.writer;
  }

  private acquire(write: boolean): Promise<void> {
    if (this.queue.length === 0 && this.free(write)) {
      this.take(write);
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ write, wake }));
  }

  private take(write: boolean): void {
    if (write) this.writer = true;
    else this.readers += 1;
  }

  private release(write: boolean): void {
    if (write) this.writer = false;
    else this.readers -= 1;
    // Wake, in order, every waiter that can run now: one writer, or readers up to the next writer.
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (!this.free(next.write)) return;
      this.queue.shift();
      this.take(next.write);
      next.wake();
      if (next.write) return;
    }
  }
}
