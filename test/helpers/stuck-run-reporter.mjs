/**
 * Test support: a vitest reporter (it runs in vitest's main process) that ends a run stuck on a test file.
 *
 * Each test process has its watchdog (watchdog.ts), which ends a file after FEDMESH_TEST_FILE_S seconds. But vitest
 * waits for a worker's exit event with no limit of its own, and a worker that is dead yet never reaped (traced, or
 * a thread stuck in the kernel) never sends one: stop 40's CI waited 47 minutes on such a <defunct> worker and said
 * nothing. Here the run's progress is watched (a file queued or ended, a test or hook finished), in ticks of this
 * reporter's own 10-second timer (a paused machine does not count): when files are unfinished and nothing at all has
 * happened for FEDMESH_TEST_STUCK_S seconds (default: the watchdog's file limit + 300), they are named, the
 * processes under vitest are listed and killed, and the run exits 1. A file whose worker died (the watchdog's kill)
 * never ends for a reporter, so unfinished files alone are not a hang: only a run that stopped moving is (red team 52).
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
  /** Test files queued and not ended. */
  running = new Set();
  ticks = 0;
  lastProgress = 0;
  timer = undefined;
  limit = limitSeconds();

  onInit() {
    this.timer = setInterval(() => this.check(), TICK_S * 1_000);
    this.timer.unref();
  }

  progress() {
    this.lastProgress = this.ticks;
  }

  onTestModuleQueued(m) {
    this.running.add(m.moduleId);
    this.progress();
  }

  onTestModuleEnd(m) {
    this.running.delete(m.moduleId);
    this.progress();
  }

  onTestCaseResult() {
    this.progress();
  }

  onHookEnd() {
    this.progress();
  }

  onTestRunEnd() {
    clearInterval(this.timer);
  }

  check() {
    this.ticks += 1;
    if (this.running.size === 0 || (this.ticks - this.lastProgress) * TICK_S <= this.limit) return;
    const kids = descendants(process.pid);
    const lines = [
      `\n[stuck-run] nothing has moved for ${this.limit} s with ${[...this.running].join(', ')} unfinished (each test process's own watchdog ends a file sooner): ending the run`,
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
