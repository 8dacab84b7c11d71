/**
 * Issue 15 (red team): a secure sum for a registry kind must not combine agents that were given different specs.
 * Each agent binds the SecAgg run id to the compiled job hash it verified itself (common/kinds/secure-sum.ts), so a
 * coordinator that sends one agent a spec with another public field (here `timeoutMs`, with the task hash rewritten
 * to match, as a malicious coordinator can) gets a sum that fails closed, naming the spec-hash mismatch, and nothing
 * is released. Control: the same spec everywhere succeeds and equals the plain fit exactly (secagg mode none is exact).
 * The test plays the malicious coordinator by rewriting tasks at the agents' task handler, as the agent's link would
 * deliver them.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { compileKindJob, decodeRoundPayload, encodeRoundPayload, secAggRunId, type RoundPayload } from '../../common/kinds/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../common/secure/index.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import { KINDS } from '../../jobs/kinds.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const diabetes = {
  name: 'type 2 diabetes',
  entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' },
  observation: { priorDays: 0, postDays: 0 },
};
const SPEC = {
  kind: 'survival',
  target: diabetes,
  outcome: { domain: 'death', conceptIds: [] },
  timeGrid: { binDays: 180, maxDays: 3650 },
  model: 'cox',
  covariates: [{ name: 'age', source: 'age', type: 'numeric', bounds: [15, 105] }],
  privacy: { mode: 'none' },
};
const SITES = ['s1', 's2', 's3'];

type Serve = (t: AgentTask, id?: IdentityAssertionClaims) => Promise<AgentTaskReply>;

/** The task an agent would compile from a spec whose `timeoutMs` was changed, with the payload hash to match. */
function tamper(task: AgentTask, rewriteRunId: boolean): AgentTask {
  const spec = { ...(JSON.parse(task.specJson) as Record<string, unknown>) };
  spec.timeoutMs = Number(spec.timeoutMs ?? 60_000) + 1_000;
  const specJson = JSON.stringify(spec);
  const hash = compileKindJob(KINDS.get(task.kind)!, spec).hash;
  const p = decodeRoundPayload(task.payload);
  const out: RoundPayload = { ...p, hash };
  if (rewriteRunId && p.phase === 'advertise' && p.msg) {
    // The coordinator tells the tampered agent a story consistent with its own spec.
    const start = decodeEnvelope(Buffer.from(p.msg, 'base64'), 'start') as { runId: string };
    out.msg = Buffer.from(encodeEnvelope({ ...start, runId: secAggRunId(task.jobId, task.round, hash) })).toString('base64');
  }
  return { ...task, specJson, payload: encodeRoundPayload(out) };
}

