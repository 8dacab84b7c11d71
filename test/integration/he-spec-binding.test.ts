/**
 * Issue 15 (leftover): the original kinds' HE sum is bound to the spec each agent verified (common/secure/he-binding.ts),
 * as their SecAgg sum is. A coordinator that gives one agent another spec (here `timeoutMs` changed) inside one HE sum
 * fails closed with a clear error: the agent refuses a round id that does not match its spec; given a matching id, it
 * signs its contribution for that other round id, which the coordinator's round refuses and — should a malicious
 * coordinator add it anyway — the researcher's client refuses before decrypting (it checks every contributor's
 * signature against its certificate under the mesh CA). Control: the same spec everywhere succeeds and equals the
 * plain job. The test plays the malicious coordinator by rewriting tasks at the agents' task handler (as
 * secure-spec-binding.test.ts does for the registry kinds), and by editing the relayed bindings for the client check.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import { decodeEnvelope, encodeEnvelope, heRoundId, verifyHeBindings, type HeBinding } from '../../common/secure/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const SITES = ['a1', 'a2', 'a3'];
// secureThreshold 3: every agent must contribute, so one refused contribution fails the job (nothing released).
const JOB = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' }, secure: 'he', secureThreshold: 3, timeoutMs: 30_000 };

type Serve = (t: AgentTask, id?: IdentityAssertionClaims) => Promise<AgentTaskReply>;

/** The task with `timeoutMs` changed in its spec; with `rewriteRoundId`, the round id matching that spec too. */
function tamper(task: AgentTask, rewriteRoundId: boolean): AgentTask {
  const spec = { ...(JSON.parse(task.specJson) as Record<string, unknown>) };
  spec.timeoutMs = Number(spec.timeoutMs ?? 30_000) + 1_000;
  const payload = rewriteRoundId ? encodeEnvelope({ roundId: heRoundId(task.jobId, parseJobSpec(spec)) }) : task.payload;
  return { ...task, specJson: JSON.stringify(spec), payload };
}

describe('HE sums of the original kinds bind the spec hash (issue 15)', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const originals = new Map<string, Serve>();
  const replies: { agent: string; task: AgentTask; reply: AgentTaskReply }[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: SITES });
    for (const [i, n] of SITES.entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, makePersons(60 + 20 * i, 90 + i, (i + 1) * 100_000));
      const agent = await mesh.startAgent(n, dir, { allowModes: ['none'], minCellSize: 5 });
      originals.set(n, agent.serveTask.bind(agent) as Serve);
    }
    await mesh.waitForAgents(3);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
  }, 120_000);
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  function intercept(agent: string, rewrite: ((t: AgentTask) => AgentTask) | undefined): void {
    const original = originals.get(agent)!;
    mesh.agents.get(agent)!.serveTask = async (t: AgentTask, id?: IdentityAssertionClaims) => {
      const sent = rewrite ? rewrite(t) : t;
      const reply = await original(sent, id);
      replies.push({ agent, task: sent, reply });
      return reply;
    };
  }
  const honest = (): void => SITES.forEach((s) => intercept(s, undefined));
  const keyDir = (): string => join(mesh.dir, 'researcher-keys');

  let control: Awaited<ReturnType<CoordinatorClient['run']>>;

  it('control: the same spec at every agent succeeds, the client verifies every binding, and the sum equals the plain job', async () => {
    honest();
    const plain = await mesh.client.run({ ...JOB, secure: undefined, secureThreshold: undefined });
    control = await mesh.client.run(JOB, undefined, { keyDir: keyDir() });
    expect(control.error).toBeUndefined();
    expect(control.result!.rows).toEqual(plain.result!.rows);
    const he = control.result!.summary!.he as { roundId: string; bindings: { binding: HeBinding }[] };
    expect(he.roundId).toMatch(new RegExp(`^${control.jobId}/he/[0-9a-f]{64}$`));
    expect(he.bindings.map((b) => b.binding.agent).sort()).toEqual(SITES);
  }, 120_000);

  it('one agent given another spec, round id untouched: it refuses the round, naming the spec-hash mismatch; nothing is released', async () => {
    intercept('a3', (t) => tamper(t, false));
    const j = await mesh.client.run(JOB, undefined, { keyDir: keyDir() });
    honest();
    expect(j.result).toBeUndefined();
    expect(String(j.error?.message)).toMatch(/a3: INVALID_ARGUMENT: round 1: he round payload: spec hash mismatch/);
  }, 120_000);

  let foreign: HeBinding | undefined;

  it('one agent given another spec AND the round id matching it: its signed contribution names another round and is refused, naming the mismatch', async () => {
    const before = replies.length;
    intercept('a3', (t) => tamper(t, true));
    const j = await mesh.client.run(JOB, undefined, { keyDir: keyDir() });
    honest();
    expect(j.result).toBeUndefined();
    expect(String(j.error?.message)).toMatch(/a3: FAILED_PRECONDITION: round 1: he: spec hash mismatch: agent a3 encrypted for round .*this job's spec gives/);
    // a3 did encrypt and sign — for the round of the spec it was given, not the job's.
    const r = replies.slice(before).find((x) => x.agent === 'a3')!.reply;
    expect(r.ok).toBe(true);
    foreign = r.ok ? (r.meta.heBinding as HeBinding) : undefined;
    expect(foreign!.roundId).not.toBe(heRoundId(j.jobId, j.spec));
  }, 120_000);

  it("a coordinator that adds such a contribution anyway, or re-signs one, is caught by the researcher's client; the honest bindings verify", async () => {
    const ca = loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher').ca;
    const he = control.result!.summary!.he as { contributors: number; bindings: { binding: HeBinding; attestation: unknown }[] };
    // Negative control: what the coordinator relayed verifies.
    expect(() => verifyHeBindings(he.bindings, he.contributors, control.jobId, control.spec, ca)).not.toThrow();
    const swap = (b: HeBinding): unknown => he.bindings.map((x) => (x.binding.agent === 'a3' ? { ...x, binding: b } : x));
    // a3's genuine signature, but for the round of another spec.
    expect(() => verifyHeBindings(swap(foreign!), he.contributors, control.jobId, control.spec, ca)).toThrow(/spec hash mismatch: agent a3/);
    // The right round id with a signature the coordinator made itself.
    const mine = he.bindings.find((x) => x.binding.agent === 'a1')!.binding.signature;
    const a3 = he.bindings.find((x) => x.binding.agent === 'a3')!.binding;
    expect(() => verifyHeBindings(swap({ ...a3, signature: mine }), he.contributors, control.jobId, control.spec, ca)).toThrow(/agent a3's binding is not signed by its identity key/);
    // A binding missing, or the spec the researcher holds differing from the one the agents signed for.
    expect(() => verifyHeBindings(he.bindings.slice(1), he.contributors, control.jobId, control.spec, ca)).toThrow(/relayed 2 bindings for 3 contributors/);
    expect(() => verifyHeBindings(he.bindings, he.contributors, control.jobId, { ...(control.spec as object), timeoutMs: 1 }, ca)).toThrow(/spec hash mismatch/);
    // The round start each agent got carried the job's round id.
    const start = replies.find((x) => x.task.jobId === control.jobId)!.task.payload;
    expect((decodeEnvelope(start, 'he') as { roundId: string }).roundId).toBe(heRoundId(control.jobId, control.spec));
  });
});
