/**
 * Test support: a vitest reporter (it runs in vitest's main process) that ends a run stuck on a test file.
 *
 * Each test process has its watchdog (watchdog.ts), which ends a file after FEDMESH_TEST_FILE_S seconds. But vitest
 * waits for a worker's exit event with no limit of its own, and a worker that is dead yet never reaped (traced, or
 * a thread stuck in the kernel) never sends one: stop 40's CI waited 47 minutes on such a <defunct> worker and said
 * nothing. Here every file is timed from the moment vitest queues it (in ticks of this reporter's own 10-second
 * timer, so a paused machine does not count); one still unfinished FEDMESH_TEST_STUCK_S seconds later (default: the
 * watchdog's file limit + 300) is named, the processes under vitest are listed and killed, and the run exits 1.
 * Plain JavaScript, as vitest loads reporters by path.
 */
import { writeSync } from 'node:fs';
import { descendants } from './proc-tree.mjs';

const TICK_S = Number(process.env.FEDMESH_TEST_STUCK_TICK_S ?? 10);

function limitSeconds() {
  const file = Number(process.env.FEDMESH_TEST_FILE_S ?? 900);
  const v = Number(process.env.FEDMESH_TEST_STUCK_S ?? (Number.isFinite(file) ? file : 900) + 300);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError('FEDMESH_TEST_STUCK_S must be a positive number of seconds');
  return v;
}

export default class StuckRunReporter {
  /** Test file → the tick it was queued at. */
  running = new Map();
  ticks = 0;
  timer = undefined;
  limit = limitSeconds();

  onInit() {
    this.timer = setInterval(() => this.check(), TICK_S * 1_000);
    this.timer.unref();
  }

  onTestModuleQueued(m) {
    this.running.set(m.moduleId, this.ticks);
  }

  onTestModuleEnd(m) {
    this.running.delete(m.moduleId);
  }

  onTestRunEnd() {
    clearInterval(this.timer);
  }

  check() {
    this.ticks += 1;
    const stuck = [...this.running].filter(([, at]) => (this.ticks - at) * TICK_S > this.limit).map(([file]) => file);
    if (stuck.length === 0) return;
    const kids = descendants(process.pid);
    const lines = [
      `\n[stuck-run] no result from ${stuck.join(', ')} for ${this.limit} s (each test process's own watchdog ends a file sooner): ending the run`,
      ...kids.map((k) => `[stuck-run] process ${k.pid}: ${k.cmd || '(exited, not reaped)'}`),
    ];
    try {
      writeSync(2, `${lines.join('\n')}\n`);
    } catch {
      // stderr full or gone: the exit code still tells
    }
    for (const k of kids.reverse()) {
      try {
        process.kill(k.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.exit(1);
  }
}
