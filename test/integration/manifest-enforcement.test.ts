import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import { compileKindJob, encodeRoundPayload } from '../../common/kinds/index.js';
import { aggregateKind } from '../../jobs/aggregate/index.js';
import { seamRunsAggregate } from '../../jobs/aggregate/spec.js';
import type { Agent } from '../../node-agent/index.js';
import type { AgentLink } from '../../node-agent/transport/link.js';
import { startFakeAgent } from '../helpers/fake-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Issue 8 item 0: the product manifest's privacy unit, kinds, modes and bounds are enforced at the agent, and the
 * coordinator releases nothing an agent says it computed differently from the plan. Over gRPC/mTLS.
 */
async function refused(p: Promise<unknown>): Promise<FedmeshError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof FedmeshError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

/** visits: person (column `pid`) 1 has 200 visits, persons 2–41 one each — 240 rows, 41 persons. */
async function writeVisits(dir: string): Promise<void> {
  await writeCsvFromSql(dir, 'visits', `
    SELECT CASE WHEN i <= 200 THEN 1 ELSE i - 199 END AS pid, CASE WHEN i % 3 = 0 THEN 'ER' ELSE 'OP' END AS visit_type, i % 10 AS los
      FROM range(1, 241) t(i)`);
}

const policy = { allowModes: ['none' as const, 'central-dp' as const, 'local-dp' as const], budgetCap: { epsilon: 1000, delta: 1e-3 } };

