import type { DuckDBConnection } from '@duckdb/node-api';
import type { PrivacyCost } from '../algorithms/dp/index.js';
import { FedmeshError, quote } from '../common/errors.js';
import { epsilonSpent, fitsBudget, validateBudget, type EpsilonDeltaBudget, DEFAULT_POPULATION, isPopulationName, type PopulationTouch, parseProject } from '../common/job/index.js';
import { insertJob, type JobStore } from './job-store.js';
import type { JobRecord } from './job-record.js';
import { appendEvents, createChainTable, GENESIS_HASH, type LedgerEvent } from './state/ledger-chain.js';
import { readHead, writeHead, type ChainHead } from './state/state-head.js';
import { stateRefused } from './state/state-error.js';
import { Mutex } from '../common/mutex.js';
import { inspectState } from './state/verify-state.js';
import { createPopulationTables, LEGACY_LEDGER_DDL, POPULATION_BUDGETS, POPULATION_CHARGES } from './state/ledger-tables.js';
import { migrateToPopulations } from './state/migrate-populations.js';
import { readChargeHistory, type LedgerCharge } from './state/ledger-history.js';
import { projectBudgetOf, projectPairs } from './state/project-budgets.js';
import { spendOn } from './state/spend-query.js';
import { PROJECT_BUDGETS } from './state/ledger-tables.js';

/** Products a refusal names before it counts the rest (a population may hold hundreds). */
const MAX_PRODUCTS_NAMED = 20;

export interface LedgerOpenOptions {
  /** The state folder (named in refusals). */
  stateDir: string;
  /** The head file the chain must reach (see `state/state-head.ts`). */
  headFile: string;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /**
   * Told of every ledger change after it committed, with the chain head before it (the audit trail records each
   * change with its chain position, so a ledger that later lost it is detected at start).
   */
  onAppended?: (events: readonly LedgerEvent[], from: ChainHead) => void;
  /** Runs before any job is admitted and may refuse it by throwing (the audit trail refuses while it cannot write). */
  beforeAdmit?: () => void;
}

export interface BudgetEntry {
  researcher: string;
  /** The population (privacy-unit domain) the budget is kept for. */
  population: string;
  /** Products in the population: those charged so far (the coordinator adds those its catalogue maps to it). */
  products: string[];
  budget: EpsilonDeltaBudget;
  /** Whether the budget was set explicitly (else the coordinator default applies). */
  explicit: boolean;
  spent: { rho: number; epsilon: number; delta: number; epsilonAtBudgetDelta: number };
  remainingEpsilon: number;
  jobs: number;
  reserved: number;
}

/** A project's budget on a population and what all its researchers spent there (see state/project-budgets.ts). */
export interface ProjectBudgetEntry {
  project: string;
  population: string;
  /** Undefined: no budget set for the project (its researchers' own budgets still apply). */
  budget: EpsilonDeltaBudget | undefined;
  spent: { rho: number; epsilon: number; delta: number; epsilonAtBudgetDelta: number | undefined };
  remainingEpsilon: number | undefined;
  jobs: number;
  reserved: number;
  researchers: string[];
}

/** The project a job's spec names, if any. */
function projectOf(job: JobRecord): string | undefined {
  const p = (job.spec as { project?: unknown }).project;
  return typeof p === 'string' && p.length > 0 ? p : undefined;
}

/**
 * The durable privacy ledger: budget per researcher × population (the privacy unit's domain, see
 * `common/job/population.ts`), and one charge per DP job on every population it touches. A job's charges are
 * reserved together (all or none) in the same transaction that stores the job, before any agent computes; it is committed at release and
 * never refunded once reserved (agents may have touched data). The store's single connection and transaction make
 * reservations atomic, so concurrent jobs cannot overspend.
 *
 * Every change is also appended to a hash chain in the same transaction, and the chain's head is written to a
 * separately fsynced file: at start the chain must verify, replay to the tables and reach the head, or the
 * coordinator refuses to start (a lost write-ahead log would otherwise silently refund charges). Reservations and
 * budget changes are anchored before the call returns (before any agent computes); a commit's head write is
 * deferred, off the job's completion path: losing a commit costs nothing, as a restart commits every reservation.
 */
