/**
 * The coordinator's audit trail (`<state>/audit/`): opens and verifies the log, records job lifecycle events,
 * ledger changes, refusals, agent membership and failed authentications, and cross-checks the privacy ledger at
 * start. `append` is the public hook for other subsystems (policy decisions, round runners):
 * `coordinator.audit.append('policy.reloaded', { policies: 3 })`.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { AuditLog, pickAuditFields, type AuditFields } from '../../common/audit/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { JobEventRecord, JobRecord } from '../job-record.js';
import type { JobStore } from '../job-store.js';
import { canonicalEntry, chainHash, CHAIN_TABLE, GENESIS_HASH, type LedgerEvent } from '../state/ledger-chain.js';
import type { ChainHead } from '../state/state-head.js';
import { jobEventEntry, LOGGED_EVENTS } from './audit-events.js';
import { crossCheckLedger, ledgerRefCollector, type AuditedLedgerRef, type ChainRow } from './ledger-cross-check.js';

type Log = (event: string, fields?: Record<string, unknown>) => void;

export const AUDIT_DIR = 'audit';
/** Failed authentications recorded per minute; the rest are counted in one entry (a scan must not fill the disk). */
const AUTH_ENTRIES_PER_MINUTE = 60;

export class CoordinatorAudit {
  private authWindowStartMs = 0;
  private authInWindow = 0;
  private authSuppressed = 0;
  /** A write failed (disk full, I/O error): admissions are refused until one succeeds (see `admissionGuard`). */
  private writeFailed = false;
  /** The log was made at this start (a new state, or an audit folder that went missing). */
  private created = false;

  private constructor(
    readonly log: AuditLog,
    private readonly refs: AuditedLedgerRef[],
    private readonly opsLog: Log,
  ) {}

  /**
   * Opens `<stateDir>/audit`, verifying every entry and checkpoint.
   * @throws FedmeshError FAILED_PRECONDITION naming the first bad entry
   */
  static open(stateDir: string, opsLog: Log): CoordinatorAudit {
    const { refs, onEntry } = ledgerRefCollector();
    const { audit, created } = AuditLog.open({ dir: join(stateDir, AUDIT_DIR), role: 'coordinator', name: 'coordinator', onEntry, log: opsLog });
    const a = new CoordinatorAudit(audit, refs, opsLog);
    a.created = created;
    return a;
  }

