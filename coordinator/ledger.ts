import type { DuckDBConnection } from '@duckdb/node-api';
import type { PrivacyCost } from '../algorithms/dp/index.js';
import { FedmeshError, quote } from '../common/errors.js';
import { epsilonSpent, fitsBudget, validateBudget, type EpsilonDeltaBudget } from '../common/job/budget.js';
import { insertJob, type JobStore } from './job-store.js';
import type { JobRecord } from './job-record.js';

export interface BudgetEntry {
  researcher: string;
  product: string;
  budget: EpsilonDeltaBudget;
  /** Whether the budget was set explicitly (else the coordinator default applies). */
  explicit: boolean;
  spent: { rho: number; epsilon: number; delta: number; epsilonAtBudgetDelta: number };
  remainingEpsilon: number;
  jobs: number;
  reserved: number;
}

/**
 * The durable privacy ledger: budget per researcher × data product, and one charge per DP job. A job's charge is
 * reserved in the same transaction that stores the job, before any agent computes; it is committed at release and
 * never refunded once reserved (agents may have touched data). The store's single connection and transaction make
 * reservations atomic, so concurrent jobs cannot overspend.
 */
export class Ledger {
  private constructor(
    private readonly store: JobStore,
    readonly defaultBudget: EpsilonDeltaBudget,
  ) {}

  static async open(store: JobStore, defaultBudget: EpsilonDeltaBudget): Promise<Ledger> {
    validateBudget(defaultBudget, 'options.defaultBudget');
    await store.withConnection(async (conn) => {
      await conn.run(`CREATE TABLE IF NOT EXISTS budgets (researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, delta DOUBLE NOT NULL, set_by VARCHAR NOT NULL, set_at_ms BIGINT NOT NULL, PRIMARY KEY (researcher, product))`);
      await conn.run(`CREATE TABLE IF NOT EXISTS charges (job_id VARCHAR PRIMARY KEY, researcher VARCHAR NOT NULL, product VARCHAR NOT NULL, rho DOUBLE NOT NULL, epsilon DOUBLE, delta DOUBLE NOT NULL, state VARCHAR NOT NULL, at_ms BIGINT NOT NULL)`);
      // Reservations of jobs interrupted by a restart stay spent: their agents may have released data.
      await conn.run(`UPDATE charges SET state = 'committed' WHERE state = 'reserved'`);
    });
    return new Ledger(store, defaultBudget);
  }

  private async budgetOf(conn: DuckDBConnection, researcher: string, product: string): Promise<{ budget: EpsilonDeltaBudget; explicit: boolean }> {
    const rows = (await conn.runAndReadAll(`SELECT epsilon, delta FROM budgets WHERE researcher = $1 AND product = $2`, [researcher, product])).getRowObjectsJS();
    const r = rows[0];
    return r ? { budget: { epsilon: Number(r.epsilon), delta: Number(r.delta) }, explicit: true } : { budget: this.defaultBudget, explicit: false };
  }

  private async spentOf(conn: DuckDBConnection, researcher: string, product: string): Promise<{ cost: PrivacyCost; jobs: number; reserved: number }> {
    const r = (
      await conn.runAndReadAll(
        `SELECT coalesce(sum(rho), 0) AS rho, coalesce(sum(epsilon), 0) AS eps, count(*) FILTER (WHERE epsilon IS NULL)::INTEGER AS unbounded,
                coalesce(sum(delta), 0) AS delta, count(*)::INTEGER AS jobs, count(*) FILTER (WHERE state = 'reserved')::INTEGER AS reserved
           FROM charges WHERE researcher = $1 AND product = $2`,
        [researcher, product],
      )
    ).getRowObjectsJS()[0]!;
    return { cost: { rho: Number(r.rho), epsilon: Number(r.unbounded) > 0 ? Infinity : Number(r.eps), delta: Number(r.delta) }, jobs: Number(r.jobs), reserved: Number(r.reserved) };
  }

  /**
   * Atomically checks the budget, reserves `cost` and stores the job. Without a cost (mode none) only stores it.
   * @throws FedmeshError BUDGET_EXHAUSTED, and nothing is stored
   */
  async admit(job: JobRecord, product: string, cost: PrivacyCost | undefined): Promise<void> {
    await this.store.transaction(async (conn) => {
      if (cost) {
        const { budget } = await this.budgetOf(conn, job.researcher, product);
        const { cost: spent } = await this.spentOf(conn, job.researcher, product);
        if (!fitsBudget(spent, cost, budget)) {
          const used = epsilonSpent(spent, budget.delta);
          throw new FedmeshError(
            'BUDGET_EXHAUSTED',
            `privacy budget exhausted for researcher ${job.researcher} on product ${product}: budget ε=${budget.epsilon} δ=${budget.delta}, spent ε≈${used.toFixed(4)}, this job needs ρ=${cost.rho.toPrecision(4)}`,
            { field: 'privacy' },
          );
        }
        await conn.run(`INSERT INTO charges VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7)`, [job.id, job.researcher, product, cost.rho, Number.isFinite(cost.epsilon) ? cost.epsilon : null, cost.delta, Date.now()]);
      }
      await insertJob(conn, job);
    });
  }

  /** Marks a job's reservation as spent (at release, and also when the job failed after dispatch). */
  async commit(jobId: string): Promise<void> {
    await this.store.withConnection((conn) => conn.run(`UPDATE charges SET state = 'committed' WHERE job_id = $1`, [jobId]));
  }

  async setBudget(researcher: string, product: string, budget: EpsilonDeltaBudget, setBy: string): Promise<BudgetEntry> {
    try {
      validateBudget(budget, 'budget');
    } catch (e) {
      throw new FedmeshError('INVALID_ARGUMENT', (e as Error).message, { field: 'budget' });
    }
    for (const [f, v] of [['researcher', researcher], ['product', product]] as const) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new FedmeshError('INVALID_ARGUMENT', `${f} is not a valid name: ${quote(v)}`, { field: f });
    }
    await this.store.withConnection((conn) =>
      conn.run(`INSERT OR REPLACE INTO budgets VALUES ($1, $2, $3, $4, $5, $6)`, [researcher, product, budget.epsilon, budget.delta, setBy, Date.now()]),
    );
    const [entry] = await this.report(researcher, product);
    return entry!;
  }

  /** Budget and spend per researcher × product (restricted to one researcher and/or product when given). */
  async report(researcher?: string, product?: string): Promise<BudgetEntry[]> {
    return this.store.withConnection(async (conn) => {
      const pairs = (
        await conn.runAndReadAll(
          `SELECT DISTINCT researcher, product FROM (SELECT researcher, product FROM budgets UNION SELECT researcher, product FROM charges)
            WHERE ($1::VARCHAR IS NULL OR researcher = $1) AND ($2::VARCHAR IS NULL OR product = $2) ORDER BY researcher, product`,
          [researcher ?? null, product ?? null],
        )
      ).getRowObjectsJS();
      const out: BudgetEntry[] = [];
      for (const p of pairs) {
        const r = String(p.researcher);
        const prod = String(p.product);
        const { budget, explicit } = await this.budgetOf(conn, r, prod);
        const { cost, jobs, reserved } = await this.spentOf(conn, r, prod);
        const used = epsilonSpent(cost, budget.delta);
        out.push({
          researcher: r,
          product: prod,
          budget,
          explicit,
          spent: { rho: cost.rho, epsilon: cost.epsilon, delta: cost.delta, epsilonAtBudgetDelta: used },
          remainingEpsilon: Math.max(0, budget.epsilon - used),
          jobs,
          reserved,
        });
      }
      return out;
    });
  }
}
