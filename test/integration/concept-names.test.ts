import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { renderJob } from '../../client/cli/format/render.js';
import { resultTable } from '../../client/sdk/result-table.js';
import { SUPPLIED_IDS_NOTE } from '../../common/job/index.js';
import { gibleedAvailable, gibleedDir } from '../reference/circe-reference.js';
import { splitGiBleed } from '../helpers/gibleed-split.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';

const available = gibleedAvailable();
if (!available) console.warn(`[skip] concept names on GiBleed: ${gibleedDir} not found (../shared/data is absent)`);

const PERSON_TABLES = ['person', 'observation_period', 'condition_occurrence', 'drug_exposure'];
const GI_BLEED = 192671;
/** Conditions held by 2–6 persons of the GI-bleed cohort in all of GiBleed: at k = 5 some are withheld at an agent. */
const RARE = [4299128, 80809, 4048695, 4166224, 133834, 380378];

describe.skipIf(!available)('concept names next to concept ids, on GiBleed split across 3 agents (a1 declares its vocabulary complete, a2 does not, a3 without a vocabulary) and a plain-CSV agent a4', () => {
  let mesh: TestMesh;
  /** The ids of every concept-names task, by the agent that received it. */
  const asked: { agent: string; ids: number[] }[] = [];
  const askedOf = (agent: string): number[][] => asked.filter((a) => a.agent === agent).map((a) => a.ids);

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3', 'a4'] });
    const dirs = await splitGiBleed(join(mesh.dir, 'gibleed'), 3, PERSON_TABLES, [0, 1]);
    // a4 serves a plain person.csv (not an OMOP set): it has no concept table at all.
    dirs.push(join(mesh.dir, 'plain'));
    await writePersonCsv(dirs[3]!, makePersons(60, 5));
    for (const [i, d] of dirs.entries()) {
      const name = `a${i + 1}`;
      const agent = await mesh.startAgent(name, d, { allowModes: ['none', 'central-dp'], minCellSize: 5 }, { vocabularyComplete: name === 'a1' });
      const handle = agent.serveTask.bind(agent);
      agent.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
        if (t.kind === 'concept-names') asked.push({ agent: name, ids: [...(t.conceptIds ?? [])] });
        return handle(t, id);
      };
    }
    await mesh.waitForAgents(4, 60_000);
  }, 180_000);
  afterAll(async () => mesh?.close());

  it('characterize in mode none: 192671 is named "Gastrointestinal hemorrhage"; a withheld condition is never named nor asked about', async () => {
    asked.length = 0;
    const job = await mesh.client.run({
      kind: 'characterize',
      definition: { name: 'GI bleed', entry: { domain: 'condition', concepts: { include: [{ conceptId: GI_BLEED }] }, occurrence: 'first' } },
      conditionConcepts: [GI_BLEED, ...RARE],
      drugConcepts: [],
      // Any condition record of a cohort member counts, so the rare ones are present (and withheld below k = 5).
      windowDays: [-36500, 36500],
      agents: ['a1', 'a2'],
      privacy: { mode: 'none' },
      timeoutMs: 120_000,
    });
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    const r = job.result!;
    const conditions = r.summary!.conditions as { concept_id: number; persons: number | null }[];
    expect(conditions.find((c) => c.concept_id === GI_BLEED)!.persons).toBeGreaterThan(0);
    expect(r.conceptNames?.[String(GI_BLEED)]).toBe('Gastrointestinal hemorrhage');
    expect(r.conceptNames?.['8507']).toBe('MALE');
    const withheld = conditions.filter((c) => c.persons === null).map((c) => c.concept_id);
    expect(withheld.length, 'the test needs a condition withheld below k = 5').toBeGreaterThan(0);
    for (const id of withheld) {
      expect(r.conceptNames).not.toHaveProperty(String(id));
      for (const a of asked) expect(a.ids).not.toContain(id);
    }
    // Concept lists and gender levels are supplied ids: only a1, whose vocabulary is declared complete, is asked.
    expect(asked.map((a) => a.agent)).toEqual(['a1']);
    expect(r.notes).toContain(SUPPLIED_IDS_NOTE);
    // Negative control: the vocabulary does hold the withheld ids, so their absence is the release rule at work.
    const direct = await mesh.agents.get('a1')!.handleTask({ taskId: 't', jobId: 'j', kind: 'concept-names', specJson: '', deadlineMs: Date.now() + 10_000, round: 0, researcher: 'researcher', payload: new Uint8Array(), conceptIds: withheld });
    expect(direct.ok && direct.conceptNames?.length).toBe(withheld.length);
    // What the researcher sees: id and name side by side in the table, and in the CSV's concept_name column.
    expect(renderJob(job, false)).toMatch(/192671\s*│\s*Gastrointestinal hemorrhage/);
    expect(resultTable(job).rows.find((row) => row.section === 'conditions' && row.concept_id === GI_BLEED)!.concept_name).toBe('Gastrointestinal hemorrhage');
  }, 120_000);

  it('agents without a vocabulary: the job succeeds and the ids are shown without names', async () => {
    const spec = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
    for (const agent of ['a3', 'a4']) {
      asked.length = 0;
      const bare = await mesh.client.run({ ...spec, agents: [agent] });
      expect(bare.state, agent).toBe('succeeded');
      expect(bare.result!.rows.map((row) => Number(row.gender_concept_id)).sort(), agent).toEqual([8507, 8532]);
      expect(bare.result!.conceptNames, agent).toBeUndefined();
      expect(resultTable(bare).columns).toEqual(['gender_concept_id', 'count']);
      // a3's OMOP set has an empty concept table (created with the CDM) and is asked, in vain; a4 has none and is not asked.
      expect(asked.map((a) => a.agent)).toEqual(agent === 'a3' ? ['a3'] : []);
    }
    // Negative control: the same job at a1, whose vocabulary has the genders, names them.
    asked.length = 0;
    const named = await mesh.client.run({ ...spec, agents: ['a1', 'a3'] });
    expect(named.state).toBe('succeeded');
    expect(named.result!.conceptNames).toEqual({ 8507: 'MALE', 8532: 'FEMALE' });
    expect(askedOf('a1')).toEqual([[8507, 8532]]);
    expect(resultTable(named).columns).toEqual(['gender_concept_id', 'gender_concept_name', 'count']);
  }, 60_000);

  it('central-dp with partition selection: names are asked for exactly the groups released, no others', async () => {
    asked.length = 0;
    const job = await mesh.client.run({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], agents: ['a1', 'a2'], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    expect(job.error).toBeUndefined();
    const released = job.result!.rows.map((row) => Number(row.condition_concept_id)).sort((a, b) => a - b);
    expect(released.length).toBeGreaterThan(0);
    expect(asked.map((a) => a.agent).sort()).toEqual(['a1', 'a2']);
    for (const a of asked) expect(a.ids).toEqual(released);
    expect(Object.keys(job.result!.conceptNames ?? {}).map(Number).sort((a, b) => a - b)).toEqual(released);
  }, 60_000);
});
