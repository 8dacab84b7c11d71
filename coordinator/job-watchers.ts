import { isTerminal, type JobEventRecord, type JobRecord } from './job-record.js';

/** Told of a job's events; `job` is the final record with the `finished` event, undefined otherwise. */
export type JobListener = (e: JobEventRecord, job: JobRecord | undefined) => void;

/**
 * Who watches which running job. Every event also goes to `record` (the audit trail) first; a listener that throws
 * is logged and does not stop the others or the job.
 */
export class JobWatchers {
  private readonly listeners = new Map<string, Set<JobListener>>();

  constructor(
    private readonly record: (e: JobEventRecord, job: JobRecord) => void,
    private readonly log: (event: string, fields?: Record<string, unknown>) => void,
  ) {}

  emit(e: JobEventRecord, job: JobRecord): void {
    this.record(e, job);
    for (const l of this.listeners.get(e.jobId) ?? []) {
      try {
        l(e, e.type === 'finished' ? { ...job } : undefined);
      } catch (err) {
        this.log('listener-error', { error: String(err) });
      }
    }
  }

  /** The job ended (its `finished` event was emitted): its watchers are dropped. */
  ended(jobId: string): void {
    this.listeners.delete(jobId);
  }

  /**
   * Subscribes to `job`. A job that already finished, or finishes between the caller's lookup and this subscription
   * (`isLive` false), gets its final event at once, read again by `reread`.
   * @returns an unsubscribe function
   */
  async watch(job: JobRecord, listener: JobListener, isLive: () => boolean, reread: () => Promise<JobRecord>): Promise<() => void> {
    const final = (j: JobRecord): (() => void) => {
      listener({ jobId: j.id, type: 'finished', atMs: j.finishedAtMs ?? Date.now(), message: j.state }, j);
      return () => undefined;
    };
    if (isTerminal(job.state)) return final(job);
    let set = this.listeners.get(job.id);
    if (!set) {
      set = new Set();
      this.listeners.set(job.id, set);
    }
    set.add(listener);
    if (!isLive()) {
      set.delete(listener);
      return final(await reread());
    }
    return () => set.delete(listener);
  }
}
