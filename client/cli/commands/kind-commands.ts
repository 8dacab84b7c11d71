import { FedmeshError, quote } from '../../../common/errors.js';
import { KINDS } from '../../../jobs/kinds.js';
import { renderKindJob } from '../format/kind-view.js';
import { exitCodeForJob } from '../../sdk/exit-codes.js';
import { jobToJson } from '../format/render.js';
import { resultTable } from '../../sdk/result-table.js';
import { applyCommonFlags, commonFlagOrigins, type FlagOrigins, type QueryFlags } from '../job-from-flags.js';
import type { JobEventView, JobView } from '../../sdk/types.js';
import { createProgress } from '../format/spinner.js';
import { researcherClient, type ConnectionFlags } from './common.js';
import { emit, quietOutput, type OutputFlags } from './output.js';
import { readJobFile, withFlagName, withFlagNameInJob } from './researcher.js';

export type KindFlags = QueryFlags & ConnectionFlags & OutputFlags;

/** What a kind's own command adds to the generic one (train: --rounds and its progress bar). */
export interface KindCommandHooks {
  /** Applies the kind's own flags to the spec read from the file, after the common flags. */
  prepare?(spec: Record<string, unknown>): void;
  /** Which of the kind's flags set which field, for error messages. */
  origins?: FlagOrigins;
  /** The progress line for a job event (undefined: the generic one). */
  progress?(e: JobEventView): string | undefined;
  /** Runs once the job has ended, before its result is printed (train: `--plot`); a returned code raises the exit code. */
  finished?(job: JobView): Promise<number | undefined>;
}

/**
 * `fedmesh glm SPEC.json` (and every registry kind's command): submit, show progress per round, print the kind's
 * view (`--json`: the kind's JSON object with the job id, state and privacy).
 */
export async function runKindCommand(kind: string, file: string, flags: KindFlags, hooks: KindCommandHooks = {}): Promise<number> {
  const spec = await readJobFile(file);
  if (spec.kind !== undefined && spec.kind !== kind) throw new FedmeshError('INVALID_JOB', `${quote(file, 200)}: kind is ${quote(spec.kind)}, expected ${kind}`, { field: 'kind' });
  spec.kind = kind;
  applyCommonFlags(spec, flags);
  hooks.prepare?.(spec);
  const origins = { ...commonFlagOrigins(flags), ...hooks.origins };
  const client = researcherClient(flags);
  const progress = createProgress(!quietOutput(flags) && process.stderr.isTTY === true);
  try {
    progress.update(`submitting ${kind} job…`);
    const submitted = await client.submitJob(spec).catch((e: unknown) => {
      throw withFlagName(e, origins);
    });
    const watched = await client.watchJob(submitted.jobId, (e) => {
      const line = hooks.progress?.(e);
      if (line !== undefined) progress.update(line);
      else if (e.type === 'round') progress.update(`${kind} job ${submitted.jobId.slice(0, 8)}: ${e.message}`);
    });
    const job = withFlagNameInJob(watched, origins);
    progress.stop();
    const hookCode = (await hooks.finished?.(job)) ?? 0;
    const def = KINDS.get(kind);
    await emit(
      {
        json: () => (job.result && def?.viewJson ? { jobId: job.jobId, status: job.state, ...def.viewJson(job.result), privacy: job.result.privacy } : jobToJson(job)),
        table: () => renderKindJob(job),
        flat: () => resultTable(job),
      },
      flags,
    );
    return Math.max(exitCodeForJob(job), hookCode);
  } finally {
    progress.stop();
    client.close();
  }
}