describe('registry-kind secure sums bind the compiled spec hash (issue 15)', () => {
  let mesh: TestMesh;
  const originals = new Map<string, Serve>();
  /** Every advertise task each agent received, and its reply. */
  const adverts: { agent: string; task: AgentTask; reply: AgentTaskReply; id: IdentityAssertionClaims | undefined }[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: SITES });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 3, persons: 1200, seed: 5, format: 'parquet' });
    for (const [i, s] of SITES.entries()) {
      await mesh.startAgent(s, synth.sites[i]!.dir, { allowModes: ['none'], allowKinds: ['survival', 'survival-cox'] });
      const agent = mesh.agents.get(s)!;
      const original = agent.serveTask.bind(agent) as Serve;
      originals.set(s, original);
    }
    await mesh.waitForAgents(SITES.length);
  }, 180_000);
  afterAll(async () => mesh?.close());

  function intercept(agent: string, rewrite: ((t: AgentTask) => AgentTask) | undefined): void {
    const original = originals.get(agent)!;
    mesh.agents.get(agent)!.serveTask = async (t: AgentTask, id?: IdentityAssertionClaims) => {
      const sent = rewrite ? rewrite(t) : t;
      const reply = await original(sent, id);
      if (decodeRoundPayload(sent.payload).phase === 'advertise') adverts.push({ agent, task: sent, reply, id });
      return reply;
    };
  }
  function honest(): void {
    for (const s of SITES) intercept(s, undefined);
  }

  /** The control job's advertise tasks of its first round, one per agent. */
  function firstRound(): typeof adverts {
    const r0 = Math.min(...adverts.map((a) => a.task.round));
    return SITES.map((s) => adverts.find((a) => a.agent === s && a.task.round === r0 && a.reply.ok)!).filter(Boolean);
  }

  const coefs = (j: { result?: { rows: Record<string, unknown>[] } }): unknown[] => j.result!.rows.map((r) => [r.coef, r['se(coef)']]);

  it('control: the same spec at every agent succeeds and equals the plain fit exactly', async () => {
    honest();
    const plain = await mesh.client.run(SPEC);
    expect(plain.error).toBeUndefined();
    const secure = await mesh.client.run({ ...SPEC, secure: 'secagg' });
    expect(secure.error).toBeUndefined();
    expect(coefs(secure)).toEqual(coefs(plain));
    expect(coefs(plain).length).toBeGreaterThan(0);
  }, 240_000);

  it('one agent given another spec (timeoutMs changed, hash rewritten): it refuses the run id, naming the spec-hash mismatch; nothing is released', async () => {
    const kept = adverts.length;
    intercept('s3', (t) => tamper(t, false));
    const j = await mesh.client.run({ ...SPEC, secure: 'secagg' });
    honest();
    adverts.length = kept;
    expect(j.result).toBeUndefined();
    expect(String(j.error?.message ?? j.error)).toMatch(/spec hash mismatch/);
  }, 240_000);

  it('a coordinator that gives that agent a run id matching its spec and relays every advertisement: each agent refuses the share phase, naming the mismatch', async () => {
    // Played by hand under a fresh job id (a real coordinator's SecAggServer would drop the advertisement that names
    // another run), from the advertise tasks of the control's secure job.
    const first = firstRound();
    expect(first.map((a) => a.agent)).toEqual(SITES);
    const jobId = 'spec-binding-attack';
    const ads: unknown[] = [];
    const sent: { agent: string; task: AgentTask; id: IdentityAssertionClaims | undefined }[] = [];
    for (const a of first) {
      let task: AgentTask = { ...a.task, jobId, taskId: `${jobId}-${a.agent}-1`, deadlineMs: Date.now() + 20_000 };
      if (a.agent === 's3') task = tamper(task, true);
      else {
        const p = decodeRoundPayload(task.payload);
        const st = decodeEnvelope(Buffer.from(p.msg!, 'base64'), 'start') as { runId: string };
        task = { ...task, payload: encodeRoundPayload({ ...p, msg: Buffer.from(encodeEnvelope({ ...st, runId: secAggRunId(jobId, task.round, p.hash) })).toString('base64') }) };
      }
      const r = await originals.get(a.agent)!(task, a.id);
      if (!r.ok) throw new Error(`${a.agent} advertise failed: ${r.error.message}`);
      ads.push(decodeEnvelope(r.arrow, 'advertise'));
      sent.push({ agent: a.agent, task, id: a.id });
    }
    const runIds = new Set(ads.map((ad) => (ad as { roundId: string }).roundId));
    expect(runIds.size).toBe(2); // s3 advertised under the run id of its own spec
    for (const a of sent) {
      const p = decodeRoundPayload(a.task.payload);
      const msg = Buffer.from(encodeEnvelope({ roundId: [...runIds][0], advertisements: ads })).toString('base64');
      const share: AgentTask = { ...a.task, taskId: `${jobId}-${a.agent}-2`, payload: encodeRoundPayload({ ...p, phase: 'share', msg }), deadlineMs: Date.now() + 20_000 };
      const r = await originals.get(a.agent)!(share, a.id);
      expect(r.ok, a.agent).toBe(false);
      if (!r.ok) expect(r.error.message, a.agent).toMatch(/spec hash mismatch/);
    }
  }, 240_000);

  it('negative control of the hand-played run: the same spec at every agent completes the share phase', async () => {
    const first = firstRound();
    const jobId = 'spec-binding-control';
    const ads: unknown[] = [];
    const sent: { agent: string; task: AgentTask; id: IdentityAssertionClaims | undefined }[] = [];
    for (const a of first) {
      const p = decodeRoundPayload(a.task.payload);
      const st = decodeEnvelope(Buffer.from(p.msg!, 'base64'), 'start') as { runId: string };
      const task: AgentTask = { ...a.task, jobId, taskId: `${jobId}-${a.agent}-1`, deadlineMs: Date.now() + 20_000, payload: encodeRoundPayload({ ...p, msg: Buffer.from(encodeEnvelope({ ...st, runId: secAggRunId(jobId, a.task.round, p.hash) })).toString('base64') }) };
      const r = await originals.get(a.agent)!(task, a.id);
      if (!r.ok) throw new Error(`${a.agent} advertise failed: ${r.error.message}`);
      ads.push(decodeEnvelope(r.arrow, 'advertise'));
      sent.push({ agent: a.agent, task, id: a.id });
    }
    for (const a of sent) {
      const p = decodeRoundPayload(a.task.payload);
      const msg = Buffer.from(encodeEnvelope({ roundId: (ads[0] as { roundId: string }).roundId, advertisements: ads })).toString('base64');
      const r = await originals.get(a.agent)!({ ...a.task, taskId: `${jobId}-${a.agent}-2`, payload: encodeRoundPayload({ ...p, phase: 'share', msg }) }, a.id);
      expect(r.ok ? 'ok' : r.error.message, a.agent).toBe('ok');
    }
  }, 240_000);
});
