/**
 * Red team 41 (B, F2): with --insecure every dashboard caller is the principal insecure-dev over plain HTTP, so the
 * dashboard, like the gRPC port, listens on loopback only; on any other address it refuses to start.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fakeBackend } from '../test/helpers/dashboard-backend.js';
import { startDashboardServer, type RunningDashboard } from './server.js';

let dash: RunningDashboard | undefined;
afterEach(async () => {
  await dash?.close();
  dash = undefined;
});

describe('dashboard --insecure', () => {
  it('refuses every non-loopback address, naming the option', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.2:0']) {
      await expect(startDashboardServer({ backend: fakeBackend([], []), listen, insecure: true })).rejects.toThrow(/loopback development only.*--dashboard-listen/);
    }
  });

  it('control: loopback starts and answers', async () => {
    dash = await startDashboardServer({ backend: fakeBackend([], []), listen: '127.0.0.1:0', insecure: true });
    const res = await fetch(dash.url);
    expect(res.status).toBeLessThan(500);
  });
});
