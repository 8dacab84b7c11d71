/**
 * `fedmesh coordinator --check-state`: the start-up integrity check on a state folder, read-only and without
 * starting anything, as a report for an operator (and an exit code for scripts).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { JOB_STORE_FILE } from '../job-store.js';
import { headPath, readHead } from './state-head.js';
import { inspectState, type StateReport } from './verify-state.js';
import { checkAuditAgainstLedger } from '../audit/check-audit.js';

export interface StateCheck {
  ok: boolean;
  report: StateReport | undefined;
  problems: string[];
  /** Human-readable lines (counts, chain, head, problems). */
  lines: string[];
}

function modeProblems(stateDir: string): string[] {
  const out: string[] = [];
  const check = (p: string, want: number): void => {
    if (existsSync(p) && (statSync(p).mode & 0o077) !== 0) out.push(`${p} is readable by others (mode ${(statSync(p).mode & 0o777).toString(8)}, want ${want.toString(8)})`);
  };
  check(stateDir, 0o700);
  for (const f of [JOB_STORE_FILE, `${JOB_STORE_FILE}.wal`, 'ledger-head.json']) check(join(stateDir, f), 0o600);
  return out;
}

/** Checks `stateDir` without changing it (the database is opened read-only; its write-ahead log is replayed in memory). */
export async function checkCoordinatorState(stateDir: string): Promise<StateCheck> {
  const db = join(stateDir, JOB_STORE_FILE);
  const head = readHead(headPath(stateDir));
  const lines: string[] = [`state: ${stateDir}`];
  if (!existsSync(db)) {
    const problems = head.ok ? [`${db} is missing but the head file is at ledger entry ${head.head.seq}`] : [];
    lines.push(problems.length ? `database: missing` : 'database: none yet (a fresh state)');
    for (const p of problems) lines.push(`problem: ${p}`);
    return { ok: problems.length === 0, report: undefined, problems, lines };
  }
  let report: StateReport;
  let audit: { lines: string[]; problems: string[] };
  try {
    const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
    try {
      const conn = await instance.connect();
      try {
        report = await inspectState(conn, head);
        audit = await checkAuditAgainstLedger(stateDir, conn);
      } finally {
        conn.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } catch (e) {
    const problem = `${db} cannot be opened: ${((e as Error).message.split('\n')[0] ?? '').slice(0, 300)}`;
    lines.push(`problem: ${problem}`);
    return { ok: false, report: undefined, problems: [problem], lines };
  }
  const problems = [...report.problems, ...audit.problems];
  lines.push(`tables: ${Object.entries(report.tables).map(([t, n]) => `${t}=${n}`).join(' ')}`);
  if (!report.chain.present) lines.push('ledger chain: not built yet (a state from before the chain; it is built at the next start)');
  else if (report.chain.ok) lines.push(`ledger chain: ok, ${report.chain.entries} entries`);
  else lines.push(`ledger chain: BROKEN at entry ${report.chain.firstBad?.seq}: ${report.chain.firstBad?.problem}`);
  if (report.legacyTables) lines.push('ledger: budgets per product (the schema before populations); migrated to populations at the next start, the smaller budget winning');
  lines.push(head.ok ? `head file: entry ${head.head.seq}${report.headBehind ? ` (the chain goes on to entry ${report.chain.entries}: advanced at the next start)` : ''}` : `head file: ${head.problem}`);
  lines.push(...audit.lines);
  for (const p of problems) lines.push(`problem: ${p}`);
  // Loose modes are tightened at the next start, so they warn rather than fail the check.
  for (const w of modeProblems(stateDir)) lines.push(`warning: ${w}`);
  lines.push(problems.length === 0 ? 'state: OK' : `state: ${problems.length} problem${problems.length === 1 ? '' : 's'}; the coordinator will refuse to start`);
  return { ok: problems.length === 0, report, problems, lines };
}
