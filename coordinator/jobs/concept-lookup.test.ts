import { describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import type { ConceptNameEntry } from '../../common/job/index.js';
import { parseJobSpec, SUPPLIED_IDS_NOTE } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import type { Dispatcher, TaskOutcome } from '../dispatcher.js';
import type { JobResult } from '../job-record.js';
import { nameReleasedConcepts, type ConceptLookupContext } from './concept-lookup.js';

/** A public vocabulary the operator declared complete: it may name researcher-supplied ids. */
const VOCAB = { name: 'concept', columns: [{ name: 'concept_id', type: 'BIGINT' }, { name: 'concept_name', type: 'VARCHAR' }], privacyUnit: '', description: '', metadata: { sensitivity: 'public', vocabulary: 'complete' } as Record<string, unknown> };
/** A public vocabulary without that declaration (GiBleed's default): it may be trimmed to the concepts the site uses. */
const TRIMMED = { ...VOCAB, metadata: { sensitivity: 'public' } };
const PERSON = { name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }], privacyUnit: 'person_id', description: '', metadata: {} };

function agent(name: string, products = [PERSON, VOCAB]): AgentView {
  return { name, domain: name, connected: true, connectedSinceMs: 0, lastHeartbeatMs: 0, products, version: '0.1.0', policy: { minCellSize: 10, allowModes: ['none'], allowKinds: [] } };
}

/** A dispatcher that records the tasks and answers from a per-agent vocabulary (or fails, or answers wrongly). */
function fakeDispatcher(answer: (agent: string, ids: number[]) => TaskOutcome): { dispatcher: Dispatcher; tasks: { agent: string; task: Omit<AgentTask, 'taskId'> }[] } {
  const tasks: { agent: string; task: Omit<AgentTask, 'taskId'> }[] = [];
  const dispatcher = {
    dispatch: (a: string, task: Omit<AgentTask, 'taskId'>) => {
      tasks.push({ agent: a, task });
      return Promise.resolve(answer(a, task.conceptIds ?? []));
    },
  } as unknown as Dispatcher;
  return { dispatcher, tasks };
}

const vocabulary: Record<number, string> = { 192671: 'Gastrointestinal hemorrhage', 8507: 'MALE', 8532: 'FEMALE', 4000001: 'Rare thing' };
const answerFrom = (agentName: string, ids: number[], names: Record<number, string> = vocabulary): TaskOutcome => ({
  ok: true,
  agent: agentName,
  arrow: new Uint8Array(),
  meta: {},
  conceptNames: ids.filter((i) => names[i] !== undefined).map((i): ConceptNameEntry => ({ conceptId: i, name: names[i]! })),
});

const spec = parseJobSpec(JSON.stringify({ kind: 'characterize', definition: { name: 'x', entry: { domain: 'condition', concepts: { include: [{ conceptId: 192671 }] } } }, conditionConcepts: [192671, 4000001], drugConcepts: [], privacy: { mode: 'none' } }));
const result = (): JobResult => ({
  columns: ['count'],
  rows: [{ count: 40 }],
  suppressed: [{ group: { cell: 'condition:4000001' }, suppressedBy: ['a1'] }],
  privacy: { mode: 'none' },
  summary: { count: 40, byGender: [{ gender_concept_id: 8507, count: 25 }, { gender_concept_id: 8532, count: null }], conditions: [{ concept_id: 192671, persons: 40 }, { concept_id: 4000001, persons: null }], drugs: [] },
  notes: [],
  agentErrors: {},
});

function ctx(dispatcher: Dispatcher, answered: AgentView[], over: Partial<ConceptLookupContext> = {}): ConceptLookupContext {
  return { dispatcher, jobId: 'j1', researcher: 'alice', spec, answered, jobDeadlineMs: Date.now() + 30_000, log: () => undefined, ...over };
}

