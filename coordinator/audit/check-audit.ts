/**
 * The audit part of `fedmesh coordinator --check-state`: verify `<state>/audit` and cross-check it with the ledger
 * chain, read-only, as lines for the operator. The same checks the coordinator runs at start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { verifyAuditDir } from '../../common/audit/index.js';
import { CHAIN_TABLE } from '../state/ledger-chain.js';
import { crossCheckLedger, ledgerRefCollector, type ChainRow } from './ledger-cross-check.js';
import { AUDIT_DIR } from './coordinator-audit.js';

export async function checkAuditAgainstLedger(stateDir: string, conn: DuckDBConnection | undefined): Promise<{ lines: string[]; problems: string[] }> {
  const dir = join(stateDir, AUDIT_DIR);
  if (!existsSync(dir)) return { lines: ['audit log: none yet (made at the next start)'], problems: [] };
  const { refs, onEntry } = ledgerRefCollector();
  let report;
  try {
    report = verifyAuditDir(dir, undefined, onEntry);
  } catch (e) {
    const problem = `the audit log cannot be read: ${(e as Error).message}`;
    return { lines: [`problem: ${problem}`], problems: [problem] };
  }
  if (!report.ok) {
    const problem = `the audit log does not verify: ${report.problems[0]!.message}`;
    return { lines: [`audit log: BROKEN (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}; \`fedmesh audit verify --log ${dir}\` lists them)`], problems: [problem] };
  }
  const lines = [`audit log: ok, ${report.nextIndex} entries, ${report.checkpoints} signed checkpoints (key ${report.keyFingerprint})`];
  if (!conn) return { lines, problems: [] };
  const tables = (await conn.runAndReadAll(`SELECT table_name FROM duckdb_tables() WHERE table_name = '${CHAIN_TABLE}'`)).getRows();
  const chain: ChainRow[] = tables.length === 0 ? [] : (await conn.runAndReadAll(`SELECT seq, hash, entry FROM ${CHAIN_TABLE} ORDER BY seq`)).getRowObjectsJS().map((r) => ({ seq: Number(r.seq), hash: String(r.hash), entry: String(r.entry) }));
  const problems = crossCheckLedger(refs, chain).map((p) => `audit × ledger: ${p}`);
  lines.push(problems.length === 0 ? `audit × ledger: every ledger change the audit log recorded is in the ledger (${refs.length} checked)` : 'audit × ledger: the ledger LOST changes the audit log recorded (start refused until --accept-ledger-loss)');
  return { lines, problems };
}