  /**
   * Appends an event (see `AuditLog.append`). Never throws: a failed write is logged loudly (`audit-write-failed`)
   * so the operator sees it; callers on a request path are not failed by it.
   */
  append(type: string, fields: AuditFields = {}): void {
    try {
      this.log.append(type, fields);
    } catch (e) {
      // A caller's bad event (RangeError) is the caller's bug; anything else is the log failing to write.
      if (!(e instanceof RangeError)) this.writeFailed = true;
      this.opsLog('audit-write-failed', { type, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * The ledger's `beforeAdmit` hook: fail closed. After a failed write no job is admitted until a write succeeds
   * again (tried at each submission), so nothing is computed that the trail cannot record.
   * @throws FedmeshError FAILED_PRECONDITION
   */
  readonly admissionGuard = (): void => {
    if (!this.writeFailed) return;
    try {
      this.log.append('audit.write-recovered', {});
      this.writeFailed = false;
    } catch {
      throw new FedmeshError('FAILED_PRECONDITION', 'the coordinator cannot write its audit log (see audit-write-failed in its log): no job is admitted until it can', { field: 'audit' });
    }
  };

  /** Wraps the coordinator's log so the log lines the trail keeps (see LOGGED_EVENTS) are also audit entries. */
  tapLog(log: Log | undefined): Log {
    const inner = log ?? (() => undefined);
    return (event, fields) => {
      inner(event, fields);
      const m = LOGGED_EVENTS[event];
      if (!m) return;
      if (m.auth && !this.admitAuthEntry()) return;
      this.append(m.type, pickAuditFields(fields, m.keep));
    };
  }

  private admitAuthEntry(): boolean {
    const now = Date.now();
    if (now - this.authWindowStartMs >= 60_000) {
      if (this.authSuppressed > 0) this.append('auth.failed-suppressed', { count: this.authSuppressed, sinceMs: this.authWindowStartMs });
      this.authWindowStartMs = now;
      this.authInWindow = 0;
      this.authSuppressed = 0;
    }
    if (this.authInWindow >= AUTH_ENTRIES_PER_MINUTE) {
      this.authSuppressed++;
      return false;
    }
    this.authInWindow++;
    return true;
  }

  jobEvent(e: JobEventRecord, job: JobRecord): void {
    const x = jobEventEntry(e, job);
    if (x) this.append(x.type, x.fields);
  }

  /** The ledger's `onAppended` hook: each change with its chain position and hash. */
  readonly ledgerAppended = (events: readonly LedgerEvent[], from: ChainHead): void => {
    let seq = from.seq;
    let hash = from.hash;
    for (const ev of events) {
      seq++;
      hash = chainHash(hash, canonicalEntry(ev));
      const at = { ledgerSeq: seq, ledgerHash: hash };
      if (ev.op === 'reserve-populations') {
        this.append('ledger.reserve', { jobId: ev.job, researcher: ev.researcher, populations: ev.populations.map((p) => ({ population: p.population, products: p.products.slice(0, 64) })), rho: ev.rho, epsilon: ev.epsilon, delta: ev.delta, ...(ev.project !== undefined ? { project: ev.project } : {}), ...at });
      } else if (ev.op === 'commit') this.append('ledger.commit', { jobId: ev.job, ...at });
      else if (ev.op === 'population-budget') this.append('ledger.budget', { researcher: ev.researcher, population: ev.population, epsilon: ev.epsilon, delta: ev.delta, setBy: ev.setBy, ...at });
      else if (ev.op === 'project-budget') this.append('ledger.project-budget', { project: ev.project, population: ev.population, epsilon: ev.epsilon, delta: ev.delta, setBy: ev.setBy, ...at });
      else this.append('ledger.other', { op: ev.op, ...at });
    }
  };

  /**
   * Cross-checks the ledger against the audited ledger changes (see `ledger-cross-check.ts`), then records the
   * start with the ledger's head.
   * @throws FedmeshError FAILED_PRECONDITION naming the lost charges, unless `acceptLedgerLoss` (then recorded)
   */
  async crossCheck(store: JobStore, acceptLedgerLoss: boolean): Promise<void> {
    const chain = await store.withConnection(async (conn) =>
      (await conn.runAndReadAll(`SELECT seq, hash, entry FROM ${CHAIN_TABLE} ORDER BY seq`)).getRowObjectsJS().map((r): ChainRow => ({ seq: Number(r.seq), hash: String(r.hash), entry: String(r.entry) })),
    );
    const last = chain[chain.length - 1];
    const head = { ledgerSeq: last?.seq ?? 0, ledgerHash: last?.hash ?? GENESIS_HASH };
    const problems = crossCheckLedger(this.refs, chain);
    if (problems.length > 0 && !acceptLedgerLoss) {
      this.append('ledger.loss-detected', { problems: problems.slice(0, 6), ...head, refused: true });
      throw new FedmeshError(
        'FAILED_PRECONDITION',
        `the privacy ledger lost changes the audit log recorded, so budgets would be silently refunded:\n  - ${problems.join('\n  - ')}\n` +
          'This happens when the state database (or its write-ahead log and head file) was restored from an older copy or cut. ' +
          'Restore the newest state, or, once an administrator has decided to accept the ledger as it is, start with --accept-ledger-loss (the decision is recorded in the audit log).',
        { field: 'state' },
      );
    }
    if (problems.length > 0) {
      let by = 'unknown';
      try {
        by = userInfo().username;
      } catch {
        // no user name on this system: recorded as unknown
      }
      this.append('admin.ledger-loss-accepted', { problems: problems.slice(0, 6), by, ...head });
      this.opsLog('ledger-loss-accepted', { problems: problems.length, by });
    } else if (acceptLedgerLoss) this.opsLog('ledger-loss-flag-unused', { message: 'the ledger lost nothing the audit log recorded; --accept-ledger-loss changed nothing' });
    this.refs.length = 0;
    if (this.created && head.ledgerSeq > 0) {
      // A ledger with history and a brand-new audit log: the audit folder was removed or never kept. Nothing to
      // cross-check against, so say so loudly, in both logs.
      this.opsLog('audit-log-new-on-existing-ledger', { ledgerSeq: head.ledgerSeq, message: 'the audit log is new but the privacy ledger has history: the previous audit folder is missing, so the ledger could not be cross-checked' });
      this.append('audit.new-on-existing-ledger', { ...head });
    }
    this.append('audit.opened', { ...head, entries: this.log.size });
  }

  close(): void {
    if (this.authSuppressed > 0) this.append('auth.failed-suppressed', { count: this.authSuppressed, sinceMs: this.authWindowStartMs });
    this.authSuppressed = 0;
    this.log.close();
  }
}
