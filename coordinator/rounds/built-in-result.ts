import type { DpGuarantee } from '../../common/job/index.js';
import { suppressedOfRounds } from '../../common/kinds/index.js';
import { withCompleteness } from '../jobs/completeness.js';
import { nameReleasedConcepts, type ConceptLookupContext } from '../jobs/concept-lookup.js';
import type { JobResult, MissingAgent } from '../job-record.js';
import type { RoundsOutcome } from './round-runner.js';

/**
 * The result of a ported built-in kind (`KindDef.builtInSpec`) in the built-in kinds' shape, which test/golden pins
 * key for key: columns, rows, suppressed, summary (no round count: these kinds have one round), privacy (the kind's
 * own statement, or the seam's guarantee appended), notes, agent errors; then completeness as the built-in kinds
 * state it (agents left out at admission with their reason) and the names of the released concept ids.
 */
export async function builtInResult(lookup: ConceptLookupContext, out: RoundsOutcome, guarantee: DpGuarantee | undefined, excluded: readonly MissingAgent[]): Promise<JobResult> {
  const r = out.release;
  const result: JobResult = {
    columns: r.columns,
    rows: r.rows,
    suppressed: r.suppressed ?? suppressedOfRounds(out.history),
    ...(r.summary !== undefined ? { summary: r.summary } : {}),
    privacy: guarantee ? { ...r.privacy, guarantee } : r.privacy,
    notes: r.notes,
    agentErrors: out.agentErrors,
  };
  return nameReleasedConcepts(lookup, withCompleteness(result, out.answered, out.missing, excluded));
}
