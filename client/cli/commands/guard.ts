/**
 * `fedmesh guard show` and `fedmesh guard forget`: a domain administrator's view of its agent's mode-none
 * differencing guard (node-agent/disclosure/released-cells.ts), run on the agent's state folder with the agent
 * stopped. The guard remembers, per researcher, the persons behind every exact cell released to them and never
 * forgets on its own (forgetting reopens differencing); `forget` is the deliberate act a domain takes after a data
 * refresh or at the end of a study, written to the agent's audit trail as `guard.forgotten`.
 *
 * Offline by design: the agent's DuckDB file takes one process at a time, so a running agent makes these commands
 * fail with a message saying so, rather than two processes writing one memory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { verifyAuditDir } from '../../../common/audit/index.js';
import { FedmeshError } from '../../../common/errors.js';
import { AGENT_AUDIT_DIR, AgentAudit } from '../../../node-agent/audit/index.js';
import { ReleasedCells, type RememberedSummary } from '../../../node-agent/disclosure/released-cells.js';

export interface GuardShowFlags {
  state: string;
  json?: boolean;
}

export interface GuardForgetFlags extends GuardShowFlags {
  researcher: string;
  /** The agent's name, as its audit trail records it. */
  name: string;
}

const DB_FILE = 'agent.duckdb';

/**
 * Opens the stopped agent's database (read-only for `show`) and checks that it holds the guard's tables, so that
 * neither command creates anything in a folder that is not an agent's.
 * @throws FedmeshError naming the folder, or that the agent runs
 */
async function withAgentDb<T>(state: string, readOnly: boolean, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const path = join(state, DB_FILE);
  if (!existsSync(path)) throw new FedmeshError('NOT_FOUND', `--state: ${state} holds no agent database (${DB_FILE}); give the folder the agent was started with (its --state)`, { field: 'state' });
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, readOnly ? { access_mode: 'READ_ONLY' } : {});
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // DuckDB's own words for a file another process holds (the path itself may contain "lock").
    if (/Could not set lock|Conflicting lock/.test(msg)) throw new FedmeshError('FAILED_PRECONDITION', `--state: the agent database ${path} is in use, probably by the running agent; stop the agent first (its memory must not change under it)`, { field: 'state' });
    throw new FedmeshError('FAILED_PRECONDITION', `--state: cannot open ${path}: ${msg}`, { field: 'state' });
  }
  const conn = await instance.connect();
  try {
    if (!(await ReleasedCells.present(conn))) throw new FedmeshError('FAILED_PRECONDITION', `--state: ${path} is not an agent database (it has no differencing-guard tables); give the folder the agent was started with (its --state)`, { field: 'state' });
    return await fn(conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function when(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toISOString();
}

function table(rows: readonly RememberedSummary[]): string {
  if (rows.length === 0) return 'the guard remembers no released cells';
  const head = ['researcher', 'cells', 'persons', 'jobs', 'last release'];
  // A researcher name comes from a certificate or token: no control characters reach the administrator's terminal.
  const body = rows.map((r) => [[...r.researcher].map((ch) => (ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f) ? '?' : ch)).join(''), String(r.cells), String(r.persons), String(r.jobs), when(r.lastReleasedAtMs)]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd()).join('\n');
}

/** `fedmesh guard show`: per researcher, how many released cells and (cell, person) pairs the guard remembers. */
export async function runGuardShow(flags: GuardShowFlags): Promise<number> {
  const rows = await withAgentDb(flags.state, true, (conn) => ReleasedCells.remembered(conn));
  process.stdout.write(`${flags.json ? JSON.stringify({ researchers: rows }) : table(rows)}\n`);
  return 0;
}

/** `fedmesh guard forget`: drops one researcher's memory and records it in the agent's audit trail. */
export async function runGuardForget(flags: GuardForgetFlags): Promise<number> {
  if (flags.researcher.trim() === '') throw new RangeError('--researcher: give the researcher whose memory to drop');
  if (!existsSync(join(flags.state, AGENT_AUDIT_DIR))) throw new FedmeshError('FAILED_PRECONDITION', `--state: ${flags.state} has no audit trail (${AGENT_AUDIT_DIR}/); forget is recorded there, so it runs only on an agent's state folder`, { field: 'state' });
  // The name is the agent's own, as its trail has recorded it at every start (it would otherwise be written wrong).
  const names = new Set<string>();
  verifyAuditDir(join(flags.state, AGENT_AUDIT_DIR), undefined, (e) => {
    if (e.type === 'audit.opened' && typeof e['name'] === 'string') names.add(e['name']);
  });
  if (names.size > 0 && !names.has(flags.name)) throw new FedmeshError('INVALID_ARGUMENT', `--name: the audit trail in ${join(flags.state, AGENT_AUDIT_DIR)} is agent ${[...names].sort().join(', ')}'s, not ${flags.name}`, { field: 'name' });
  const dropped = await withAgentDb(flags.state, false, async (conn) => {
    // The trail first: one that does not verify (or cannot be written) stops the command before anything is dropped.
    const audit = AgentAudit.open(flags.state, flags.name, undefined);
    try {
      const out = await (await ReleasedCells.open(conn)).forget(conn, flags.researcher);
      try {
        audit.log.append('guard.forgotten', { researcher: flags.researcher, cells: out.cells, persons: out.persons, jobs: out.jobs, by: 'fedmesh guard forget' });
      } catch (e) {
        throw new FedmeshError('INTERNAL', `the memory of ${flags.researcher} was dropped, but its audit entry could not be written (${e instanceof Error ? e.message : String(e)}); record it by hand`);
      }
      return out;
    } finally {
      audit.close();
    }
  });
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ forgotten: dropped })}\n`
      : `${dropped.cells === 0 ? `the guard remembered no released cells of ${flags.researcher}` : `forgot ${dropped.cells} released cells (${dropped.persons} cell-person pairs, ${dropped.jobs} jobs) of ${flags.researcher}`}; recorded in ${join(flags.state, 'audit')} as guard.forgotten\n`,
  );
  return 0;
}
