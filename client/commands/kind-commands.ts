import { FedmeshError, quote } from '../../common/errors.js';
import { KINDS } from '../../jobs/kinds.js';
import { renderKindJob } from '../format/kind-view.js';
import { exitCodeForJob } from '../exit-codes.js';
import { jobToJson } from '../format/render.js';
import { resultTable } from '../format/result-table.js';
import { applyCommonFlags, commonFlagOrigins, type QueryFlags } from '../job-from-flags.js';
import { createProgress } from '../format/spinner.js';
import { researcherClient, type ConnectionFlags } from './common.js';
import { emit, quietOutput, type OutputFlags } from './output.js';
import { readJobFile, withFlagName, withFlagNameInJob } from './researcher.js';

export type KindFlags = QueryFlags & ConnectionFlags & OutputFlags;

/**
 * `fedmesh glm SPEC.json` (and every registry kind's command): submit, show progress per round, print the kind's
 * view (`--json`: the kind's JSON object with the job id, state and privacy).
 */
export async function runKindCommand(kind: string, file: string, flags: KindFlags): Promise<number> {
  const spec = await readJobFile(file);
  if (spec.kind !== undefined && spec.kind !== kind) throw new FedmeshError('INVALID_JOB', `${quote(file, 200)}: kind is ${quote(spec.kind)}, expected ${kind}`, { field: 'kind' });
  spec.kind = kind;
  applyCommonFlags(spec, flags);
  const origins = commonFlagOrigins(flags);
  const client = researcherClient(flags);
  const progress = createProgress(!quietOutput(flags) && process.stderr.isTTY === true);
  try {
    progress.update(`submitting ${kind} job…`);
    const submitted = await client.submitJob(spec).catch((e: unknown) => {
      throw withFlagName(e, origins);
    });
    const watched = await client.watchJob(submitted.jobId, (e) => {
      if (e.type === 'round') progress.update(`${kind} job ${submitted.jobId.slice(0, 8)}: ${e.message}`);
    });
    const job = withFlagNameInJob(watched, origins);
    progress.stop();
    const def = KINDS.get(kind);
    await emit(
      {
        json: () => (job.result && def?.viewJson ? { jobId: job.jobId, status: job.state, ...def.viewJson(job.result), privacy: job.result.privacy } : jobToJson(job)),
        table: () => renderKindJob(job),
        flat: () => resultTable(job),
      },
      flags,
    );
    return exitCodeForJob(job);
  } finally {
    progress.stop();
    client.close();
  }
}
