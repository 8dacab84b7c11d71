import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { SUPPLIED_IDS_NOTE } from '../../common/job/index.js';
import { compileKindJob, encodeRoundPayload } from '../../common/kinds/index.js';
import { KINDS } from '../../jobs/kinds.js';
import type { Agent } from '../../node-agent/index.js';
import { gibleedAvailable, gibleedDir } from '../reference/circe-reference.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';

const available = gibleedAvailable();
if (!available) console.warn(`[skip] concept-name leak on GiBleed: ${gibleedDir} not found (../shared/data is absent)`);

const GI_BLEED = 192671;
/** In GiBleed's data and concept table, but held by a handful of persons: never partition-selected at ε = 1. */
const RARE = [4299128, 80809, 4048695, 4166224, 133834, 380378];
/** Not in GiBleed's data, and so not in its concept table (444 concepts: the 323 used and a few more). */
const ABSENT = [201826, 316866];
const SUPPLIED = [GI_BLEED, RARE[0]!, ...ABSENT];

/**
 * Red-team finding: GiBleed's concept table is trimmed to (about) the concepts its data use. Had names been looked up
 * for ids the researcher supplied, a name's absence would tell "no patient here has X" at no ε. Both agents serve
 * the same GiBleed; `trimmed` publishes its concept table as is (the default), `complete` is declared complete by its
 * operator (the negative control: the declaration is what lets supplied ids be named).
 */
