import {
  checkConceptNamesReply,
  CONCEPT_NAMES_TASK_KIND,
  MAX_CONCEPT_LOOKUP_IDS,
  mergeConceptNames,
  releasedConceptIds,
} from '../../common/job/concept-names.js';
import type { JobSpec } from '../../common/job/spec.js';
import type { AgentView } from '../agent-registry.js';
import type { Dispatcher } from '../dispatcher.js';
import type { JobResult } from '../job-record.js';

/** Longest wait for the agents' vocabulary answers; names are a courtesy and never hold a result back for long. */
export const CONCEPT_LOOKUP_TIMEOUT_MS = 5000;

/** Whether an agent registered a public OMOP `concept` table names can be read from. */
export function servesVocabulary(agent: AgentView): boolean {
  const p = agent.products.find((x) => x.name === 'concept');
  return p !== undefined && ['concept_id', 'concept_name'].every((c) => p.columns.some((x) => x.name === c)) && p.metadata.sensitivity === 'public';
}

export interface ConceptLookupContext {
  dispatcher: Dispatcher;
  jobId: string;
  researcher: string;
  spec: JobSpec;
  /** The agents whose answers made the result. */
  answered: readonly AgentView[];
  jobDeadlineMs: number;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/**
 * Adds `conceptNames` (id → name) to a final, released result: asks the answering agents that serve a public
 * vocabulary for the names of the concept ids the result already shows, and nothing else. Agents that lack a name
 * or fail leave it out; agents that disagree leave the id unnamed. Never fails the job: whatever goes wrong, the
 * result comes back with fewer (or no) names. HE results are released by the researcher's client, not here, so
 * the coordinator cannot tell which ids are released and asks for none.
 */
export async function nameReleasedConcepts(ctx: ConceptLookupContext, result: JobResult): Promise<JobResult> {
  if (ctx.spec.secure === 'he') return result;
  const ids = releasedConceptIds(ctx.spec, result);
  const vocabularies = ctx.answered.filter(servesVocabulary);
  if (ids.length === 0 || vocabularies.length === 0) return result;
  const asked = ids.slice(0, MAX_CONCEPT_LOOKUP_IDS);
  const now = Date.now();
  const deadlineMs = now + Math.min(CONCEPT_LOOKUP_TIMEOUT_MS, Math.max(1000, ctx.jobDeadlineMs - now));
  const outcomes = await Promise.all(
    vocabularies.map((a) => ctx.dispatcher.dispatch(a.name, { jobId: ctx.jobId, kind: CONCEPT_NAMES_TASK_KIND, specJson: '', deadlineMs, round: 0, researcher: ctx.researcher, payload: new Uint8Array(), conceptIds: asked })),
  );
  const answers: Map<number, string>[] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      ctx.log('concept-names-failed', { jobId: ctx.jobId, agent: o.agent, code: o.error.code });
      continue;
    }
    const checked = checkConceptNamesReply(asked, o.conceptNames ?? []);
    if (checked.ok) answers.push(checked.names);
    else ctx.log('concept-names-refused', { jobId: ctx.jobId, agent: o.agent, reason: checked.reason });
  }
  const merged = mergeConceptNames(answers);
  const notes: string[] = [];
  if (ids.length > asked.length) notes.push(`concept names: only the first ${asked.length} of ${ids.length} concept ids were named`);
  if (merged.disagreed > 0) notes.push(`concept names: ${merged.disagreed} concept id(s) left unnamed because the agents' vocabularies give different names`);
  if (Object.keys(merged.names).length === 0 && notes.length === 0) return result;
  return { ...result, conceptNames: merged.names, notes: [...result.notes, ...notes] };
}
