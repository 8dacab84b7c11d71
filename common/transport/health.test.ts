import { describe, expect, it } from 'vitest';
import { checkHealth, HealthReporter, startHealthServer } from './health.js';

/** The plaintext health endpoint in process (issue 9, test pyramid): a real server on 127.0.0.1:0, no sleeps. */
describe('health reporter and probe server', () => {
  it('reports NOT_SERVING until set, then SERVING for both the overall and the named service; unknown names are told apart', async () => {
    const health = new HealthReporter('fedmesh.v1.Test');
    const server = await startHealthServer('127.0.0.1:0', health);
    try {
      expect(server.port).toBeGreaterThan(0);
      expect(server.address).toBe(`127.0.0.1:${server.port}`);
      expect(health.status).toBe('NOT_SERVING');
      expect(await checkHealth(server.address)).toBe('NOT_SERVING');
      health.set('SERVING');
      expect(await checkHealth(server.address)).toBe('SERVING');
      expect(await checkHealth(server.address, { service: 'fedmesh.v1.Test' })).toBe('SERVING');
      expect(await checkHealth(server.address, { service: 'fedmesh.v1.Other' })).toBe('SERVICE_UNKNOWN');
      health.set('NOT_SERVING');
      expect(await checkHealth(server.address, { service: 'fedmesh.v1.Test' })).toBe('NOT_SERVING');
    } finally {
      await server.close();
    }
  });

  it('negative: a probe of a closed port fails with the gRPC code instead of answering a status', async () => {
    const server = await startHealthServer('127.0.0.1:0', new HealthReporter('x'));
    const address = server.address;
    await server.close();
    await expect(checkHealth(address, { timeoutMs: 2000 })).rejects.toMatchObject({ code: expect.any(Number) });
  });
});
