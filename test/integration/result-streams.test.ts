/**
 * Red team 41 (B, F3): GetJobResult and WatchJob hold memory for as long as their caller keeps them open, and
 * GetJobResult serialised a part as many times as the request listed it. Now: each part once; at most
 * MAX_RESULT_STREAMS_PER_CALLER live streams per researcher (RESOURCE_EXHAUSTED beyond, naming the limit), a slot
 * given back when its stream ends.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../common/tls.js';
import { clientCredentials, fedmeshV1 } from '../../common/transport/index.js';
import { MAX_RESULT_STREAMS_PER_CALLER } from '../../coordinator/transport/grpc-server.js';
import { startHoldingAgent, type HoldingAgent } from '../helpers/fake-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

type Stream = grpc.ClientReadableStream<{ part?: string; offset?: string; type?: string }>;

describe('result and watch streams are bounded per researcher (red team 41, B F3)', () => {
  let mesh: TestMesh;
  let raw: grpc.Client & Record<string, (req: unknown) => Stream>;
  let holding: HoldingAgent;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'slow'] });
    const dir = join(mesh.dir, 'data', 'a1');
    await writePersonCsv(dir, makePersons(60, 3));
    await mesh.startAgent('a1', dir);
    // An agent serving `visits` that holds every task until the test lets go: its jobs stay running meanwhile.
    holding = await startHoldingAgent(mesh, 'slow');
    await mesh.waitForAgents(2);
    const Ctor = fedmeshV1().Coordinator!;
    raw = new Ctor(`127.0.0.1:${mesh.server.port}`, clientCredentials(loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher'))) as never;
  }, 60_000);
  afterAll(async () => {
    raw?.close();
    holding?.link.stop();
    await mesh?.close();
  });

  const collect = (s: Stream): Promise<{ messages: { part?: string; offset?: string; type?: string }[]; error?: grpc.ServiceError }> =>
    new Promise((resolve) => {
      const messages: { part?: string; offset?: string; type?: string }[] = [];
      s.on('data', (m) => messages.push(m));
      s.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
      s.on('end', () => resolve({ messages }));
    });

  it('a part listed 20 times is sent once', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    const once = await collect(raw.getJobResult!({ jobId: job.jobId, parts: ['RESULT_PART_JSON'] }));
    const many = await collect(raw.getJobResult!({ jobId: job.jobId, parts: Array(20).fill('RESULT_PART_JSON') }));
    expect(once.error).toBeUndefined();
    expect(many.messages.length).toBe(once.messages.length);
    expect(many.messages.filter((m) => m.offset === '0')).toHaveLength(1);
  });

  it(`at most ${MAX_RESULT_STREAMS_PER_CALLER} live watch streams; the rest are RESOURCE_EXHAUSTED; slots come back when streams end`, async () => {
    const running = await mesh.client.submitJob({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 120_000 });
    // Twice the limit at once, none read to the end: exactly the limit is held (a watch of a running job sends
    // nothing until it finishes), every other one is refused.
    const streams = Array.from({ length: 2 * MAX_RESULT_STREAMS_PER_CALLER }, () => raw.watchJob!({ jobId: running.jobId }));
    const refusals: grpc.ServiceError[] = [];
    await new Promise<void>((resolve) => {
      for (const s of streams) {
        s.on('data', () => undefined);
        s.on('error', (e: grpc.ServiceError) => {
          if (e.code !== grpc.status.CANCELLED) refusals.push(e);
          if (refusals.length === MAX_RESULT_STREAMS_PER_CALLER) resolve();
        });
      }
    });
    expect(refusals.every((e) => e.code === grpc.status.RESOURCE_EXHAUSTED)).toBe(true);
    expect(refusals[0]!.details).toMatch(new RegExp(`at most ${MAX_RESULT_STREAMS_PER_CALLER} live job streams per researcher`));
    // Ending them gives the slots back: once the job has finished, a new watch gets its final event.
    for (const s of streams) s.cancel();
    await holding.taskArrived;
    holding.letGo();
    let out = await collect(raw.watchJob!({ jobId: running.jobId }));
    for (let tries = 0; out.error?.code === grpc.status.RESOURCE_EXHAUSTED && tries < 100; tries++) out = await collect(raw.watchJob!({ jobId: running.jobId }));
    expect(out.error).toBeUndefined();
    expect(out.messages.length).toBeGreaterThan(0);
  }, 120_000);
});
