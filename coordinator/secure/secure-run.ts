import type { JobSpec } from '../../common/job/index.js';
import type { Dispatcher, TaskOutcome } from '../dispatcher.js';
import type { JobErrorInfo, JobRecord, JobResult } from '../job-record.js';
import type { SecureAdmission } from './admit-secure.js';

export interface SecureRunContext {
  job: JobRecord;
  spec: JobSpec;
  admission: SecureAdmission;
  dispatcher: Dispatcher;
  jobDeadlineMs: number;
  /** Progress events (agent-answered / agent-failed). */
  emit: (type: 'agent-answered' | 'agent-failed', agent: string, message?: string) => void;
}

export interface SecureOutcome {
  answered: string[];
  missing: string[];
  result: JobResult;
  resultCiphertexts?: Uint8Array;
}

/** Sends one round's task to each target and hands every successful reply to `receive`; failures land in `errors`. */
export async function askRound(
  ctx: SecureRunContext,
  round: number,
  deadlineMs: number,
  targets: readonly string[],
  payloadFor: (agent: string) => Uint8Array,
  receive: (agent: string, payload: Uint8Array, outcome: Extract<TaskOutcome, { ok: true }>) => void,
  errors: Record<string, JobErrorInfo>,
): Promise<void> {
  const specJson = JSON.stringify(ctx.spec);
  await Promise.all(
    targets.map(async (agent) => {
      const o = await ctx.dispatcher.dispatch(agent, { jobId: ctx.job.id, kind: ctx.spec.kind, specJson, deadlineMs, round, researcher: ctx.job.researcher, payload: payloadFor(agent) });
      if (!o.ok) {
        errors[agent] = { code: o.error.code, message: `round ${round}: ${o.error.message}`, ...(o.error.field ? { field: o.error.field } : {}) };
        ctx.emit('agent-failed', agent, `${o.error.code}: ${o.error.message}`);
        return;
      }
      try {
        receive(agent, o.payload ?? new Uint8Array(), o);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        errors[agent] = { code: typeof err.code === 'string' ? err.code : 'INVALID_ARGUMENT', message: `round ${round}: ${err.message ?? String(e)}` };
        ctx.emit('agent-failed', agent, errors[agent].message);
      }
    }),
  );
}

export function describeErrors(errors: Record<string, JobErrorInfo>): string {
  // By agent name, not by who failed first: a refusal reads the same however the agents' replies raced.
  const list = Object.entries(errors)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([a, e]) => `${a}: ${e.code}: ${e.message}`);
  return list.length > 0 ? ` (${list.join('; ')})` : '';
}

/** The largest minimum cell size among the contributors: mode none applies it to the released totals. */
export function minCellSizeOf(ctx: SecureRunContext, contributors: readonly string[]): number {
  return Math.max(1, ...ctx.admission.agents.filter((a) => contributors.includes(a.name)).map((a) => a.policy.minCellSize));
}
