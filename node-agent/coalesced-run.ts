/**
 * Runs an async job at most once at a time. A call while a run is in progress schedules exactly one more run after
 * it (so a change made during the run is not missed); further calls meanwhile share that queued run.
 */
export class CoalescedRun<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly job: () => Promise<T>, private readonly onQueuedFailure: T) {}

  /** Whether a run is in progress. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  run(): Promise<T> {
    if (this.queued) return this.queued;
    const running = this.running;
    if (running) {
      this.queued = running.catch(() => this.onQueuedFailure).then(() => {
        this.queued = undefined;
        return this.run();
      });
      return this.queued;
    }
    const run = (async (): Promise<T> => {
      try {
        return await this.job();
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  /** Resolves when the queued (or running) run has settled, whatever its outcome. */
  async settled(): Promise<void> {
    await (this.queued ?? this.running)?.catch(() => undefined);
  }
}
