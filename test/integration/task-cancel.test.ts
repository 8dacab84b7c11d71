import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { nestedCirce } from '../helpers/nested-cohort.js';
import { COHORT_LIMITS } from '../../common/cohort/index.js';

/** CPU time (µs, all threads, DuckDB's included) this process used over the next `ms` milliseconds. */
async function cpuOver(ms: number): Promise<number> {
  const a = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const d = process.cpuUsage(a);
  return d.user + d.system;
}

/**
 * Issue 8 #6c, end to end: when a job's deadline passes, the coordinator sends CancelTask (and the agent's own
 * deadline timer fires): the agent cancels the task's scope, which interrupts its DuckDB connection. That interrupting
 * frees the CPU within a second is shown in node-agent/task-cancellation.test.ts on a long-running statement; here,
 * over the real transport, a legitimate cohort at the criteria limit (200; DuckDB plans it in ~0.5 s, and planning
 * cannot be interrupted, which is why the limit is what it is) misses a 300 ms deadline, and the agent must cancel
 * exactly that task and go idle.
 */
describe('a job past its deadline is cancelled at the agent (issue 8 #6)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 3000, seed: 9, format: 'parquet' });
    await mesh.startAgent('a1', synth.sites[0]!.dir, { allowModes: ['none'], minCellSize: 1 });
    await mesh.waitForAgents(1, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('the job fails at its deadline, the agent cancels that task, and its CPU is idle soon after', async () => {
    const agent = mesh.agents.get('a1')!;
    const cancelled: string[] = [];
    const cancel = agent.cancellation.cancel.bind(agent.cancellation);
    agent.cancellation.cancel = (taskId: string): boolean => {
      const known = cancel(taskId);
      if (known) cancelled.push(taskId);
      return known;
    };
    const definition = nestedCirce(1, COHORT_LIMITS.maxCriteria - 1);
    const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'none' }, timeoutMs: 300 });
    expect(job.state).toBe('failed');
    const failedAt = Date.now();
    // Bounded polling: 100 ms windows until one uses under 20 % of a core, for at most 5 s.
    let idleAt: number | undefined;
    while (Date.now() - failedAt < 5_000) {
      if ((await cpuOver(100)) < 20_000) {
        idleAt = Date.now();
        break;
      }
    }
    expect(cancelled, 'the agent never cancelled the task').toHaveLength(1);
    expect(idleAt, 'the agent never went idle').toBeDefined();
    // One second, plus the uninterruptible planning of a definition at the criteria limit.
    expect(idleAt! - failedAt).toBeLessThan(2_000);
    expect(agent.cancellation.size).toBe(0);
  });
});
