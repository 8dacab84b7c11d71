import { keyId, type KeyValue } from '../../algorithms/aggregate/index.js';
import type { AggregateJob } from './spec.js';

/**
 * Every combination of the job's public group keys, in a canonical order; `[[]]` without groupBy. Keys are
 * normalised the way agents report them (integers as numbers, other values as given).
 */
export function publicGroupCombos(job: AggregateJob): KeyValue[][] | undefined {
  if (job.groupBy.length === 0) return [[]];
  if (!job.groupKeys) return undefined;
  let combos: KeyValue[][] = [[]];
  for (const col of job.groupBy) {
    const values = job.groupKeys[col]!;
    combos = combos.flatMap((prefix) => values.map((v) => [...prefix, v as KeyValue]));
  }
  return combos;
}

export function comboIndex(combos: readonly KeyValue[][]): Map<string, number> {
  return new Map(combos.map((c, i) => [keyId(c), i]));
}