export class Ledger {
  private readonly headWrites = new Mutex();
  private writtenSeq: number;

  private constructor(
    private readonly store: JobStore,
    readonly defaultBudget: EpsilonDeltaBudget,
    private readonly headFile: string,
    private head: ChainHead,
    private readonly log: (event: string, fields?: Record<string, unknown>) => void,
    private readonly onAppended: LedgerOpenOptions['onAppended'],
    private readonly beforeAdmit: LedgerOpenOptions['beforeAdmit'],
  ) {
    this.writtenSeq = head.seq;
  }

  /**
   * Verifies the whole state (see `state/verify-state.ts`), builds the chain once for a state from before it, and
   * marks reservations interrupted by a restart as spent.
   * @throws FedmeshError FAILED_PRECONDITION listing every integrity problem; nothing is changed
   */
  static async open(store: JobStore, defaultBudget: EpsilonDeltaBudget, options: LedgerOpenOptions): Promise<Ledger> {
    validateBudget(defaultBudget, 'options.defaultBudget');
    const log = options.log ?? (() => undefined);
    const report = await store.withConnection((conn) => inspectState(conn, readHead(options.headFile)));
    if (report.problems.length > 0) throw stateRefused(options.stateDir, report.problems);
    let head = report.chain.tail;
    if (!report.chain.present) {
      // A state from before the chain (or a fresh one): chain what the per-product tables hold, once.
      head = await store.transaction(async (conn) => {
        await createChainTable(conn);
        if (report.legacyTables) for (const ddl of LEGACY_LEDGER_DDL) await conn.run(ddl);
        return appendEvents(conn, { seq: 0, hash: GENESIS_HASH }, report.legacyTables ? await legacyEvents(conn) : []);
      });
      await writeHead(options.headFile, head);
      if (head.seq > 0) log('ledger-chain-built', { entries: head.seq, charges: report.tables.charges ?? 0, budgets: report.tables.budgets ?? 0 });
    } else if (report.headBehind) {
      // The coordinator stopped between a commit and its head write: the chain verified, so the head catches up.
      await writeHead(options.headFile, head);
      log('ledger-head-advanced', { seq: head.seq });
    }
    if (report.legacyTables) {
      // Budgets were kept per product before issue 15: every such product is keyed by persons (no population could
      // be declared then), so all of them move to the default population.
      const from = head;
      const m = await store.transaction((conn) => migrateToPopulations(conn, from, () => DEFAULT_POPULATION, Date.now()));
      head = m.head;
      await writeHead(options.headFile, head);
      log('ledger-migrated-to-populations', { charges: m.charges, budgets: m.budgets.length, mapping: Object.fromEntries(m.mapping) });
      for (const b of m.budgets) {
        log('ledger-budget-merged', {
          researcher: b.researcher, population: b.population, fromProducts: b.fromProducts, epsilon: b.epsilon, delta: b.delta,
          message: `per-product budgets of ${b.researcher} on ${b.fromProducts.join(', ')} became one budget on population ${b.population}: the minimum, ε=${b.epsilon} δ=${b.delta}`,
        });
      }
    }
    await store.withConnection((conn) => createPopulationTables(conn));
    const ledger = new Ledger(store, defaultBudget, options.headFile, head, log, options.onAppended, options.beforeAdmit);
    // Reservations of jobs interrupted by a restart stay spent: their agents may have released data.
    await ledger.chained(async (conn) => {
      const rows = (await conn.runAndReadAll(`UPDATE ${POPULATION_CHARGES} SET state = 'committed' WHERE state = 'reserved' RETURNING job_id`)).getRowObjectsJS();
      return { value: undefined, events: [...new Set(rows.map((r) => String(r.job_id)))].sort().map((job): LedgerEvent => ({ op: 'commit', job })) };
    });
    return ledger;
  }

