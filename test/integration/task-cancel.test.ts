import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/synth/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { nestedCirce } from '../helpers/nested-cohort.js';

/** CPU time (µs, all threads, DuckDB's included) this process used over the next `ms` milliseconds. */
async function cpuOver(ms: number): Promise<number> {
  const a = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const d = process.cpuUsage(a);
  return d.user + d.system;
}

/**
 * Issue 8 #6c: when a job's deadline passes, the coordinator sends CancelTask and the agent interrupts DuckDB. The
 * agent runs in this process, so `process.cpuUsage()` covers its DuckDB threads; the job is a legitimate but heavy
 * cohort (400 criteria, inside the admission limits) that runs for many seconds uncancelled (≈ 15 s for 300
 * criteria on 2,700 persons).
 */
describe('a cancelled task frees the agent’s CPU within a second (issue 8 #6)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 3000, seed: 9, format: 'parquet' });
    await mesh.startAgent('a1', synth.sites[0]!.dir, { allowModes: ['none'], minCellSize: 1 });
    await mesh.waitForAgents(1, 60_000);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('the job fails at its deadline and the agent is idle within 1 s after', async () => {
    const definition = nestedCirce(1, 400);
    const job = await mesh.client.run({ kind: 'cohort', definition, privacy: { mode: 'none' }, timeoutMs: 1500 });
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
    expect(idleAt, 'the agent never went idle').toBeDefined();
    expect(idleAt! - failedAt).toBeLessThan(1_000 + 100);
    expect(mesh.agents.get('a1')!.cancellation.size).toBe(0);
  });
});
