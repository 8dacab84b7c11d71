// The watchdog's thread (see watchdog.ts): plain JavaScript, loaded by Node itself in a worker thread.
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const beat = new Int32Array(workerData.beat);
const started = Date.now();
let where = 'loading the test file';
let last = Atomics.load(beat, 0);
let lastMove = started;
parentPort.on('message', (m) => {
  where = String(m);
});

/** This process's descendants, from /proc (pid and command line), children before grandchildren. */
function descendants(root) {
  const parentOf = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  let level = [root];
  while (level.length > 0) {
    const next = [];
    for (const [pid, ppid] of parentOf) if (level.includes(ppid)) next.push(pid);
    for (const pid of next) {
      let cmd = '?';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200);
      } catch {
        // gone meanwhile
      }
      out.push({ pid, cmd });
    }
    level = next;
  }
  return out;
}

setInterval(() => {
  const now = Date.now();
  const b = Atomics.load(beat, 0);
  if (b !== last) {
    last = b;
    lastMove = now;
  }
  const stalled = now - lastMove > workerData.stallMs;
  const tooLong = now - started > workerData.fileMs;
  if (!stalled && !tooLong) return;
  const why = stalled ? `the event loop has not turned for ${Math.round((now - lastMove) / 1000)} s` : `the file has run for ${Math.round((now - started) / 1000)} s`;
  const kids = process.platform === 'linux' ? descendants(process.pid) : [];
  const lines = [`\n[watchdog] ${why}: killing test process ${process.pid}`, `[watchdog] running: ${where}`, ...kids.map((k) => `[watchdog] and its process ${k.pid}: ${k.cmd}`)];
  writeSync(2, `${lines.join('\n')}\n`);
  for (const k of kids.reverse()) {
    try {
      process.kill(k.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.kill(process.pid, 'SIGKILL');
}, 1_000);
