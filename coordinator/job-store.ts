import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parseJobSpec } from '../common/job/index.js';
import { Mutex } from '../common/mutex.js';
import type { Principal } from './principal.js';
import type { JobRecord, RegistryJobSpec } from './job-record.js';
import type { JobSummary } from './job-summary.js';

/** The job store's database file in the state folder (it also holds the privacy ledger). */
export const JOB_STORE_FILE = 'coordinator.duckdb';

/**
 * Jobs (spec, status, result, which agents answered) in a DuckDB file in the coordinator's state folder.
 * Every write is one statement (atomic); a job is stored only after it passed validation and admission.
 */
export class JobStore {
  private readonly mutex = new Mutex();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    /** Registry kinds (jobs/<kind>): their specs are stored as their kind parsed them, not as built-in JobSpecs. */
    private readonly registryKinds: ReadonlySet<string>,
  ) {}

  /**
   * Runs `fn` in one DuckDB transaction, serialised with every other statement on the store. `afterCommit` runs
   * once the transaction committed, still inside the serialisation (the ledger writes its head file there, so
   * head files are written in commit order).
   */
  transaction<T>(fn: (conn: DuckDBConnection) => Promise<T>, afterCommit?: () => Promise<void>): Promise<T> {
    return this.mutex.run(async () => {
      let out: T;
      await this.conn.run('BEGIN TRANSACTION');
      try {
        out = await fn(this.conn);
        await this.conn.run('COMMIT');
      } catch (e) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
      await afterCommit?.();
      return out;
    });
  }

  /** Runs `fn` on the store's connection, serialised (no transaction). */
  withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.mutex.run(() => fn(this.conn));
  }

  static async open(stateDir: string, options: { registryKinds?: readonly string[] } = {}): Promise<JobStore> {
    mkdirSync(stateDir, { recursive: true });
    const instance = await DuckDBInstance.create(join(stateDir, JOB_STORE_FILE));
    const conn = await instance.connect();
    await conn.run(`CREATE TABLE IF NOT EXISTS jobs (
      id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, researcher VARCHAR NOT NULL, spec_json VARCHAR NOT NULL,
      state VARCHAR NOT NULL, created_at_ms BIGINT NOT NULL, finished_at_ms BIGINT,
      agents_asked VARCHAR NOT NULL, agents_answered VARCHAR NOT NULL, agents_missing VARCHAR NOT NULL,
      result_json VARCHAR, error_json VARCHAR)`);
    // HE jobs keep their aggregate ciphertexts (base64) for the researcher's client to fetch and decrypt.
    await conn.run('ALTER TABLE jobs ADD COLUMN IF NOT EXISTS result_ciphertexts VARCHAR');
    // The submitting principal (JobRecord.caller), for a resumed job's identity assertions.
    await conn.run('ALTER TABLE jobs ADD COLUMN IF NOT EXISTS caller_json VARCHAR');
    return new JobStore(instance, conn, new Set(options.registryKinds ?? []));
  }

  /**
   * Jobs of the built-in kinds that were running when the coordinator stopped cannot resume: mark them failed, with
   * the reason. Registry kinds resume from their last stored round (coordinator/rounds), so they are left running.
   */
  async failInterrupted(nowMs: number): Promise<number> {
    return this.mutex.run(async () => {
      const keep = [...this.registryKinds];
      const r = await this.conn.runAndReadAll(
        `UPDATE jobs SET state = 'failed', finished_at_ms = $1, error_json = $2 WHERE state IN ('queued', 'running') AND kind NOT IN (${placeholders(3, keep.length)}) RETURNING id`,
        [nowMs, JSON.stringify({ code: 'INTERNAL', message: 'the coordinator restarted while this job was running' }), ...keep],
      );
      return r.getRows().length;
    });
  }

  async insert(job: JobRecord): Promise<void> {
    await this.mutex.run(() => insertJob(this.conn, job));
  }

  async update(job: JobRecord): Promise<void> {
    await this.mutex.run(() =>
      this.conn.run(
        `UPDATE jobs SET state = $2, finished_at_ms = $3, agents_asked = $4, agents_answered = $5, agents_missing = $6, result_json = $7, error_json = $8, result_ciphertexts = $9 WHERE id = $1`,
        [
          job.id, job.state, job.finishedAtMs ?? null, JSON.stringify(job.agentsAsked), JSON.stringify(job.agentsAnswered),
          JSON.stringify(job.agentsMissing), job.result ? JSON.stringify(job.result) : null, job.error ? JSON.stringify(job.error) : null,
          job.resultCiphertexts ? Buffer.from(job.resultCiphertexts).toString('base64') : null,
        ],
      ),
    );
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const rows = await this.mutex.run(async () => (await this.conn.runAndReadAll(`SELECT * FROM jobs WHERE id = $1`, [id])).getRowObjectsJS());
    return rows[0] ? fromRow(rows[0], this.registryKinds) : undefined;
  }

  /** Running jobs of registry kinds (to resume after a restart), oldest first. */
  async runningRegistryJobs(): Promise<JobRecord[]> {
    const rows = await this.mutex.run(async () =>
      (await this.conn.runAndReadAll(`SELECT * FROM jobs WHERE state = 'running' AND kind IN (${placeholders(1, this.registryKinds.size)}) ORDER BY created_at_ms`, [...this.registryKinds])).getRowObjectsJS(),
    );
    return rows.map((r) => fromRow(r, this.registryKinds));
  }

  async list(limit: number): Promise<JobRecord[]> {
    const rows = await this.mutex.run(async () =>
      (await this.conn.runAndReadAll(`SELECT * FROM jobs ORDER BY created_at_ms DESC, id DESC LIMIT $1`, [limit])).getRowObjectsJS(),
    );
    return rows.map((r) => fromRow(r, this.registryKinds));
  }

  /**
   * The newest jobs as summaries, optionally only one researcher's. Reads neither results nor whole specs: the
   * few spec facts come out of the stored JSON in SQL, so listing stays small however large the jobs were.
   */
  async listSummaries(limit: number, researcher: string | undefined): Promise<JobSummary[]> {
    const rows = await this.mutex.run(async () =>
      (
        await this.conn.runAndReadAll(
          `SELECT id, kind, researcher, state, created_at_ms, finished_at_ms, agents_asked, agents_answered, agents_missing, error_json,
             json_extract_string(spec_json, '$.product') AS product, json_extract_string(spec_json, '$.privacy.mode') AS privacy_mode,
             json_extract_string(spec_json, '$.secure') AS secure,
             TRY_CAST(json_extract_string(spec_json, '$.privacy.epsilon') AS DOUBLE) AS epsilon,
             TRY_CAST(json_extract_string(spec_json, '$.privacy.rho') AS DOUBLE) AS rho
           FROM jobs WHERE ($2::VARCHAR IS NULL OR researcher = $2) ORDER BY created_at_ms DESC, id DESC LIMIT $1`,
          [limit, researcher ?? null],
        )
      ).getRowObjectsJS(),
    );
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    return rows.map((r) => {
      const kind = String(r.kind);
      const product = str(r.product);
      const privacyMode = str(r.privacy_mode);
      const secure = str(r.secure);
      const epsilon = typeof r.epsilon === 'number' && Number.isFinite(r.epsilon) ? r.epsilon : undefined;
      const rho = typeof r.rho === 'number' && Number.isFinite(r.rho) ? r.rho : undefined;
      return {
        id: String(r.id),
        kind,
        researcher: String(r.researcher),
        state: String(r.state) as JobSummary['state'],
        createdAtMs: Number(r.created_at_ms),
        finishedAtMs: r.finished_at_ms === null ? undefined : Number(r.finished_at_ms),
        agentsAsked: JSON.parse(String(r.agents_asked)) as string[],
        agentsAnswered: JSON.parse(String(r.agents_answered)) as string[],
        agentsMissing: JSON.parse(String(r.agents_missing)) as string[],
        error: r.error_json === null ? undefined : (JSON.parse(String(r.error_json)) as JobSummary['error']),
        spec: { kind, ...(product ? { product } : {}), ...(privacyMode ? { privacyMode } : {}), ...(secure ? { secure } : {}), ...(epsilon !== undefined ? { epsilon } : {}), ...(rho !== undefined ? { rho } : {}) },
      };
    });
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** `$first, …` for n bound parameters; with n = 0 the empty string, which no kind is (IN () is not SQL, and NOT IN (NULL) is never true). */
function placeholders(first: number, n: number): string {
  return n === 0 ? "''" : Array.from({ length: n }, (_, i) => `$${first + i}`).join(', ');
}

function fromRow(r: Record<string, unknown>, registryKinds: ReadonlySet<string>): JobRecord {
  return {
    id: String(r.id),
    kind: String(r.kind),
    researcher: String(r.researcher),
    spec: registryKinds.has(String(r.kind)) ? (JSON.parse(String(r.spec_json)) as RegistryJobSpec) : parseJobSpec(String(r.spec_json)),
    state: String(r.state) as JobRecord['state'],
    createdAtMs: Number(r.created_at_ms),
    finishedAtMs: r.finished_at_ms === null ? undefined : Number(r.finished_at_ms),
    agentsAsked: JSON.parse(String(r.agents_asked)) as string[],
    agentsAnswered: JSON.parse(String(r.agents_answered)) as string[],
    agentsMissing: JSON.parse(String(r.agents_missing)) as string[],
    result: r.result_json === null ? undefined : (JSON.parse(String(r.result_json)) as JobRecord['result']),
    error: r.error_json === null ? undefined : (JSON.parse(String(r.error_json)) as JobRecord['error']),
    ...(typeof r.result_ciphertexts === 'string' ? { resultCiphertexts: new Uint8Array(Buffer.from(r.result_ciphertexts, 'base64')) } : {}),
    ...(typeof r.caller_json === 'string' ? { caller: JSON.parse(r.caller_json) as Principal } : {}),
  };
}

/** Inserts a job row on a connection (used inside the admission transaction). */
export async function insertJob(conn: DuckDBConnection, job: JobRecord): Promise<void> {
  await conn.run(`INSERT INTO jobs (id, kind, researcher, spec_json, state, created_at_ms, agents_asked, agents_answered, agents_missing, caller_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
    job.id, job.kind, job.researcher, JSON.stringify(job.spec), job.state, job.createdAtMs,
    JSON.stringify(job.agentsAsked), JSON.stringify(job.agentsAnswered), JSON.stringify(job.agentsMissing),
    job.caller ? JSON.stringify(job.caller) : null,
  ]);
}
