import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function get(url: string, tlsDir: string, withCert: boolean): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { ca: readFileSync(join(tlsDir, 'ca.crt')), ...(withCert ? { cert: readFileSync(join(tlsDir, 'researcher-researcher.crt')), key: readFileSync(join(tlsDir, 'researcher-researcher.key')) } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/**
 * `fedmesh demo --keep` (issue 12): after the jobs the mesh and its dashboard stay up until Ctrl-C; the dashboard
 * answers a browser holding the researcher's certificate (exported as PKCS#12 for import) and refuses one without.
 */
describe('fedmesh demo --keep', () => {
  it('keeps the mesh and the dashboard up until SIGINT, then stops cleanly', async () => {
    if (!existsSync(resolve(ROOT, 'dist/client/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const child = spawn(process.execPath, ['dist/client/cli/main.js', 'demo', '--keep', '--sites', '3', '--persons', '600'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((done) => child.on('close', done));
    const up = new Promise<void>((done, fail) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('press Ctrl-C')) done();
      });
      void closed.then(() => fail(new Error(`the demo exited:\n${out.slice(-3000)}\n${err.slice(-2000)}`)));
    });
    let dir: string | undefined;
    try {
      await up;
      dir = /working in (\S+)/.exec(out)![1]!;
      const url = /^dashboard: (\S+)$/m.exec(out)![1]!;
      const tlsDir = join(dir, 'tls');
      expect(existsSync(join(tlsDir, 'researcher.p12'))).toBe(true);
      const ok = await get(url, tlsDir, true);
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('<h1>Mesh</h1>');
      expect(ok.body).toContain('site-1');
      const jobs = await get(new URL('/jobs', url).href, tlsDir, true);
      expect(jobs.body).toContain('aggregate');
      expect((await get(url, tlsDir, false)).status).toBe(401);
    } finally {
      child.kill('SIGINT');
      const code = await closed;
      if (dir) await rm(dir, { recursive: true, force: true });
      expect(code, `${out.slice(-3000)}\n${err.slice(-2000)}`).toBe(0);
    }
  }, 240_000);
});
