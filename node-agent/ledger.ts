import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PrivacyCost } from '../algorithms/dp/index.js';
import { fitsBudget, epsilonSpent, type EpsilonDeltaBudget } from '../common/job/index.js';
import { FedmeshError } from '../common/errors.js';
import { Mutex } from '../common/mutex.js';
import { INTERNAL_PREFIX } from './data/products.js';

const LEDGER = `${INTERNAL_PREFIX}ledger`;
const SECRETS = `${INTERNAL_PREFIX}secrets`;

/** One charge on the agent's ledger, as its audit trail records it. */
export interface AgentCharge {
  jobId: string;
  researcher: string;
  rho: number;
  /** Null for mechanisms accounted in zCDP only. */
  epsilon: number | null;
  delta: number;
}

export interface AgentSpend {
  researcher: string;
  rho: number;
  epsilon: number;
  delta: number;
  jobs: number;
  epsilonAtCapDelta: number;
}

/**
 * The agent's own privacy ledger: a cap per researcher that the domain enforces itself, whatever the coordinator's
 * bookkeeping says. A job is charged before the agent touches data, durably, once per job id (a retried task is
 * not charged twice), and never refunded.
 */
export class AgentLedger {
  private readonly mutex = new Mutex();

  private constructor(
    private readonly conn: DuckDBConnection,
    readonly cap: EpsilonDeltaBudget,
    /** Agent-secret salt for keyed-hash contribution bounding. */
    readonly salt: string,
    private readonly onCharged: ((c: AgentCharge) => void) | undefined,
  ) {}

  /** @param onCharged told of every new charge once it is stored (the agent's audit trail records it) */
  static async open(conn: DuckDBConnection, cap: EpsilonDeltaBudget, onCharged?: (c: AgentCharge) => void): Promise<AgentLedger> {
    await conn.run(`CREATE TABLE IF NOT EXISTS ${LEDGER} (job_id VARCHAR PRIMARY KEY, researcher VARCHAR NOT NULL, rho DOUBLE NOT NULL, epsilon DOUBLE, delta DOUBLE NOT NULL, charged_at TIMESTAMP NOT NULL)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS ${SECRETS} (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`);
    await conn.run(`INSERT OR IGNORE INTO ${SECRETS} VALUES ('contribution-salt', $1)`, [randomBytes(32).toString('hex')]);
    const salt = String((await conn.runAndReadAll(`SELECT value FROM ${SECRETS} WHERE name = 'contribution-salt'`)).getRowObjectsJS()[0]!.value);
    return new AgentLedger(conn, cap, salt, onCharged);
  }

  private async spentBy(researcher: string): Promise<{ cost: PrivacyCost; jobs: number }> {
    const r = (
      await this.conn.runAndReadAll(
        `SELECT coalesce(sum(rho), 0) AS rho, coalesce(sum(epsilon), 0) AS eps, count(*) FILTER (WHERE epsilon IS NULL)::INTEGER AS unbounded, coalesce(sum(delta), 0) AS delta, count(*)::INTEGER AS jobs FROM ${LEDGER} WHERE researcher = $1`,
        [researcher],
      )
    ).getRowObjectsJS()[0]!;
    // ε is NULL for mechanisms accounted in zCDP only (no finite pure-ε statement).
    const epsilon = Number(r.unbounded) > 0 ? Infinity : Number(r.eps);
    return { cost: { rho: Number(r.rho), epsilon, delta: Number(r.delta) }, jobs: Number(r.jobs) };
  }

  /**
   * Charges `cost` for `jobId` if it fits under the cap; idempotent per job id.
   * @throws FedmeshError BUDGET_EXHAUSTED when the researcher's cap at this domain would be exceeded
   */
  charge(jobId: string, researcher: string, cost: PrivacyCost): Promise<void> {
    return this.mutex.run(async () => {
      const existing = await this.conn.runAndReadAll(`SELECT researcher FROM ${LEDGER} WHERE job_id = $1`, [jobId]);
      if (existing.getRows().length > 0) return;
      const { cost: spent } = await this.spentBy(researcher);
      if (!fitsBudget(spent, cost, this.cap)) {
        throw new FedmeshError('BUDGET_EXHAUSTED', `this domain's privacy budget cap for ${researcher} (ε=${this.cap.epsilon}, δ=${this.cap.delta}) would be exceeded: spent ε≈${epsilonSpent(spent, this.cap.delta).toFixed(3)}`);
      }
      const eps = Number.isFinite(cost.epsilon) ? cost.epsilon : null;
      await this.conn.run(`INSERT INTO ${LEDGER} VALUES ($1, $2, $3, $4, $5, now()::TIMESTAMP)`, [jobId, researcher, cost.rho, eps, cost.delta]);
      this.onCharged?.({ jobId, researcher, rho: cost.rho, epsilon: eps, delta: cost.delta });
    });
  }

  spend(researcher: string): Promise<AgentSpend> {
    return this.mutex.run(async () => {
      const { cost, jobs } = await this.spentBy(researcher);
      return { researcher, rho: cost.rho, epsilon: cost.epsilon, delta: cost.delta, jobs, epsilonAtCapDelta: epsilonSpent(cost, this.cap.delta) };
    });
  }
}
