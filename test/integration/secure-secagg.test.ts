import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityKeyPair } from '../../common/crypto/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { type IdentityAttestation, decodeEnvelope, encodeEnvelope } from '../../common/secure/index.js';
import type { Agent } from '../../node-agent/index.js';
import { makePersons, writePersonCsv, type PersonRow } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';

/** SecAgg aggregate jobs end to end over the real transport (mTLS, agent link, Dispatcher). */
describe('secure aggregation (secagg) in aggregate jobs', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const names = ['a1', 'a2', 'a3', 'a4'];
  const sizes = [220, 180, 160, 140];
  const persons: PersonRow[][] = sizes.map((n, i) => makePersons(n, 40 + i, (i + 1) * 100_000));
  const dirs: string[] = [];
  const policy = { allowModes: ['none', 'central-dp', 'local-dp', 'distributed-dp'] as const, minCellSize: 5, budgetCap: { epsilon: 1e4, delta: 1e-3 } };

  const job = {
    kind: 'aggregate',
    product: 'person',
    groupBy: ['gender_concept_id'],
    groupKeys: { gender_concept_id: [8507, 8532] },
    measures: [
      { fn: 'count' },
      { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] },
      { fn: 'mean', column: 'bmi', bounds: [10, 60] },
      { fn: 'variance', column: 'bmi', bounds: [10, 60] },
      { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1950, 1970, 1990, 2010] },
    ],
    privacy: { mode: 'none' },
    timeoutMs: 20_000,
  };
  const byGender = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => Number(a.gender_concept_id) - Number(b.gender_concept_id));

  /** The secure phase a task of the kind seam carries ('advertise', 'share', 'mask', 'unmask'), if any. */
  function phaseOf(t: AgentTask): string | undefined {
    try {
      return (JSON.parse(Buffer.from(t.payload).toString('utf8')) as { phase?: string }).phase;
    } catch {
      return undefined;
    }
  }
  /** Makes `name` vanish (link closed, no answer) when it receives a task of the secure `phase`. */
  function disconnectAt(name: string, phase: 'mask' | 'unmask'): void {
    const agent = mesh.agents.get(name)!;
    const original = agent.serveTask.bind(agent);
    agent.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
      if (phaseOf(t) === phase) {
        void mesh.stopAgent(name);
        return new Promise(() => undefined);
      }
      return original(t, id);
    };
  }
  async function restart(...which: string[]): Promise<void> {
    for (const n of which) if (!mesh.agents.has(n)) await mesh.startAgent(n, dirs[names.indexOf(n)]!, { ...policy, allowModes: [...policy.allowModes] });
    await mesh.waitForAgents(4);
    // The coordinator has the fresh registrations once every agent is connected again.
  }

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: names });
    for (const [i, n] of names.entries()) {
      const dir = join(mesh.dir, 'data', n);
      dirs.push(dir);
      await writePersonCsv(dir, persons[i]!);
      await mesh.startAgent(n, dir, { ...policy, allowModes: [...policy.allowModes] });
    }
    await mesh.waitForAgents(4);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 1e4, 1e-3);
  });
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  it('mode none: the secure sum equals the plaintext aggregate job bit for bit (counts, sums, means, variances, histograms)', async () => {
    const plain = await mesh.client.run(job);
    const secure = await mesh.client.run({ ...job, secure: 'secagg' });
    expect(plain.error).toBeUndefined();
    expect(secure.error).toBeUndefined();
    expect(secure.agents.answered).toEqual(names);
    expect(secure.result!.columns).toEqual(plain.result!.columns);
    expect(byGender(secure.result!.rows)).toEqual(byGender(plain.result!.rows));
    expect(secure.result!.rows.reduce((s, r) => s + Number(r.count), 0)).toBe(sizes.reduce((a, b) => a + b, 0));
    // (the kind seam's secure sum, jobs/aggregate/secure-exact.ts: the statement names no ring or Shamir threshold)
    expect(secure.result!.privacy).toMatchObject({ mode: 'none', secure: 'secagg', exact: true, minCellSize: 5, contributors: 4, secureMaxRows: 16777216 });
    expect(secure.result!.notes.join(' ')).toMatch(/minimum cell size .* applied to the released totals, not per agent/);
  });

  it('mode none: small cells are suppressed on the released totals (groups and bins below the minimum cell size)', async () => {
    const spec = { ...job, secure: 'secagg', where: [{ column: 'year_of_birth', op: '<', value: 1932 }], measures: [{ fn: 'count' }] };
    const truth = persons.flat().filter((p) => p.year_of_birth < 1932);
    const r = await mesh.client.run(spec);
    expect(r.error).toBeUndefined();
    for (const g of [8507, 8532]) {
      const n = truth.filter((p) => p.gender_concept_id === g).length;
      const row = r.result!.rows.find((x) => x.gender_concept_id === g);
      if (n >= 5) expect(row?.count).toBe(n);
      else if (n > 0) expect(r.result!.suppressed).toContainEqual({ group: { gender_concept_id: g }, suppressedBy: ['minCellSize'] });
    }
  });

  it('an agent that drops after sharing keys (before its masked input) leaves the exact sum over the rest, marked partial (quorum 3 accepted)', async () => {
    disconnectAt('a4', 'mask');
    const secure = await mesh.client.run({ ...job, secure: 'secagg', quorum: 3 });
    expect(secure.error).toBeUndefined();
    expect(secure.agents.answered).toEqual(['a1', 'a2', 'a3']);
    expect(secure.agents.missing).toEqual(['a4']);
    expect(secure.result!.complete).toBe(false);
    expect(secure.result!.agentsMissing).toEqual([{ agent: 'a4', reason: expect.stringMatching(/^no usable answer: AGENT_UNAVAILABLE: agent a4 disconnected/) }]);
    await restart('a4');
    const plain = await mesh.client.run({ ...job, agents: ['a1', 'a2', 'a3'] });
    expect(byGender(secure.result!.rows)).toEqual(byGender(plain.result!.rows));
  });

  it('an agent that drops after sending its masked input (before unmasking) is still in the exact sum', async () => {
    disconnectAt('a2', 'unmask');
    const secure = await mesh.client.run({ ...job, secure: 'secagg' });
    expect(secure.error).toBeUndefined();
    expect(secure.agents.answered).toEqual(names);
    await restart('a2');
    const plain = await mesh.client.run(job);
    expect(byGender(secure.result!.rows)).toEqual(byGender(plain.result!.rows));
  });

  it('with the default quorum (every agent) the same dropout fails the job before anything is unmasked', async () => {
    disconnectAt('a4', 'mask');
    try {
      const r = await mesh.client.run({ ...job, secure: 'secagg' });
      expect(r.state).toBe('failed');
      expect(r.error!.code).toBe('QUORUM_NOT_MET');
      // The coordinator stops at the masked inputs (each agent would also refuse to unmask fewer survivors than the
      // job's guarantee needs: algorithms/secagg, and test/integration/kind-secure.test.ts on the seam).
      expect(r.error!.message).toMatch(/secure sum \(secagg\) failed: 3 masked vectors, the round needs 4 \(a4: AGENT_UNAVAILABLE: agent a4 disconnected before answering\)/);
    } finally {
      await restart('a4');
    }
  });

  it('one dropout too many (n − t + 1) fails cleanly with QUORUM_NOT_MET', async () => {
    disconnectAt('a3', 'mask');
    disconnectAt('a4', 'mask');
    const r = await mesh.client.run({ ...job, secure: 'secagg' });
    expect(r.state).toBe('failed');
    expect(r.error!.code).toBe('QUORUM_NOT_MET');
    expect(r.error!.message).toMatch(/only 2 clients survived MaskedInputCollection, below the threshold 3/);
    await restart('a3', 'a4');
  });

  it('a possible overflow is refused at submission naming the measure; rows above secureMaxRows are clipped, never refused', async () => {
    // bmi: a column the catalogue declares no bounds for (year_of_birth's declared [1900, 2030] now refuses wider bounds first).
    const huge = await mesh.client.submitJob({ ...job, secure: 'secagg', measures: [{ fn: 'sum', column: 'bmi', bounds: [0, 1e300] }] }).catch((e: unknown) => e);
    // (mode none refuses such bounds from the plan, before the secure layout's limb count: one row on the grid must
    // fit 2^61 units; below that the limbs bound the secure sum, common/secure/vector-layout.test.ts)
    expect((huge as Error).message).toMatch(/^measures\[0\]\.bounds: mode none sums values exactly, one row within 2\^61 grid units/);
    // Agents hold 140–220 rows; with a public cap of 100 rows per agent each clips its count to 100 (a refusal
    // would tell whether an agent holds more than the cap). Negative control: the old code failed this job. A
    // researcher-chosen cap is distributed-dp only (mode none takes the agents' agreed bound, here the default).
    const r = await mesh.client.run({ ...job, secure: 'secagg', secureMaxRows: 100, groupBy: [], groupKeys: undefined, measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.5 } });
    expect(r.error).toBeUndefined();
    expect(r.agents.answered).toEqual(names);
    const clipped = sizes.reduce((s, n) => s + Math.min(n, 100), 0);
    // Unclipped would be ≥ 160 more; the noise std is ~1.4.
    expect(Math.abs((r.result!.rows[0]!.count as number) - clipped)).toBeLessThan(6 * (r.result!.rows[0]!.count_std as number));
    expect(r.result!.notes.join(' ')).toMatch(/secureMaxRows 100: every agent clips each of its statistics/);
  });

  it('a job on named agents: a participant outside them is refused in the first phase, and a task of the job sent to another agent is refused (red team 4, F6)', async () => {
    const a1 = mesh.agents.get('a1') as Agent;
    const original = a1.serveTask.bind(a1);
    type Start = { participants: { id: string }[]; threshold: number };
    // The kind seam's secure phases: a JSON payload with the phase and its protocol message (base64).
    const payloadOf = (t: AgentTask): { phase?: string; msg?: string } => {
      try {
        return JSON.parse(Buffer.from(t.payload).toString('utf8')) as { phase?: string; msg?: string };
      } catch {
        return {};
      }
    };
    const startOf = (msg: string) => decodeEnvelope(new Uint8Array(Buffer.from(msg, 'base64'))) as Start;
    let a4: unknown;
    try {
      a1.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
        const p = payloadOf(t);
        if (p.phase === 'advertise' && p.msg) a4 ??= startOf(p.msg).participants.find((x) => x.id === 'a4');
        return original(t, id);
      };
      expect((await mesh.client.run({ ...job, secure: 'secagg' })).error).toBeUndefined();
      expect(a4).toBeDefined();
      // The job names a1–a3; the coordinator brings a4's attested entry into a1's round start (and four's threshold).
      a1.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
        const p = payloadOf(t);
        if (p.phase !== 'advertise' || !p.msg) return original(t, id);
        const start = startOf(p.msg);
        start.participants.push(a4 as { id: string });
        start.threshold = 3;
        p.msg = Buffer.from(encodeEnvelope(start)).toString('base64');
        return original({ ...t, payload: new TextEncoder().encode(JSON.stringify(p)) }, id);
      };
      const bad = await mesh.client.run({ ...job, secure: 'secagg', agents: ['a1', 'a2', 'a3'] });
      expect(bad.state).toBe('failed');
      expect(bad.error!.message).toMatch(/a1: POLICY_DENIED: refusing the round: participant a4 is not among the job's agents/);
      // A plain task of a job on a1–a3, captured at a1 and sent to a4: refused before a4 charges or reads.
      let task: { t: AgentTask; id?: IdentityAssertionClaims } | undefined;
      a1.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
        task ??= { t, ...(id ? { id } : {}) };
        return original(t, id);
      };
      const ok = await mesh.client.run({ ...job, agents: ['a1', 'a2', 'a3'] });
      expect(ok.error).toBeUndefined();
      const reply = await (mesh.agents.get('a4') as Agent).serveTask(task!.t, task!.id);
      expect(reply.ok).toBe(false);
      expect(JSON.stringify(reply)).toMatch(/this agent \(a4\) is not among the job's agents/);
    } finally {
      a1.serveTask = original;
    }
  });

  it('a substituted identity key is refused by the peers: the coordinator cannot sit in the middle', async () => {
    const sessions = (mesh.coordinator.registry as unknown as { sessions: Map<string, { identity: IdentityAttestation }> }).sessions;
    const original = sessions.get('a2')!.identity;
    try {
      // The coordinator relays a key of its own making for a2 (with a2's real certificate and signature).
      sessions.get('a2')!.identity = { ...original, identityPublicKey: createIdentityKeyPair().publicKey };
      const r = await mesh.client.run({ ...job, secure: 'secagg' });
      expect(r.state).toBe('failed');
      expect(r.error!.message).toMatch(/a1: UNAUTHENTICATED: refusing the identity key relayed for 'a2': the key is not signed by the agent's certificate key/);
      // ... or relays a3's genuine attestation as a2's.
      sessions.get('a2')!.identity = sessions.get('a3')!.identity;
      const r2 = await mesh.client.run({ ...job, secure: 'secagg' });
      expect(r2.error!.message).toMatch(/its certificate is issued to 'a3', not to 'a2'/);
    } finally {
      sessions.get('a2')!.identity = original;
    }
  });

  it('distributed-dp: the released noise has the stated std (chi-square check, 5σ tolerance; a half-variance mechanism is rejected)', async () => {
    const bins = Array.from({ length: 41 }, (_, i) => 1930 + 2 * i);
    const spec = {
      ...job,
      secure: 'secagg',
      measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins }],
      privacy: { mode: 'distributed-dp', rho: 0.02 },
    };
    const all = persons.flat();
    const z: number[] = [];
    let stated = 0;
    let spentRho = 0;
    for (let rep = 0; rep < 3; rep++) {
      const r = await mesh.client.run(spec);
      expect(r.error).toBeUndefined();
      const privacy = r.result!.privacy as { mode: string; tolerated: number; minHonestShares: number; spent: { rho: number } };
      expect(privacy).toMatchObject({ mode: 'distributed-dp', tolerated: 1, minHonestShares: 3 });
      spentRho = privacy.spent.rho;
      for (const row of r.result!.rows) {
        const g = Number(row.gender_concept_id);
        const truth = all.filter((p) => p.gender_concept_id === g);
        stated = row.histogram_year_of_birth_std as number;
        (row.histogram_year_of_birth as number[]).forEach((v, b) => {
          const t = truth.filter((p) => p.year_of_birth >= bins[b]! && (b === bins.length - 2 ? p.year_of_birth <= bins[b + 1]! : p.year_of_birth < bins[b + 1]!)).length;
          z.push(v - t);
        });
        expect(Math.abs((row.count as number) - truth.length)).toBeLessThan(6 * (row.count_std as number));
      }
    }
    // ρ = 0.02 split over two measures: central σ² = 1/(2·0.01) = 50 per statistic; 4 agents' shares sized for 3.
    expect(stated).toBeGreaterThan(Math.sqrt(50));
    expect(stated).toBeLessThan(Math.sqrt(50 * 4 / 3) * 1.1);
    expect(spentRho).toBeLessThanOrEqual(0.02);
    expect(spentRho).toBeGreaterThan(0.019);
    const k = z.length; // 3 jobs × 2 groups × 40 bins
    const ratio = z.reduce((s, x) => s + x * x, 0) / k / (stated * stated);
    const tol = 5 * Math.sqrt(2 / k);
    expect(Math.abs(ratio - 1)).toBeLessThan(tol);
    // Negative control: the same check against half the stated variance must fail.
    expect(Math.abs(2 * ratio - 1)).toBeGreaterThan(tol);
    // ... and the values are not exact.
    expect(z.some((x) => x !== 0)).toBe(true);
  });

  it('distributed-dp needs secure aggregation, and the agents charge their own ledgers', async () => {
    const err = await mesh.client.submitJob({ ...job, privacy: { mode: 'distributed-dp', rho: 0.1 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/distributed-dp needs secure aggregation/);
    const a1 = mesh.agents.get('a1') as Agent;
    const before = await a1.privacyLedger.spend('researcher');
    const r = await mesh.client.run({ ...job, secure: 'secagg', measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.1 } });
    expect(r.error).toBeUndefined();
    const after = await a1.privacyLedger.spend('researcher');
    expect(after.rho - before.rho).toBeCloseTo((r.result!.privacy as { spent: { rho: number } }).spent.rho, 12);
  });
});
