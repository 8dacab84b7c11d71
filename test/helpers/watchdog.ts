/**
 * Test support, loaded by vitest (`setupFiles`) into every test process: a watchdog on its own thread.
 *
 * vitest's testTimeout and hookTimeout are timers on the test's own event loop. A test that blocks that loop (a
 * synchronous loop that never ends, a native call that never returns) is beyond them, and the whole run would then
 * hang until CI's limit without a word of where. The main loop here ticks a shared counter every second; the
 * watchdog thread reads it. When it has not moved for FEDMESH_TEST_STALL_S seconds (default 180), or the file has
 * run for FEDMESH_TEST_FILE_S seconds (default 900: the slowest file takes about 60 s on a loaded 2-core machine),
 * the thread prints which test was running, the main thread's JavaScript stack (inspector), what every thread waits
 * on (/proc; never a debugger attach, which can leave the process unreapable), and the processes the test had
 * started, kills those, then kills its own process: vitest reports the file as failed and the run goes on. Seconds
 * are the watchdog thread's own ticks, so a machine paused and resumed is not a stall.
 */
import { Worker } from 'node:worker_threads';
import { beforeAll, beforeEach, expect } from 'vitest';

function seconds(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number of seconds`);
  return v;
}

const beat = new Int32Array(new SharedArrayBuffer(4));
setInterval(() => Atomics.add(beat, 0, 1), 1_000).unref();
const thread = new Worker(new URL('./watchdog-thread.mjs', import.meta.url), {
  workerData: { beat: beat.buffer, stallMs: seconds('FEDMESH_TEST_STALL_S', 180) * 1_000, fileMs: seconds('FEDMESH_TEST_FILE_S', 900) * 1_000 },
});
// The thread never keeps the test process alive, and its own failure never fails a test (it says so on stderr).
thread.unref();
thread.on('error', (e) => process.stderr.write(`[watchdog] the watchdog thread failed: ${e instanceof Error ? e.message : String(e)}\n`));

thread.postMessage(`${expect.getState().testPath ?? 'a test file'} (loading it)`);
beforeAll(() => {
  thread.postMessage(`${expect.getState().testPath ?? 'a test file'} (a beforeAll hook, or between tests)`);
});
beforeEach((ctx) => {
  thread.postMessage(`${ctx.task.file.filepath} > ${ctx.task.name}`);
});
