import { partialLine } from '../../common/job/index.js';
import type { JobResult, MissingAgent } from '../job-record.js';

/**
 * Marks a result complete or partial: every agent it does not include is listed with the reason (not live,
 * excluded at admission, no usable answer), and a partial result says so in its notes.
 */
export function withCompleteness(result: JobResult, answered: readonly string[], missingNow: readonly string[], excluded: readonly MissingAgent[]): JobResult {
  const fromResult = (result.agentsMissing ?? []).filter((m) => !excluded.some((x) => x.agent === m.agent));
  const known = new Set([...excluded, ...fromResult].map((m) => m.agent));
  const duringJob = missingNow
    .filter((a) => !known.has(a))
    .map((a) => {
      const e = result.agentErrors[a];
      return { agent: a, reason: e ? `no usable answer: ${e.code}: ${e.message}` : 'no usable answer' };
    });
  const missing = [...excluded, ...fromResult, ...duringJob];
  if (missing.length === 0) return { ...result, complete: true };
  return { ...result, complete: false, agentsMissing: missing, notes: [partialLine(answered.length, missing), ...result.notes] };
}
