/**
 * The `aggregate` spec: the built-in job spec (common/job), parsed by the one built-in parser so that the spec a
 * researcher sends, the spec stored with the job and the spec every agent compiles are the shape they were before
 * the port (test/golden pins it, key order included). Pure.
 */
import { FedmeshError } from '../../common/errors.js';
import type { AggregateJob } from '../../common/job/index.js';
import { parseJobSpec } from '../../common/job/index.js';

export type AggregateSpec = AggregateJob;

/**
 * Which specs run on the kind seam: the port goes mode by mode (jobs/README.md, "Porting the old kinds"). local-dp
 * with plain sums is ported: public group keys only (the mode refuses data-derived groups), one noisy vector per
 * agent. Mode none (data-derived groups, per-measure withholding at the source), central-dp (DP partition selection,
 * quantiles by permute-and-flip) and the secure sums keep the built-in path. Read from the raw spec alone, so the
 * coordinator, every agent and the client choose alike.
 */
export function seamRunsAggregate(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const r = raw as { privacy?: unknown; secure?: unknown };
  const mode = typeof r.privacy === 'object' && r.privacy !== null ? (r.privacy as { mode?: unknown }).mode : undefined;
  return mode === 'local-dp' && (r.secure === undefined || r.secure === 'plain');
}

/** @throws FedmeshError INVALID_JOB naming the field */
export function parseAggregateSpec(raw: unknown): AggregateSpec {
  const spec = parseJobSpec(raw);
  if (spec.kind !== 'aggregate') throw new FedmeshError('INVALID_JOB', 'kind: must be aggregate', { field: 'kind' });
  // The mesh's sites-per-person floor goes into the spec in the DP modes, as the built-in admission writes it: the
  // stored and hashed spec states the assumption noised for.
  if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, 1);
  return spec;
}
