import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { createIdentityKeyPair, identityPublicKeyFromPem } from '../../common/crypto/index.js';
import { COORDINATOR_PUBLIC_KEY_FILE } from '../../coordinator/identity/index.js';
import type { TaskOutcome } from '../../coordinator/dispatcher.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/**
 * The coordinator signs the researcher's identity onto every task; agents verify it before anything else. Over the
 * real link: a genuine job runs; a task without an assertion, with one made for another job, or verified against
 * another key is refused, and the agent's ledger is not charged.
 */
interface Internals {
  dispatcher: { dispatch(agent: string, task: Omit<AgentTask, 'taskId'>): Promise<TaskOutcome> };
  identities: { stamp: (agent: string, task: Omit<AgentTask, 'taskId'>) => string | undefined };
}

describe('signed identity from coordinator to agents', () => {
  let mesh: TestMesh;
  const count = { kind: 'aggregate', product: 'person', groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 }, purpose: 'PUBHLTH', project: 'P-9' };
  let internals: Internals;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, n] of ['a1', 'a2'].entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, makePersons(60, 70 + i, (i + 1) * 100_000));
    }
    const published = identityPublicKeyFromPem(readFileSync(join(mesh.dir, 'coordinator', COORDINATOR_PUBLIC_KEY_FILE), 'utf8'));
    // a1 is configured with the coordinator's published key; a2 pins it at registration.
    await mesh.startAgent('a1', join(mesh.dir, 'data', 'a1'), undefined, { coordinatorKey: published });
    await mesh.startAgent('a2', join(mesh.dir, 'data', 'a2'));
    await mesh.waitForAgents(2);
    internals = mesh.coordinator as unknown as Internals;
  }, 120_000);
  afterAll(async () => mesh?.close());

  const spent = (agent: string): Promise<unknown> => mesh.agents.get(agent)!.privacyLedger.spend('researcher');

  it('a genuine job is verified at both agents (configured and pinned key) and succeeds', async () => {
    const job = await mesh.client.run(count);
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2']);
  });

  it('a task without an assertion is refused UNAUTHENTICATED before the ledger', async () => {
    const before = await spent('a1');
    const o = await internals.dispatcher.dispatch('a1', { jobId: 'no-assertion', kind: 'aggregate', specJson: JSON.stringify(count), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'researcher', payload: new Uint8Array() });
    expect(o).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/carries no identity assertion/) } });
    expect(await spent('a1')).toEqual(before);
  });

  it('an assertion made for one job and replayed on another is refused PERMISSION_DENIED; nothing charged', async () => {
    const specJson = JSON.stringify(count);
    const base = { kind: 'aggregate', specJson, deadlineMs: Date.now() + 10_000, round: 0, researcher: 'researcher', payload: new Uint8Array() };
    const identities = internals.identities as unknown as { register(id: string, p: { name: string; isAdmin: boolean }, s: object): void; forget(id: string): void };
    identities.register('job-A', { name: 'researcher', isAdmin: false }, count);
    const stolen = internals.identities.stamp('a2', { ...base, jobId: 'job-A' });
    identities.forget('job-A');
    expect(stolen).toBeDefined();
    const original = internals.identities.stamp;
    internals.identities.stamp = () => stolen;
    try {
      const before = await spent('a2');
      const replayed = await internals.dispatcher.dispatch('a2', { ...base, jobId: 'job-B' });
      expect(replayed).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED', message: expect.stringMatching(/issued for another job/) } });
      // Sent to another agent than it was made for.
      const elsewhere = await internals.dispatcher.dispatch('a1', { ...base, jobId: 'job-A' });
      expect(elsewhere).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED', message: expect.stringMatching(/another agent/) } });
      // Tampered: one character of the body changed.
      const tampered = `${stolen!.slice(0, 10)}${stolen![10] === 'A' ? 'B' : 'A'}${stolen!.slice(11)}`;
      internals.identities.stamp = () => tampered;
      const t = await internals.dispatcher.dispatch('a2', { ...base, jobId: 'job-A' });
      expect(t).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(await spent('a2')).toEqual(before);
    } finally {
      internals.identities.stamp = original;
    }
  });

  it('an agent configured with another coordinator key refuses every task of a genuine job', async () => {
    const dir = join(mesh.dir, 'data', 'a3');
    await writePersonCsv(dir, makePersons(60, 90, 300_000));
    await mesh.startAgent('a3', dir, undefined, { coordinatorKey: createIdentityKeyPair().publicKey });
    await mesh.waitForAgents(3);
    const job = await mesh.client.run({ ...count, quorum: 2 });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2']);
    expect(job.result!.agentsMissing).toEqual([{ agent: 'a3', reason: expect.stringMatching(/UNAUTHENTICATED: identity assertion refused: bad signature/) }]);
    await mesh.stopAgent('a3');
  });
});
