/**
 * `fedmesh train SPEC.json [--rounds N] [--secure plain|secagg|he] [--quorum N] [--agents a,b] [--json]`: the
 * generic kind command (kind-commands.ts) with train's own flag and a progress bar (client/format/train-progress.ts).
 * `--quorum` and `--agents` are the common execution flags; the train spec reads quorum as the fewest updates a
 * round aggregates (participation.minUpdates) and agents as the agents to train on (jobs/train/run-options.ts).
 */
import { foldTrainEvent, initialTrainProgress, privacyLabel, renderTrainProgress } from '../format/train-progress.js';
import { runKindCommand, type KindFlags } from './kind-commands.js';

export type TrainFlags = KindFlags & { rounds?: string };

/** `--rounds N`: training.rounds of the spec. @throws RangeError naming the flag */
export function applyRoundsFlag(spec: Record<string, unknown>, rounds: string | undefined): void {
  if (rounds === undefined) return;
  const n = rounds.trim() === '' ? Number.NaN : Number(rounds);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`--rounds: must be a positive integer, got ${JSON.stringify(rounds)}`);
  const training = spec.training !== null && typeof spec.training === 'object' && !Array.isArray(spec.training) ? (spec.training as Record<string, unknown>) : {};
  spec.training = { ...training, rounds: n };
}

export async function runTrainCommand(file: string, flags: TrainFlags): Promise<number> {
  let state = initialTrainProgress;
  let privacy = '';
  return runKindCommand('train', file, flags, {
    prepare(spec) {
      applyRoundsFlag(spec, flags.rounds);
      privacy = privacyLabel(spec);
    },
    ...(flags.rounds !== undefined ? { origins: { 'training.rounds': `--rounds ${flags.rounds}` } } : {}),
    progress(e) {
      state = foldTrainEvent(state, e);
      return renderTrainProgress(state, privacy);
    },
  });
}
