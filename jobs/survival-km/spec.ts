/**
 * The Kaplan–Meier `survival` spec: the built-in job spec (common/job: target cohort, outcome, public time grid,
 * strata, privacy, secure), parsed by the one built-in parser so that the spec a researcher sends, the spec stored
 * with the job and the spec every agent compiles are the shape they were before the port (test/golden pins it, key
 * order included). `"model": "cox"` is the registry kind survival-cox. Pure.
 */
import { FedmeshError } from '../../common/errors.js';
import type { CellJob } from '../../common/job/index.js';
import { parseJobSpec } from '../../common/job/index.js';

/** A parsed Kaplan–Meier survival spec. */
export type KmSpec = Extract<CellJob, { kind: 'survival' }>;

/**
 * Which specs run on the kind seam. HE stays on the built-in path: a built-in HE job is decrypted by the
 * researcher's client with its own key, which the seam's HE sum (a key-holding agent) does not offer, so moving it
 * would change who can read the result (as for contingency).
 */
export function seamRunsKm(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return true;
  return (raw as { secure?: unknown }).secure !== 'he';
}

/** @throws FedmeshError INVALID_JOB naming the field */
export function parseKmSpec(raw: unknown): KmSpec {
  const spec = parseJobSpec(raw);
  if (spec.kind !== 'survival') throw new FedmeshError('INVALID_JOB', 'kind: must be survival', { field: 'kind' });
  if (spec.cox !== undefined) throw new FedmeshError('INVALID_JOB', 'model: "cox" survival jobs run as the registry kind survival-cox', { field: 'model' });
  // The mesh's sites-per-person floor goes into the spec in the DP modes, as the built-in admission writes it: the
  // stored and hashed spec states the assumption noised for.
  if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, 1);
  return spec;
}
