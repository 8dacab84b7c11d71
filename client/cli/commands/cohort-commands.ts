import { writeFile } from 'node:fs/promises';
import { FedmeshError, quote } from '../../../common/errors.js';
import { applyCommonFlags, commonFlagOrigins, type QueryFlags } from '../job-from-flags.js';
import { exitCodeForJob } from '../../sdk/exit-codes.js';
import { jobToJson, renderJob } from '../format/render.js';
import { resultTable } from '../../sdk/result-table.js';
import { emit, quietOutput, type OutputFlags } from './output.js';
import { createProgress } from '../format/spinner.js';
import { escapeXml, renderSurvivalSvg } from '../plot/index.js';
import type { JobView } from '../../sdk/types.js';
import { researcherClient, type ConnectionFlags } from './common.js';
import { readJobFile, withFlagName, withFlagNameInJob } from './researcher.js';

export interface CohortFlags extends QueryFlags, ConnectionFlags, OutputFlags {
  plot?: string;
  conditions?: string;
  drugs?: string;
}

const ids = (s: string | undefined): number[] | undefined => (s ? s.split(',').map((x) => Number(x.trim())) : undefined);

/** Builds the job of `fedmesh cohort|characterize|survival|contingency FILE.json`: a whole job, or (cohort kinds) a bare definition. */
export async function cellJobFromFile(kind: 'cohort' | 'characterize' | 'survival' | 'contingency', file: string, flags: CohortFlags): Promise<Record<string, unknown>> {
  const v = await readJobFile(file);
  let job: Record<string, unknown>;
  if (v.kind !== undefined) {
    if (v.kind !== kind) throw new FedmeshError('INVALID_JOB', `${file}: kind is ${quote(v.kind)}, expected ${kind}`, { field: 'kind' });
    job = v;
  } else if (kind === 'cohort' || kind === 'characterize') {
    job = { kind, definition: v };
  } else {
    job = { kind, ...v };
  }
  if (kind === 'characterize') {
    const c = ids(flags.conditions);
    const d = ids(flags.drugs);
    if (c) job.conditionConcepts = c;
    if (d) job.drugConcepts = d;
  }
  applyCommonFlags(job, flags);
  return job;
}

export async function runCellCommand(kind: 'cohort' | 'characterize' | 'survival' | 'contingency', file: string, flags: CohortFlags): Promise<number> {
  const spec = await cellJobFromFile(kind, file, flags);
  const client = researcherClient(flags);
  const progress = createProgress(!quietOutput(flags) && process.stderr.isTTY === true);
  let job: JobView;
  try {
    progress.update(`submitting ${kind} job…`);
    const origins = commonFlagOrigins(flags);
    if (flags.conditions) origins.conditionConcepts = `--conditions ${flags.conditions}`;
    if (flags.drugs) origins.drugConcepts = `--drugs ${flags.drugs}`;
    job = withFlagNameInJob(
      await client.run(spec, (e) => progress.update(`${kind} job: ${e.type}${e.agent ? ` (${e.agent})` : ''}`)).catch((e: unknown) => {
        throw withFlagName(e, origins);
      }),
      origins,
    );
  } finally {
    progress.stop();
    client.close();
  }
  if (kind === 'survival' && flags.plot && job.result?.summary) {
    const curves = (job.result.summary.curves as { label: string; times: number[]; survival: number[]; lower: number[]; upper: number[]; atRisk?: number[] }[]) ?? [];
    if (curves.length === 0) {
      // In mode none a curve is released only where every cell met the minimum size (see the notes printed below).
      const why = 'no curve was released: cells were withheld below the minimum cell size (a wider timeGrid.binDays pools more persons per bin)';
      // The file still says why it is empty, rather than not existing or showing a curve computed from zeros.
      await writeFile(flags.plot, `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="80" font-family="sans-serif" font-size="13"><title>Kaplan–Meier: no curve released</title><text x="10" y="40">${escapeXml(why)}</text></svg>\n`);
      process.stderr.write(`${why}; wrote an empty plot saying so to ${flags.plot}\n`);
    } else {
      const svg = await renderSurvivalSvg(curves, { title: `Kaplan–Meier (${String(job.result.privacy.mode)})`, xLabel: 'days since cohort entry' });
      await writeFile(flags.plot, svg);
      if (!quietOutput(flags)) process.stderr.write(`wrote ${flags.plot}\n`);
    }
  }
  const done = job;
  await emit({ json: () => jobToJson(done), table: (color) => renderJob(done, color), flat: () => resultTable(done) }, flags);
  return exitCodeForJob(job);
}
