import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecAggServer, type AdvertiseKeysMessage, type MaskedInputMessage, type ShareKeysMessage, type UnmaskResponse } from '../../algorithms/secagg/index.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { createNodeSecAggCrypto } from '../../common/crypto/index.js';
import { decryptVector, loadHeKeyFolder } from '../../common/he/index.js';
import { decodeEnvelope, encodeEnvelope, verifyAttestation } from '../../common/secure/index.js';
import { compileKindJob, kindPrivacyModeOf, secAggElements, secAggRunId, secAggVectorPlan } from '../../common/kinds/index.js';
import { KINDS } from '../../jobs/kinds.js';
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
  /** A captured HE round id (`<job>/he/<spec hash>`) under another job id, same spec. */
  function underJob(roundId: string, jobId: string): string {
    return `${jobId}/${roundId.split('/').slice(1).join('/')}`;
  }

  function ok(r: AgentTaskReply): Uint8Array {
    if (!r.ok) throw new Error(`task failed: ${r.error.code} ${r.error.message}`);
    return r.payload ?? new Uint8Array();
  }

  // SecAgg jobs of every kind run on the kind seam: a round's task carries its phase ('advertise', 'share', 'mask',
  // 'unmask') and the protocol message (base64) in its JSON payload, and the agent answers with the message's bytes.
  type SeamPayload = { hash: string; phase?: string; msg?: string };
  const payloadOf = (t: AgentTask): SeamPayload => JSON.parse(Buffer.from(t.payload).toString('utf8')) as SeamPayload;
  const withMsg = (t: AgentTask, phase: string, msg: Uint8Array): Uint8Array => new TextEncoder().encode(JSON.stringify({ ...payloadOf(t), phase, msg: Buffer.from(msg).toString('base64') }));
  const phaseTask = (name: string, jobId: string, phase: string): AgentTask | undefined => seen.get(name)!.find((t) => t.jobId === jobId && JSON.parse(t.specJson).secure === 'secagg' && (() => { try { return payloadOf(t).phase === phase; } catch { return false; } })());
  function answer(r: AgentTaskReply): Uint8Array {
    if (!r.ok) throw new Error(`task failed: ${r.error.code} ${r.error.message}`);
    return r.arrow;
  }
  type Start = { runId: string; threshold: number; deadlineMs: number; participants: { id: string; attestation: Parameters<typeof verifyAttestation>[1] }[] };

  /**
   * Runs the four SecAgg phases against the three agents under `jobId`, with the participants of the captured
   * advertise phase, and returns the unmasked sum: what a coordinator learns from one run.
   */
  async function runSecAgg(first: AgentTask, jobId: string): Promise<string> {
    const compiled = compileKindJob(KINDS.get('aggregate')!, JSON.parse(first.specJson));
    const captured = decodeEnvelope(new Uint8Array(Buffer.from(payloadOf(first).msg!, 'base64')), 'start') as Start;
    const start: Start = { ...captured, runId: secAggRunId(jobId, first.round, compiled.hash), deadlineMs: Date.now() + 60_000 };
    const ca = loadTlsMaterial(mesh.tlsDir, 'coordinator').ca;
    const participants = start.participants.map((p) => ({ id: p.id, identityPublicKey: verifyAttestation(p.id, p.attestation, ca) }));
    const layout = KINDS.get('aggregate')!.layout(compiled, first.round);
    const noise = kindPrivacyModeOf(KINDS.get('aggregate')!, compiled).roundNoise(compiled, layout, { agents: names.length });
    const server = new SecAggServer({ config: { roundId: start.runId, threshold: start.threshold, vectorLength: secAggVectorPlan(compiled, layout, noise, names.length).vectorLength, elements: secAggElements(secAggVectorPlan(compiled, layout, noise, names.length)), participants }, crypto: createNodeSecAggCrypto() });
    const ask = async (n: string, phase: string, msg: Uint8Array): Promise<Uint8Array> => answer(await send(n, first, first.round, withMsg(first, phase, msg), jobId));
    const startBytes = encodeEnvelope(start);
    for (const n of names) server.receiveAdvertisement(decodeEnvelope(await ask(n, 'advertise', startBytes), 'advertise') as AdvertiseKeysMessage);
    const broadcast = encodeEnvelope(server.closeAdvertiseKeys());
    for (const n of names) server.receiveShareKeys(decodeEnvelope(await ask(n, 'share', broadcast), 'share') as ShareKeysMessage);
    for (const relay of server.closeShareKeys()) server.receiveMaskedInput(decodeEnvelope(await ask(relay.recipientId, 'mask', encodeEnvelope(relay)), 'mask') as MaskedInputMessage);
    const request = server.closeMaskedInput();
    for (const n of request.survivorIds) server.receiveUnmaskResponse(decodeEnvelope(await ask(n, 'unmask', encodeEnvelope(request)), 'unmask') as UnmaskResponse);
    return Array.from(server.finish().sum).join(',');
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

  it('secagg distributed-dp: a replayed advertise phase gives the same bytes; re-running all four phases gives the same noisy sum, once charged', async () => {
    const done = await mesh.client.run({ ...job, secure: 'secagg' });
    expect(done.error).toBeUndefined();
    secaggRound1 = phaseTask('a1', done.jobId, 'advertise')!;
    expect(secaggRound1).toBeDefined();
    const a1 = mesh.agents.get('a1')!;
    const spentBefore = await a1.privacyLedger.spend('researcher');

    // The red-team repro: the first phase resent four times.
    const round1 = new Set<string>();
    for (let i = 0; i < 4; i++) round1.add(Buffer.from(answer(await send('a1', secaggRound1, secaggRound1.round, secaggRound1.payload))).toString('hex'));
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

  it('a replayed unmask phase with another survivor list gets the first unmask response, never an agreement-key share', async () => {
    const task4 = phaseTask('a1', secaggRound1.jobId, 'unmask')!;
    const request = decodeEnvelope(new Uint8Array(Buffer.from(payloadOf(task4).msg!, 'base64')), 'unmask') as { survivorIds: string[]; droppedIds: string[] };
    const altered = encodeEnvelope({ ...request, survivorIds: ['a1', 'a2'], droppedIds: ['a3'] });
    const reply = decodeEnvelope(answer(await send('a1', task4, task4.round, withMsg(task4, 'unmask', altered))), 'unmask') as UnmaskResponse;
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

  it('the stored replies survive an agent restart: same advertise bytes, same SecAgg sum, same HE ciphertext', async () => {
    const heRound1 = seen.get('a1')!.find((t) => t.round === 1 && JSON.parse(t.specJson).secure === 'he')!;
    const replaySecagg = async (): Promise<string> => Buffer.from(answer(await send('a1', secaggRound1, secaggRound1.round, secaggRound1.payload))).toString('hex');
    const beforeSecagg = await replaySecagg();
    const beforeHe = Buffer.from(ok(await send('a1', heRound1, 1, heRound1.payload))).toString('hex');
    const sumBefore = await runSecAgg(secaggRound1, secaggRound1.jobId);
    for (const [i, n] of names.entries()) {
      await mesh.stopAgent(n);
      await mesh.startAgent(n, dirs[i]!, policy);
    }
    expect(await replaySecagg()).toBe(beforeSecagg);
    expect(Buffer.from(ok(await send('a1', heRound1, 1, heRound1.payload))).toString('hex')).toBe(beforeHe);
    expect(await runSecAgg(secaggRound1, secaggRound1.jobId)).toBe(sumBefore);
  }, 180_000);

  it('a run cut after its first phase cannot be continued or restarted after a restart: the first phase replays, the next is refused', async () => {
    const jobId = 'cut-after-round-1';
    const compiled = compileKindJob(KINDS.get('aggregate')!, JSON.parse(secaggRound1.specJson));
    const start = decodeEnvelope(new Uint8Array(Buffer.from(payloadOf(secaggRound1).msg!, 'base64')), 'start') as Start;
    const startBytes = withMsg(secaggRound1, 'advertise', encodeEnvelope({ ...start, runId: secAggRunId(jobId, secaggRound1.round, compiled.hash), deadlineMs: Date.now() + 60_000 }));
    const advert = Buffer.from(answer(await send('a1', secaggRound1, secaggRound1.round, startBytes, jobId))).toString('hex');
    await mesh.stopAgent('a1');
    await mesh.startAgent('a1', dirs[0]!, policy);
    expect(Buffer.from(answer(await send('a1', secaggRound1, secaggRound1.round, startBytes, jobId))).toString('hex')).toBe(advert);
    const r2 = await send('a1', secaggRound1, secaggRound1.round, withMsg(secaggRound1, 'share', encodeEnvelope({ roundId: secAggRunId(jobId, secaggRound1.round, compiled.hash), advertisements: [] })), jobId);
    expect(r2.ok ? 'ok' : r2.error.code).toBe('FAILED_PRECONDITION');
  }, 120_000);

  it('a SecAgg task on the built-in secure path (no longer served: SecAgg runs on the seam) is refused naming secure; control: the HE task is served', async () => {
    const heRound1 = seen.get('a1')!.find((t) => t.round === 1 && JSON.parse(t.specJson).secure === 'he')!;
    // A built-in secagg aggregate (data-derived groups: not a seam spec) sent as the old path's round 1 would be.
    const oldSpec = JSON.stringify({ ...job, groupKeys: undefined, privacy: { mode: 'none' }, secure: 'secagg' });
    const r = await send('a1', { ...heRound1, specJson: oldSpec }, 1, encodeEnvelope({ roundId: 'old-secagg', threshold: 2, jobDeadlineMs: Date.now() + 20_000, participants: [] }), 'old-secagg-task');
    expect(r.ok ? 'ok' : `${r.error.code} ${r.error.message}`).toMatch(/^INVALID_JOB secure: secagg jobs run as rounds of the kind seam/);
    expect(ok(await send('a1', heRound1, 1, heRound1.payload)).length).toBeGreaterThan(0);
  }, 60_000);
});
