// The watchdog's thread (see watchdog.ts): plain JavaScript, loaded by Node itself in a worker thread.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector';
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

/** Native stacks of every thread of this process (gdb, when installed and allowed to attach), trimmed. */
function nativeStacks() {
  try {
    const out = execFileSync('gdb', ['-p', String(process.pid), '-batch', '-nx', '-ex', 'set pagination off', '-ex', 'thread apply all bt 25'], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 16 * 1024 * 1024,
    });
    const lines = out.split('\n').filter((l) => /^(Thread |#)/.test(l) && !/ in \?\? \(\)$/.test(l));
    return ['[watchdog] native stacks (gdb):', ...lines.slice(0, 600).map((l) => `[watchdog]   ${l.slice(0, 240)}`)];
  } catch (e) {
    return [`[watchdog] no native stacks: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`];
  }
}

let firing = false;
setInterval(async () => {
  if (firing) return;
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
  firing = true;
  writeSync(2, `${lines.join('\n')}\n`);
  if (stalled) {
    writeSync(2, `${(await jsStack(10_000)).join('\n')}\n`);
    writeSync(2, `${nativeStacks().join('\n')}\n`);
  }
  for (const k of kids.reverse()) {
    try {
      process.kill(k.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.kill(process.pid, 'SIGKILL');
}, 1_000);
