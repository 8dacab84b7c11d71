/**
 * Red team 42: a ported built-in kind on the seam skipped the product manifest's declared bounds that the built-in
 * path enforces at the agent (enforceJobManifest): a mean over [0, 1e6] of a column the domain declared [0, 30] was
 * computed and sent. Now the task chain checks a built-in spec against the manifest as the built-in path does.
 */
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { compileKindJob, encodeRoundPayload } from '../../common/kinds/index.js';
import { Agent } from '../../node-agent/index.js';
import { aggregateKind } from '../../jobs/aggregate/index.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

let dir: string;
let agent: Agent;
let seq = 0;
function task(spec: Record<string, unknown>): AgentTask {
  seq++;
  const job = compileKindJob(aggregateKind, spec);
  return { taskId: `t${seq}`, jobId: `j${seq}`, kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 20_000, round: 0, researcher: 'r', payload: encodeRoundPayload({ hash: job.hash, input: null }) };
}
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmesh-seam-manifest-'));
  const data = join(dir, 'data');
  await writeCsvFromSql(data, 'visits', `SELECT i AS pid, CASE WHEN i % 3 = 0 THEN 'ER' ELSE 'OP' END AS visit_type, i % 10 AS los FROM range(1, 241) t(i)`);
  await writeFile(join(data, 'fedmesh.products.json'), JSON.stringify({ products: { visits: { privacyUnit: 'pid', bounds: { los: [0, 30] }, allowedJobKinds: ['aggregate'], allowedPrivacyModes: ['central-dp', 'local-dp'] } } }));
  agent = await Agent.create({ name: 'a1', dataDir: data, stateDir: join(dir, 'state'), coordinator: '127.0.0.1:9', insecure: true, policy: { allowModes: ['none', 'central-dp', 'local-dp'], budgetCap: { epsilon: 1000, delta: 1e-3 } } });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('manifest bounds on the kind seam (red team 42)', () => {
  const wide = { kind: 'aggregate', product: 'visits', where: [], groupBy: [], measures: [{ fn: 'mean', column: 'los', bounds: [0, 1_000_000] }] };
  it.each(['local-dp', 'central-dp'])('%s: bounds wider than the declared ones are refused naming the field; control: the declared bounds run', async (mode) => {
    const privacy = { mode, epsilon: 1, delta: 1e-6 };
    const r = await agent.handleTask(task({ ...wide, privacy }));
    expect(r.ok ? 'computed and sent' : r.error).toMatchObject({ code: 'INVALID_JOB', field: 'measures[0].bounds' });
    const ok = await agent.handleTask(task({ ...wide, measures: [{ fn: 'mean', column: 'los', bounds: [0, 30] }], privacy }));
    expect(ok.ok, ok.ok ? '' : ok.error.message).toBe(true);
  });
});
