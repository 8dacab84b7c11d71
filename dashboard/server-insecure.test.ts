/**
 * Red team 41 (B, F2): with --insecure every dashboard caller is the principal insecure-dev over plain HTTP, so the
 * dashboard, like the gRPC port, listens on loopback only; on any other address it refuses to start.
 */
import { request } from 'node:http';
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

  it('answers only loopback host names: a rebound name (DNS rebinding) gets 421 (red team 42)', async () => {
    dash = await startDashboardServer({ backend: fakeBackend([], []), listen: '127.0.0.1:0', insecure: true });
    const status = (host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: dash!.port, path: '/submit', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status(`rebind.attacker.example:${dash.port}`)).toBe(421);
    expect(await status('evil.example')).toBe(421);
    for (const ok of [`127.0.0.1:${dash.port}`, `localhost:${dash.port}`, 'localhost']) expect(await status(ok)).toBeLessThan(400);
  });

  it('control: loopback starts and answers', async () => {
    dash = await startDashboardServer({ backend: fakeBackend([], []), listen: '127.0.0.1:0', insecure: true });
    const res = await fetch(dash.url);
    expect(res.status).toBeLessThan(500);
  });
});
