/**
 * A researcher may have at most `maxRunningJobsPerResearcher` jobs running at once: one more is refused
 * RESOURCE_EXHAUSTED before anything is charged or stored. Control: another researcher still submits, and the
 * first one can again once a job ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachAgents } from '../test/helpers/attached-agents.js';
import { Coordinator } from './coordinator.js';

describe('running jobs per researcher', () => {
  let dir: string;
  let c: Coordinator;
  const logged: Record<string, unknown>[] = [];
  // Mode none with public groups, answered by nobody: each job stays running until its timeout.
  const spec = (timeoutMs: number): string => JSON.stringify({ kind: 'aggregate', product: 'person', groupBy: ['sex'], groupKeys: { sex: ['F', 'M'] }, measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-running-limit-'));
    c = await Coordinator.create({ stateDir: join(dir, 'state'), maxRunningJobsPerResearcher: 2, log: (event, fields) => logged.push({ event, ...fields }) });
    attachAgents(c, ['a1'], [{ name: 'sex', type: 'VARCHAR' }], { minCellSize: 5, allowModes: ['none'], allowKinds: ['aggregate'], secureMaxRows: 1000 });
  });
  afterAll(async () => {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses the third running job of one researcher, admits another researcher, and admits again once one ends', async () => {
    const short = await c.submitJob('alice', spec(1_000));
    await c.submitJob('alice', spec(60_000));
    await expect(c.submitJob('alice', spec(60_000))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/^alice has 2 jobs running, the most one researcher may have at once \(coordinator --max-running-jobs 2\)/) });
    // Logged as every refusal is, saying which limit.
    expect(logged).toContainEqual(expect.objectContaining({ event: 'job-rejected', researcher: 'alice', code: 'RESOURCE_EXHAUSTED', reason: 'running-jobs-limit', running: 2, limit: 2 }));
    expect((await c.submitJob('bob', spec(60_000))).researcher).toBe('bob');
    // Submissions at once are counted while they are admitted (before the job exists): of three, two get in.
    const three = await Promise.allSettled([0, 1, 2].map(() => c.submitJob('carol', spec(60_000))));
    expect(three.map((r) => r.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    // The short job times out (no agent answers): alice is under the limit again.
    const end = Date.now() + 30_000;
    while ((await c.getJob({ name: 'alice', isAdmin: false }, short.id)).state === 'running') {
      if (Date.now() > end) throw new Error('the 1 s job did not end');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await c.submitJob('alice', spec(60_000))).researcher).toBe('alice');
  }, 60_000);

  it('the option is checked', async () => {
    await expect(Coordinator.create({ stateDir: join(dir, 'other'), maxRunningJobsPerResearcher: 0 })).rejects.toThrow(/maxRunningJobsPerResearcher must be an integer between 1 and 10000/);
  });
});
