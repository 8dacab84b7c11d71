import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AGENT_REPLY_BYTES } from '../../coordinator/admission/result-size.js';
import { MAX_AGENT_ERROR_CHARS } from '../../coordinator/transport/codec.js';
import { CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, SERVER_OPTIONS } from '../../common/transport/index.js';
import { connectRawAgent, type RawAgent, type RawProduct } from '../helpers/raw-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const person: RawProduct = {
  name: 'person',
  columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'year_of_birth', type: 'BIGINT' }],
  privacyUnit: 'person_id',
  description: 'fake',
  metadataJson: '{}',
};

/** Issue 8, items 7 and 9, on the agent link: what a hostile agent sends back is bounded before it is kept. */
describe('agent replies at and over the limits, from a fake agent over the real stream', () => {
  let mesh: TestMesh;
  const agents: RawAgent[] = [];
  const count = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } };

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'], heartbeatIntervalMs: 1000 });
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await mesh?.close();
  });

  it("an agent's 1 MB error message is cut before it is stored with the job and shown to the researcher (item 9)", async () => {
    const a = connectRawAgent(`127.0.0.1:${mesh.server.port}`, mesh.tlsDir, 'a1', [person], {}, (t) => ({ failure: { taskId: t.taskId, error: { code: 'INVALID_JOB', message: 'y'.repeat(1_000_000), field: 'f'.repeat(10_000) } } }));
    agents.push(a);
    await a.registered;
    const job = await mesh.client.run({ ...count, agents: ['a1'] });
    expect(job.state).toBe('failed');
    expect(job.error!.code).toBe('QUORUM_NOT_MET');
    expect(job.error!.message.length).toBeLessThan(MAX_AGENT_ERROR_CHARS + 300);
    expect(job.error!.message).toContain('(1000000 characters)');
    expect(JSON.stringify(await mesh.client.getJob(job.jobId)).length).toBeLessThan(20_000);
    a.close();
  });

  it('the agent link carries any reply admission allows: its limit is twice the largest admitted reply', () => {
    expect(MAX_AGENT_REPLY_BYTES * 2).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    for (const o of [SERVER_OPTIONS, CHANNEL_OPTIONS]) {
      expect(o['grpc.max_receive_message_length']).toBe(MAX_MESSAGE_BYTES);
      expect(o['grpc.max_send_message_length']).toBe(MAX_MESSAGE_BYTES);
    }
  });

  it('a reply of the largest admitted size plus headroom crosses the link: the agent stays connected and the job fails on content, not transport', async () => {
    const big = Buffer.alloc(MAX_AGENT_REPLY_BYTES + 8 * 1024 * 1024);
    const a = connectRawAgent(`127.0.0.1:${mesh.server.port}`, mesh.tlsDir, 'a2', [person], {}, (t) => ({ result: { taskId: t.taskId, arrowIpc: big, metaJson: '{}', payload: Buffer.alloc(0) } }));
    agents.push(a);
    await a.registered;
    const job = await mesh.client.run({ ...count, agents: ['a2'], timeoutMs: 60_000 });
    expect(job.state).toBe('failed');
    expect(job.error!.message).not.toMatch(/disconnected|did not answer/);
    expect(mesh.coordinator.registry.connected().map((x) => x.name)).toContain('a2');
  }, 90_000);
});
