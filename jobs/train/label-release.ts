/**
 * The release's account of declared label levels: how many rows the agents left out because their label was not
 * among the levels (the eval round's `labelExcluded` sum; agents below their minimum cell size add 0), and the note
 * saying what the metrics mean for the loss.
 */
import type { RoundRecord } from '../../common/kinds/index.js';
import { splitBlocks, trainLayout, type TrainPlan, type TrainRoundInput } from './plan.js';
import type { TrainJobSpec } from './spec.js';

/** `labelExcluded` of the last eval round, or undefined without declared levels (or before the eval round). */
export function labelExcludedOf(spec: TrainJobSpec, plan: TrainPlan, history: readonly RoundRecord<TrainRoundInput>[]): number | undefined {
  if (spec.labelLevels === undefined) return undefined;
  const rec = [...history].reverse().find((h) => h.input.phase === 'eval');
  if (!rec) return undefined;
  return splitBlocks(trainLayout(spec, plan, rec.round), rec.released).labelExcluded?.[0];
}

/** Notes on the label and the metrics of a categorical job (none for the others). */
export function labelNotes(spec: TrainJobSpec, excluded: number | undefined): string[] {
  if (spec.loss !== 'categorical-crossentropy' && spec.labelLevels === undefined) return [];
  const notes: string[] = [];
  if (spec.loss === 'categorical-crossentropy') {
    notes.push(`categorical cross-entropy over ${spec.labelLevels!.length} public label levels (softmax output); accuracy by the most probable class; AUC one-vs-rest, the unweighted mean over classes of each class's AUC against the rest`);
  }
  if (excluded !== undefined) notes.push(`${excluded} rows left out because their label is not among the levels (agents where such rows are fewer than their minimum cell size report 0)`);
  // DP training: an exact count of a site's unlisted-label rows would bypass the noise, so none is sent.
  else if (spec.labelLevels !== undefined && spec.privacy.mode !== 'none') notes.push('rows whose label is not among the levels are left out at each agent; their count is not released in DP training (an exact count would bypass the noise)');
  return notes;
}
