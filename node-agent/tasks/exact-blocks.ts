/**
 * A generic guard of the agent chain, for every registry kind: in a privacy mode that adds noise, a block the
 * round's layout gives sensitivity 0 gets no noise and no share of the budget (noise-calibration.ts), so whatever a
 * local step puts there leaves exact. Kinds use such blocks as the public zeros of the blocks a round's phase does
 * not own (DP training: the evaluation counts in a training round, the update in the evaluation round). A local step
 * that writes there — a kind that trusted the coordinator's word for the phase, or a plain bug — would release
 * person-level information without noise. The train kind checks its own phase (jobs/train/agent.ts); this check
 * holds for any kind, before the vector is noised, masked or encrypted.
 */
import { FedmeshError } from '../../common/errors.js';
import type { CompiledKindJob, StatLayout, StatVector } from '../../common/kinds/index.js';

/** Whether the job's mode noises blocks by their sensitivity (every mode but none). */
const noisyMode = (job: CompiledKindJob): boolean => job.privacy.mode !== 'none';

/**
 * @throws FedmeshError FAILED_PRECONDITION naming the first block left exact by the round's layout that holds a
 * non-zero entry (the value itself is never quoted: it may be data)
 */
export function checkExactBlocksEmpty(job: CompiledKindJob, layout: StatLayout, vector: StatVector, round: number): void {
  if (!noisyMode(job)) return;
  let at = 0;
  for (const b of layout.blocks) {
    // agentNoised: the kind's step noised it already (stat-layout.ts), e.g. local DP-SGD updates.
    const exact = b.sensitivity !== 'exact-only' && b.sensitivity.l2Sq === 0 && b.agentNoised !== true;
    if (exact) {
      for (let j = 0; j < b.length; j++) {
        if (vector.values[at + j] !== 0) {
          throw new FedmeshError(
            'FAILED_PRECONDITION',
            `payload: block ${b.name} carries no noise in round ${round + 1} of this ${job.kind} job (sensitivity 0 under privacy.mode ${job.privacy.mode}), but this agent's local step put a value in it — work of another phase than the round's? Nothing was sent`,
            { field: 'payload', details: { block: b.name } },
          );
        }
      }
    }
    at += b.length;
  }
}
