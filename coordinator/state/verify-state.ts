/**
 * The coordinator's start-up integrity check, also behind `fedmesh coordinator --check-state`: read every state
 * table in full (DuckDB verifies block checksums only when a block is read), verify the ledger's hash chain, make
 * it reach the head file, replay it against the `charges` and `budgets` tables, and check that every charge
 * belongs to a stored job. Read-only: it reports, the caller decides.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { CHAIN_TABLE, GENESIS_HASH, budgetKey, chainHash, chargeKey, parseEntry, replay, type LedgerEvent, type ReplayedLedger } from './ledger-chain.js';
import { LEGACY_LEDGER_TABLES, POPULATION_BUDGETS, POPULATION_CHARGES, PROJECT_BUDGETS } from './ledger-tables.js';
import type { ChainHead, HeadRead } from './state-head.js';

/** Tables the coordinator keeps; each is read in full at start. */
export const STATE_TABLES = ['jobs', 'agent_members', ...LEGACY_LEDGER_TABLES, POPULATION_BUDGETS, POPULATION_CHARGES, PROJECT_BUDGETS, CHAIN_TABLE] as const;
/** Problems listed per kind before the rest is summarised (a state with 10⁵ bad rows must not make a 10⁵-line message). */
const MAX_LISTED = 3;

export interface StateReport {
  /** Rows per state table that exists. */
  tables: Record<string, number>;
  chain: {
    /** False for a state written before the chain existed (it is built at the next start). */
    present: boolean;
    entries: number;
    /** The last verified entry (where new entries continue). */
    tail: ChainHead;
    ok: boolean;
    firstBad?: { seq: number; problem: string };
    /** What the verified chain keys budgets by: per product until the migration to populations, per population after. */
    schema?: ReplayedLedger['schema'];
  };
  /** The per-product ledger tables of a state written before budgets were kept per population are still there. */
  legacyTables: boolean;
  head: ChainHead | undefined;
  /**
   * The chain goes on past the head file (a crash between a commit and its head write, or a commit whose head write
   * was deferred). The chain reaches the head, so nothing was lost: safe to advance.
   */
  headBehind: boolean;
  problems: string[];
}

