/**
 * `fedmesh agent --stream-rows` (AgentOptions.streamRows): a DuckDB agent whose glm and train rounds read their rows
 * every round through the kinds' onSource steps on its own DuckDB, as a PostgreSQL agent does, keeping nothing
 * row-level in the job's state between rounds. Over gRPC with mTLS, in a mesh where a3 streams and a1, a2 keep their
 * rows: the glm fit equals the pooled fit to 1e-6, the train job succeeds, and a3's job states hold no per-row array
 * while a1's do (the control that the inspection sees one). a1 and a2 stream only products of more than 1000 rows
 * (`--stream-rows-above 1000`): a2's 1100 rows stream, a1's 700 are kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitPooled, glmFamily } from '../../algorithms/glm/index.js';
import type { Agent } from '../../node-agent/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { largestKept } from '../helpers/streamed-state.js';
import { STUDY_TERMS, makeStudyRows, studyDesign, studySpec, writeStudy, type StudyRow } from '../helpers/glm-data.js';

const AGENTS = ['a1', 'a2', 'a3'];
const SIZES = [700, 1100, 900];
const OPTED_OUT = 200;

/** Largest typed array or array in the job states an agent's kind runner keeps (a per-row array is hundreds long). */
function largestKeptBy(agent: Agent): number {
  const jobs = (agent as unknown as { kindTasks: { jobs: Map<string, { state: Map<string, unknown> }> } }).kindTasks.jobs;
  return largestKept([...jobs.values()].map((e) => e.state));
}

describe('a DuckDB agent with --stream-rows keeps no rows between rounds', () => {
  let mesh: TestMesh;
  const rows = new Map<string, StudyRow[]>();
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: AGENTS, heartbeatIntervalMs: 200 });
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const r = makeStudyRows(SIZES[i]!, `stream-rows-${name}`, first);
      first += r.length;
      rows.set(name, r);
      const data = join(mesh.dir, 'data', name);
      await writeStudy(data, r, ['glm', 'fl']);
      // a2: 200 of its 1100 persons opted out of public health (PUBHLTH), leaving 900 for such a job.
      if (name === 'a2') writeFileSync(join(data, 'consent.csv'), `person_id,purpose,decision,start,end\n${r.slice(0, OPTED_OUT).map((x) => `${x.person_id},PUBHLTH,deny,,`).join('\n')}\n`);
      await mesh.startAgent(name, data, { allowModes: ['none', 'central-dp'], allowKinds: ['glm', 'train'], minCellSize: 5 }, name === 'a3' ? { streamRows: true } : { streamRows: { aboveRows: 1000 } });
    }
    await mesh.waitForAgents(AGENTS.length, 30_000);
  }, 120_000);
  afterAll(async () => {
    await mesh?.close();
    await closeTrainPool();
  });

  it('glm: the pooled fit to 1e-6; a3 (always) and a2 (1100 rows > 1000) hold no per-row array, a1 (700 rows) does', async () => {
    const job = await mesh.client.run(studySpec('binomial'));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    const pooled = AGENTS.flatMap((a) => rows.get(a)!);
    const ref = fitPooled(studyDesign(pooled, 'y'), glmFamily('binomial'), STUDY_TERMS).summary;
    const got = job.result!.rows;
    ref.coefficients.forEach((c, j) => {
      expect(Math.abs(Number(got[j]!.estimate) - c.estimate)).toBeLessThan(1e-6 * Math.max(1, Math.abs(c.estimate)));
      expect(Math.abs(Number(got[j]!.stdError) - c.stdError)).toBeLessThan(1e-6 * Math.max(1, c.stdError));
    });
    expect(largestKeptBy(mesh.agents.get('a3')!)).toBeLessThan(100);
    expect(largestKeptBy(mesh.agents.get('a2')!)).toBeLessThan(100);
    expect(largestKeptBy(mesh.agents.get('a1')!)).toBeGreaterThanOrEqual(SIZES[0]!);
  }, 180_000);

  it('train: the job succeeds with a3 streaming its rows every round; a3 holds no per-row array', async () => {
    const job = await mesh.client.run({
      kind: 'train', product: 'study', label: 'y',
      features: [{ column: 'x1', type: 'numeric', bounds: [-2, 2] }, { column: 'x2', type: 'numeric', bounds: [0, 1] }, { column: 'sex', type: 'categorical', levels: ['F', 'M'] }],
      split: { hash: { fraction: 0.3, salt: 'stream' } }, model: { type: 'logistic' },
      training: { rounds: 3, localEpochs: 2, batchSize: 32, optimizer: 'adam', learningRate: 0.05, seed: 2 }, privacy: { mode: 'none' },
    });
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(largestKeptBy(mesh.agents.get('a3')!)).toBeLessThan(100);
    expect(largestKeptBy(mesh.agents.get('a2')!)).toBeLessThan(100);
    expect(largestKeptBy(mesh.agents.get('a1')!)).toBeGreaterThanOrEqual(SIZES[0]!);
  }, 180_000);

  it('the choice counts the product itself, not what a purpose leaves of it: a2 (1100 rows, 900 for PUBHLTH) streams a PUBHLTH job too', async () => {
    const job = await mesh.client.run(studySpec('gaussian', { purpose: 'PUBHLTH' }));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    // The opted-out persons are out of the fit (the control that consent applied), and a2 kept no rows for it.
    const pooled = AGENTS.flatMap((a) => (a === 'a2' ? rows.get(a)!.slice(OPTED_OUT) : rows.get(a)!));
    const ref = fitPooled(studyDesign(pooled, 'z'), glmFamily('gaussian'), STUDY_TERMS).summary;
    ref.coefficients.forEach((c, j) => expect(Math.abs(Number(job.result!.rows[j]!.estimate) - c.estimate)).toBeLessThan(1e-6 * Math.max(1, Math.abs(c.estimate))));
    const jobs = (mesh.agents.get('a2')! as unknown as { kindTasks: { jobs: Map<string, { state: Map<string, unknown> }> } }).kindTasks.jobs;
    expect(largestKept([jobs.get(job.jobId)!.state])).toBeLessThan(100);
  }, 180_000);
});
