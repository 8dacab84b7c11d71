/**
 * One charge, one answer. The agent charges its ledger once per job id, so every answer it gives under that id
 * must be the same one: a coordinator that replays a local-dp task 200 times and averages would otherwise strip
 * the noise while the ledger shows one charge. The released answer (Arrow reply, meta, payload) is stored durably
 * per job id and round in the agent's state database and returned as is on replay, across restarts.
 *
 * Secure jobs (secagg, he) go through the same store, every round, in every privacy mode: HE's one ciphertext reply,
 * and each SecAgg round's message. A replayed SecAgg round 1 thus returns the keys already advertised instead of
 * starting a second run with fresh keys and a fresh noise share, and a replayed round 4 returns the one unmask
 * response (the shares for the first survivor list), so the coordinator sees one protocol run per job id.
 *
 * A job id is bound to the SHA-256 of its canonical spec on first use: the same id with another spec would be
 * another query under a charge already paid, and is refused (FAILED_PRECONDITION).
 *
 * Concurrent tasks of one job and round wait for the first computation instead of computing (and noising) twice.
 */
import { blobValue, DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { FedmeshError } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import { INTERNAL_PREFIX } from '../data/products.js';

const BINDINGS = `${INTERNAL_PREFIX}job_spec`;
const ANSWERS = `${INTERNAL_PREFIX}released_answer`;

/** A released answer as the agent sends it. */
export interface ReleasedAnswer {
  arrow: Uint8Array;
  meta: Record<string, unknown>;
  payload?: Uint8Array;
}

export { canonicalJson, specSha256 } from '../../common/job/index.js';

export class ReleasedAnswers {
  private readonly mutex = new Mutex();
  private readonly inFlight = new Map<string, Promise<ReleasedAnswer>>();

  private constructor(private readonly conn: DuckDBConnection) {}

  static async open(conn: DuckDBConnection): Promise<ReleasedAnswers> {
    await conn.run(`CREATE TABLE IF NOT EXISTS ${BINDINGS} (job_id VARCHAR PRIMARY KEY, spec_sha256 VARCHAR NOT NULL, bound_at TIMESTAMP NOT NULL)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS ${ANSWERS} (job_id VARCHAR NOT NULL, round INTEGER NOT NULL, arrow BLOB NOT NULL, meta VARCHAR NOT NULL, payload BLOB, PRIMARY KEY (job_id, round))`);
    return new ReleasedAnswers(conn);
  }

  /**
   * Binds `jobId` to `specHash` on first use; later uses must carry the same hash.
   * @throws FedmeshError FAILED_PRECONDITION when the job id was already used with another spec
   */
  bind(jobId: string, specHash: string): Promise<void> {
    return this.mutex.run(async () => {
      const rows = (await this.conn.runAndReadAll(`SELECT spec_sha256 FROM ${BINDINGS} WHERE job_id = $1`, [jobId])).getRowObjectsJS();
      if (rows.length === 0) {
        await this.conn.run(`INSERT INTO ${BINDINGS} VALUES ($1, $2, now()::TIMESTAMP)`, [jobId, specHash]);
        return;
      }
      if (String(rows[0]!.spec_sha256) !== specHash) {
        throw new FedmeshError('FAILED_PRECONDITION', 'jobId: this job id was already used with a different spec at this agent; a new query needs a new job id');
      }
    });
  }

  /**
   * The answer released for (jobId, round), computing and storing it with `compute` the first time only.
   * A failed computation stores nothing (the next task tries again; the charge, if any, was made once).
   */
  once(jobId: string, round: number, compute: () => Promise<ReleasedAnswer>): Promise<ReleasedAnswer> {
    const key = `${round}\u0000${jobId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = (async () => {
      const stored = await this.get(jobId, round);
      if (stored) return stored;
      const answer = await compute();
      await this.put(jobId, round, answer);
      return answer;
    })().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private get(jobId: string, round: number): Promise<ReleasedAnswer | undefined> {
    return this.mutex.run(async () => {
      const reader = await this.conn.runAndReadAll(`SELECT arrow, meta, payload FROM ${ANSWERS} WHERE job_id = $1 AND round = $2`, [jobId, round]);
      const row = reader.getRows()[0];
      if (!row) return undefined;
      const blob = (v: unknown): Uint8Array => {
        if (!(v instanceof DuckDBBlobValue)) throw new Error('stored answer is not a blob');
        return v.bytes;
      };
      return { arrow: blob(row[0]), meta: JSON.parse(String(row[1])) as Record<string, unknown>, ...(row[2] === null ? {} : { payload: blob(row[2]) }) };
    });
  }

  private put(jobId: string, round: number, a: ReleasedAnswer): Promise<void> {
    return this.mutex.run(async () => {
      await this.conn.run(`INSERT OR IGNORE INTO ${ANSWERS} VALUES ($1, $2, $3::BLOB, $4, $5::BLOB)`, [jobId, round, blobValue(a.arrow), JSON.stringify(a.meta), a.payload ? blobValue(a.payload) : null]);
    });
  }
}
