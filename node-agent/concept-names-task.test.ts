import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../common/agent-protocol.js';
import { Agent } from './agent.js';

const CONCEPT = 'concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code\n192671,Gastrointestinal hemorrhage,Condition,SNOMED,Clinical Finding,S,74474003\n8507,MALE,Gender,Gender,Gender,S,M\n';

let seq = 0;
const task = (conceptIds?: number[]): AgentTask => ({ taskId: `t${++seq}`, jobId: 'j', kind: 'concept-names', specJson: '', deadlineMs: Date.now() + 10_000, round: 0, researcher: 'alice', payload: new Uint8Array(), ...(conceptIds ? { conceptIds } : {}) });

/** The agent's side of a concept-names task: public vocabulary rows only, and only where the domain publishes them as public. */
describe('an agent answers concept-names tasks from its concept table, under its own catalog', () => {
  let dir: string;
  const agents: Agent[] = [];
  async function agentWith(name: string, files: Record<string, string>, vocabularyComplete = true): Promise<Agent> {
    const data = join(dir, name, 'data');
    await mkdir(data, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(join(data, f), text);
    const a = await Agent.create({ name, dataDir: data, stateDir: join(dir, name, 'state'), coordinator: '127.0.0.1:1', insecure: true, vocabularyComplete });
    agents.push(a);
    return a;
  }
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-concept-task-'));
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the ids asked from a public concept table declared complete, nothing else', async () => {
    const a = await agentWith('vocab', { 'concept.csv': CONCEPT });
    const r = await a.handleTask(task([192671, 4000001]));
    expect(r).toMatchObject({ ok: true, conceptNames: [{ conceptId: 192671, name: 'Gastrointestinal hemorrhage' }] });
  });

  it('the declaration is published in the catalogue; without it, ids the agent released in no job are refused (POLICY_DENIED)', async () => {
    const trimmed = await agentWith('trimmed', { 'concept.csv': CONCEPT }, false);
    const r = await trimmed.handleTask(task([192671]));
    expect(!r.ok && r.error).toMatchObject({ code: 'POLICY_DENIED', field: 'concept_ids' });
    expect(!r.ok && r.error.message).toContain('not declared complete');
    const conceptOf = (a: Agent): Record<string, unknown> | undefined => a.registration().products.find((p) => p.name === 'concept')?.metadata;
    expect(conceptOf(trimmed)).not.toHaveProperty('vocabulary');
    expect(conceptOf(agents[0]!)).toMatchObject({ vocabulary: 'complete', sensitivity: 'public' });
  });

  it('a domain whose manifest marks concept as not public sends no names (POLICY_DENIED)', async () => {
    const a = await agentWith('restricted', { 'concept.csv': CONCEPT, 'fedmesh.products.json': JSON.stringify({ version: 1, products: { concept: { sensitivity: 'restricted' } } }) });
    const r = await a.handleTask(task([192671]));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ code: 'POLICY_DENIED', field: 'concept_ids' });
    expect(!r.ok && r.error.message).toContain('not published as public reference data');
  });

  it('without a concept table: FAILED_PRECONDITION; without ids: INVALID_ARGUMENT', async () => {
    const a = await agentWith('none', { 'visits.csv': 'pid,los\n1,3\n' });
    const r = await a.handleTask(task([192671]));
    expect(!r.ok && r.error).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'concept_ids' });
    const v = agents[0]!;
    expect(await v.handleTask(task())).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'concept_ids' } });
    expect(await v.handleTask(task([-1]))).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'concept_ids[0]' } });
  });
});
