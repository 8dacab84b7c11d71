/**
 * An in-memory {@link DashboardBackend} for the dashboard's own tests: fixed agents and jobs, the ownership rule
 * of `Coordinator.getJob` (another researcher's job is NOT_FOUND), and a record of submitted specs. Test-only.
 */
import type { AgentListing } from '../../coordinator/agent-registry.js';
import type { JobRecord } from '../../coordinator/job-record.js';
import type { JobSummary } from '../../coordinator/job-summary.js';
import type { BudgetEntry } from '../../coordinator/ledger.js';
import { canSeeJobOf, type Principal } from '../../coordinator/principal.js';
import { FedmeshError } from '../../common/errors.js';
import type { AuditView, DashboardBackend } from '../../dashboard/backend.js';
import type { LedgerCharge } from '../../coordinator/state/ledger-history.js';

export interface FakeBackend extends DashboardBackend {
  submitted: { caller: Principal; spec: unknown }[];
  jobs: JobRecord[];
  /** Ledger charges `budgetHistory` returns (filtered to the caller's own unless an administrator). */
  charges: LedgerCharge[];
}

export function fakeBackend(agents: AgentListing[], jobs: JobRecord[], audit?: AuditView): FakeBackend {
  const submitted: FakeBackend['submitted'] = [];
  const summary = (j: JobRecord): JobSummary => ({ id: j.id, kind: j.kind, researcher: j.researcher, state: j.state, createdAtMs: j.createdAtMs, finishedAtMs: j.finishedAtMs, agentsAsked: j.agentsAsked, agentsAnswered: j.agentsAnswered, agentsMissing: j.agentsMissing, error: j.error, spec: { kind: j.kind, product: (j.spec as { product?: string }).product, privacyMode: 'none' } as JobSummary['spec'] });
  const get = async (caller: Principal, id: string): Promise<JobRecord> => {
    const j = jobs.find((x) => x.id === id);
    if (!j || !canSeeJobOf(caller, j.researcher)) throw new FedmeshError('NOT_FOUND', `job ${JSON.stringify(id.slice(0, 40))} not found`);
    return j;
  };
  const charges: LedgerCharge[] = [];
  return {
    submitted,
    jobs,
    charges,
    budgetHistory: async (caller, limit) => ({ charges: charges.filter((c) => caller.isAdmin || c.researcher === caller.name).slice(-limit), defaultDelta: 1e-6 }),
    agents: () => agents,
    listJobs: async (caller) => jobs.filter((j) => canSeeJobOf(caller, j.researcher)).map(summary),
    getJob: get,
    async watchJob(caller, id, listener) {
      const j = await get(caller, id);
      listener({ jobId: id, type: 'finished', atMs: 1, message: j.state }, j);
      return () => undefined;
    },
    async submitJob(caller, spec) {
      submitted.push({ caller, spec: JSON.parse(spec) });
      const job: JobRecord = { id: `job-${submitted.length}`, kind: 'aggregate', researcher: caller.name, spec: JSON.parse(spec), state: 'queued', createdAtMs: Date.now(), finishedAtMs: undefined, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined };
      jobs.push(job);
      return job;
    },
    budget: async (caller): Promise<BudgetEntry[]> => [{ researcher: caller.name, population: 'person', products: ['person'], budget: { epsilon: 3, delta: 1e-6 }, explicit: false, spent: { rho: 0, epsilon: 0, delta: 0, epsilonAtBudgetDelta: 0 }, remainingEpsilon: 3, jobs: 0, reserved: 0 }],
    audit(caller) {
      if (!caller.isAdmin) throw new FedmeshError('POLICY_DENIED', 'the audit log is for administrators');
      return audit ?? { ok: true, entries: [], total: 0, checkpoints: 0, keyFingerprint: 'test', problems: [] };
    },
  };
}
