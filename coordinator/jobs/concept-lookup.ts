import {
  checkConceptNamesReply,
  CONCEPT_NAMES_TASK_KIND,
  conceptIdSources,
  MAX_CONCEPT_LOOKUP_IDS,
  mergeConceptNames,
  SUPPLIED_IDS_NOTE,
  VOCABULARY_COMPLETE,
} from '../../common/job/index.js';
import type { JobSpec } from '../../common/job/index.js';
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

/**
 * Whether an agent declares (in its catalogue) that its vocabulary is complete, i.e. does not depend on its data:
 * only then may it name ids the researcher supplied.
 */
export function declaresCompleteVocabulary(agent: AgentView): boolean {
  return agent.products.find((x) => x.name === 'concept')?.metadata.vocabulary === VOCABULARY_COMPLETE;
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
  try {
    return await lookUpReleasedConcepts(ctx, result);
  } catch (e) {
    ctx.log('concept-names-error', { jobId: ctx.jobId, error: String(e) });
    return result;
  }
}

async function lookUpReleasedConcepts(ctx: ConceptLookupContext, result: JobResult): Promise<JobResult> {
  if (ctx.spec.secure === 'he') return result;
  const { derived, supplied } = conceptIdSources(ctx.spec, result);
  const vocabularies = ctx.answered.filter(servesVocabulary);
  if (vocabularies.length === 0) return result;
  // Supplied ids go only to complete vocabularies; a trimmed one would tell by its silence which are absent.
  const all = [...new Set([...derived, ...supplied])].sort((a, b) => a - b);
  const asks = vocabularies
    .map((a) => ({ agent: a, wanted: declaresCompleteVocabulary(a) ? all : derived }))
    .filter((x) => x.wanted.length > 0)
    .map((x) => ({ ...x, ids: x.wanted.slice(0, MAX_CONCEPT_LOOKUP_IDS) }));
  const notes: string[] = [];
  // Depends on the released result and the catalogue only, never on what a vocabulary holds.
  if (supplied.length > 0 && vocabularies.some((a) => !declaresCompleteVocabulary(a))) notes.push(SUPPLIED_IDS_NOTE);
  const now = Date.now();
  const deadlineMs = now + Math.min(CONCEPT_LOOKUP_TIMEOUT_MS, Math.max(1000, ctx.jobDeadlineMs - now));
  const outcomes = await Promise.all(
    asks.map(async (x) => ({
      asked: x.ids,
      outcome: await ctx.dispatcher.dispatch(x.agent.name, { jobId: ctx.jobId, kind: CONCEPT_NAMES_TASK_KIND, specJson: '', deadlineMs, round: 0, researcher: ctx.researcher, payload: new Uint8Array(), conceptIds: x.ids }),
    })),
  );
  const answers: Map<number, string>[] = [];
  for (const { asked, outcome: o } of outcomes) {
    if (!o.ok) {
      ctx.log('concept-names-failed', { jobId: ctx.jobId, agent: o.agent, code: o.error.code });
      continue;
    }
    const checked = checkConceptNamesReply(asked, o.conceptNames ?? []);
    if (checked.ok) answers.push(checked.names);
    else ctx.log('concept-names-refused', { jobId: ctx.jobId, agent: o.agent, reason: checked.reason });
  }
  const merged = mergeConceptNames(answers);
  const wantedMost = Math.max(0, ...asks.map((x) => x.wanted.length));
  if (wantedMost > MAX_CONCEPT_LOOKUP_IDS) notes.push(`concept names: only the first ${MAX_CONCEPT_LOOKUP_IDS} of ${wantedMost} concept ids were named`);
  if (merged.disagreed > 0) notes.push(`concept names: ${merged.disagreed} concept id(s) left unnamed because the agents' vocabularies give different names`);
  if (Object.keys(merged.names).length === 0 && notes.length === 0) return result;
  return { ...result, conceptNames: merged.names, notes: [...result.notes, ...notes] };
}
