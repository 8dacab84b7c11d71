/**
 * The coordinator's job record as the researcher's client sees it (`JobView`), so the dashboard's table, CSV and
 * JSON downloads and charts come from the same functions as the CLI's (`resultTable`, `jobToJson`, `chartsForJob`).
 */
import type { JobRecord } from '../coordinator/job-record.js';
import type { JobSummary } from '../coordinator/job-summary.js';
import type { JobView } from '../client/sdk/types.js';

export function toJobView(job: JobRecord): JobView {
  return {
    jobId: job.id,
    state: job.state,
    kind: job.kind,
    researcher: job.researcher,
    createdAtMs: job.createdAtMs,
    finishedAtMs: job.finishedAtMs ?? 0,
    agents: { asked: job.agentsAsked, answered: job.agentsAnswered, missing: job.agentsMissing },
    result: job.result ? { ...job.result } : undefined,
    error: job.error ? { code: job.error.code, message: job.error.message, field: job.error.field ?? '' } : undefined,
    spec: job.spec,
    ...(job.resultCiphertexts ? { resultCiphertexts: job.resultCiphertexts } : {}),
  };
}

/** The ε a job asked for, as its summary states it (ρ shown as such); undefined for mode none. */
export function askedPrivacy(s: JobSummary['spec']): string {
  if (!s.privacyMode || s.privacyMode === 'none') return 'none (exact)';
  if (s.epsilon !== undefined) return `${s.privacyMode}, ε ${s.epsilon}`;
  if (s.rho !== undefined) return `${s.privacyMode}, ρ ${s.rho}`;
  return s.privacyMode;
}
