/**
 * A spec is routed on its content up to the built-in parser's size limit (kind-jobs.ts `kindOf`): padded with
 * whitespace past 1 MiB, a secagg aggregate still runs on the kind seam (it was sent to the built-in path, which
 * refused it for a wrong reason), and a plain one runs where the agents, given the compact spec, run it (red team 50).
 * Control: past the limit the spec is refused naming its size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { MAX_SPEC_JSON_CHARS } from '../../common/job/index.js';
import { seamRunsAggregate } from '../../jobs/aggregate/spec.js';
import { attachAgents } from '../../test/helpers/attached-agents.js';
import { Coordinator } from '../coordinator.js';

/** A seam task carries its round's JSON payload (the compiled job's hash); a built-in plain task an empty one. */
function isSeamTask(t: AgentTask): boolean {
  try {
    return typeof (JSON.parse(Buffer.from(t.payload).toString('utf8')) as { hash?: unknown }).hash === 'string';
  } catch {
    return false;
  }
}

describe('routing a padded spec', () => {
  let dir: string;
  let c: Coordinator;
  let attached: AgentTask[] = [];
  const spec = { kind: 'aggregate', product: 'person', groupBy: ['sex'], groupKeys: { sex: ['F', 'M'] }, measures: [{ fn: 'count' }, { fn: 'sum', column: 'age', bounds: [0, 100] }], privacy: { mode: 'none' }, secure: 'secagg' };
  const pad = (s: object): string => JSON.stringify(s, null, 2) + ' '.repeat((1 << 20) + 10);
  const tasksOf = async (jobId: string): Promise<AgentTask[]> => {
    const end = Date.now() + 20_000;
    while (!attached.some((t) => t.jobId === jobId)) {
      if (Date.now() > end) throw new Error(`no task of job ${jobId} reached the agents`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return attached.filter((t) => t.jobId === jobId);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-route-size-'));
    c = await Coordinator.create({ stateDir: join(dir, 'state') });
    attached = attachAgents(c, ['a1', 'a2', 'a3'], [{ name: 'age', type: 'BIGINT' }, { name: 'sex', type: 'VARCHAR' }], { minCellSize: 5, allowModes: ['none', 'distributed-dp', 'central-dp'], allowKinds: ['aggregate'], secureMaxRows: 1000 });
  });
  afterAll(async () => {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a secagg spec padded past 1 MiB is routed to the kind seam, as its compact form is, and admitted there', async () => {
    const kindOf = (json: string): unknown => (c as unknown as { kindJobs: { route(s: string): { def?: unknown } } }).kindJobs.route(json).def;
    expect(kindOf(JSON.stringify(spec))).toBeDefined();
    expect(kindOf(pad(spec))).toBe(kindOf(JSON.stringify(spec)));
    expect((await c.submitJob('alice', pad(spec))).kind).toBe('aggregate');
  });

  it('a padded plain central-dp spec runs where the agents route the spec they are sent', async () => {
    const plain = { ...spec, secure: undefined, privacy: { mode: 'central-dp', epsilon: 1 } };
    const job = await c.submitJob('alice', pad(plain));
    const tasks = await tasksOf(job.id);
    for (const t of tasks) expect(isSeamTask(t)).toBe(seamRunsAggregate(JSON.parse(t.specJson)));
    expect(tasks.every(isSeamTask)).toBe(true);
  });

  it('a spec encoded twice (a JSON string) is refused as not an object, not parsed again and run unrouted (red team 53)', async () => {
    for (const s of [spec, { ...spec, secure: undefined, privacy: { mode: 'central-dp', epsilon: 1 } }]) {
      await expect(c.submitJob('alice', JSON.stringify(JSON.stringify(s)))).rejects.toMatchObject({ code: 'INVALID_JOB', message: expect.stringMatching(/spec: must be a JSON object/) });
    }
  });

  it('control: a spec past the parser limit is refused naming its size, before routing', async () => {
    const huge = JSON.stringify(spec) + ' '.repeat(MAX_SPEC_JSON_CHARS);
    await expect(c.submitJob('alice', huge)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/^spec: \d+ characters, over the limit of 4194304/) });
  });

  it('a large spec is parsed once at submission, on the seam and on the built-in path (red team 52)', async () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const big = (calls: readonly unknown[][]): number => calls.filter((c) => typeof c[0] === 'string' && c[0].length > 1 << 20).length;
      await c.submitJob('alice', pad(spec));
      expect(big(parse.mock.calls)).toBe(1);
      parse.mockClear();
      // Data-derived groups in central-dp: the built-in path (partition selection).
      const builtIn = { ...spec, secure: undefined, groupKeys: undefined, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } };
      await c.submitJob('alice', pad(builtIn)).catch(() => undefined);
      expect(big(parse.mock.calls)).toBe(1);
    } finally {
      parse.mockRestore();
    }
  });
});