  /**
   * Runs `fn` in one store transaction, appends the ledger events it returns to the chain in the same transaction,
   * and after the commit makes the new head current and writes it durably: before returning (`anchor: 'now'`), or
   * soon after (`'deferred'`).
   */
  private async chained<T>(fn: (conn: DuckDBConnection) => Promise<{ value: T; events: LedgerEvent[] }>, anchor: 'now' | 'deferred' = 'now'): Promise<T> {
    let next: ChainHead | undefined;
    let appended: LedgerEvent[] = [];
    return this.store.transaction(
      async (conn) => {
        const { value, events } = await fn(conn);
        next = events.length > 0 ? await appendEvents(conn, this.head, events) : undefined;
        appended = events;
        return value;
      },
      async () => {
        if (next === undefined) return;
        const from = this.head;
        this.head = next;
        if (anchor === 'now') await this.writeCurrentHead();
        else {
          this.writeCurrentHead().catch((e: unknown) => this.log('ledger-head-write-failed', { error: String(e) }));
        }
        // After the anchor: the audit trail never records a change the ledger could still lose to a crash.
        this.onAppended?.(appended, from);
      },
    );
  }

  /** Writes the newest head, serialised; a queued write that a later one already covered is skipped. */
  private writeCurrentHead(): Promise<void> {
    return this.headWrites.run(async () => {
      const head = this.head;
      if (head.seq <= this.writtenSeq) return;
      await writeHead(this.headFile, head);
      this.writtenSeq = head.seq;
    });
  }

  /** Waits until the newest head is on disk (at shutdown). */
  flush(): Promise<void> {
    return this.writeCurrentHead();
  }

  private async budgetOf(conn: DuckDBConnection, researcher: string, population: string): Promise<{ budget: EpsilonDeltaBudget; explicit: boolean }> {
    const rows = (await conn.runAndReadAll(`SELECT epsilon, delta FROM ${POPULATION_BUDGETS} WHERE researcher = $1 AND population = $2`, [researcher, population])).getRowObjectsJS();
    const r = rows[0];
    return r ? { budget: { epsilon: Number(r.epsilon), delta: Number(r.delta) }, explicit: true } : { budget: this.defaultBudget, explicit: false };
  }

  /**
   * Atomically checks the budget of every population the job touches, reserves `cost` on each of them (all or
   * none) and stores the job. Without a cost (mode none) only stores it.
   * @param touched the populations the job reads, each with the job's products in it (see `populationsTouched`)
   * @param covers the products the catalogue maps to a population, named in a refusal
   * @throws FedmeshError BUDGET_EXHAUSTED naming the population and its products, and nothing is stored
   */
  async admit(job: JobRecord, touched: readonly PopulationTouch[], cost: PrivacyCost | undefined, covers: (population: string) => readonly string[] = () => []): Promise<void> {
    if (cost && touched.length === 0) throw new RangeError('a charged job must touch at least one population');
    this.beforeAdmit?.();
    const project = projectOf(job);
    await this.chained(async (conn) => {
      const events: LedgerEvent[] = [];
      if (cost) {
        for (const t of touched) {
          const { budget } = await this.budgetOf(conn, job.researcher, t.population);
          const { cost: spent, products: charged } = await spendOn(conn, { researcher: job.researcher }, t.population);
          if (!fitsBudget(spent, cost, budget)) {
            const used = epsilonSpent(spent, budget.delta);
            const products = [...new Set([...t.products, ...covers(t.population), ...charged])].sort();
            // The job's own products first, so a refusal names them however many the population has.
            const named = [...t.products, ...products.filter((p) => !t.products.includes(p))].slice(0, MAX_PRODUCTS_NAMED);
            const more = products.length > named.length ? ` and ${products.length - named.length} more` : '';
            throw new FedmeshError(
              'BUDGET_EXHAUSTED',
              `privacy budget exhausted for researcher ${job.researcher} on population ${t.population} (products ${named.join(', ')}${more}; one budget covers them all, as they describe the same ${t.population === DEFAULT_POPULATION ? 'persons' : 'units'}): budget ε=${budget.epsilon} δ=${budget.delta}, spent ε≈${used.toFixed(4)}, this job needs ρ=${cost.rho.toPrecision(4)}`,
              { field: 'privacy', details: { population: t.population } },
            );
          }
          if (project !== undefined) {
            // The project's budget, shared by all its researchers, limits the job as well (both must fit).
            const pb = await projectBudgetOf(conn, project, t.population);
            const ps = pb ? (await spendOn(conn, { project }, t.population)).cost : undefined;
            if (pb && ps && !fitsBudget(ps, cost, pb)) {
              throw new FedmeshError(
                'BUDGET_EXHAUSTED',
                `privacy budget exhausted for project ${project} on population ${t.population} (shared by every researcher of the project): budget ε=${pb.epsilon} δ=${pb.delta}, spent ε≈${epsilonSpent(ps, pb.delta).toFixed(4)}, this job needs ρ=${cost.rho.toPrecision(4)}`,
                { field: 'project', details: { population: t.population, project } },
              );
            }
          }
        }
        const epsilon = Number.isFinite(cost.epsilon) ? cost.epsilon : null;
        const atMs = Date.now();
        const populations = touched.map((t) => ({ population: t.population, products: [...t.products] }));
        for (const p of populations) {
          await conn.run(
            `INSERT INTO ${POPULATION_CHARGES} (job_id, researcher, population, products, rho, epsilon, delta, state, at_ms, project) VALUES ($1, $2, $3, $4, $5, $6, $7, 'reserved', $8, $9)`,
            [job.id, job.researcher, p.population, JSON.stringify(p.products), cost.rho, epsilon, cost.delta, atMs, project ?? null],
          );
        }
        events.push({ op: 'reserve-populations', job: job.id, researcher: job.researcher, populations, rho: cost.rho, epsilon, delta: cost.delta, atMs, ...(project !== undefined ? { project } : {}) });
      }
      await insertJob(conn, job);
      return { value: undefined, events };
    });
  }

