import { KINDS } from '../../../jobs/kinds.js';
import type { JobView } from '../../sdk/types.js';

/**
 * Whether a job is of a registry kind (jobs/<kind>) rendered by its kind's own view. A ported built-in kind
 * (`builtInSpec`) releases the built-in result shape and keeps the built-in rendering (tables, --flat, names).
 */
export function isRegistryKind(kind: string): boolean {
  return KINDS.has(kind) && KINDS.get(kind)!.builtInSpec !== true;
}

/** The job header and, for a released result, the kind's own view (R's summary for glm). */
export function renderKindJob(job: JobView): string {
  const head = `job ${job.jobId}: ${job.state}  (agents answered ${job.agents.answered.length}/${job.agents.asked.length})`;
  if (job.error) return `${head}\nerror ${job.error.code}: ${job.error.message}`;
  const r = job.result;
  const def = KINDS.get(job.kind);
  if (!r || !def) return head;
  const privacy = r.privacy as { mode?: string; epsilon?: number; rho?: number; roundsCharged?: number };
  const rounds = (r.summary as { rounds?: number } | undefined)?.rounds;
  const lines = [head, def.view(r)];
  if (r.notes.length > 0 && !def.view(r).includes(r.notes[0]!)) lines.push(...r.notes);
  lines.push(`privacy: ${privacy.mode ?? 'none'}${privacy.epsilon !== undefined ? `, ε = ${privacy.epsilon} over ${privacy.roundsCharged} public rounds (charged once)` : ''}${rounds !== undefined ? `; ${rounds} rounds run` : ''}`);
  return lines.join('\n');
}
