/**
 * `fedmesh train SPEC.json [--rounds N] [--plot FILE.svg] [--secure plain|secagg|he] [--quorum N] [--agents a,b] [--json]`:
 * the generic kind command (kind-commands.ts) with train's own flags and a progress bar (client/format/train-progress.ts).
 * `--plot` writes the released curves (client/plot/train-curves.ts) once the job has ended, also with `--json`.
 * `--quorum` and `--agents` are the common execution flags; the train spec reads quorum as the fewest updates a
 * round aggregates (participation.minUpdates) and agents as the agents to train on (jobs/train/run-options.ts).
 */
import { foldTrainEvent, initialTrainProgress, privacyLabel, renderTrainProgress } from '../format/train-progress.js';
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderTrainCurvesSvg } from '../plot/train-curves.js';
import type { JobView } from '../../sdk/types.js';
import { EXIT } from '../../sdk/exit-codes.js';
import { runKindCommand, type KindFlags } from './kind-commands.js';
import { quietOutput } from './output.js';

export type TrainFlags = KindFlags & { rounds?: string; plot?: string };

/**
 * `--plot FILE`: SVG only (the survival plot is SVG only too; a PNG would need a native canvas on the client).
 * Checked (name and folder) before the job is submitted, so a typo costs no budget. @throws RangeError naming the flag
 */
export function checkPlotFlag(plot: string | undefined): void {
  if (plot === undefined) return;
  if (plot.trim() === '') throw new RangeError('--plot: needs a file name ending in .svg');
  if (!/\.svg$/i.test(plot)) throw new RangeError(`--plot: only SVG is offered (a file name ending in .svg), got ${JSON.stringify(plot.slice(0, 200))}${/\.png$/i.test(plot) ? ' (PNG is not offered)' : ''}`);
  // The file is written after the job ran: a missing folder found then would waste the run (and its budget).
  const dir = dirname(plot);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RangeError(`--plot: the folder ${JSON.stringify(dir.slice(0, 200))} does not exist`);
}

/**
 * Writes the curves of a finished job to `file`. A job without a result (failed) or without anything to draw is
 * reported on stderr and no file is written: an empty chart would look like a run that learned nothing.
 * @returns EXIT.FAILED when no plot was written, else undefined
 */
export async function writeTrainPlot(job: JobView, file: string, quiet: boolean): Promise<number | undefined> {
  if (!job.result) {
    process.stderr.write(`--plot: the job ${job.state === 'failed' ? 'failed' : `is ${job.state}`} and released no result; ${file} not written\n`);
    return EXIT.FAILED;
  }
  let svg: string;
  try {
    svg = await renderTrainCurvesSvg(job.result, { title: `Federated training per round (job ${job.jobId.slice(0, 8)})` });
  } catch (e) {
    process.stderr.write(`--plot: ${(e as Error).message}; ${file} not written\n`);
    return EXIT.FAILED;
  }
  try {
    await writeFile(file, svg);
  } catch (e) {
    // The result is still printed: a plot that cannot be written must not hide what the job released.
    process.stderr.write(`--plot: cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return EXIT.FAILED;
  }
  if (!quiet) process.stderr.write(`wrote ${file}\n`);
  return undefined;
}

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
  checkPlotFlag(flags.plot);
  const plot = flags.plot;
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
    ...(plot !== undefined ? { finished: (job: JobView) => writeTrainPlot(job, plot, quietOutput(flags)) } : {}),
  });
}