describe('nameReleasedConcepts: names for released ids only, never failing the job', () => {
  it('asks the vocabulary agents for released ids only — not the suppressed condition, not the suppressed gender', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('a1'), agent('a2', [PERSON])]), result());
    expect(tasks.map((t) => t.agent)).toEqual(['a1']);
    expect(tasks[0]!.task.kind).toBe('concept-names');
    expect(tasks[0]!.task.conceptIds).toEqual([8507, 192671]);
    expect(out.conceptNames).toEqual({ 8507: 'MALE', 192671: 'Gastrointestinal hemorrhage' });
    expect(out.conceptNames).not.toHaveProperty('4000001');
  });

  it('an agent that names an id it was not asked about is ignored as a whole', async () => {
    const { dispatcher } = fakeDispatcher((a) => ({ ok: true, agent: a, arrow: new Uint8Array(), meta: {}, conceptNames: [{ conceptId: 192671, name: 'GI bleed' }, { conceptId: 4000001, name: 'Rare thing' }] }));
    const logged: string[] = [];
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('a1')], { log: (e) => logged.push(e) }), result());
    expect(out.conceptNames).toBeUndefined();
    expect(logged).toEqual(['concept-names-refused']);
  });

  it('agents that disagree leave the id unnamed and say so; a failing agent costs nothing', async () => {
    const { dispatcher } = fakeDispatcher((a, ids) =>
      a === 'a3' ? { ok: false, agent: a, error: { code: 'ROUND_TIMEOUT', message: 'late' } } : answerFrom(a, ids, a === 'a2' ? { ...vocabulary, 8507: 'Male' } : vocabulary),
    );
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('a1'), agent('a2'), agent('a3')]), result());
    expect(out.conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage' });
    expect(out.notes).toEqual(["concept names: 1 concept id(s) left unnamed because the agents' vocabularies give different names"]);
  });

  it('without a vocabulary agent, or for HE jobs, or with no concept ids, nothing is asked and the result is unchanged', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const r = result();
    expect(await nameReleasedConcepts(ctx(dispatcher, [agent('a1', [PERSON])]), r)).toBe(r);
    expect(await nameReleasedConcepts(ctx(dispatcher, [agent('a1')], { spec: { ...spec, secure: 'he' } }), r)).toBe(r);
    const noIds = { ...r, summary: { count: 40, byGender: [], conditions: [], drugs: [] } };
    expect(await nameReleasedConcepts(ctx(dispatcher, [agent('a1')]), noIds)).toBe(noIds);
    // A vocabulary that is not published as public is not asked either.
    expect(await nameReleasedConcepts(ctx(dispatcher, [agent('a1', [PERSON, { ...VOCAB, metadata: { sensitivity: 'restricted' } }])]), r)).toBe(r);
    expect(tasks).toEqual([]);
  });

  it('the lookup waits at most 5 s even when the job deadline is far', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const before = Date.now();
    await nameReleasedConcepts(ctx(dispatcher, [agent('a1')], { jobDeadlineMs: before + 3_600_000 }), result());
    expect(tasks[0]!.task.deadlineMs - before).toBeLessThanOrEqual(5_100);
  });
});

describe('nameReleasedConcepts: researcher-supplied ids are named only by complete vocabularies', () => {
  const aggSpec = (groupKeys?: Record<string, number[]>) =>
    parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id'], ...(groupKeys ? { groupKeys } : {}), measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
  const aggResult = (): JobResult => ({ columns: ['condition_concept_id', 'count'], rows: [{ condition_concept_id: 192671, count: 3 }, { condition_concept_id: 4000001, count: -2 }], suppressed: [], privacy: { mode: 'central-dp' }, notes: [], agentErrors: {} });

  it('a trimmed vocabulary is sent no lookup for characterisation concept lists or gender levels; the note says why (negative control: complete → names)', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('a1', [PERSON, TRIMMED])]), result());
    expect(tasks).toEqual([]);
    expect(out.conceptNames ?? {}).toEqual({});
    expect(out.notes).toEqual([SUPPLIED_IDS_NOTE]);
  });

  it('public groupKeys are supplied ids: a trimmed vocabulary is not asked, a complete one is asked for the released rows', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('trimmed', [PERSON, TRIMMED]), agent('complete')], { spec: aggSpec({ condition_concept_id: [192671, 4000001] }) }), aggResult());
    expect(tasks.map((t) => [t.agent, t.task.conceptIds])).toEqual([['complete', [192671, 4000001]]]);
    expect(out.conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage', 4000001: 'Rare thing' });
    expect(out.notes).toEqual([SUPPLIED_IDS_NOTE]);
  });

  it('data-derived keys (no groupKeys) are asked of a trimmed vocabulary too, with no note', async () => {
    const { dispatcher, tasks } = fakeDispatcher((a, ids) => answerFrom(a, ids));
    const out = await nameReleasedConcepts(ctx(dispatcher, [agent('trimmed', [PERSON, TRIMMED])], { spec: aggSpec() }), aggResult());
    expect(tasks.map((t) => [t.agent, t.task.conceptIds])).toEqual([['trimmed', [192671, 4000001]]]);
    expect(out.conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage', 4000001: 'Rare thing' });
    expect(out.notes).toEqual([]);
  });
});
