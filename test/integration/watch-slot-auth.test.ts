/**
 * Red team 42: a WatchJob cancelled while its caller was still being authenticated (a bearer token is verified
 * asynchronously) kept its stream slot for good — its close and cancel events had passed before the slot was taken —
 * so sixteen such calls locked the researcher out of WatchJob and GetJobResult until a restart. Now a call gone by
 * then takes no slot. Checked by outcome, not by time: after 16 calls cancelled while their token is being checked,
 * 17 live watches of a running job give exactly 16 final events when it ends and 1 refusal (with a leak: 17
 * refusals). Whether the server sees a cancel before or after the check ends is the network's timing, which a test
 * cannot hold without sleeping; this one holds the slot accounting in every order, the fix covers the early one.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../common/tls.js';
import { clientCredentials, fedmeshV1 } from '../../common/transport/index.js';
import type { OidcVerifier } from '../../coordinator/identity/index.js';
import { MAX_RESULT_STREAMS_PER_CALLER } from '../../coordinator/transport/grpc-server.js';
import { startHoldingAgent, type HoldingAgent } from '../helpers/fake-agent.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

type Stream = grpc.ClientReadableStream<{ type?: string }>;

/** A token verifier the test holds: while `hold`, each verify() waits until the test lets it go. */
function gatedVerifier(): { verifier: OidcVerifier; started: () => Promise<void>; open: () => void; release: () => void } {
  let hold = true;
  let started: () => void = () => undefined;
  let startedP = new Promise<void>((r) => (started = r));
  let gate: () => void = () => undefined;
  let gateP = new Promise<void>((r) => (gate = r));
  const verifier = {
    options: {},
    verify: async () => {
      if (hold) {
        started();
        await gateP;
      }
      return { name: 'researcher', isAdmin: false, authenticatedBy: 'oidc' as const, attributes: { roles: ['researcher'], purposes: [], projects: [] } };
    },
  } as unknown as OidcVerifier;
  return {
    verifier,
    started: async () => {
      await startedP;
      startedP = new Promise<void>((r) => (started = r));
    },
    open: () => {
      gate();
      gateP = new Promise<void>((r) => (gate = r));
    },
    release: () => {
      hold = false;
      gate();
    },
  };
}

describe('WatchJob slots and authentication (red team 42)', () => {
  let mesh: TestMesh;
  let raw: grpc.Client & Record<string, (req: unknown, md?: grpc.Metadata) => Stream>;
  const gated = gatedVerifier();
  let holding: HoldingAgent;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['slow'], oidc: gated.verifier });
    holding = await startHoldingAgent(mesh, 'slow');
    await mesh.waitForAgents(1);
    raw = new (fedmeshV1().Coordinator!)(`127.0.0.1:${mesh.server.port}`, clientCredentials(loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher'))) as never;
  }, 60_000);
  afterAll(async () => {
    raw?.close();
    holding?.link.stop();
    await mesh?.close();
  });

  it('16 watches cancelled during authentication leave no slot behind', async () => {
    const running = await mesh.client.submitJob({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 120_000 });
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer anything');
    for (let i = 0; i < MAX_RESULT_STREAMS_PER_CALLER; i++) {
      const s = raw.watchJob!({ jobId: running.jobId }, md);
      const gone = new Promise<void>((r) => s.on('error', () => r()));
      await gated.started();
      s.cancel();
      await gone;
      gated.open();
    }
    // 17 live watches now (each verified at once): 16 get the job's final event, 1 is refused.
    gated.release();
    const outcomes = Array.from({ length: MAX_RESULT_STREAMS_PER_CALLER + 1 }, () => {
      const s = raw.watchJob!({ jobId: running.jobId }, md);
      return new Promise<string>((resolve) => {
        let events = 0;
        s.on('data', () => events++);
        s.on('error', (e: grpc.ServiceError) => resolve(grpc.status[e.code]));
        // A watch ends after the job's final event.
        s.on('end', () => resolve(events > 0 ? 'finished' : 'ended without events'));
      });
    });
    const refused = await Promise.race(outcomes);
    expect(refused).toBe('RESOURCE_EXHAUSTED');
    await holding.taskArrived;
    holding.letGo();
    const all = await Promise.all(outcomes);
    expect(all.filter((o) => o === 'RESOURCE_EXHAUSTED')).toHaveLength(1);
    expect(all.filter((o) => o === 'finished')).toHaveLength(MAX_RESULT_STREAMS_PER_CALLER);
  }, 120_000);
});