describe.skipIf(!available)('concept names do not reveal which concepts a site vocabulary holds', () => {
  let mesh: TestMesh;
  const asked: { agent: string; jobId: string; ids: number[] }[] = [];
  const lookup = (agent: Agent, jobId: string, ids: number[]): Promise<AgentTaskReply> =>
    agent.handleTask({ taskId: `t-${jobId}-${ids.join('-')}`, jobId, kind: 'concept-names', specJson: '', deadlineMs: Date.now() + 10_000, round: 0, researcher: 'researcher', payload: new Uint8Array(), conceptIds: ids });

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['trimmed', 'complete'] });
    const d = join(mesh.dir, 'gibleed');
    await mkdir(d, { recursive: true });
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      for (const t of ['person', 'observation_period', 'condition_occurrence', 'drug_exposure', 'concept']) {
        await conn.run(`COPY (SELECT * FROM read_csv('${join(gibleedDir, `${t}.csv`)}', header = true, auto_detect = true)) TO '${join(d, `${t}.parquet`)}' (FORMAT parquet)`);
      }
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
    for (const name of ['trimmed', 'complete']) {
      const agent = await mesh.startAgent(name, d, { allowModes: ['none', 'central-dp'], minCellSize: 5 }, { vocabularyComplete: name === 'complete' });
      const handle = agent.serveTask.bind(agent);
      agent.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
        if (t.kind === 'concept-names') asked.push({ agent: name, jobId: t.jobId, ids: [...(t.conceptIds ?? [])] });
        return handle(t, id);
      };
    }
    await mesh.waitForAgents(2, 60_000);
  }, 180_000);
  afterAll(async () => mesh?.close());

  const characterize = (agent: string): Record<string, unknown> => ({
    kind: 'characterize',
    definition: { name: 'GI', entry: { domain: 'condition', concepts: { include: [{ conceptId: GI_BLEED }] }, occurrence: 'first' } },
    conditionConcepts: SUPPLIED,
    drugConcepts: [],
    windowDays: [-36500, 36500],
    agents: [agent],
    privacy: { mode: 'central-dp', epsilon: 0.01, delta: 1e-6 },
    timeoutMs: 120_000,
  });
  const groupKeysCount = (agent: string): Record<string, unknown> => ({
    kind: 'aggregate',
    product: 'condition_occurrence',
    groupBy: ['condition_concept_id'],
    groupKeys: { condition_concept_id: SUPPLIED },
    measures: [{ fn: 'count' }],
    agents: [agent],
    privacy: { mode: 'central-dp', epsilon: 0.01, delta: 1e-6 },
  });

  it('characterize conditionConcepts and public groupKeys at a non-declared vocabulary: no lookup task is sent, no names, a note (negative control: declared complete → names)', async () => {
    for (const spec of [characterize, groupKeysCount]) {
      asked.length = 0;
      const leaky = await mesh.client.run(spec('trimmed'));
      expect(leaky.error).toBeUndefined();
      expect(leaky.state).toBe('succeeded');
      expect(asked).toEqual([]);
      expect(leaky.result!.conceptNames ?? {}).toEqual({});
      expect(leaky.result!.notes).toContain(SUPPLIED_IDS_NOTE);

      const declared = await mesh.client.run(spec('complete'));
      expect(declared.state).toBe('succeeded');
      expect(asked.map((a) => a.agent)).toEqual(['complete']);
      expect(asked[0]!.ids).toEqual(expect.arrayContaining(SUPPLIED));
      // The complete vocabulary names what it holds (in the data or not: it no longer depends on the data).
      expect(declared.result!.conceptNames?.[String(GI_BLEED)]).toBe('Gastrointestinal hemorrhage');
      expect(declared.result!.conceptNames).toHaveProperty(String(RARE[0]));
      expect(declared.result!.notes).not.toContain(SUPPLIED_IDS_NOTE);
    }
  }, 180_000);

  it('the agent names only ids it released as data-derived keys in that job, whatever the coordinator asks (negative control: an id it did release)', async () => {
    // One row per person (the default bound): the filter keeps GI bleed's hundreds of persons on GI bleed rows.
    const where = [{ column: 'condition_concept_id', op: 'in', value: [GI_BLEED, ...RARE] }];
    const job = await mesh.client.run({ kind: 'aggregate', product: 'condition_occurrence', where, groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], agents: ['trimmed'], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    expect(job.error).toBeUndefined();
    const released = job.result!.rows.map((r) => Number(r.condition_concept_id));
    expect(released).toContain(GI_BLEED);
    // The honest coordinator asked for the released (partition-selected) keys, and got their names.
    expect(job.result!.conceptNames?.[String(GI_BLEED)]).toBe('Gastrointestinal hemorrhage');
    const unreleased = RARE.find((id) => !released.includes(id));
    expect(unreleased, 'the test needs a rare condition that was not selected').toBeDefined();
    const trimmed = mesh.agents.get('trimmed')!;

    // A curious coordinator asks for an id the vocabulary holds but the job did not release: refused.
    const probe = await lookup(trimmed, job.jobId, [unreleased!]);
    expect(probe.ok).toBe(false);
    expect(!probe.ok && probe.error).toMatchObject({ code: 'POLICY_DENIED', field: 'concept_ids' });
    // Mixed with a released id: only the released one is named.
    const mixed = await lookup(trimmed, job.jobId, [GI_BLEED, unreleased!, ABSENT[0]!]);
    expect(mixed.ok && mixed.conceptNames).toEqual([{ conceptId: GI_BLEED, name: 'Gastrointestinal hemorrhage' }]);
    // Under a job id that released no keys (the characterisation of the first test, or none at all): nothing.
    for (const jobId of [asked.find((a) => a.agent === 'complete')?.jobId ?? 'no-such-job', 'no-such-job']) {
      const other = await lookup(trimmed, jobId, [GI_BLEED]);
      expect(other.ok, jobId).toBe(false);
    }
    // Negative control of the declaration: the complete vocabulary answers the same probe.
    const declared = await lookup(mesh.agents.get('complete')!, job.jobId, [unreleased!]);
    expect(declared.ok && declared.conceptNames?.map((n) => n.conceptId)).toEqual([unreleased]);
  }, 120_000);

  it('the concept table itself is not queried at a non-declared vocabulary: counting known ids plus X would tell whether X is there (negative control: declared complete)', async () => {
    const probe = (agent: string): Record<string, unknown> => ({ kind: 'aggregate', product: 'concept', where: [{ column: 'concept_id', op: 'in', value: [GI_BLEED, 8507, 8532, RARE[1]!, RARE[0]!] }], measures: [{ fn: 'count' }], agents: [agent], privacy: { mode: 'none' } });
    // Refused at submission, from the catalogue (the agent publishes no `vocabulary: complete`), before any charge;
    // the agent refuses it too if asked directly (enforceManifest in node-agent/tasks/serve-task.ts).
    const refused = await mesh.client.run(probe('trimmed')).then((j) => `not refused: ${j.state}`, (e: unknown) => String(e instanceof Error ? e.message : e));
    expect(refused).toMatch(/product concept: this site's vocabulary is not declared complete/);
    const declared = await mesh.client.run(probe('complete'));
    expect(declared.error).toBeUndefined();
    expect(declared.result!.rows).toEqual([{ count: 5 }]);
    // Asked directly, on the kind seam (the task carries the compiled job's hash), the agent refuses too: before red
    // team 45 (H1) only the built-in path checked, and a count of withheld groups told whether a concept is there.
    const direct = (agent: string): Promise<AgentTaskReply> => {
      const spec = probe(agent);
      return mesh.agents.get(agent)!.handleTask({ taskId: `d-${agent}`, jobId: `d-${agent}`, kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'researcher', payload: encodeRoundPayload({ hash: compileKindJob(KINDS.get('aggregate')!, spec).hash, input: null }) });
    };
    const trimmed = await direct('trimmed');
    expect(!trimmed.ok && `${trimmed.error.code}: ${trimmed.error.message}`).toMatch(/^POLICY_DENIED: product concept: this site's vocabulary is not declared complete/);
    expect((await direct('complete')).ok).toBe(true);
  }, 60_000);
});
