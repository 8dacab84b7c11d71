/**
 * The concept ids this agent itself released as data-derived group keys, per job id: the only ids whose names it
 * sends when its vocabulary is not declared complete. A coordinator that asks for any other id (a researcher-supplied
 * key, a key another agent released, an id of no job at all) learns nothing from this agent's vocabulary.
 *
 * Kept in memory and bounded: names are asked within seconds of a release, so a restart or an old job only costs
 * names, never privacy.
 */
import { asConceptId, isConceptColumn } from '../../common/job/index.js';

/** Jobs remembered; the oldest is forgotten first. */
export const MAX_REMEMBERED_JOBS = 1024;

export class ReleasedConcepts {
  private readonly byJob = new Map<string, Set<number>>();

  constructor(private readonly maxJobs = MAX_REMEMBERED_JOBS) {}

  /** Records the concept ids in the `*_concept_id` columns of released group keys (`keys[i]` follows `groupBy`). */
  record(jobId: string, groupBy: readonly string[], keys: readonly (readonly unknown[])[]): void {
    const cols = groupBy.flatMap((c, i) => (isConceptColumn(c) ? [i] : []));
    if (cols.length === 0) return;
    let ids = this.byJob.get(jobId);
    if (!ids) {
      ids = new Set();
      this.byJob.set(jobId, ids);
      while (this.byJob.size > this.maxJobs) this.byJob.delete(this.byJob.keys().next().value!);
    }
    for (const key of keys) {
      for (const i of cols) {
        const id = asConceptId(key[i]);
        if (id !== undefined) ids.add(id);
      }
    }
  }

  /** Splits `ids` into those this agent released in `jobId` and the rest. */
  check(jobId: string, ids: readonly number[]): { released: number[]; refused: number[] } {
    const known = this.byJob.get(jobId);
    const released: number[] = [];
    const refused: number[] = [];
    for (const id of ids) (known?.has(id) ? released : refused).push(id);
    return { released, refused };
  }
}
