/**
 * The agent's own audit trail (`<state>/audit/`), kept and signed by the domain: every task received, refused
 * (with the code and field, never the message, which may quote the spec), charged to the domain's ledger and
 * answered. The domain verifies it without the coordinator (`fedmesh audit verify --log <state>/audit`), with the
 * public key in that folder or, better, a copy kept apart. `append` is the hook for other subsystems (policy,
 * consent, round steps): `agent.audit.append('policy.reloaded', { policies: 2 })`.
 */
import { join } from 'node:path';
import { AuditLog, pickAuditFields, type AuditFields } from '../../common/audit/index.js';
import type { AgentCharge } from '../ledger.js';

type Log = (event: string, fields?: Record<string, unknown>) => void;

export const AGENT_AUDIT_DIR = 'audit';

const TASK = ['jobId', 'taskId', 'researcher', 'kind', 'round', 'privacyMode', 'epsilon', 'secure'] as const;

/** Log event → audit type and the fields kept (a whitelist: a field a log line gains later does not leak in). */
const LOGGED_EVENTS: Readonly<Record<string, { type: string; keep: readonly string[] }>> = {
  'task-started': { type: 'task.received', keep: TASK },
  'task-done': { type: 'task.answered', keep: [...TASK, 'ms', 'names'] },
  'task-failed': { type: 'task.refused', keep: [...TASK, 'code', 'field'] },
  'task-cancelled': { type: 'task.cancelled', keep: TASK },
  registered: { type: 'link.registered', keep: ['agentId'] },
  'link-error': { type: 'link.error', keep: ['code'] },
  reloaded: { type: 'data.reloaded', keep: ['changed', 'products', 'ingest'] },
};

export class AgentAudit {
  private constructor(
    readonly log: AuditLog,
    private readonly opsLog: Log,
  ) {}

  /**
   * Opens `<stateDir>/audit`, verifying it in full.
   * @throws FedmeshError FAILED_PRECONDITION naming the first bad entry
   */
  static open(stateDir: string, name: string, opsLog: Log | undefined): AgentAudit {
    const log = opsLog ?? (() => undefined);
    const { audit } = AuditLog.open({ dir: join(stateDir, AGENT_AUDIT_DIR), role: 'agent', name, log });
    const a = new AgentAudit(audit, log);
    a.append('audit.opened', { name });
    return a;
  }

  /** Appends an event; never throws (a failed write is logged as `audit-write-failed`). */
  append(type: string, fields: AuditFields = {}): void {
    try {
      this.log.append(type, fields);
    } catch (e) {
      this.opsLog('audit-write-failed', { type, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Wraps the agent's log so the task lines the trail keeps are also audit entries. */
  tapLog(log: Log | undefined): Log {
    const inner = log ?? (() => undefined);
    return (event, fields) => {
      inner(event, fields);
      const m = LOGGED_EVENTS[event];
      if (m) this.append(m.type, pickAuditFields(fields, m.keep));
    };
  }

  /** The ledger's hook: a charge stored on the domain's own ledger. */
  readonly charged = (c: AgentCharge): void => {
    this.append('ledger.charge', { jobId: c.jobId, researcher: c.researcher, rho: c.rho, epsilon: c.epsilon, delta: c.delta });
  };

  close(): void {
    this.log.close();
  }
}
