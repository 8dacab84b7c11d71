/**
 * The test watchdog (test/helpers/watchdog.ts): a test that blocks its event loop ends in a failed file that names
 * it, within the stall limit, instead of hanging the run (vitest's own testTimeout, 2 s here, cannot fire on a
 * blocked loop). Control: the same fixture blocking for less than the stall limit passes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = fileURLToPath(new URL('./fixture.config.ts', import.meta.url));

function runFixture(env: Record<string, string>): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', config], {
      cwd: root,
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, ms: Date.now() - t0 }));
  });
}

describe('test watchdog', () => {
  it('kills a test process whose event loop is blocked, names the test, and the run ends failed', async () => {
    const r = await runFixture({ FEDMESH_TEST_STALL_S: '3' });
    expect(r.out).toContain('[watchdog] the event loop has not turned for');
    expect(r.out).toContain('blocked.fixture.ts > blocks the event loop');
    expect(r.code).not.toBe(0);
    // The run went on: the other fixture file ran and passed.
    expect(r.out).toMatch(/✓ after\.fixture\.ts/);
  }, 90_000);

  it('control: a block shorter than the stall limit passes', async () => {
    const r = await runFixture({ FEDMESH_TEST_STALL_S: '30', FEDMESH_FIXTURE_BLOCK_S: '1' });
    expect(r.out).not.toContain('[watchdog]');
    expect(r.out).toMatch(/✓ blocked\.fixture\.ts/);
    expect(r.code, r.out).toBe(0);
  }, 90_000);
});