describe('the product manifest is enforced at the agent (issue 8 item 0)', () => {
  let mesh: TestMesh;
  let declared: Agent;
  let undeclared: Agent;
  let rogue: AgentLink | undefined;
  let seq = 0;
  const task = (spec: unknown, researcher = 'direct'): AgentTask => {
    seq++;
    // A spec the kind seam runs travels with its compiled job's hash (jobs/aggregate/spec.ts chooses).
    const payload = (spec as { kind?: unknown }).kind === 'aggregate' && seamRunsAggregate(spec) ? encodeRoundPayload({ hash: compileKindJob(aggregateKind, spec).hash, input: null }) : new Uint8Array();
    return { taskId: `t${seq}`, jobId: `j${seq}`, kind: (spec as { kind: string }).kind, specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher, payload };
  };
  const count = { kind: 'aggregate', product: 'visits', where: [], groupBy: [], measures: [{ fn: 'count' }] };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['p1', 'p2'] });
    const withManifest = join(mesh.dir, 'data', 'declared');
    await writeVisits(withManifest);
    await writeFile(join(withManifest, 'fedmesh.products.json'), JSON.stringify({
      products: { visits: { privacyUnit: 'pid', bounds: { los: [0, 30] }, allowedJobKinds: ['aggregate'], allowedPrivacyModes: ['central-dp', 'local-dp'] } },
    }));
    const without = join(mesh.dir, 'data', 'undeclared');
    await writeVisits(without);
    declared = await mesh.startAgent('p1', withManifest, policy);
    undeclared = await mesh.startAgent('p2', without, policy);
    await mesh.waitForAgents(2);
    await mesh.coordinator.ledger.setBudget('researcher', 'person', { epsilon: 100, delta: 1e-3 }, 'test');
  }, 60_000);
  afterAll(async () => {
    rogue?.stop();
    await mesh?.close();
  });

  it('a product whose unit is the manifest-declared column `pid`: a central-dp count bounds each person to one row', async () => {
    const job = await mesh.client.run({ ...count, privacy: { mode: 'central-dp', epsilon: 2, delta: 1e-6, maxRowsPerPerson: 1 } });
    expect(job.error).toBeUndefined();
    expect(job.agents.answered).toEqual(['p1']);
    // 41 persons, noise std ≈ 0.7 at ε = 2: unbounded, the count would be about 240.
    expect(Math.abs((job.result!.rows[0]!.count as number) - 41)).toBeLessThan(15);
    expect(job.result!.privacy.maxRowsPerPerson).toBe(1);
    // The agent without a declared unit was left out at admission, with the reason.
    expect(job.agents.missing).toEqual(['p2']);
    expect(job.result!.agentsMissing).toEqual([{ agent: 'p2', reason: expect.stringMatching(/FAILED_PRECONDITION: product: visits has no known privacy unit/) }]);
  });

  it('the same product without a manifest is refused: at submission (FAILED_PRECONDITION naming the manifest field) and at the agent itself', async () => {
    const err = await refused(mesh.client.submitJob({ ...count, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, agents: ['p2'] }));
    expect(err.details.grpcStatus).toBe('FAILED_PRECONDITION');
    expect(err.message).toMatch(/visits has no known privacy unit.*fedmesh\.products\.json.*"privacyUnit"/);
    for (const mode of [{ mode: 'central-dp', epsilon: 1, delta: 1e-6 }, { mode: 'none' }]) {
      const reply = await undeclared.handleTask(task({ ...count, privacy: mode }));
      expect(reply.ok).toBe(false);
      expect(!reply.ok && reply.error.code).toBe('FAILED_PRECONDITION');
      expect(!reply.ok && reply.error.message).toMatch(/product visits has no known privacy unit.*fedmesh\.products\.json/);
    }
  });

  it('kinds, modes and bounds the manifest does not allow are refused by the agent', async () => {
    const none = await declared.handleTask(task({ ...count, privacy: { mode: 'none' } }));
    expect(!none.ok && none.error).toMatchObject({ code: 'POLICY_DENIED', field: 'privacy.mode' });
    const contingency = await declared.handleTask(task({ kind: 'contingency', product: 'visits', rowColumn: 'visit_type', colColumn: 'los', rowLevels: ['ER', 'OP'], colLevels: [1, 2], where: [], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
    expect(!contingency.ok && contingency.error).toMatchObject({ code: 'POLICY_DENIED', field: 'kind' });
    const wide = await declared.handleTask(task({ ...count, measures: [{ fn: 'mean', column: 'los', bounds: [0, 1000] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
    expect(!wide.ok && wide.error).toMatchObject({ code: 'INVALID_JOB', field: 'measures[0].bounds' });
    expect(!wide.ok && wide.error.message).toMatch(/within the bounds \[0, 30\] declared for column los/);
    const inside = await declared.handleTask(task({ ...count, measures: [{ fn: 'mean', column: 'los', bounds: [0, 20] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }));
    expect(inside.ok).toBe(true);
    expect(inside.ok && inside.meta).toMatchObject({ contributionBounded: true, maxRowsPerPerson: 1 });
  });

  it('the coordinator refuses to release when an agent reports other than the plan assumed, naming the agent', async () => {
    let lie: Record<string, unknown> = { contributionBounded: false };
    rogue = await startFakeAgent(mesh, { ...declared.registration(), name: 'rogue', identity: undefined }, async (t) => {
      // The coordinator's assertion names agent rogue: handed on in-process it would rightly be refused as a replay.
      const { identityAssertion: _bound, ...unsigned } = t;
      const reply = await declared.handleTask({ ...unsigned, researcher: 'rogue-copy' });
      return reply.ok ? { ...reply, meta: { ...reply.meta, ...lie } } : reply;
    });
    const spec = { ...count, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, agents: ['p1', 'rogue'] };
    const unbounded = await mesh.client.run(spec);
    expect(unbounded.state).toBe('failed');
    expect(unbounded.result).toBeUndefined();
    expect(unbounded.error!.code).toBe('FAILED_PRECONDITION');
    expect(unbounded.error!.message).toMatch(/agent rogue did not compute what the plan assumed \(it reported contributionBounded false/);
    // With a quorum (dropout "continue") the others' sum would be complete without it: still nothing is released, and
    // the job records who answered as planned (red team 44: it recorded every agent as missing).
    const continued = await mesh.client.run({ ...spec, quorum: 1 });
    expect(continued.state).toBe('failed');
    expect(continued.error!.message).toMatch(/agent rogue did not compute what the plan assumed/);
    expect(continued.agents.answered).toEqual(['p1']);
    expect(continued.agents.missing).toEqual(['rogue']);
    lie = { maxRowsPerPerson: 50 };
    const wider = await mesh.client.run(spec);
    expect(wider.state).toBe('failed');
    expect(wider.error!.message).toMatch(/agent rogue .*maxRowsPerPerson 50, but the plan assumes 1/);
    // Control: the same fake agent telling the truth is released.
    lie = {};
    const honest = await mesh.client.run(spec);
    expect(honest.error).toBeUndefined();
    expect(honest.agents.answered).toEqual(['p1', 'rogue']);
  });
});
