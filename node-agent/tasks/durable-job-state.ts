/**
 * Job-state entries a kind declares durable (AgentKindDef.durableState, e.g. SCAFFOLD's client control variate c_i),
 * kept in the agent's state folder so that an agent restarted in the middle of a multi-round job, or whose in-memory
 * job state was evicted, goes on from where it was instead of silently starting again from zero.
 *
 * One file per job, `<dir>/<job id>.json` (0600, folder 0700), replaced as the coordinator's head file is
 * (common/private-state.ts replaceFileDurably): temporary file, fdatasync, rename, fsync of the folder — a crash leaves the old
 * state or the new one, never a torn file. A file that cannot be read back exactly (not JSON, wrong shape, another
 * job's, larger than the bound) fails the task with FAILED_PRECONDITION naming the file: never a reset to zero.
 *
 * The task chain has no job-end hook at the agent, so the files are bounded instead: a job's file is removed once its
 * last public round is answered, and beyond `maxJobs` files the least recently saved ones are removed, each leaving an
 * empty tombstone `<job id>.pruned`: a later load of that job refuses (FAILED_PRECONDITION) rather than go on from
 * empty state (red team 37, F6: 64 abandoned jobs would otherwise reset a live one's c_i to zero with no error).
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FedmeshError } from '../../common/errors.js';
import { Mutex } from '../../common/mutex.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE, replaceFileDurably } from '../../common/private-state.js';
import { decodeStateValue, encodeStateValue } from './job-state-codec.js';

/** The folder under the agent's state folder. */
export const JOB_STATE_DIR = 'job-state';
/** A file larger than this is refused unread: train's two c_i at its 100 000 parameters take about 1.1 MB. */
export const MAX_JOB_STATE_FILE_BYTES = 16 * 1024 * 1024;
/** Job files kept at most; the least recently saved go beyond it (each leaves a tombstone). */
export const MAX_DURABLE_JOBS = 64;
/**
 * Tombstones of pruned jobs kept at most (empty files, the oldest go beyond it): a job pruned this many prunes ago
 * would start again from empty state (stated in the README), one pruned since refuses to.
 */
export const MAX_TOMBSTONES = 4096;

const VERSION = 1;
const SUFFIX = '.json';
/** A pruned job's marker: its state was removed to keep the bound, so an empty load would be a silent reset. */
const PRUNED = '.pruned';
/** Job ids that are safe file names as they are (the coordinator's are UUIDs): no separators, no leading dot. */
const SAFE_JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const MAX_ECHO = 120;

export interface DurableJobStateOptions {
  /** The folder the files live in (the agent uses `<stateDir>/job-state`); created 0700 on first save. */
  readonly dir: string;
  /** @default MAX_JOB_STATE_FILE_BYTES */
  readonly maxFileBytes?: number;
  /** @default MAX_DURABLE_JOBS */
  readonly maxJobs?: number;
}

/** What the task chain needs of the store (KindTaskDeps.durableState). */
export interface DurableJobStateStore {
  /** The entries among `keys` saved for the job, none when nothing was saved. @throws FedmeshError FAILED_PRECONDITION naming the file */
  load(jobId: string, hash: string, keys: readonly string[]): Promise<Map<string, unknown>>;
  /** Replaces the job's saved entries with `entries` (encoded now, written in call order). */
  save(jobId: string, hash: string, entries: ReadonlyMap<string, unknown>): Promise<void>;
  /** Removes the job's file, if any. */
  delete(jobId: string): Promise<void>;
}

const echo = (s: string): string => (s.length > MAX_ECHO ? `${s.slice(0, MAX_ECHO)}…` : s);

/**
 * The job's file name.
 * @throws FedmeshError INVALID_ARGUMENT naming `jobId` when the id could name another file (separators, `..`)
 */
export function jobStateFileName(jobId: string): string {
  if (!SAFE_JOB_ID.test(jobId)) throw new FedmeshError('INVALID_ARGUMENT', 'jobId: a job with durable state needs an id of at most 128 letters, digits, ".", "_" or "-", not starting with "."', { field: 'jobId' });
  return `${jobId}${SUFFIX}`;
}

export class DurableJobStates implements DurableJobStateStore {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly maxJobs: number;
  /** Writes, deletions and pruning one at a time, in call order: an older snapshot never lands after a newer one. */
  private readonly writes = new Mutex();