  /** Marks a job's reservation as spent (at release, and also when the job failed after dispatch). */
  async commit(jobId: string): Promise<void> {
    await this.chained(async (conn) => {
      const rows = (await conn.runAndReadAll(`UPDATE ${POPULATION_CHARGES} SET state = 'committed' WHERE job_id = $1 AND state = 'reserved' RETURNING job_id`, [jobId])).getRows();
      return { value: undefined, events: rows.length > 0 ? [{ op: 'commit', job: jobId }] : [] };
    }, 'deferred');
  }

  /** Sets the budget of `researcher` on `population` (one budget for every product in it). */
  async setBudget(researcher: string, population: string, budget: EpsilonDeltaBudget, setBy: string): Promise<BudgetEntry> {
    try {
      validateBudget(budget, 'budget');
    } catch (e) {
      throw new FedmeshError('INVALID_ARGUMENT', (e as Error).message, { field: 'budget' });
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(researcher)) throw new FedmeshError('INVALID_ARGUMENT', `researcher is not a valid name: ${quote(researcher)}`, { field: 'researcher' });
    if (!isPopulationName(population)) throw new FedmeshError('INVALID_ARGUMENT', `population is not a valid population name: ${quote(population)}`, { field: 'population' });
    await this.chained(async (conn) => {
      const atMs = Date.now();
      await conn.run(`INSERT OR REPLACE INTO ${POPULATION_BUDGETS} VALUES ($1, $2, $3, $4, $5, $6)`, [researcher, population, budget.epsilon, budget.delta, setBy, atMs]);
      return { value: undefined, events: [{ op: 'population-budget', researcher, population, epsilon: budget.epsilon, delta: budget.delta, setBy, atMs }] };
    });
    const [entry] = await this.report(researcher, population);
    return entry!;
  }

  /** Sets the budget of `project` on `population`: every researcher's jobs under the project share it. */
  async setProjectBudget(project: string, population: string, budget: EpsilonDeltaBudget, setBy: string): Promise<ProjectBudgetEntry> {
    try {
      validateBudget(budget, 'budget');
      parseProject(project);
    } catch (e) {
      throw new FedmeshError('INVALID_ARGUMENT', (e as Error).message, { field: (e as { field?: string }).field ?? 'budget' });
    }
    if (!isPopulationName(population)) throw new FedmeshError('INVALID_ARGUMENT', `population is not a valid population name: ${quote(population)}`, { field: 'population' });
    await this.chained(async (conn) => {
      const atMs = Date.now();
      await conn.run(`INSERT OR REPLACE INTO ${PROJECT_BUDGETS} VALUES ($1, $2, $3, $4, $5, $6)`, [project, population, budget.epsilon, budget.delta, setBy, atMs]);
      return { value: undefined, events: [{ op: 'project-budget', project, population, epsilon: budget.epsilon, delta: budget.delta, setBy, atMs }] };
    });
    return (await this.projectReport(undefined)).find((e) => e.project === project && e.population === population)!;
  }

