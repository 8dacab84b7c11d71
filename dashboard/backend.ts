/**
 * What the dashboard needs from the coordinator, as a transport-free interface taking the caller's Principal on
 * every call: the same service methods the gRPC server calls, so the ownership rules are the coordinator's own
 * (a researcher's `getJob` of another's job is NOT_FOUND, `listJobs` lists only their jobs, budgets are theirs).
 * The dashboard adds no rule of its own that could disagree with `GetJob`.
 */
import { join } from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { AgentListing } from '../coordinator/agent-registry.js';
import type { JobEventRecord, JobRecord } from '../coordinator/job-record.js';
import type { JobSummary } from '../coordinator/job-summary.js';
import type { BudgetEntry } from '../coordinator/ledger.js';
import type { LedgerCharge } from '../coordinator/state/ledger-history.js';
import type { Principal } from '../coordinator/principal.js';
import { FedmeshError } from '../common/errors.js';
import { verifyAuditDir, type AuditEntry } from '../common/audit/index.js';
import { AUDIT_DIR } from '../coordinator/audit/index.js';

export type JobListener = (e: JobEventRecord, job: JobRecord | undefined) => void;

/** The audit log as the Audit page shows it: verified entries (newest last) and the verification outcome. */
export interface AuditView {
  ok: boolean;
  entries: AuditEntry[];
  /** Entries in the log (the page shows at most the newest `limit`). */
  total: number;
  checkpoints: number;
  keyFingerprint: string;
  problems: string[];
}

export interface AuditQuery {
  type?: string;
  jobId?: string;
  sinceMs?: number;
  limit: number;
}

export interface DashboardBackend {
  agents(caller: Principal): AgentListing[];
  listJobs(caller: Principal, limit: number): Promise<JobSummary[]>;
  getJob(caller: Principal, id: string): Promise<JobRecord>;
  watchJob(caller: Principal, id: string, listener: JobListener): Promise<() => void>;
  submitJob(caller: Principal, specJson: string): Promise<JobRecord>;
  budget(caller: Principal): Promise<BudgetEntry[]>;
  /** The ledger's charges in time order: the caller's own (an administrator's: everyone's), the newest `limit`. */
  budgetHistory(caller: Principal, limit: number): Promise<BudgetHistory>;
  /** Administrators only. @throws FedmeshError POLICY_DENIED for a researcher */
  audit(caller: Principal, query: AuditQuery): AuditView;
}

export interface BudgetHistory {
  charges: LedgerCharge[];
  /** δ of the coordinator's default budget (ε of a series without a budget of its own is stated at it). */
  defaultDelta: number;
}

/** Most entries an audit query returns (the newest). */
export const MAX_AUDIT_ENTRIES = 1000;

/** The backend of a dashboard served by the coordinator's own process (`fedmesh coordinator --dashboard-listen`). */
export function coordinatorBackend(coordinator: Coordinator): DashboardBackend {
  return {
    agents: () => coordinator.listAgents(),
    listJobs: (caller, limit) => coordinator.listJobs(caller, limit),
    getJob: (caller, id) => coordinator.getJob(caller, id),
    watchJob: (caller, id, listener) => coordinator.watchJob(caller, id, listener),
    submitJob: (caller, spec) => coordinator.submitJob(caller, spec),
    budget: (caller) => coordinator.budgetReport(caller.name, caller.isAdmin),
    budgetHistory: async (caller, limit) => ({ charges: await coordinator.ledger.history(caller.isAdmin ? undefined : caller.name, limit), defaultDelta: coordinator.ledger.defaultBudget.delta }),
    audit(caller, query) {
      if (!caller.isAdmin) throw new FedmeshError('POLICY_DENIED', 'the audit log is for administrators');
      const limit = Math.min(Math.max(1, query.limit), MAX_AUDIT_ENTRIES);
      const kept: AuditEntry[] = [];
      let total = 0;
      const report = verifyAuditDir(join(coordinator.options.stateDir, AUDIT_DIR), undefined, (e) => {
        total++;
        if (query.sinceMs !== undefined && e.atMs < query.sinceMs) return;
        if (query.type && e.type !== query.type && !e.type.startsWith(`${query.type}.`)) return;
        if (query.jobId && e.jobId !== query.jobId) return;
        kept.push(e);
        if (kept.length > limit) kept.shift();
      });
      return { ok: report.ok, entries: kept, total, checkpoints: report.checkpoints, keyFingerprint: report.keyFingerprint, problems: report.problems.slice(0, 10).map((p) => p.message) };
    },
  };
}
