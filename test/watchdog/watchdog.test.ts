/**
 * The test watchdog (test/helpers/watchdog.ts): a test that blocks its event loop ends in a failed file that names
 * it, within the stall limit, instead of hanging the run (vitest's own testTimeout, 2 s here, cannot fire on a
 * blocked loop). Control: the same fixture blocking for less than the stall limit passes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = fileURLToPath(new URL('./fixture.config.ts', import.meta.url));

function runFixture(env: Record<string, string>, whileRunning?: () => Promise<void>): Promise<{ code: number | null; out: string; ms: number }> {
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
    whileRunning?.().catch((e: unknown) => {
      child.kill('SIGKILL');
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

describe('test watchdog', () => {
  it('kills a test process whose event loop is blocked, names the test, and the run ends failed', async () => {
    const r = await runFixture({ FEDMESH_TEST_STALL_S: '3' });
    expect(r.out).toContain('[watchdog] the event loop has not turned for');
    expect(r.out).toContain('blocked.fixture.ts > blocks the event loop');
    // What each thread waits on, from /proc: no debugger attaches (a ptrace attach can leave the process unreapable).
    expect(r.out).toContain('[watchdog] threads (/proc/self/task');
    expect(r.out).toMatch(/\[watchdog\] {3}\d+ node state R/);
    expect(r.out).not.toContain('gdb');
    expect(r.out).not.toContain('[stuck-run]');
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

  it('a paused and resumed machine is not a stall: the whole test process stopped for 3x the limit passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmesh-watchdog-'));
    try {
      const until = async (what: string, ok: () => boolean) => {
        const end = Date.now() + 60_000;
        while (!ok()) {
          if (Date.now() > end) throw new Error(`the pause fixture never got to: ${what}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      };
      const pause = async () => {
        await until('writing its pid', () => existsSync(join(dir, 'pid')) && readFileSync(join(dir, 'pid'), 'utf8').length > 0);
        const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
        // The pause under test (every thread of the process stopped, as in a VM snapshot): 3x the stall limit, by a
        // detached shell, so the fixture is resumed even if this test process ends meanwhile.
        const pauser = spawn('sh', ['-c', 'kill -STOP "$1" && sleep 6; kill -CONT "$1"', 'sh', String(pid)], { detached: true, stdio: 'ignore' });
        await new Promise<void>((res, rej) => {
          pauser.on('error', rej);
          pauser.on('exit', () => res());
        });
        writeFileSync(join(dir, 'go'), '');
      };
      const r = await runFixture({ FEDMESH_TEST_STALL_S: '2', FEDMESH_FIXTURE_PAUSE: dir }, pause);
      expect(r.out).not.toContain('[watchdog]');
      expect(r.out).toMatch(/✓ paused\.fixture\.ts/);
      expect(r.code, r.out).toBe(0);
      // The pause really happened within the run (else the test above proves nothing).
      expect(r.ms).toBeGreaterThan(6_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a file whose result never comes ends the run (the stuck-run reporter in vitest main), naming it; control: the quick files above ran with it loaded and said nothing', async () => {
    const r = await runFixture({ FEDMESH_FIXTURE_HANG: '1', FEDMESH_TEST_STUCK_S: '3', FEDMESH_TEST_STUCK_TICK_S: '1' });
    expect(r.out).toMatch(/\[stuck-run\] nothing has moved for 3 s with \S*hang\.fixture\.ts unfinished/);
    expect(r.code).toBe(1);
    // Well before the hanging test's own 600 s limit.
    expect(r.ms).toBeLessThan(60_000);
  }, 90_000);

  it('a run that goes on after a killed file is not stuck: the reporter stays quiet while other files make progress (red team 52)', async () => {
    // The killed file never ends for a reporter; the stuck limit (5 s) passes while the next file's tests finish.
    const r = await runFixture({ FEDMESH_TEST_STALL_S: '2', FEDMESH_TEST_STUCK_S: '5', FEDMESH_TEST_STUCK_TICK_S: '1', FEDMESH_FIXTURE_AFTER_TESTS: '9' });
    expect(r.out).toContain('[watchdog] the event loop has not turned for');
    expect(r.out).not.toContain('[stuck-run]');
    expect(r.out).toMatch(/✓ after\.fixture\.ts \(10 tests\)/);
    expect(r.code).not.toBe(0);
  }, 90_000);
});
