import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * `npm start` exactly as the README writes it: the demo builds a 3-site mesh as separate processes, runs every demo
 * job and exits non-zero when any job that should succeed did not (a hardening rule that refuses a demo job, for
 * example, breaks it). The README test skips `npm start` because it brings its own mesh; this test runs it.
 */
describe('npm start (the demo)', () => {
  it('runs every demo job and exits 0', async () => {
    if (!existsSync(resolve(ROOT, 'dist/client/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    const child = spawn('npm', ['start'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code, `stdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-2000)}`).toBe(0);
    expect(out).toMatch(/demo finished in [\d.]+ s\n/);
    expect(out).not.toMatch(/job\(s\) failed/);
    // The dashboard's address is printed while the demo runs (issue 12).
    expect(out).toMatch(/^dashboard: https:\/\/127\.0\.0\.1:\d+\/$/m);
  }, 300_000); // the demo itself waits up to 120 s for its agents on a loaded machine
});
