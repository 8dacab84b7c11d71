/**
 * Which coordinator happenings become audit entries, and with which fields: a whitelist per event, so a field a
 * log line gains later (a message, a spec value) never reaches the audit log by accident. Job lifecycle entries
 * come from the job events, releases and refusals from the coordinator's log lines, charges from the ledger.
 */
import type { AuditFields } from '../../common/audit/index.js';
import { specSha256 } from '../../common/job/index.js';
import { isFedmeshErrorCode } from '../../common/errors.js';
import type { JobEventRecord, JobRecord } from '../job-record.js';


/** Log event → audit type and the fields kept. */
export const LOGGED_EVENTS: Readonly<Record<string, { type: string; keep: readonly string[]; auth?: true }>> = {
  'job-rejected': { type: 'job.refused', keep: ['researcher', 'kind', 'privacyMode', 'code', 'field', 'policy'] },
  'job-succeeded': { type: 'job.released', keep: ['jobId', 'researcher', 'kind', 'privacyMode', 'secure', 'epsilon', 'delta', 'answered', 'missing'] },
  'job-failed': { type: 'job.failed', keep: ['jobId', 'researcher', 'kind', 'privacyMode', 'secure', 'epsilon', 'delta', 'answered', 'missing', 'code'] },
  'jobs-interrupted': { type: 'job.interrupted', keep: ['count'] },
  'agent-connected': { type: 'agent.registered', keep: ['agent'] },
  'agent-disconnected': { type: 'agent.disconnected', keep: ['agent', 'reason'] },
  'agent-updated': { type: 'agent.updated', keep: ['agent', 'products'] },
  'agent-removed': { type: 'agent.removed', keep: ['agent', 'by'] },
  'call-refused': { type: 'auth.failed', keep: ['method', 'reason', 'role'], auth: true },
  'tls-handshake-refused': { type: 'auth.failed', keep: ['remote', 'reason'], auth: true },
  'agent-link-refused': { type: 'auth.failed', keep: ['agent', 'code'], auth: true },
};

/** The audit entry for a job event, if it is one the trail keeps. Agent errors keep their code only (messages may quote the spec). */
export function jobEventEntry(e: JobEventRecord, job: JobRecord): { type: string; fields: AuditFields } | undefined {
  switch (e.type) {
    case 'admitted':
      return {
        type: 'job.admitted',
        fields: {
          jobId: job.id,
          researcher: job.researcher,
          kind: job.spec.kind,
          privacyMode: typeof privacyOf(job).mode === 'string' ? (privacyOf(job).mode as string) : null,
          ...(typeof (job.spec as { secure?: unknown }).secure === 'string' ? { secure: (job.spec as { secure: string }).secure } : {}),
          ...(typeof privacyOf(job).epsilon === 'number' ? { epsilon: privacyOf(job).epsilon as number } : {}),
          ...(typeof privacyOf(job).delta === 'number' ? { delta: privacyOf(job).delta as number } : {}),
          agents: job.agentsAsked.slice(0, 256),
          leftOut: job.agentsMissing.slice(0, 256),
          specSha256: specSha256(job.spec),
        },
      };
    case 'dispatched':
      return { type: 'job.dispatched', fields: { jobId: job.id, agents: job.agentsAsked.slice(0, 256) } };
    case 'agent-answered':
      return { type: 'job.agent-answered', fields: { jobId: job.id, agent: e.agent ?? null } };
    case 'agent-failed': {
      // A built-in job's message is "CODE: …", a job on the kind seam's "round N: CODE: …".
      // The code comes from an agent's reply: only one of fedmesh's codes is audited as such (red team 43).
      const found = /^(?:round \d{1,6}: )?([A-Z][A-Z_]{1,40}):/.exec(e.message ?? '')?.[1];
      const code = found !== undefined && isFedmeshErrorCode(found) ? found : 'UNKNOWN';
      return { type: 'job.agent-refused', fields: { jobId: job.id, agent: e.agent ?? null, code } };
    }
    default:
      return undefined;
  }
}

/** The privacy block of any spec, built-in or registry kind (a registry spec is only known to be JSON here). */
function privacyOf(job: JobRecord): Record<string, unknown> {
  const p = (job.spec as { privacy?: unknown }).privacy;
  return typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : {};
}
