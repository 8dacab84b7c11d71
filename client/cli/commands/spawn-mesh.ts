import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Command line that runs this CLI in a child process (compiled JS, or TS source through tsx in development). */
export function cliCommand(): { cmd: string; args: string[] } {
  const js = fileURLToPath(new URL('../main.js', import.meta.url));
  if (existsSync(js)) return { cmd: process.execPath, args: [js] };
  const ts = fileURLToPath(new URL('../main.ts', import.meta.url));
  return { cmd: process.execPath, args: ['--import', 'tsx', ts] };
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** stderr kept for diagnostics when the process fails. */
  stderr: () => string;
  exited: Promise<number | null>;
}

export function startProcess(name: string, args: string[], cli: { cmd: string; args: string[] } = cliCommand()): ManagedProcess {
  const { cmd, args: base } = cli;
  const child = spawn(cmd, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, stderr: () => err, exited };
}

/** Waits for a line on stdout matching `re`; fails if the process exits or the timeout passes first. */
export function waitForLine(p: ManagedProcess, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${p.name}: no "${re.source}" within ${timeoutMs} ms\n${p.stderr()}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        p.child.stdout!.off('data', onData);
        resolve(m);
      }
    };
    p.child.stdout!.on('data', onData);
    void p.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${p.name} exited with code ${code}\n${p.stderr()}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every process has exited. */
export async function stopAll(procs: ManagedProcess[], graceMs = 5000): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(t);
    }),
  );
}