  /** @throws RangeError naming the option when a bound is not a positive integer */
  constructor(options: DurableJobStateOptions) {
    const { maxFileBytes = MAX_JOB_STATE_FILE_BYTES, maxJobs = MAX_DURABLE_JOBS } = options;
    if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) throw new RangeError('options.maxFileBytes must be a positive integer');
    if (!Number.isSafeInteger(maxJobs) || maxJobs < 1) throw new RangeError('options.maxJobs must be a positive integer');
    this.dir = options.dir;
    this.maxFileBytes = maxFileBytes;
    this.maxJobs = maxJobs;
  }

  /** The file as named in refusals: relative to the agent's state folder, so no host path leaves the agent. */
  private shown(file: string): string {
    return `${basename(this.dir)}/${file}`;
  }

  private refuse(file: string, problem: string, cause?: unknown): FedmeshError {
    return new FedmeshError('FAILED_PRECONDITION', `job state file ${this.shown(file)} in this agent's state folder ${problem}; the job's kept state is not reset: repair or remove the file`, { field: 'jobState', details: { file: join(this.dir, file) }, ...(cause !== undefined ? { cause } : {}) });
  }

  async load(jobId: string, hash: string, keys: readonly string[]): Promise<Map<string, unknown>> {
    const file = jobStateFileName(jobId);
    const text = await this.read(file);
    const out = new Map<string, unknown>();
    if (text === undefined) {
      if (await exists(join(this.dir, `${jobId}${PRUNED}`))) {
        throw new FedmeshError('FAILED_PRECONDITION', `jobState: this agent removed the job's kept state (${this.shown(file)}) to keep at most ${this.maxJobs} jobs' state, as ${this.maxJobs} jobs saved theirs since; it will not go on from empty state: run the job again`, { field: 'jobState' });
      }
      return out;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw this.refuse(file, 'is not valid JSON', e);
    }
    const o = parsed as { version?: unknown; jobId?: unknown; hash?: unknown; entries?: unknown } | null;
    if (o === null || typeof o !== 'object' || o.version !== VERSION || typeof o.entries !== 'object' || o.entries === null || Array.isArray(o.entries)) {
      throw this.refuse(file, `is malformed (expected {"version":${VERSION},"jobId","hash","entries":{…}})`);
    }
    // The id is in the name too; the copy inside catches a file copied or renamed over another job's.
    if (o.jobId !== jobId || o.hash !== hash) throw this.refuse(file, 'was saved for another job (its job id or spec hash differs)');
    const entries = o.entries as Record<string, unknown>;
    for (const key of keys) {
      if (!Object.hasOwn(entries, key)) continue;
      try {
        out.set(key, decodeStateValue(entries[key], key));
      } catch (e) {
        throw this.refuse(file, `holds an unreadable entry (${echo(e instanceof Error ? e.message : String(e))})`, e);
      }
    }
    return out;
  }

  /** The file's text, undefined when there is none; its size is checked before anything is read. */
  private async read(file: string): Promise<string | undefined> {
    let fh;
    try {
      // No symlinks: the file must be the agent's own, in its own folder.
      fh = await open(join(this.dir, file), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.refuse(file, `cannot be opened (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.refuse(file, 'is not a regular file');
      if (st.size > this.maxFileBytes) throw this.refuse(file, `is ${st.size} bytes, over the bound of ${this.maxFileBytes}`);
      // One read of at most the bound plus a byte: a file grown since the stat is still refused, never read whole.
      const buf = Buffer.alloc(Math.min(this.maxFileBytes + 1, st.size + 1));
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n === buf.length) break;
      }
      if (n > this.maxFileBytes) throw this.refuse(file, `is over the bound of ${this.maxFileBytes} bytes`);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /** @throws TypeError naming the entry for a value that is not a Float32Array, a Float64Array or plain JSON */
  async save(jobId: string, hash: string, entries: ReadonlyMap<string, unknown>): Promise<void> {
    const file = jobStateFileName(jobId);
    // Encoded now (before any await), not when the write's turn comes: the file holds the state as it was when the
    // round succeeded.
    const text = `${JSON.stringify({ version: VERSION, jobId, hash, entries: Object.fromEntries([...entries].map(([k, v]) => [k, encodeStateValue(v, k)])) })}\n`;
    if (Buffer.byteLength(text) > this.maxFileBytes) {
      throw new FedmeshError('RESOURCE_EXHAUSTED', `jobState: the job's durable state is ${Buffer.byteLength(text)} bytes, over this agent's bound of ${this.maxFileBytes}`, { field: 'jobState' });
    }
    return this.writes.run(async () => {
      ensurePrivateDir(this.dir);
      await replaceFileDurably(join(this.dir, file), text);
      await rm(join(this.dir, `${jobId}${PRUNED}`), { force: true });
      await this.prune();
    });
  }

  async delete(jobId: string): Promise<void> {
    const file = jobStateFileName(jobId);
    return this.writes.run(async () => {
      await rm(join(this.dir, file), { force: true });
      await rm(join(this.dir, `${jobId}${PRUNED}`), { force: true });
    });
  }

  /** Removes the least recently saved job files beyond `maxJobs`, leaving a tombstone for each; bounds the tombstones. */
  private async prune(): Promise<void> {
    const names = await readdir(this.dir);
    for (const n of await this.oldest(names.filter((x) => x.endsWith(SUFFIX)), this.maxJobs)) {
      // The tombstone first: a load between the two steps then finds the file or the tombstone, never neither (red
      // team 38, F3: the other order let a racing load start again from empty state). Exclusive and empty: an
      // existing tombstone (or anything planted there) is left as it is.
      await writeFile(join(this.dir, `${n.slice(0, -SUFFIX.length)}${PRUNED}`), '', { flag: 'wx', mode: PRIVATE_FILE_MODE }).catch(() => undefined);
      await rm(join(this.dir, n), { force: true });
    }
    const tombstones = (await readdir(this.dir)).filter((x) => x.endsWith(PRUNED));
    for (const n of await this.oldest(tombstones, MAX_TOMBSTONES)) await rm(join(this.dir, n), { force: true });
  }

  /** The names among `names` beyond the `keep` most recently modified, oldest first (names gone meanwhile skipped). */
  private async oldest(names: readonly string[], keep: number): Promise<string[]> {
    if (names.length <= keep) return [];
    const dated = (await Promise.all(names.map(async (n) => ({ n, at: (await stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs })))).filter((d): d is { n: string; at: number } => d.at !== undefined);
    dated.sort((a, b) => a.at - b.at || (a.n < b.n ? -1 : 1));
    return dated.slice(0, Math.max(0, dated.length - keep)).map((d) => d.n);
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
