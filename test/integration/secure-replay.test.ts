import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecAggServer, type AdvertiseKeysMessage, type MaskedInputMessage, type ShareKeysMessage, type UnmaskResponse } from '../../algorithms/secagg/index.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { createNodeSecAggCrypto } from '../../common/crypto/index.js';
import { decryptVector, loadHeKeyFolder } from '../../common/he/index.js';
import { decodeEnvelope, encodeEnvelope, verifyAttestation, type SecAggRoundStart } from '../../common/secure/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';

/**
 * Issue 15 item 3 for secure jobs (red-team finding): the agent charges once per job id, so a coordinator that
 * replays a secure job's tasks under that id must get the replies already sent — not a second SecAgg run with fresh
 * keys and a fresh noise share, nor a fresh HE encryption of a fresh noise share — or averaging replays strips the
 * distributed noise. Here the test plays the malicious coordinator, calling each agent's task handler as its link does.
 */
describe('secure jobs: one charge, one answer under replay (issue 15 item 3)', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const names = ['a1', 'a2', 'a3'];
  const dirs: string[] = [];
  const policy = { allowModes: ['none', 'distributed-dp'] as ('none' | 'distributed-dp')[], minCellSize: 5, budgetCap: { epsilon: 1e4, delta: 1e-3 } };
  // Several noisy entries (2 groups × count and 2 bins), so two independent noise draws agreeing everywhere has a
  // probability far below 1e-9: the negative controls cannot pass by chance.
  const job = {
    kind: 'aggregate',
    product: 'person',
    groupBy: ['gender_concept_id'],
    groupKeys: { gender_concept_id: [8507, 8532] },
    measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1970, 2010] }],
    privacy: { mode: 'distributed-dp', rho: 0.01 },
    timeoutMs: 30_000,
  };
  /** Every task each agent received from the coordinator, by agent. */
  const seen = new Map<string, AgentTask[]>();
  /** The identity the coordinator vouched for with each agent's last task: a malicious coordinator can sign any. */
  const vouched = new Map<string, IdentityAssertionClaims | undefined>();
  let seq = 0;

  function capture(name: string): void {
    const agent = mesh.agents.get(name)!;
    const original = agent.serveTask.bind(agent);
    agent.serveTask = (t: AgentTask, id?: IdentityAssertionClaims) => {
      seen.get(name)!.push(t);
      vouched.set(name, id);
      return original(t, id);
    };
  }
  /**
   * The malicious coordinator sends one task straight to the agent's handler, past the identity check: it holds the
   * assertion signing key, so it could vouch for any task.
   */
  async function send(agent: string, base: AgentTask, round: number, payload: Uint8Array, jobId = base.jobId): Promise<AgentTaskReply> {
    seq++;
    return mesh.agents.get(agent)!.serveTask({ ...base, jobId, taskId: `replay-${seq}`, round, payload, deadlineMs: Date.now() + 20_000 }, vouched.get(agent));
  }
  /** A captured round id (`<job>/secagg/<spec hash>`) under another job id, same spec. */
  function underJob(roundId: string, jobId: string): string {
    return `${jobId}/${roundId.split('/').slice(1).join('/')}`;
  }

  function ok(r: AgentTaskReply): Uint8Array {
    if (!r.ok) throw new Error(`task failed: ${r.error.code} ${r.error.message}`);
    return r.payload ?? new Uint8Array();
  }

  /**
   * Runs all four SecAgg rounds against the three agents under `jobId`, with the participants of the captured
   * round-1 start, and returns the unmasked sum: what a coordinator learns from one run.
   */
  async function runSecAgg(first: AgentTask, jobId: string): Promise<string> {
    const captured = decodeEnvelope(first.payload, 'start') as SecAggRoundStart;
    const start: SecAggRoundStart = { ...captured, roundId: underJob(captured.roundId, jobId), jobDeadlineMs: Date.now() + 60_000 };
    const ca = loadTlsMaterial(mesh.tlsDir, 'coordinator').ca;
    const participants = start.participants.map((p) => ({ id: p.id, identityPublicKey: verifyAttestation(p.id, p.attestation, ca) }));
    const server = (vectorLength: number): SecAggServer => new SecAggServer({ config: { roundId: start.roundId, threshold: start.threshold, vectorLength, participants }, crypto: createNodeSecAggCrypto() });
    const startBytes = encodeEnvelope(start);
    const adverts: { name: string; reply: AgentTaskReply }[] = [];
    for (const n of names) adverts.push({ name: n, reply: await send(n, first, 1, startBytes, jobId) });
    const r0 = adverts[0]!.reply;
    const s = server(Number(r0.ok ? r0.meta.vectorLength : 0));
    for (const a of adverts) s.receiveAdvertisement(decodeEnvelope(ok(a.reply), 'advertise') as AdvertiseKeysMessage);
    const broadcast = encodeEnvelope(s.closeAdvertiseKeys());
    for (const n of names) s.receiveShareKeys(decodeEnvelope(ok(await send(n, first, 2, broadcast, jobId)), 'share') as ShareKeysMessage);
    for (const relay of s.closeShareKeys()) s.receiveMaskedInput(decodeEnvelope(ok(await send(relay.recipientId, first, 3, encodeEnvelope(relay), jobId)), 'mask') as MaskedInputMessage);
    const request = s.closeMaskedInput();
    for (const n of request.survivorIds) s.receiveUnmaskResponse(decodeEnvelope(ok(await send(n, first, 4, encodeEnvelope(request), jobId)), 'unmask') as UnmaskResponse);
    return Array.from(s.finish().sum).join(',');
  }

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: names });
    for (const [i, n] of names.entries()) {
      const dir = join(mesh.dir, 'data', n);
      dirs.push(dir);
      await writePersonCsv(dir, makePersons([150, 120, 90][i]!, 40 + i, (i + 1) * 100_000));
      await mesh.startAgent(n, dir, policy);
      seen.set(n, []);
      capture(n);
    }
    await mesh.waitForAgents(3);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 1e4, 1e-3);
  }, 120_000);
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  let secaggRound1: AgentTask;

  it('secagg distributed-dp: replayed round 1 gives the same bytes; re-running all four rounds gives the same noisy sum, once charged', async () => {
    const done = await mesh.client.run({ ...job, secure: 'secagg' });
    expect(done.error).toBeUndefined();
    secaggRound1 = seen.get('a1')!.find((t) => t.round === 1)!;
    expect(secaggRound1).toBeDefined();
    const a1 = mesh.agents.get('a1')!;
    const spentBefore = await a1.privacyLedger.spend('researcher');

    // The red-team repro: round 1 resent four times.
    const round1 = new Set<string>();
    for (let i = 0; i < 4; i++) round1.add(Buffer.from(ok(await send('a1', secaggRound1, 1, secaggRound1.payload))).toString('hex'));
    expect(round1.size).toBe(1);

    // A whole second and third run of the protocol under the job id: the coordinator learns the same sum again.
    const sums = new Set<string>();
    for (let i = 0; i < 3; i++) sums.add(await runSecAgg(secaggRound1, secaggRound1.jobId));
    expect(sums.size).toBe(1);
    expect(await a1.privacyLedger.spend('researcher')).toEqual(spentBefore);
  }, 120_000);

  it('negative control: the same SecAgg run under fresh job ids gives different noisy sums (fresh shares, charged each time)', async () => {
    const a1 = mesh.agents.get('a1')!;
    const before = await a1.privacyLedger.spend('researcher');
    const sums = new Set<string>();
    for (let i = 0; i < 3; i++) sums.add(await runSecAgg(secaggRound1, `fresh-secagg-${i}`));
    expect(sums.size).toBeGreaterThan(1);
    expect((await a1.privacyLedger.spend('researcher')).jobs - before.jobs).toBe(3);
  }, 120_000);

  it('a replayed round 4 with another survivor list gets the first unmask response, never an agreement-key share', async () => {
    const task4 = seen.get('a1')!.find((t) => t.round === 4 && t.jobId === secaggRound1.jobId)!;
    const request = decodeEnvelope(task4.payload, 'unmask') as { survivorIds: string[]; droppedIds: string[] };
    const altered = encodeEnvelope({ ...request, survivorIds: ['a1', 'a2'], droppedIds: ['a3'] });
    const reply = decodeEnvelope(ok(await send('a1', task4, 4, altered)), 'unmask') as UnmaskResponse;
    expect(reply.agreementKeyShares).toEqual([]);
    expect(reply.selfMaskShares.map((s) => s.ownerId).sort()).toEqual(names);
  }, 60_000);

  it('he distributed-dp: replayed round 1 gives the same ciphertext; fresh job ids decrypt to different noisy vectors', async () => {
    const keyDir = join(mesh.dir, 'researcher-keys');
    const done = await mesh.client.run({ ...job, secure: 'he' }, undefined, { keyDir });
    expect(done.error).toBeUndefined();
    const first = seen.get('a1')!.find((t) => t.round === 1 && JSON.parse(t.specJson).secure === 'he')!;
    const replies = new Set<string>();
    for (let i = 0; i < 3; i++) replies.add(Buffer.from(ok(await send('a1', first, 1, first.payload))).toString('hex'));
    expect(replies.size).toBe(1);

    // Negative control, in the researcher's (key holder's) view: fresh ids are fresh noise shares.
    const { plan, secretKey } = await loadHeKeyFolder(keyDir);
    const decrypt = async (bytes: Uint8Array): Promise<string> => {
      const cts = Array.from({ length: plan.ciphertextCount }, (_, i) => bytes.subarray(i * plan.ciphertextByteSize, (i + 1) * plan.ciphertextByteSize));
      return Array.from(await decryptVector(plan, secretKey, cts)).join(',');
    };
    const replayed = await decrypt(Buffer.from([...replies][0]!, 'hex'));
    const fresh = new Set<string>();
    // The hostile coordinator names each fresh job in the HE round id, as the agent checks (he-binding.ts).
    const heStart = (decodeEnvelope(first.payload, 'he') as { roundId: string }).roundId;
    for (let i = 0; i < 3; i++) fresh.add(await decrypt(ok(await send('a1', first, 1, encodeEnvelope({ roundId: underJob(heStart, `fresh-he-${i}`) }), `fresh-he-${i}`))));
    expect(fresh.size).toBeGreaterThan(1);
    expect(fresh.has(replayed)).toBe(false);
  }, 180_000);

  it('the stored replies survive an agent restart: same round-1 bytes, same SecAgg sum, same HE ciphertext', async () => {
    const heRound1 = seen.get('a1')!.find((t) => t.round === 1 && JSON.parse(t.specJson).secure === 'he')!;
    const beforeSecagg = Buffer.from(ok(await send('a1', secaggRound1, 1, secaggRound1.payload))).toString('hex');
    const beforeHe = Buffer.from(ok(await send('a1', heRound1, 1, heRound1.payload))).toString('hex');
    const sumBefore = await runSecAgg(secaggRound1, secaggRound1.jobId);
    for (const [i, n] of names.entries()) {
      await mesh.stopAgent(n);
      await mesh.startAgent(n, dirs[i]!, policy);
    }
    expect(Buffer.from(ok(await send('a1', secaggRound1, 1, secaggRound1.payload))).toString('hex')).toBe(beforeSecagg);
    expect(Buffer.from(ok(await send('a1', heRound1, 1, heRound1.payload))).toString('hex')).toBe(beforeHe);
    expect(await runSecAgg(secaggRound1, secaggRound1.jobId)).toBe(sumBefore);
  }, 180_000);

  it('a run cut after round 1 cannot be continued or restarted after a restart: round 1 replays, round 2 is refused', async () => {
    const jobId = 'cut-after-round-1';
    const start = decodeEnvelope(secaggRound1.payload, 'start') as SecAggRoundStart;
    const startBytes = encodeEnvelope({ ...start, roundId: underJob(start.roundId, jobId), jobDeadlineMs: Date.now() + 60_000 });
    const advert = Buffer.from(ok(await send('a1', secaggRound1, 1, startBytes, jobId))).toString('hex');
    await mesh.stopAgent('a1');
    await mesh.startAgent('a1', dirs[0]!, policy);
    expect(Buffer.from(ok(await send('a1', secaggRound1, 1, startBytes, jobId))).toString('hex')).toBe(advert);
    const r2 = await send('a1', secaggRound1, 2, encodeEnvelope({ roundId: underJob(start.roundId, jobId), advertisements: [] }), jobId);
    expect(r2.ok ? 'ok' : r2.error.code).toBe('FAILED_PRECONDITION');
  }, 120_000);
});
