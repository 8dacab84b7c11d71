// Test support (plain JavaScript, loaded by the watchdog's thread and by the stuck-run reporter): process trees from /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** The descendants of process `root`, from /proc (pid and command line), children before grandchildren; [] off Linux. */
export function descendants(root) {
  if (process.platform !== 'linux') return [];
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

