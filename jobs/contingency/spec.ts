/**
 * The `contingency` spec: the built-in job spec (common/job: kind, product, row and column columns with public
 * levels, where, privacy, secure), parsed by the one built-in parser so that the spec a researcher sends, the spec
 * stored with the job and the spec every agent compiles are the shape they were before the port (test/golden pins
 * it, key order included). Pure.
 */
import { FedmeshError } from '../../common/errors.js';
import { cellBlocks, parseJobSpec } from '../../common/job/index.js';
import type { CellJob } from '../../common/job/index.js';

/** A parsed contingency spec. */
export type ContingencySpec = Extract<CellJob, { kind: 'contingency' }>;

/**
 * Which specs run on the kind seam; the rest keep the built-in path until their mode is ported. HE stays there:
 * a built-in HE job is decrypted by the researcher's client with its own key, which the seam's HE sum (a
 * key-holding agent) does not offer, so moving it would change who can read the result.
 */
export function seamRunsContingency(raw: unknown): boolean {
  // Everything but HE goes to the seam, which validates it: a spec without a privacy block or with a mode/secure
  // combination the seam does not run is refused there with INVALID_ARGUMENT naming the field (the built-in plain
  // path is gone, so routing such a spec to it would end in INTERNAL: found by test/fuzz).
  if (typeof raw !== 'object' || raw === null) return true;
  return (raw as { secure?: unknown }).secure !== 'he';
}

/**
 * @throws FedmeshError INVALID_JOB naming the field (a single row or column level included: issue 15 point 5)
 */
export function parseContingencySpec(raw: unknown): ContingencySpec {
  const spec = parseJobSpec(raw);
  if (spec.kind !== 'contingency') throw new FedmeshError('INVALID_JOB', 'kind: must be contingency', { field: 'kind' });
  // The mesh's sites-per-person floor goes into the spec in the DP modes, as the built-in admission writes it (the
  // coordinator raises it further before compiling): the stored and hashed spec states the assumption noised for.
  if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, 1);
  return spec;
}

/** The public cells of a contingency table, in release order: `cell:<r>:<c>` row-major, then `outside`, `ambiguous`. */
export function contingencyCells(spec: ContingencySpec): string[] {
  return cellBlocks(spec)[0]!.cells;
}