function firstLine(e: unknown): string {
  return ((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '').slice(0, 300);
}

async function existingTables(conn: DuckDBConnection): Promise<Set<string>> {
  const r = await conn.runAndReadAll(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()`);
  return new Set(r.getRowObjectsJS().map((x) => String(x.table_name)));
}

/** Inspects an open state database against its head file (see module comment). Never writes. */
export async function inspectState(conn: DuckDBConnection, headRead: HeadRead): Promise<StateReport> {
  const report: StateReport = { tables: {}, chain: { present: false, entries: 0, tail: { seq: 0, hash: GENESIS_HASH }, ok: true }, head: headRead.ok ? headRead.head : undefined, headBehind: false, legacyTables: false, problems: [] };
  let tables: Set<string>;
  try {
    tables = await existingTables(conn);
    report.legacyTables = LEGACY_LEDGER_TABLES.some((t) => tables.has(t));
    for (const t of STATE_TABLES) {
      if (!tables.has(t)) continue;
      // Hashing every column forces every block of the table to be read and its checksum verified.
      const r = await conn.runAndReadAll(`SELECT count(*) AS n, bit_xor(hash(COLUMNS(*))) FROM ${t}`);
      report.tables[t] = Number(r.getRowObjectsJS()[0]?.n ?? 0);
    }
  } catch (e) {
    report.problems.push(`the state database cannot be read: ${firstLine(e)}`);
    return report;
  }

  if (!tables.has(CHAIN_TABLE)) {
    if (headRead.ok) report.problems.push(`the database has no ledger chain but the head file is at entry ${headRead.head.seq}: the database is older than its head (lost write-ahead log or replaced file)`);
    // Populations came after the chain: a state that has their tables and no chain lost its chain.
    const rows = (report.tables[POPULATION_BUDGETS] ?? 0) + (report.tables[POPULATION_CHARGES] ?? 0);
    if (rows > 0) report.problems.push(`the database has per-population ledger tables but no ledger chain (${rows} rows nobody can verify): the chain was removed`);
    return report;
  }
  report.chain.present = true;

  const rows = (await conn.runAndReadAll(`SELECT seq, entry, hash FROM ${CHAIN_TABLE} ORDER BY seq`)).getRowObjectsJS();
  report.chain.entries = rows.length;
  const events: Array<{ seq: number; event: LedgerEvent }> = [];
  const hashes: string[] = [GENESIS_HASH];
  let prev = GENESIS_HASH;
  for (const [i, r] of rows.entries()) {
    const seq = Number(r.seq);
    const entry = String(r.entry);
    const event = parseEntry(entry);
    let problem: string | undefined;
    if (seq !== i + 1) problem = `expected entry ${i + 1}, found ${seq} (entries missing)`;
    else if (chainHash(prev, entry) !== String(r.hash)) problem = 'hash does not match the previous hash and the entry (edited or reordered)';
    else if (event === undefined) problem = 'entry is not a canonical ledger event';
    if (problem !== undefined) {
      report.chain.ok = false;
      report.chain.firstBad = { seq: i + 1, problem };
      report.problems.push(`ledger chain entry ${i + 1}: ${problem}`);
      break;
    }
    prev = String(r.hash);
    hashes.push(prev);
    report.chain.tail = { seq, hash: prev };
    events.push({ seq, event: event! });
  }

  if (!headRead.ok) report.problems.push(headRead.problem);
  else if (report.chain.ok) {
    const { seq, hash } = headRead.head;
    const n = rows.length;
    if (seq > n) report.problems.push(`the ledger chain ends at entry ${n} but the head file says ${seq}: ${seq - n} ledger entr${seq - n === 1 ? 'y was' : 'ies were'} lost (truncated write-ahead log?)`);
    else if (hashes[seq] !== hash) report.problems.push(`the head file's hash does not match ledger chain entry ${seq}: the head file or the chain was altered`);
    else report.headBehind = seq < n;
  }

  if (report.chain.ok) {
    const replayed = replay(events);
    if (!replayed.ok) {
      report.chain.ok = false;
      report.chain.firstBad = { seq: replayed.seq, problem: replayed.problem };
      report.problems.push(`ledger chain entry ${replayed.seq}: ${replayed.problem}`);
    } else {
      report.chain.schema = replayed.ledger.schema;
      report.problems.push(...(await compareLedger(conn, tables, replayed.ledger)));
    }
  }
  for (const t of ['charges', POPULATION_CHARGES]) {
    if (!tables.has(t) || !tables.has('jobs')) continue;
    const orphans = (await conn.runAndReadAll(`SELECT DISTINCT c.job_id FROM ${t} c ANTI JOIN jobs j ON j.id = c.job_id ORDER BY c.job_id LIMIT ${MAX_LISTED}`)).getRowObjectsJS();
    for (const o of orphans) report.problems.push(`charge of job ${String(o.job_id)} has no job in the job store`);
  }
  return report;
}

async function compareLedger(conn: DuckDBConnection, tables: Set<string>, expected: ReplayedLedger): Promise<string[]> {
  const out: string[] = [];
  const note = (m: string): void => {
    if (out.length < MAX_LISTED) out.push(m);
    else if (out.length === MAX_LISTED) out.push('… (more ledger mismatches not listed)');
  };
  const charges = tables.has('charges') ? (await conn.runAndReadAll(`SELECT * FROM charges ORDER BY job_id`)).getRowObjectsJS() : [];
  const seen = new Set<string>();
  for (const c of charges) {
    const job = String(c.job_id);
    seen.add(job);
    const x = expected.charges.get(job);
    if (!x) {
      note(`charge of job ${job} is not in the ledger chain`);
      continue;
    }
    const eps = c.epsilon === null ? null : Number(c.epsilon);
    if (String(c.researcher) !== x.researcher || String(c.product) !== x.product || Number(c.rho) !== x.rho || eps !== x.epsilon
      || Number(c.delta) !== x.delta || String(c.state) !== x.state || Number(c.at_ms) !== x.atMs) {
      note(`charge of job ${job} differs from the ledger chain`);
    }
  }
  for (const job of expected.charges.keys()) if (!seen.has(job)) note(`charge of job ${job} is in the ledger chain but missing from the charges table`);
  const budgets = tables.has('budgets') ? (await conn.runAndReadAll(`SELECT * FROM budgets ORDER BY researcher, product`)).getRowObjectsJS() : [];
  const seenBudgets = new Set<string>();
  for (const b of budgets) {
    const key = budgetKey(String(b.researcher), String(b.product));
    seenBudgets.add(key);
    const x = expected.budgets.get(key);
    if (!x || Number(b.epsilon) !== x.epsilon || Number(b.delta) !== x.delta || String(b.set_by) !== x.setBy || Number(b.set_at_ms) !== x.atMs) {
      note(`budget of ${String(b.researcher)} on ${String(b.product)} ${x ? 'differs from' : 'is not in'} the ledger chain`);
    }
  }
  for (const [key, x] of expected.budgets) if (!seenBudgets.has(key)) note(`budget of ${x.researcher} on ${x.product} is in the ledger chain but missing from the budgets table`);

  const popCharges = tables.has(POPULATION_CHARGES) ? (await conn.runAndReadAll(`SELECT * FROM ${POPULATION_CHARGES} ORDER BY job_id, population`)).getRowObjectsJS() : [];
  const seenPop = new Set<string>();
  for (const c of popCharges) {
    const job = String(c.job_id);
    const key = chargeKey(job, String(c.population));
    seenPop.add(key);
    const x = expected.populationCharges.get(key);
    if (!x) {
      note(`charge of job ${job} on population ${String(c.population)} is not in the ledger chain`);
      continue;
    }
    const eps = c.epsilon === null ? null : Number(c.epsilon);
    if (String(c.researcher) !== x.researcher || String(c.products) !== JSON.stringify(x.products) || Number(c.rho) !== x.rho || eps !== x.epsilon
      || Number(c.delta) !== x.delta || String(c.state) !== x.state || Number(c.at_ms) !== x.atMs || (c.project ?? null) !== x.project) {
      note(`charge of job ${job} on population ${x.population} differs from the ledger chain`);
    }
  }
  for (const [key, x] of expected.populationCharges) if (!seenPop.has(key)) note(`charge of job ${x.job} on population ${x.population} is in the ledger chain but missing from the ${POPULATION_CHARGES} table`);
  const popBudgets = tables.has(POPULATION_BUDGETS) ? (await conn.runAndReadAll(`SELECT * FROM ${POPULATION_BUDGETS} ORDER BY researcher, population`)).getRowObjectsJS() : [];
  const seenPopBudgets = new Set<string>();
  for (const b of popBudgets) {
    const key = budgetKey(String(b.researcher), String(b.population));
    seenPopBudgets.add(key);
    const x = expected.populationBudgets.get(key);
    if (!x || Number(b.epsilon) !== x.epsilon || Number(b.delta) !== x.delta || String(b.set_by) !== x.setBy || Number(b.set_at_ms) !== x.atMs) {
      note(`budget of ${String(b.researcher)} on population ${String(b.population)} ${x ? 'differs from' : 'is not in'} the ledger chain`);
    }
  }
  for (const [key, x] of expected.populationBudgets) if (!seenPopBudgets.has(key)) note(`budget of ${x.researcher} on population ${x.population} is in the ledger chain but missing from the ${POPULATION_BUDGETS} table`);
  const projBudgets = tables.has(PROJECT_BUDGETS) ? (await conn.runAndReadAll(`SELECT * FROM ${PROJECT_BUDGETS} ORDER BY project, population`)).getRowObjectsJS() : [];
  const seenProj = new Set<string>();
  for (const b of projBudgets) {
    const key = budgetKey(String(b.project), String(b.population));
    seenProj.add(key);
    const x = expected.projectBudgets.get(key);
    if (!x || Number(b.epsilon) !== x.epsilon || Number(b.delta) !== x.delta || String(b.set_by) !== x.setBy || Number(b.set_at_ms) !== x.atMs) {
      note(`budget of project ${String(b.project)} on population ${String(b.population)} ${x ? 'differs from' : 'is not in'} the ledger chain`);
    }
  }
  for (const [key, x] of expected.projectBudgets) if (!seenProj.has(key)) note(`budget of project ${x.project} on population ${x.population} is in the ledger chain but missing from the ${PROJECT_BUDGETS} table`);
  return out;
}
