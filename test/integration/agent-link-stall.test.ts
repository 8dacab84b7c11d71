/**
 * An agent that keeps its link open (its heartbeats arrive) but stops reading the tasks the coordinator writes to it.
 * Before, the coordinator kept every later task for it in its HTTP/2 buffers, job after job, and the agent counted
 * as live. Now the link is given up after `linkStallTimeoutMs` without the agent taking a message while some wait
 * (common/transport/chunks.ts, serialWriter's stall policy): its stream is reset, which drops the tasks waiting in
 * HTTP/2's buffers (coordinator/transport/reset-call.ts), and the agent is gone from the registry. The control is an agent that reads every task and answers none: it stays.
 */
import { constants } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHttp2Agent, type Http2Agent } from '../helpers/http2-agent.js';
import type { RawProduct } from '../helpers/raw-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const notes: RawProduct = {
  name: 'notes',
  columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'code', type: 'VARCHAR' }],
  privacyUnit: 'person_id',
  description: 'fake',
  metadataJson: '{}',
};
const policy = { minCellSize: 10, allowModes: ['none'], allowKinds: ['aggregate'] };

/**
 * An aggregate spec of about 60 kB (32 filters of 50 long codes each): ten of them are more than HTTP/2's windows
 * and buffers let through to a link nobody reads, and small enough that the head message adds under a second to the
 * stall clock (its time at 64 KiB/s).
 */
function bigSpec(i: number): Record<string, unknown> {
  const where = Array.from({ length: 32 }, (_, f) => ({ column: 'code', op: 'in', value: Array.from({ length: 50 }, (_, v) => `job${i}-filter${f}-code-${String(v).padStart(12, '0')}`) }));
  return { kind: 'aggregate', product: 'notes', measures: [{ fn: 'count' }], where, privacy: { mode: 'none' }, agents: ['a1', 'a2'], timeoutMs: 120_000 };
}

describe('an agent that stops reading its link', () => {
  let mesh: TestMesh;
  const raw: Http2Agent[] = [];
  const events: { event: string; fields?: Record<string, unknown> }[] = [];
  let onStalled: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => (onStalled = resolve));

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'], heartbeatIntervalMs: 1000, linkStallTimeoutMs: 3000, coordinatorLog: (event, fields) => {
        events.push({ event, ...(fields ? { fields } : {}) });
        if (event === 'agent-link-stalled') onStalled();
      },
    });
  });
  afterAll(async () => {
    for (const a of raw) a.close();
    await mesh?.close();
  });

  it('is given up once tasks wait on it past linkStallTimeoutMs, though its heartbeats arrive: its stream is reset and the waiting tasks dropped; an agent that reads stays', async () => {
    const address = `127.0.0.1:${mesh.server.port}`;
    const stuck = connectHttp2Agent(address, mesh.tlsDir, 'a1', [notes], policy);
    const reading = connectHttp2Agent(address, mesh.tlsDir, 'a2', [notes], policy);
    raw.push(stuck, reading);
    await Promise.all([stuck.registered, reading.registered]);
    stuck.stopReading();
    for (let i = 0; i < 10; i++) await mesh.client.submitJob(bigSpec(i));
    await stalled;
    const end = await stuck.readToEnd();
    // The stream was reset (RST_STREAM CANCEL), not ended behind the unread tasks: those were dropped at the coordinator.
    expect(end.rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(stuck.received.filter((m) => m === 'task').length).toBeLessThan(10);
    const stall = events.filter((e) => e.event === 'agent-link-stalled');
    expect(stall.map((e) => [e.fields?.agent, e.fields?.reset])).toEqual([['a1', true]]);
    expect(stall[0]!.fields?.reason).toMatch(/the peer took no message for \d+ ms while \d+ bytes waited/);
    const connected = mesh.coordinator.registry.connected().map((a) => a.name);
    expect(connected).not.toContain('a1');
    // Control: a2 read all 10 tasks (and answers none); its heartbeats keep it, as they should.
    expect(reading.received.filter((m) => m === 'task')).toHaveLength(10);
    expect(connected).toContain('a2');
  }, 60_000);
});