  /** Project budgets and spend: every project's (researcher undefined), or those of the projects `researcher` ran charged jobs under. */
  async projectReport(researcher: string | undefined): Promise<ProjectBudgetEntry[]> {
    return this.store.withConnection(async (conn) => {
      const out: ProjectBudgetEntry[] = [];
      for (const { project, population } of await projectPairs(conn, researcher)) {
        const budget = await projectBudgetOf(conn, project, population);
        const { cost, jobs, reserved, researchers } = await spendOn(conn, { project }, population);
        const used = budget ? epsilonSpent(cost, budget.delta) : undefined;
        out.push({
          project, population, budget,
          spent: { rho: cost.rho, epsilon: cost.epsilon, delta: cost.delta, epsilonAtBudgetDelta: used },
          remainingEpsilon: budget && used !== undefined ? Math.max(0, budget.epsilon - used) : undefined,
          jobs, reserved,
          // A researcher sees that others share the project's budget, not who they are.
          researchers: researcher === undefined ? researchers : researchers.filter((r) => r === researcher),
        });
      }
      return out;
    });
  }

  /** Charges in time order (one researcher's, or everyone's), for spend over time; at most the newest `limit`. */
  async history(researcher: string | undefined, limit: number): Promise<LedgerCharge[]> {
    return this.store.withConnection((conn) => readChargeHistory(conn, researcher, limit));
  }

  /** Budget and spend per researcher × population (restricted to one researcher and/or population when given). */
  async report(researcher?: string, population?: string): Promise<BudgetEntry[]> {
    return this.store.withConnection(async (conn) => {
      const pairs = (
        await conn.runAndReadAll(
          `SELECT DISTINCT researcher, population FROM (SELECT researcher, population FROM ${POPULATION_BUDGETS} UNION SELECT researcher, population FROM ${POPULATION_CHARGES})
            WHERE ($1::VARCHAR IS NULL OR researcher = $1) AND ($2::VARCHAR IS NULL OR population = $2) ORDER BY researcher, population`,
          [researcher ?? null, population ?? null],
        )
      ).getRowObjectsJS();
      const out: BudgetEntry[] = [];
      for (const p of pairs) {
        const r = String(p.researcher);
        const pop = String(p.population);
        const { budget, explicit } = await this.budgetOf(conn, r, pop);
        const { cost, jobs, reserved, products } = await spendOn(conn, { researcher: r }, pop);
        const used = epsilonSpent(cost, budget.delta);
        out.push({
          researcher: r,
          population: pop,
          products,
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

/** The events that rebuild a pre-chain ledger's tables: budgets and reservations in time order, then commits. */
async function legacyEvents(conn: DuckDBConnection): Promise<LedgerEvent[]> {
  const events: Array<{ atMs: number; key: string; event: LedgerEvent }> = [];
  for (const b of (await conn.runAndReadAll(`SELECT * FROM budgets`)).getRowObjectsJS()) {
    const e: LedgerEvent = { op: 'budget', researcher: String(b.researcher), product: String(b.product), epsilon: Number(b.epsilon), delta: Number(b.delta), setBy: String(b.set_by), atMs: Number(b.set_at_ms) };
    events.push({ atMs: e.atMs, key: `b${e.researcher}\0${e.product}`, event: e });
  }
  const commits: LedgerEvent[] = [];
  for (const c of (await conn.runAndReadAll(`SELECT * FROM charges`)).getRowObjectsJS()) {
    const job = String(c.job_id);
    const atMs = Number(c.at_ms);
    events.push({ atMs, key: `c${job}`, event: { op: 'reserve', job, researcher: String(c.researcher), product: String(c.product), rho: Number(c.rho), epsilon: c.epsilon === null ? null : Number(c.epsilon), delta: Number(c.delta), atMs } });
    if (String(c.state) === 'committed') commits.push({ op: 'commit', job });
  }
  events.sort((a, b) => a.atMs - b.atMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  commits.sort((a, b) => ((a as { job: string }).job < (b as { job: string }).job ? -1 : 1));
  return [...events.map((e) => e.event), ...commits];
}
