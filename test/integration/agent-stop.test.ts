/**
 * Agent.stop() while a task is being served: the task is cancelled and awaited before the databases close under it.
 * Found by the train dropout test (test/integration/train-dropout.test.ts): stop() closed DuckDB under a running
 * query, which crashed the process natively in 2 of 8 runs, and `fedmesh agent` calls stop() on SIGTERM. The
 * property checked here is deterministic: by the time stop() resolves, every task it found running has settled (on
 * 222f91f stop() closed the databases first, so the task was still pending when it resolved).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { writePersonCsv, makePersons } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startMesh({ agentNames: ['a1', 'a2'] });
  for (const name of ['a1', 'a2']) {
    const dir = join(mesh.dir, 'data', name);
    await writePersonCsv(dir, makePersons(2000, name === 'a1' ? 1 : 2));
    await mesh.startAgent(name, dir, { allowModes: ['none'] });
  }
  await mesh.waitForAgents(2);
}, 120_000);
afterAll(async () => mesh?.close());

const task = (id: string): AgentTask => ({
  taskId: `t-${id}`,
  jobId: `j-${id}`,
  kind: 'aggregate',
  specJson: JSON.stringify({ kind: 'aggregate', product: 'person', where: [], groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }, { fn: 'mean', column: 'bmi', bounds: [0, 100] }], privacy: { mode: 'none' }, timeoutMs: 30_000 }),
  deadlineMs: Date.now() + 30_000,
  round: 0,
  researcher: 'researcher',
  payload: new Uint8Array(),
});

describe('Agent.stop() with a task in flight', () => {
  it('waits for the task to settle before it closes the databases; control: an agent left running answers the same task', async () => {
    const control = await mesh.agents.get('a2')!.handleTask(task('control'));
    expect(control.ok, JSON.stringify(control)).toBe(true);
    const agent = mesh.agents.get('a1')!;
    let settled = false;
    const inFlight = agent.handleTask(task('stopped')).finally(() => (settled = true));
    const stopping = agent.stop();
    // A task that arrives once stop() has begun is refused, not run on closing databases (red team 28).
    const late = await agent.handleTask(task('late'));
    await stopping;
    mesh.agents.delete('a1');
    expect(settled).toBe(true);
    expect(late).toMatchObject({ ok: false, error: { code: 'AGENT_UNAVAILABLE', message: 'agent is stopping' } });
    // Answered or cancelled, but a reply: never a crash or a task left pending on closed databases.
    const reply = await inFlight;
    expect(typeof reply.ok).toBe('boolean');
  });
});
