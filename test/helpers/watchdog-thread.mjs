// The watchdog's thread (see watchdog.ts): plain JavaScript, loaded by Node itself in a worker thread.
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { parentPort, workerData } from 'node:worker_threads';
import { descendants } from './proc-tree.mjs';

const beat = new Int32Array(workerData.beat);
let where = 'loading the test file';
let last = Atomics.load(beat, 0);
// Time is counted in this thread's own one-second ticks, not read off the wall clock: a machine paused and resumed
// (a VM snapshot between sessions) jumps the clock by the pause, which once killed healthy tests as "stalled". A
// paused machine runs no tick; a loaded one runs them late, which only makes the limits more lenient.
let ticks = 0;
let quietTicks = 0;
parentPort.on('message', (m) => {
  where = String(m);
});

/**
 * The blocked main thread's JavaScript stack, through the inspector: Debugger.pause interrupts running JavaScript
 * (or WebAssembly), so it answers when the loop spins in script, and stays silent when the thread waits in native
 * code (then the native stacks below tell more). Resolves to lines, or to a line saying why there are none.
 */
function jsStack(timeoutMs) {
  return new Promise((resolve) => {
    let session;
    const done = (lines) => {
      clearTimeout(timer);
      try {
        session?.disconnect();
      } catch {
        // already gone
      }
      resolve(lines);
    };
    const timer = setTimeout(() => done([`[watchdog] no JavaScript stack within ${timeoutMs / 1000} s: the main thread is not running script (a native wait?)`]), timeoutMs);
    try {
      session = new Session();
      session.connectToMainThread();
      // vitest runs files through vm with the path only on the script record: map script ids to their names.
      const scripts = new Map();
      session.on('Debugger.scriptParsed', (m) => scripts.set(m.params.scriptId, m.params.url || m.params.sourceMapURL?.slice(0, 80) || `script ${m.params.scriptId}`));
      session.on('Debugger.paused', (m) => {
        const frames = m.params.callFrames.slice(0, 40).map((f) => `[watchdog]   at ${f.functionName || '(anonymous)'} (${f.url || scripts.get(f.location.scriptId) || '?'}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`);
        done(['[watchdog] main thread JavaScript stack:', ...frames]);
      });
      session.post('Debugger.enable', () => session.post('Debugger.pause'));
    } catch (e) {
      done([`[watchdog] no JavaScript stack: ${e instanceof Error ? e.message : String(e)}`]);
    }
  });
}

/**
 * What every thread of this process is waiting on, read from /proc (name, state, kernel wait channel, system call,
 * and the kernel stack when readable). No debugger attaches: a ptrace attach (gdb) that outlived a kill left the
 * test process a zombie its parent could never reap, and vitest then waited for its exit for good (stop 40's CI).
 */
function threadStates() {
  const read = (f) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '';
    }
  };
  try {
    const lines = ['[watchdog] threads (/proc/self/task: name, state, wait channel, system call):'];
    for (const tid of readdirSync('/proc/self/task').slice(0, 200)) {
      const dir = `/proc/self/task/${tid}`;
      const stat = read(`${dir}/stat`);
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
      const syscall = read(`${dir}/syscall`).split(' ')[0] || '?';
      lines.push(`[watchdog]   ${tid} ${read(`${dir}/comm`) || '?'} state ${state} wchan ${read(`${dir}/wchan`) || '-'} syscall ${syscall}`);
      for (const k of read(`${dir}/stack`).split('\n').filter(Boolean).slice(0, 8)) lines.push(`[watchdog]       ${k.slice(0, 160)}`);
    }
    return lines;
  } catch (e) {
    return [`[watchdog] no thread states: ${e instanceof Error ? e.message : String(e)}`];
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes lines to stderr, whole: a partial write goes on from where it stopped, and a full pipe (EAGAIN) is waited
 * on for up to 2 s in all, then the rest is dropped (saying so if it can): the report never stops the kill.
 */
function report(lines) {
  let bytes = Buffer.from(`${lines.join('\n')}\n`);
  const end = Date.now() + 2_000;
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(2, bytes));
    } catch (e) {
      if (e?.code !== 'EAGAIN' || Date.now() > end) return;
      Atomics.wait(pause, 0, 0, 20);
    }
  }
}

let firing = false;
setInterval(async () => {
  if (firing) return;
  ticks += 1;
  const b = Atomics.load(beat, 0);
  if (b !== last) {
    last = b;
    quietTicks = 0;
  } else {
    quietTicks += 1;
  }
  const stalled = quietTicks * 1_000 > workerData.stallMs;
  const tooLong = ticks * 1_000 > workerData.fileMs;
  if (!stalled && !tooLong) return;
  const why = stalled ? `the event loop has not turned for ${quietTicks} s` : `the file has run for ${ticks} s`;
  const kids = process.platform === 'linux' ? descendants(process.pid) : [];
  const lines = [`\n[watchdog] ${why}: killing test process ${process.pid}`, `[watchdog] running: ${where}`, ...kids.map((k) => `[watchdog] and its process ${k.pid}: ${k.cmd}`)];
  firing = true;
  // The kill comes whatever the report does: stderr is a non-blocking pipe that may be full (a slow reader), and a
  // throw here would end this thread and leave a blocked test hanging for good (red team 50).
  try {
    report(lines);
    if (stalled) {
      report(await jsStack(10_000));
      report(threadStates());
    }
  } finally {
    for (const k of kids.reverse()) {
      try {
        process.kill(k.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.kill(process.pid, 'SIGKILL');
  }
}, 1_000);
