import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePartials } from '../../common/arrow/index.js';
import { planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { connectRawAgent, type RawAgent, type RawProduct } from '../helpers/raw-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeOmopParquet } from '../helpers/omop-parquet.js';

const conditions: RawProduct = {
  name: 'condition_occurrence',
  columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'condition_concept_id', type: 'BIGINT' }],
  privacyUnit: 'person_id',
  description: 'fake',
  metadataJson: '{}',
};
const vocabulary: RawProduct = {
  name: 'concept',
  columns: [{ name: 'concept_id', type: 'BIGINT' }, { name: 'concept_name', type: 'VARCHAR' }],
  privacyUnit: '',
  description: 'fake vocabulary',
  metadataJson: JSON.stringify({ sensitivity: 'public' }),
};

type WireTask = { taskId: string; kind: string; specJson: string; conceptIds?: string[] };

/**
 * A fake agent over the real mTLS stream: it answers the aggregate job like an agent that withheld every group
 * (a valid, empty mode-none reply) and answers the concept-names lookup with `names(ids asked)`.
 */
function hostile(mesh: TestMesh, name: string, names: (ids: string[]) => { conceptId: string; conceptName: string }[]): RawAgent {
  return connectRawAgent(`127.0.0.1:${mesh.server.port}`, mesh.tlsDir, name, [conditions, vocabulary], {}, (task) => {
    const t = task as WireTask;
    if (t.kind === 'concept-names') return { result: { taskId: t.taskId, arrowIpc: Buffer.alloc(0), metaJson: '{}', payload: Buffer.alloc(0), conceptNames: names(t.conceptIds ?? []) } };
    const job = parseJobSpec(t.specJson) as AggregateJob;
    const plan = planAggregatePrivacy(job, () => 'BIGINT');
    const meta = { groups: 0, withheldGroups: 1, suppressedBins: 0, minCellSize: 10, cellSize: 'persons', contributionBounded: false, maxRowsPerPerson: plan.maxRowsPerPerson };
    return { result: { taskId: t.taskId, arrowIpc: Buffer.from(encodePartials([], job.groupBy.length, plan.layout)), metaJson: JSON.stringify(meta), payload: Buffer.alloc(0) } };
  });
}

/** What a hostile agent's vocabulary answer can do to the names of a released result: nothing beyond leaving them out. */
describe("concept names: a hostile agent's vocabulary answer is checked like any reply, and never fails the job", () => {
  let mesh: TestMesh;
  const raws: RawAgent[] = [];
  const spec = { kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };

  beforeAll(async () => {
    // The fake agents share this process's event loop: a slower heartbeat keeps a1 live while they encode a flood.
    mesh = await startMesh({ agentNames: ['a1', 'a2', 'a3', 'a4'], heartbeatIntervalMs: 1000 });
    const data = join(mesh.dir, 'omop');
    await writeOmopParquet(data);
    await mesh.startAgent('a1', data, { allowModes: ['none'] });
    await mesh.waitForAgents(1, 30_000);
  }, 60_000);
  afterAll(async () => {
    for (const r of raws) r.close();
    await mesh?.close();
  });

  async function runWith(name: string, names: Parameters<typeof hostile>[2]) {
    const raw = hostile(mesh, name, names);
    raws.push(raw);
    await raw.registered;
    const job = await mesh.client.run({ ...spec, agents: ['a1', name] });
    raw.close();
    return job;
  }

  it('baseline: the real agent alone names the released condition', async () => {
    const job = await mesh.client.run({ ...spec, agents: ['a1'] });
    expect(job.state).toBe('succeeded');
    expect(job.result!.conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage' });
  });

  it('a flood of names for ids never asked (20,000 entries, 4× the most any lookup asks) is discarded as a whole; the job succeeds with the honest names', async () => {
    const job = await runWith('a2', (ids) => [...ids.map((id) => ({ conceptId: id, conceptName: 'Spoofed' })), ...Array.from({ length: 20_000 }, (_, i) => ({ conceptId: String(i + 1), conceptName: 'x' }))]);
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2']);
    expect(job.result!.conceptNames).toEqual({ 192671: 'Gastrointestinal hemorrhage' });
  });

  it('a terminal escape in a name, or a 100 kB name, discards that answer', async () => {
    for (const [name, text] of [['a3', 'Gastro\u001b]0;owned\u0007'], ['a4', 'G'.repeat(100_000)]] as const) {
      const job = await runWith(name, (ids) => ids.map((id) => ({ conceptId: id, conceptName: text })));
      expect(job.state, name).toBe('succeeded');
      expect(job.result!.conceptNames, name).toEqual({ 192671: 'Gastrointestinal hemorrhage' });
      expect(job.result!.notes.join('\n'), name).not.toContain('concept names');
    }
  });

  it('a well-formed but different name leaves the id unnamed, with a note; the job still succeeds', async () => {
    const job = await runWith('a2', (ids) => ids.map((id) => ({ conceptId: id, conceptName: 'Something else' })));
    expect(job.state).toBe('succeeded');
    expect(job.result!.conceptNames).toEqual({});
    expect(job.result!.notes).toContain("concept names: 1 concept id(s) left unnamed because the agents' vocabularies give different names");
    expect(job.result!.rows).toEqual([{ condition_concept_id: 192671, count: 60 }]);
  });
});
